"""How large a structured-output guide may be before it is compiled: a grammar's compile time grows faster than
its size (xgrammar 0.1.25: a JSON schema nested 50 levels took 0.5 s, 200 levels 5 s, 300 levels 17.6 s, all in
bodies of about 15 KB), so the size of the body says nothing; these bounds do. Checked without recursion, so a
deep schema cannot overflow the checker either. Beyond a bound: a 400 naming it (see docs/reliability.md).

The defaults keep one compile well under a second on one core (64 levels of JSON nesting, about 32 levels of
``properties``: 0.03 s; 5,000 values, about 1,600 properties: about 0.5 s), far above what OpenAI accepts for
structured outputs (10 levels of nesting, 5,000 properties)."""

from __future__ import annotations

MAX_GUIDE_DEPTH = 64  # JSON objects and arrays inside each other, in one schema
MAX_GUIDE_VALUES = 5_000  # JSON values (objects, arrays, strings, numbers...) in one schema
MAX_GUIDE_CHARS = 64 * 1024  # characters of one schema (as JSON), regex or grammar


def guide_bound_exceeded(text: str, schema: object | None = None) -> str | None:
    """Which bound a guide (``text``, and its parsed JSON ``schema`` if it is one) exceeds, as a sentence; None if
    it is within all of them."""
    if len(text) > MAX_GUIDE_CHARS:
        return f"it has {len(text)} characters, more than this server's limit of {MAX_GUIDE_CHARS}"
    if schema is None:
        return None
    depth, values = _shape(schema)
    if depth > MAX_GUIDE_DEPTH:
        return f"it nests more than {MAX_GUIDE_DEPTH} levels of objects and arrays (this server's limit)"
    if values > MAX_GUIDE_VALUES:
        return f"it has more than {MAX_GUIDE_VALUES} JSON values (this server's limit)"
    return None


def _shape(value: object) -> tuple[int, int]:
    """(deepest nesting of containers, number of values), stopping early past either bound."""
    deepest, count = 0, 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_GUIDE_VALUES:
            return deepest, count
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth + 1)
        if deepest > MAX_GUIDE_DEPTH:
            return deepest, count
        stack.extend((child, depth + 1) for child in children)
    return deepest, count
