"""``engine build --runtime ROOT``: the TensorRT-LLM seam with every step entered into the image root.

The build's orchestration (download, checks, preflight, staging, supervisor) stays in our package outside; what
imports ``tensorrt_llm`` (version, per-rank conversion: ``runtime.seam_worker``) and the ``trtllm-build`` /
``trtllm-bench`` command lines run inside through the entry program, in the image's Python and with its MPI.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from trtllm_nix.engine.seam import BenchBuild, BenchJob, BuildLimits, ConvertJob, TensorrtLlmSeam
from trtllm_nix.engine.supervise import BuildFailed
from trtllm_nix.gpus import GpuInventory
from trtllm_nix.runtime.entry import Sandbox
from trtllm_nix.runtime.launch import PYTHON_INSIDE, entry_command, open_sandbox

WORKER = [PYTHON_INSIDE, "-m", "trtllm_nix.runtime.seam_worker"]


@dataclass(frozen=True)
class RuntimeSpec:
    """``--runtime ROOT`` of ``engine build``: the image root, bubblewrap, extra folders and variables inside."""

    root: Path
    bwrap: str | None = None
    binds: tuple[Path, ...] = ()
    env: tuple[tuple[str, str], ...] = ()


def runtime_seam(spec: RuntimeSpec, inner: TensorrtLlmSeam, folders: tuple[Path, ...]) -> RuntimeSeam:
    """Enter ``spec.root`` with ``folders`` (checkpoint, staging) bound; a PYTHONPATH given is added after ours."""
    sandbox = open_sandbox(spec.root, spec.bwrap, (*spec.binds, *folders))
    extra = dict(sandbox.extra_env)
    for name, value in spec.env:
        extra[name] = f"{extra[name]}:{value}" if name == "PYTHONPATH" and name in extra else value
    return RuntimeSeam(replace(sandbox, extra_env=extra), inner)


@dataclass(frozen=True)
class RuntimeSeam:
    """A :class:`TensorrtLlmSeam` whose steps run inside ``sandbox``; ``inner`` gives the command lines."""

    sandbox: Sandbox
    inner: TensorrtLlmSeam

    def version(self) -> str:
        result = self._run([*WORKER, "version"], "tensorrt_llm version")
        lines = result.stdout.strip().splitlines()
        if not lines:
            raise BuildFailed(
                "the image's Python printed no tensorrt_llm version; is TensorRT-LLM installed in --runtime?"
            )
        return lines[-1]

    def inventory(self) -> GpuInventory:
        """The GPUs as seen inside the runtime, with the host driver bound in (the preflight's view)."""
        result = self._run([*WORKER, "inventory"], "the GPU inventory", echo=False)
        lines = result.stdout.strip().splitlines()
        try:
            return GpuInventory.from_dict(json.loads(lines[-1]))
        except (IndexError, ValueError, KeyError, TypeError) as error:
            raise BuildFailed(f"the GPU inventory inside the runtime {self.sandbox.root} was unreadable") from error

    def convert_rank(self, job: ConvertJob) -> None:
        self._run([*WORKER, "convert", json.dumps(asdict(job))], f"conversion of rank {job.rank}")

    def build_command(
        self, checkpoint_dir: Path, engine_dir: Path, workers: int, limits: BuildLimits, quant_algo: str | None
    ) -> list[str]:
        command = self.inner.build_command(checkpoint_dir, engine_dir, workers, limits, quant_algo)
        return entry_command(self.sandbox, command, {})

    def bench_build(self, job: BenchJob) -> BenchBuild:
        bench = self.inner.bench_build(job)
        return replace(bench, command=entry_command(self.sandbox, bench.command, bench.environment), environment={})

    def _run(self, command: list[str], what: str, echo: bool = True) -> subprocess.CompletedProcess[str]:
        full = entry_command(self.sandbox, command, {})
        result = subprocess.run(full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
        if result.stdout and (echo or result.returncode != 0):
            print(result.stdout, end="", flush=True)
        if result.returncode != 0:
            tail = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
            raise BuildFailed(f"{what} inside the runtime {self.sandbox.root} exited with {result.returncode}: {tail}")
        return result
