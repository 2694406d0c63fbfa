"""Reading server-sent events the way a strict client does: raw lines, then JSON per data line."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class SSE:
    status: int
    headers: httpx.Headers
    lines: list[str] = field(default_factory=list)

    @property
    def data(self) -> list[str]:
        return [line[len("data: ") :] for line in self.lines if line.startswith("data: ")]

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(item) for item in self.data if item != "[DONE]"]

    @property
    def comments(self) -> list[str]:
        return [line for line in self.lines if line.startswith(":")]

    def text(self, field_name: str = "content") -> str:
        out = []
        for event in self.events:
            for choice in event.get("choices", []):
                source = choice.get("delta", choice)
                out.append(source.get(field_name) or "" if field_name in source else "")
        return "".join(out)


def post_sse(base_url: str, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> SSE:
    with httpx.Client(timeout=30) as client, client.stream("POST", base_url + path, json=body, headers=headers) as r:
        result = SSE(r.status_code, r.headers)
        if r.status_code != 200:
            r.read()
            result.lines = [r.text]
            return result
        result.lines = [line for line in r.iter_lines() if line]
    return result


def chat(reply: str, **fields: Any) -> dict[str, Any]:
    return {"model": "qwen3", "messages": [{"role": "user", "content": f"#reply: {reply}"}], **fields}
