"""One rank under mpirun: run the command with its output in the rank's own log, forward SIGTERM and SIGINT, and
leave the exit code in a file, so the launcher can say which rank failed.

``python -m trtllm_nix.launch.rank RUNDIR -- tritonserver ...``; the rank number comes from Open MPI's
``OMPI_COMM_WORLD_RANK``. Logs: ``RUNDIR/rank{N}.log``; exit codes: ``RUNDIR/rank{N}.exit`` (128+signal when
killed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType


def rank_number() -> int:
    return int(os.environ.get("OMPI_COMM_WORLD_RANK") or os.environ.get("PMIX_RANK") or 0)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m trtllm_nix.launch.rank RUNDIR -- COMMAND...", file=sys.stderr)
        return 2
    run_dir, command = Path(argv[0]), argv[2:]
    rank = rank_number()
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / f"rank{rank}.log").open("ab") as log:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def forward(signum: int, _: FrameType | None) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = child.wait()
    code = 128 - code if code < 0 else code
    (run_dir / f"rank{rank}.exit").write_text(f"{code}\n")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
