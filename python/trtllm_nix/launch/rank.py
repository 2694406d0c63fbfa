"""One rank under mpirun: run the command with its output in the rank's own log, forward SIGTERM and SIGINT, and
leave the exit code in a file, so the launcher can say which rank failed.

``python -m trtllm_nix.launch.rank RUNDIR -- tritonserver ...``; the rank number comes from Open MPI's
``OMPI_COMM_WORLD_RANK``. Logs: ``RUNDIR/rank{N}.log`` (also on stdout, prefixed ``[rank N]``, with
``TRTLLM_NIX_LOG_TO_STDOUT=1``); exit codes: ``RUNDIR/rank{N}.exit`` (128+signal when
killed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

from trtllm_nix.launch.tee import log_to_stdout, start_tee


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m trtllm_nix.launch.rank RUNDIR -- COMMAND...", file=sys.stderr)
        return 2
    run_dir, command = Path(argv[0]), argv[2:]
    rank = int(os.environ.get("OMPI_COMM_WORLD_RANK") or os.environ.get("PMIX_RANK") or 0)
    run_dir.mkdir(parents=True, exist_ok=True)
    log = (run_dir / f"rank{rank}.log").open("ab")
    echo = log_to_stdout()
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE if echo else log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    tee = start_tee(child.stdout, log, f"[rank {rank}] ".encode()) if echo and child.stdout else None

    def forward(signum: int, _: FrameType | None) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = child.wait()
    if tee is not None:
        tee.join()
    log.close()
    code = 128 - code if code < 0 else code
    (run_dir / f"rank{rank}.exit").write_text(f"{code}\n")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
