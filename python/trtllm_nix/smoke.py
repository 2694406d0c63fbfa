"""``trtllm-nix doctor --smoke URL``: ask a running OpenAI endpoint one fixed question and judge the answer.

The seed's first troubleshooting symptom is a server that is up but says nonsense: repeating garbage such as
"unounouno" (wrong quantization, wrong tokenizer, a broken engine), an empty answer, or no end token within the
limit (wrong end id, wrong chat template). A model that works answers the question briefly and stops by itself.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any, Final

from trtllm_nix.engine.check import Finding

QUESTION: Final = "What is the capital of France?"
MAX_TOKENS: Final = 64
CHECK: Final = "smoke"
WHAT_TO_CHECK: Final = (
    "check that the engine was built from the checkpoint's own quantization (hf_quant_config.json), that the "
    "tokenizer and chat template are the model's own, and that end_id is the template's end token"
)
# A unit of 1 to 8 characters repeated so that it fills 12 or more characters in a row ("unounounouno", "!!!!...").
_REPEATS: Final = re.compile(r"(.{1,8}?)\1{3,}", re.DOTALL)


def repeating_garbage(text: str) -> str | None:
    """The first run of a short unit repeated four or more times (12+ characters), if any."""
    for match in _REPEATS.finditer(text):
        if len(match.group(0)) >= 12 and match.group(1).strip():
            return match.group(0)
    return None


def judge(content: str, finish_reason: str | None) -> Finding:
    """The verdict on one greedy answer to :data:`QUESTION`."""
    shown = content if len(content) <= 80 else content[:77] + "..."
    if not content.strip():
        return Finding(CHECK, False, f"empty answer (finish_reason {finish_reason})", WHAT_TO_CHECK)
    garbage = repeating_garbage(content)
    if garbage is not None:
        return Finding(CHECK, False, f"repeating garbage {garbage[:24]!r} in {shown!r}", WHAT_TO_CHECK)
    if finish_reason != "stop":
        return Finding(
            CHECK,
            False,
            f"no end token within {MAX_TOKENS} tokens (finish_reason {finish_reason}): {shown!r}",
            WHAT_TO_CHECK,
        )
    return Finding(CHECK, True, f"{QUESTION!r} -> {shown!r}")


def _request(url: str, body: dict[str, Any] | None, timeout_s: float) -> dict[str, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - the user's own server
        parsed: dict[str, Any] = json.loads(response.read())
    return parsed


def smoke(base_url: str, timeout_s: float = 120.0) -> Finding:
    """Ask ``base_url`` (``http://host:9000`` or ``.../v1``) the fixed question, greedy, and judge the answer."""
    base = base_url.rstrip("/").removesuffix("/v1")
    try:
        models = _request(f"{base}/v1/models", None, timeout_s)["data"]
        model = str(models[0]["id"])
        reply = _request(
            f"{base}/v1/chat/completions",
            {
                "model": model,
                "messages": [{"role": "user", "content": QUESTION}],
                "max_tokens": MAX_TOKENS,
                "temperature": 0,
            },
            timeout_s,
        )
        choice = reply["choices"][0]
        content = choice["message"].get("content") or ""
    except (urllib.error.URLError, OSError, ValueError, KeyError, IndexError, TypeError) as error:
        return Finding(CHECK, False, f"{base}: no answer ({error})", "start the server, or pass its base URL")
    return judge(str(content), choice.get("finish_reason"))
