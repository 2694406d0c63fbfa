"""The OpenAI Responses API (``/v1/responses``) as a translation onto the chat path and a renderer of its events.

- ``protocol``: the request body, strict: every field is either honoured, or accepted and ignored on purpose (listed
  in ``protocol.IGNORED_ON_PURPOSE``), or refused with a 400 that says what to send instead.
- ``translate``: request (+ the stored previous response) -> chat messages, chat tools, ``GenerationOptions``.
- ``render``: ``OutputEvent`` values -> the final ``Response`` object and the Responses SSE event grammar.
- ``store``: the SQLite store (shared by workers, bounded by bytes and age) behind ``store``,
  ``previous_response_id``, ``item_reference`` and ``GET``/``DELETE /v1/responses/{id}``.

Wiring the routes (what ``POST /v1/responses`` does; ``tests/proxy/responses_api/replay_server.py`` is this with a
scripted generation in place of the model):

1. ``request = protocol.parse_request(await http_request.json())`` (``APIError`` 400 on bad input); check the API
   key and ``request.model`` as chat does.
2. ``request = store.resolve_references(responses_store, request)`` (400 for an unknown item id), then
   ``plan = translate.to_chat(request, store.previous_conversation(responses_store, request.previous_response_id))``
   (404 in OpenAI's shape for an unknown id).
3. Render ``plan.messages`` with ``plan.tools`` and ``plan.options.thinking`` (the served model's reasoning format's
   switch, ``formats.reasoning.template_kwargs``) through the chat template
   and run one generation with ``plan.options`` (limits, sampling, ``response_format``, ``tool_choice``,
   ``parallel_tool_calls``) through the chat path's parsers, which yield ``OutputEvent`` values ending in ``Finish``.
4. ``meta = render.new_meta(served_model_name, request)``; not streamed: ``render.render_response(events, meta)``;
   streamed: ``renderer = render.StreamRenderer(meta)``, send ``renderer.start()``, ``renderer.feed(event)`` per
   event, ``renderer.fail(message)`` if the generation breaks off (``text/event-stream``).
5. ``store.remember(responses_store, request.store, plan.conversation, final)`` with the final object
   (``renderer.final`` when streamed). ``GET``/``DELETE /v1/responses/{id}``: ``store.get_response`` /
   ``store.delete_response``.
"""
