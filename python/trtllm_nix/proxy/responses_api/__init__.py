"""The OpenAI Responses API (``/v1/responses``) as a translation onto the chat path and a renderer of its events.
``proxy.serving.responses`` runs a request through these modules (``tests/proxy/responses_api/replay_server.py``
does the same with a scripted generation in place of the model).

- ``protocol``: the request body, strict: every field is either honoured, or accepted and ignored on purpose (listed
  in ``protocol.IGNORED_ON_PURPOSE``), or refused with a 400 that says what to send instead.
- ``translate``: request (+ the stored previous response) -> the chat path's ``ChatInput``.
- ``render``: ``OutputEvent`` values -> the final ``Response`` object and the Responses SSE event grammar.
- ``store``: the stored responses (SQLite shared by workers, or PostgreSQL shared by hosts; bounded by bytes and
  age) behind ``store``, ``previous_response_id``, ``item_reference`` and ``GET``/``DELETE /v1/responses/{id}``.
"""
