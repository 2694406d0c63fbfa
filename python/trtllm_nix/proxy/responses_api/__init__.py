"""The OpenAI Responses API (``/v1/responses``) as a translation onto the chat path and a renderer of its events.

- ``protocol``: the request body, strict: every field is either honoured, or accepted and ignored on purpose (listed
  in ``protocol.IGNORED_ON_PURPOSE``), or refused with a 400 that says what to send instead.
- ``translate``: request (+ the stored previous response) -> chat messages, chat tools, ``GenerationOptions``.
- ``render``: ``OutputEvent`` values -> the final ``Response`` object and the Responses SSE event grammar.
- ``store``: the per-process, bounded, expiring store behind ``store``, ``previous_response_id`` and
  ``GET``/``DELETE /v1/responses/{id}``.
"""
