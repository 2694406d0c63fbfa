"""Run inside the runtime (the image's own Python): one call of the TensorRT-LLM seam, as the build asks for it.

``python3 -m trtllm_nix.runtime.seam_worker version`` prints ``tensorrt_llm.__version__``; ``python3 -m
trtllm_nix.runtime.seam_worker convert JOB_JSON`` converts one rank; ``python3 -m trtllm_nix.runtime.seam_worker
inventory`` prints the GPUs as the image's NVML (pynvml, a TensorRT-LLM dependency) sees them with the driver the
entry binds in: a Nix-built interpreter outside finds no driver on hosts that are not NixOS (nixpkgs' nvidia-ml-py
looks only on the default path and in /run/opengl-driver). Standard library and the seam only, so it imports under
the image's Python with nothing of ours but the pure-Python sources.
"""

from __future__ import annotations

import json
import sys

from trtllm_nix.engine.seam import ConvertJob, load_seam


def main(argv: list[str]) -> int:
    if argv[:1] == ["inventory"]:
        from trtllm_nix.gpus import read_inventory

        print(json.dumps(read_inventory().as_dict()))
        return 0
    seam = load_seam()
    if argv[:1] == ["version"]:
        print(seam.version())
        return 0
    if argv[:1] == ["convert"] and len(argv) == 2:
        seam.convert_rank(ConvertJob(**json.loads(argv[1])))
        return 0
    print("usage: python3 -m trtllm_nix.runtime.seam_worker version | convert JOB_JSON | inventory", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
