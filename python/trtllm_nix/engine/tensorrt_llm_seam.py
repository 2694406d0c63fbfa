"""The real TensorRT-LLM seam: the only module of trtllm-nix that imports ``tensorrt_llm``.

Which TensorRT-LLM lines still build TensorRT engines (``tensorrt_llm.models`` + ``trtllm-build``): 1.1.x and
1.2.x. NVIDIA's Triton containers carry them as: 25.12 (the pin: Triton 2.64.0, TensorRT-LLM 1.1.0, Python 3.12.3)
through 26.02 ship 1.1.0, 26.03 ships 1.2.0, 26.04-26.07 ship 1.2.1. TensorRT-LLM's main branch removed the engine
path in mid-2026 (PRs #15763, #15767, #15918, #16369), so a later container cannot run this module
(upstream_facts.json ``triton.containers``, ``trtllm_build.removed_on_main``). The keyword names used here are the
pinned 1.1.0's (upstream_facts.json ``python_api``, ``trtllm_build``); tests run this module unchanged against
the stand-in package of tests/standins generated from those facts. Inside the runtime (``engine build --runtime``)
it runs in the image's own Python; verified against the real package only on real GPUs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trtllm_nix.engine.seam import BenchBuild, BenchJob, BuildLimits, ConvertJob


class TensorrtLlm:
    def version(self) -> str:
        import tensorrt_llm

        return str(tensorrt_llm.__version__)

    def convert_rank(self, job: ConvertJob) -> None:
        import tensorrt_llm
        from tensorrt_llm.mapping import Mapping
        from tensorrt_llm.models.modeling_utils import QuantConfig
        from tensorrt_llm.quantization import QuantAlgo

        fields: dict[str, Any] = dict(job.quant_config)
        for key in ("quant_algo", "kv_cache_quant_algo"):
            if fields.get(key) is not None:
                fields[key] = QuantAlgo(fields[key])
        quant = QuantConfig(**fields)
        mapping = Mapping(world_size=job.world_size, rank=job.rank, tp_size=job.tp_size, pp_size=job.pp_size)
        model_class = getattr(tensorrt_llm.models, job.model_class)
        model = model_class.from_hugging_face(job.model_dir, dtype=job.dtype, mapping=mapping, quant_config=quant)
        model.save_checkpoint(job.checkpoint_dir, save_config=job.rank == 0)
        del model

    def build_command(
        self, checkpoint_dir: Path, engine_dir: Path, workers: int, limits: BuildLimits, quant_algo: str | None
    ) -> list[str]:
        command = _flags(
            "trtllm-build",
            checkpoint_dir=checkpoint_dir,
            output_dir=engine_dir,
            workers=workers,
            max_batch_size=limits.max_batch_size,
            max_seq_len=limits.max_seq_len,
            max_input_len=limits.max_input_len,
            max_num_tokens=limits.max_num_tokens,
            kv_cache_type="paged",
            use_paged_context_fmha="enable",
            remove_input_padding="enable",
            gpt_attention_plugin="auto",
        )
        if limits.gather_context_logits:
            command.append("--gather_context_logits")
        if limits.gather_generation_logits:
            command.append("--gather_generation_logits")
        command += ["--gemm_plugin", "nvfp4" if quant_algo == "NVFP4" else "auto"]
        if quant_algo in ("NVFP4", "FP8"):
            command += ["--use_fp8_context_fmha", "enable"]
        return command

    def bench_build(self, job: BenchJob) -> BenchBuild:
        limits = job.limits
        command = _flags("trtllm-bench", model=job.model, model_path=job.model_dir, workspace=job.workspace)
        command += _flags(
            "build",
            tp_size=job.tp_size,
            pp_size=job.pp_size,
            max_seq_len=limits.max_seq_len,
            max_batch_size=limits.max_batch_size,
            max_num_tokens=limits.max_num_tokens,
        )
        if job.quant_algo:
            command += ["--quantization", job.quant_algo]
        engine_dir = job.workspace / job.model / f"tp_{job.tp_size}_pp_{job.pp_size}"
        return BenchBuild(command=command, engine_dir=engine_dir)


def _flags(program: str, **flags: object) -> list[str]:
    """``program --name value ...`` in the order given."""
    return [program, *(part for name, value in flags.items() for part in (f"--{name}", str(value)))]
