"""A fake ``trtllm-serve MODEL --grpc --host H --port P ...`` for the launcher's tests: it listens on the port (a
loaded server), records its arguments, and behaves as ``FAKE_TRTLLM_SERVE`` says:

- ``serve``: on SIGTERM close the port and exit 0;
- ``hang``: start a worker that ignores SIGTERM (an MPI worker), and on SIGTERM close the port and then never exit
  (the MPI shutdown hang);
- ``fail``: exit 3 before listening, saying why;
- ``load``: never listen (a model that loads for ever); exit 0 on SIGTERM;
- SIGUSR1 in any mode: exit 5 while serving (a crash).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading

WORKER = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(3600)"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    args, _ = parser.parse_known_args()
    mode = os.environ.get("FAKE_TRTLLM_SERVE", "serve")
    record = os.environ.get("FAKE_TRTLLM_SERVE_RECORD")
    if record:
        with open(record, "w", encoding="utf-8") as file:
            json.dump({"argv": sys.argv[1:], "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES")}, file)
    if mode == "fail":
        print("fake trtllm-serve: no GPU devices found on the node", flush=True)
        return 3
    if mode == "load":
        signal.signal(signal.SIGTERM, lambda signum, _: sys.exit(0))
        threading.Event().wait()
    worker = subprocess.Popen([sys.executable, "-c", WORKER]) if mode == "hang" else None
    listener = socket.create_server((args.host, args.port))
    done = threading.Event()
    crashed: list[bool] = []

    def on_term(signum: int, _: object) -> None:
        if not done.is_set():  # the hang: a second SIGTERM is ignored too
            listener.close()
            done.set()

    def on_usr1(signum: int, _: object) -> None:
        crashed.append(True)
        done.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGUSR1, on_usr1)
    print(f"fake trtllm-serve: listening on {args.host}:{args.port}", flush=True)
    done.wait()
    if crashed:
        return 5
    if worker is not None:
        threading.Event().wait()  # never exits: the teardown hang
    return 0


if __name__ == "__main__":
    sys.exit(main())
