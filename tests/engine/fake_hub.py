"""A Hub-compatible file server on loopback (HF_ENDPOINT points at it): the tree listing and resolve endpoints that
huggingface_hub's snapshot_download uses, with Range support, and a way to cut one download short."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass
class HubState:
    files: dict[str, bytes]
    commit: str
    cut_first_download_of: str | None = None
    cut_after: int = 0
    ranges: list[tuple[str, str]] = field(default_factory=list)
    gets: list[str] = field(default_factory=list)


def build_app(state: HubState) -> Starlette:
    def etag(name: str) -> str:
        return hashlib.sha256(state.files[name]).hexdigest()

    async def tree(request: Request) -> Response:
        return JSONResponse(
            [
                {"type": "file", "path": name, "size": len(data), "oid": etag(name)[:40]}
                for name, data in sorted(state.files.items())
            ]
        )

    async def resolve(request: Request) -> Response:
        name = request.path_params["path"]
        if name not in state.files:
            return Response(status_code=404, headers={"X-Error-Code": "EntryNotFound"})
        data = state.files[name]
        headers = {"X-Repo-Commit": state.commit, "ETag": f'"{etag(name)}"', "Accept-Ranges": "bytes"}
        if request.method == "HEAD":
            return Response(headers={**headers, "Content-Length": str(len(data))})
        state.gets.append(name)
        start = 0
        if "range" in request.headers:
            state.ranges.append((name, request.headers["range"]))
            start = int(request.headers["range"].removeprefix("bytes=").split("-")[0])
        body = data[start:]
        if name == state.cut_first_download_of and start == 0:
            state.cut_first_download_of = None

            async def cut() -> object:
                yield body[: state.cut_after]  # then the connection closes short of Content-Length

            return StreamingResponse(cut(), headers={**headers, "Content-Length": str(len(body))})
        status = 206 if start else 200
        if start:
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        return Response(body, status_code=status, headers={**headers, "Content-Length": str(len(body))})

    return Starlette(
        routes=[
            Route("/api/models/{owner}/{name}/tree/{revision}", tree),
            Route("/{owner}/{name}/resolve/{revision}/{path:path}", resolve, methods=["GET", "HEAD"]),
        ]
    )


class FakeHub:
    def __init__(self, state: HubState, port: int) -> None:
        self.state = state
        self.url = f"http://127.0.0.1:{port}"
        self._server = uvicorn.Server(
            uvicorn.Config(build_app(state), host="127.0.0.1", port=port, log_level="critical")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> FakeHub:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)


def checkpoint_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
