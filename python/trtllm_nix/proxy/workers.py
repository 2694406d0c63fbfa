"""``--workers N``: N full server processes on one port, under uvicorn's process supervisor.

The parent binds the socket once and spawns N workers (uvicorn ``workers=N`` with an app factory); each worker
builds its own app from the settings the parent pickled into a private per-run directory. SIGTERM or SIGINT to the
parent stops every worker gracefully (uvicorn's supervisor forwards it and joins them); a worker also asks the kernel
to SIGTERM it when the parent dies (``PR_SET_PDEATHSIG``), so even a SIGKILLed parent leaves no worker behind.

Admission: each worker admits ``max_in_flight // N`` generations (the remainder spread over the first workers is not
possible, since workers have no index, so it is dropped), so the whole proxy never has more than ``max_in_flight`` in
flight. The kernel spreads connections over the workers, not perfectly evenly, so a client can get a 429 while
another worker still has room; the 429 body names the worker's share. A shared counter would be exact but needs a
cross-process lock on every request and leaks counts when a worker dies.

Metrics: ``PROMETHEUS_MULTIPROC_DIR`` points at ``metrics/`` in the per-run directory, set before the workers start;
the directory is created empty at start and removed at stop (see proxy/metrics.py for how values aggregate)."""

from __future__ import annotations

import dataclasses
import os
import pickle
import shutil
import tempfile
from pathlib import Path

from fastapi import FastAPI

from trtllm_nix.processes import die_with_parent
from trtllm_nix.proxy.settings import ProxySettings

SETTINGS_VARIABLE = "TRTLLM_NIX_WORKER_SETTINGS"
# uvicorn kills (and restarts) a worker that does not answer its supervisor's ping in time, also while it starts:
# importing the app and loading the tokenizer takes longer than uvicorn's 5 s on a loaded 2-core machine
HEALTHCHECK_SECONDS = 60


def serve_workers(settings: ProxySettings) -> None:
    """Run ``settings.workers`` server processes on ``settings.host:settings.port`` until SIGTERM or SIGINT."""
    import uvicorn

    from trtllm_nix.proxy.app import create_app
    from trtllm_nix.proxy.http_limits import PROTOCOL

    create_app(settings)  # every setup error once, as one line, here: a worker that fails would be restarted forever
    run_dir = Path(tempfile.mkdtemp(prefix="trtllm-nix-proxy-"))
    try:
        metrics_dir = run_dir / "metrics"
        metrics_dir.mkdir()
        settings_file = run_dir / "settings.pickle"
        settings_file.write_bytes(pickle.dumps(worker_settings(settings)))
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        os.environ[SETTINGS_VARIABLE] = str(settings_file)
        uvicorn.run(
            "trtllm_nix.proxy.workers:worker_app",
            factory=True,
            workers=settings.workers,
            host=settings.host,
            port=settings.port,
            log_level="info",
            timeout_graceful_shutdown=5,
            timeout_worker_healthcheck=HEALTHCHECK_SECONDS,
            http=PROTOCOL,
        )
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def worker_settings(settings: ProxySettings) -> ProxySettings:
    """One worker's settings: one process, its share of the in-flight limit."""
    return dataclasses.replace(settings, workers=1, max_in_flight=settings.max_in_flight // settings.workers)


def worker_app() -> FastAPI:
    """The app factory each worker process calls (uvicorn imports it by name)."""
    from trtllm_nix.proxy.app import create_app

    die_with_parent()
    settings = pickle.loads(Path(os.environ[SETTINGS_VARIABLE]).read_bytes())  # noqa: S301 - our own file
    if not isinstance(settings, ProxySettings):
        raise TypeError(f"{os.environ[SETTINGS_VARIABLE]} holds no ProxySettings")
    return create_app(settings)
