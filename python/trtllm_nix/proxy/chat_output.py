"""Turn the generated text of a chat answer into message deltas (content; reasoning and tool calls come later)."""

from __future__ import annotations

from typing import Any, Protocol


class ChatOutputParser(Protocol):
    def feed(self, text: str) -> list[dict[str, Any]]: ...

    def finish(self) -> list[dict[str, Any]]: ...


class ContentOnly:
    """Everything the model says is content."""

    def feed(self, text: str) -> list[dict[str, Any]]:
        return [{"content": text}] if text else []

    def finish(self) -> list[dict[str, Any]]:
        return []


def merge_deltas(deltas: list[dict[str, Any]]) -> dict[str, Any]:
    """The non-streamed message that the deltas add up to."""
    content: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    for delta in deltas:
        if delta.get("content"):
            content.append(delta["content"])
        if delta.get("reasoning_content"):
            reasoning.append(delta["reasoning_content"])
        for call in delta.get("tool_calls", []):
            merged = calls.setdefault(
                call["index"], {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
            )
            merged["id"] = call.get("id") or merged["id"]
            function = call.get("function", {})
            merged["function"]["name"] += function.get("name") or ""
            merged["function"]["arguments"] += function.get("arguments") or ""
    message: dict[str, Any] = {"role": "assistant", "content": "".join(content) if content or not calls else None}
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    if calls:
        message["tool_calls"] = [calls[index] for index in sorted(calls)]
    return message
