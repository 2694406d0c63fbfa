"""Refuse request bodies holding a lone UTF-16 surrogate, with a 400 naming the field.

JSON may spell one (``"\\ud800"`` without its pair); Python's JSON parser turns it into a ``str`` that cannot be
encoded as UTF-8, and the tokenizer's encode then raised ``TypeError`` (a 500, with a traceback in the log) on every
generating route and ``/tokenize``. A lone surrogate can only come from a ``\\u`` escape (raw UTF-8 cannot spell one,
and bodies that are not UTF-8 are refused already), so one search of the body's bytes, in C, clears almost every
request; only a body that spells a surrogate escape (emoji written as escaped pairs, say) is walked to find the
field. The walk has no recursion, so a deep body cannot overflow it either."""

from __future__ import annotations

import json
import re

from fastapi import Request

from trtllm_nix.proxy.api_errors import bad_request

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


async def refuse_lone_surrogates(request: Request) -> None:
    """A route dependency (after the API key): 400 when the JSON body holds a lone surrogate anywhere."""
    if request.method != "POST":
        return
    raw = await request.body()
    if not _SURROGATE_ESCAPE.search(raw):
        return
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return  # not JSON: the route answers that
    where = lone_surrogate_at(body)
    if where is not None:
        raise bad_request(
            f"{where or 'the body'} holds a lone UTF-16 surrogate (a \\ud800-\\udfff escape without its pair), "
            "which is not Unicode text",
            param=where or None,
            code="invalid_value",
        )


def lone_surrogate_at(value: object) -> str | None:
    """The path of the first string or key in ``value`` holding a lone surrogate, dotted as the other 400s name a
    field (``messages.0.content``)."""
    stack: list[tuple[object, str]] = [(value, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                return path
        elif isinstance(node, dict):
            for key, child in reversed(node.items()):
                if _SURROGATE.search(key):
                    return path
                stack.append((child, f"{path}.{key}" if path else str(key)))
        elif isinstance(node, list):
            prefix = f"{path}." if path else ""
            stack.extend((child, f"{prefix}{index}") for index, child in reversed(list(enumerate(node))))
    return None
