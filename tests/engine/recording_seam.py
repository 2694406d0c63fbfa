"""A recording double of the TensorRT-LLM seam. It checks every argument it receives, records the calls (JSON
lines in $TRTLLM_NIX_SEAM_RECORD) and writes small checkpoints; the command lines it returns are the real seam's,
with the program swapped for the fake trtllm-build / trtllm-bench in this folder (they check their flags too)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from safetensors.torch import save_file
from trtllm_nix.engine.seam import MODEL_CLASSES, BenchBuild, BenchJob, BuildLimits, ConvertJob
from trtllm_nix.engine.tensorrt_llm_seam import TensorrtLlm

from tests.engine import fake_tools

QUANT_CONFIG_FIELDS = {"quant_algo", "kv_cache_quant_algo", "group_size", "exclude_modules"}


def _record(call: str, **fields: object) -> None:
    path = os.environ.get("TRTLLM_NIX_SEAM_RECORD")
    if path:
        with open(path, "a") as out:
            out.write(json.dumps({"call": call, **fields}, default=str) + "\n")


class RecordingSeam:
    def version(self) -> str:
        return "1.1.0"

    def convert_rank(self, job: ConvertJob) -> None:
        quant = job.quant_config
        assert set(quant) <= QUANT_CONFIG_FIELDS, f"unknown QuantConfig fields {set(quant) - QUANT_CONFIG_FIELDS}"
        assert "quant_algo" in quant, "the QuantConfig must be explicit"
        assert "kv_cache_quant_algo" in quant, "the QuantConfig must be explicit"
        if quant["quant_algo"] == "NVFP4":
            assert quant.get("group_size") == 16, quant
        assert quant["kv_cache_quant_algo"] in (None, "FP8"), quant  # ModelOpt 0.47's NVFP4/FP8 defaults: None
        assert 0 <= job.rank < job.world_size, job
        assert Path(job.model_dir, "config.json").is_file()
        config = json.loads(Path(job.model_dir, "config.json").read_text())
        assert job.model_class == MODEL_CLASSES[config["architectures"][0]], job.model_class
        assert job.dtype in ("bfloat16", "float16"), f"unsupported dtype {job.dtype}"
        checkpoint = Path(job.checkpoint_dir)
        if job.rank == 0:
            (checkpoint / "config.json").write_text(
                json.dumps(
                    {
                        "architecture": job.model_class,
                        "dtype": job.dtype,
                        **fake_tools.arch_fields(config),
                        "mapping": {"world_size": job.world_size, "tp_size": job.tp_size, "pp_size": job.pp_size},
                        "quantization": quant,
                    }
                )
            )
        import torch

        save_file({"rank": torch.tensor([job.rank])}, str(checkpoint / f"rank{job.rank}.safetensors"))
        _record("convert_rank", rank=job.rank, tp=job.tp_size, pp=job.pp_size, quant=quant, pid=os.getpid())

    def build_command(
        self, checkpoint_dir: Path, engine_dir: Path, workers: int, limits: BuildLimits, quant_algo: str | None
    ) -> list[str]:
        real = TensorrtLlm().build_command(checkpoint_dir, engine_dir, workers, limits, quant_algo)
        assert real[0] == "trtllm-build"
        _record("build_command", args=real[1:])
        return [sys.executable, "-m", "tests.engine.fake_tools", "build", *real[1:]]

    def bench_build(self, job: BenchJob) -> BenchBuild:
        real = TensorrtLlm().bench_build(job)
        assert real.command[0] == "trtllm-bench"
        _record("bench_build", args=real.command[1:])
        mode = os.environ.get("FAKE_BENCH_MODE", "ok")
        command = [sys.executable, "-m", "tests.engine.fake_tools", "bench", "--mode", mode, *real.command[1:]]
        return BenchBuild(command=command, engine_dir=real.engine_dir)
