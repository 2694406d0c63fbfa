"""Anthropic's Messages API (``/v1/messages``, ``/v1/messages/count_tokens``) as a translation onto the chat path
and a renderer of its events, for the Anthropic SDKs and Claude Code.

- ``protocol``: the request bodies, strict: every field is honoured, accepted and ignored on purpose (listed in
  ``protocol.IGNORED_ON_PURPOSE``), or refused with a 400 that says why.
- ``translate``: request -> the chat path's ``ChatInput`` (chat messages, tools, tool choice, thinking on/off,
  output format, sampling).
- ``signing``: the signatures of thinking blocks, checked when a client sends them back.
- ``render``: ``OutputEvent`` values -> the ``Message`` object and the Messages SSE event grammar.
- ``errors``: Anthropic's error envelope on these routes.

``proxy.serving.messages`` prepares a request through the chat path and runs it; ``proxy.messages_routes`` wires
it.
"""
