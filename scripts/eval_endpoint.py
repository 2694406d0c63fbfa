"""lm-eval against the demo endpoint, compared with lm-eval's own Hugging Face model on the same checkpoint.

Starts ``trtllm-nix demo --backend hf --model smollm2`` (real tritonserver, the reference backend running the real
SmolLM2-135M-Instruct, the OpenAI proxy), then runs lm-eval four ways on the committed tasks of eval/tasks/:

- ``local-completions`` (token-id prompts, two per request): the loglikelihood task and the generation task;
- ``local-chat-completions``: the generation task through the chat template;
- ``hf`` on the same checkpoint folder (float32, CPU): both tasks, and the generation task with the chat template.

Scores must be equal (accuracy of the loglikelihood task exactly); the per-choice loglikelihoods are compared too.
Prints both ways, writes eval/results/summary.json, exits 1 on a difference. Run through ``make eval``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TASKS = ROOT / "eval" / "tasks"
MC, GEN = "trtllm_nix_mc", "trtllm_nix_gen"
SERVED = "smollm2"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lm-eval", default=str(ROOT / ".venv-eval" / "bin" / "lm_eval"))
    parser.add_argument("--model-dir", default=str(ROOT / ".cache/trtllm-nix/real-models/smollm2-135m-instruct"))
    parser.add_argument("--out", default=str(ROOT / "eval" / "results"))
    parser.add_argument("--limit", type=int, default=None, help="items per task (default: all)")
    parser.add_argument(
        "--reuse-hf", action="store_true", help="keep the hf runs' results already in --out (the endpoint's rerun)"
    )
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT / "python"))
    from trtllm_nix.triton.ports import free_ports

    port = free_ports(1)[0]
    base = f"http://127.0.0.1:{port}"
    cli = Path(sys.executable).parent / "trtllm-nix"
    log = (out / "demo.log").open("w")
    demo = subprocess.Popen(
        [str(cli), "demo", "--backend", "hf", "--model", SERVED, "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_ready(base, demo, timeout=900)
        runs = _run_all(args, base, out)
    finally:
        os.killpg(demo.pid, signal.SIGINT)
        try:
            demo.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
    return _compare(runs, out)


def _wait_ready(base: str, demo: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if demo.poll() is not None:
            raise SystemExit(f"the demo exited with {demo.returncode}; see eval/results/demo.log")
        try:
            with urllib.request.urlopen(base + "/health/ready", timeout=5) as answer:  # noqa: S310 (http, ours)
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(2)  # a script waiting for a server to come up (not a test)
    raise SystemExit(f"the demo was not ready within {timeout} s")


def _lm_eval(
    args: argparse.Namespace, name: str, out: Path, model: str, model_args: str, tasks: str, *extra: str
) -> dict[str, Any]:
    target = out / name
    command = [
        args.lm_eval,
        "--model", model,
        "--model_args", model_args,
        "--tasks", tasks,
        "--include_path", str(TASKS),
        "--output_path", str(target),
        "--log_samples",
        "--seed", "1234",
        *extra,
    ]  # fmt: skip
    if args.limit:
        command += ["--limit", str(args.limit)]
    if args.reuse_hf and model == "hf" and any(target.rglob("results_*.json")):
        print(f"\n== {name}: reusing {target}", flush=True)
    else:
        _run(command, out, name)
    return _read(target, tasks)


def _run(command: list[str], out: Path, name: str) -> None:
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    print(f"\n== {name}: {' '.join(command)}", flush=True)
    started = time.monotonic()
    with (out / f"{name}.log").open("w") as log:
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"lm_eval {name} failed with {done.returncode}; see {out / f'{name}.log'}")
    print(f"   {time.monotonic() - started:.0f} s", flush=True)


def _read(target: Path, tasks: str) -> dict[str, Any]:
    results = sorted(target.rglob("results_*.json"), key=lambda path: path.stat().st_mtime)[-1]
    report = json.loads(results.read_text())
    samples = {}
    for task in tasks.split(","):
        files = sorted(target.rglob(f"samples_{task}_*.jsonl"), key=lambda path: path.stat().st_mtime)
        samples[task] = [json.loads(line) for line in files[-1].read_text().splitlines()] if files else []
    return {"results": report["results"], "samples": samples}


def _run_all(args: argparse.Namespace, base: str, out: Path) -> dict[str, dict[str, Any]]:
    model_dir = args.model_dir
    completions = (
        f"model={SERVED},base_url={base}/v1/completions,tokenizer_backend=huggingface,tokenizer={model_dir},"
        "tokenized_requests=True,num_concurrent=1,max_retries=1"
    )
    chat = f"model={SERVED},base_url={base}/v1/chat/completions,num_concurrent=1,max_retries=1,tokenized_requests=False"
    hf = f"pretrained={_hf_view(Path(model_dir), out)},dtype=float32"
    both, chat_flag = f"{MC},{GEN}", "--apply_chat_template"
    cpu = ("--device", "cpu", "--batch_size", "1")
    return {
        "local-completions": _lm_eval(
            args, "local-completions", out, "local-completions", completions, both, "--batch_size", "2"
        ),
        "local-chat-completions": _lm_eval(
            args, "local-chat-completions", out, "local-chat-completions", chat, GEN, chat_flag
        ),
        "hf": _lm_eval(args, "hf", out, "hf", hf, both, *cpu),
        "hf-chat": _lm_eval(args, "hf-chat", out, "hf", hf, GEN, *cpu, chat_flag),
    }


def _hf_view(model_dir: Path, out: Path) -> Path:
    """The checkpoint as lm-eval's ``hf`` model can load it: the same files (linked), with config.json minus the
    ``quantization_config`` that records where the bf16 weights came from (a GGUF file): transformers 5 refuses a
    GGUF quantization config without the GGUF file, and lm-eval passes it on; the reference backend ignores it."""
    view = out / "hf-checkpoint"
    view.mkdir(parents=True, exist_ok=True)
    for item in model_dir.iterdir():
        target = view / item.name
        if target.is_symlink() or target.exists():
            target.unlink()
        if item.name == "config.json":
            config = json.loads(item.read_text())
            config.pop("quantization_config", None)
            target.write_text(json.dumps(config, indent=2) + "\n")
        else:
            target.symlink_to(item.resolve())
    return view


def _metric(run: dict[str, Any], task: str, name: str) -> float:
    return float(run["results"][task][f"{name},none"])


def _loglikelihoods(run: dict[str, Any]) -> dict[tuple[int, int], float]:
    out = {}
    for sample in run["samples"].get(MC, []):
        for choice, response in enumerate(sample["resps"]):
            out[(int(sample["doc_id"]), choice)] = float(response[0][0])
    return out


def _answers(run: dict[str, Any]) -> dict[int, str]:
    return {int(s["doc_id"]): str(s["filtered_resps"][0]) for s in run["samples"].get(GEN, [])}


def _compare(runs: dict[str, dict[str, Any]], out: Path) -> int:
    api, chat, hf, hf_chat = runs["local-completions"], runs["local-chat-completions"], runs["hf"], runs["hf-chat"]
    rows = [
        (f"{MC} acc", _metric(api, MC, "acc"), _metric(hf, MC, "acc")),
        (f"{MC} acc_norm", _metric(api, MC, "acc_norm"), _metric(hf, MC, "acc_norm")),
        (f"{GEN} exact_match", _metric(api, GEN, "exact_match"), _metric(hf, GEN, "exact_match")),
        (f"{GEN} exact_match (chat)", _metric(chat, GEN, "exact_match"), _metric(hf_chat, GEN, "exact_match")),
    ]
    mine, theirs = _loglikelihoods(api), _loglikelihoods(hf)
    worst = max((abs(mine[key] - theirs[key]) for key in mine.keys() & theirs.keys()), default=float("nan"))
    answers = sum(a != b for a, b in zip(_answers(api).values(), _answers(hf).values(), strict=False))
    chat_answers = sum(a != b for a, b in zip(_answers(chat).values(), _answers(hf_chat).values(), strict=False))
    print("\nmetric                               endpoint   lm-eval hf")
    for name, endpoint, reference in rows:
        print(f"{name:<36} {endpoint:>8.4f}   {reference:>8.4f}{'' if endpoint == reference else '   DIFFERENT'}")
    print(f"largest |loglikelihood difference| over {len(mine)} choices: {worst:.2e}")
    print(f"generated answers that differ: completions {answers}, chat {chat_answers}")
    summary = {
        "rows": [{"metric": n, "endpoint": e, "hf": r} for n, e, r in rows],
        "max_loglikelihood_difference": worst,
        "choices_scored": len(mine),
        "differing_answers": {"completions": answers, "chat": chat_answers},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if all(e == r for _, e, r in rows) and worst < 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
