"""A synthetic Triton upstream that streams faster than any front end (issue 32).

It speaks what the proxy speaks to Triton (``inference.GRPCInferenceService`` over HTTP/2: ``ServerReady``,
``ModelReady`` and ``ModelStreamInfer`` of the ``tensorrt_llm`` model, one response per token, then the empty final
response that ``triton_enable_empty_final_response`` asks for), but it is a few hundred lines of asyncio that write
HTTP/2 frames by hand: each response message is serialized once per token id and cached, and every tick writes one
token for every stream that may take one, all streams of a connection in one socket write. So a token costs it a
couple of microseconds, not the ~100 of a gRPC message in Python.

Tokens: the ids of ``--token-ids`` (a comma-separated list, cycled), or the request's own prompt ids when none are
given. ``--step-ms`` paces the ticks like an engine's decode step (0: as fast as the readers take them; HTTP/2 flow
control and the socket's buffer are the only brakes). Several processes on several ports (``--port`` once each)
give the proxy's pool several upstreams.

Run: ``python bench/synthetic_upstream.py --port 8001 [--token-ids 1,2,3] [--step-ms 0]``; it prints ``ready`` on
stdout once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import struct
import sys
from dataclasses import dataclass, field

from hpack import Decoder  # type: ignore[import-not-found]
from tritonclient.grpc import service_pb2

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 6, 7, 8, 9
END_STREAM, END_HEADERS, PADDED, PRIORITY, ACK = 0x1, 0x4, 0x8, 0x20, 0x1
SERVICE = "/inference.GRPCInferenceService/"
DEFAULT_WINDOW = 65_535
HIGH_WATER = 1 << 20


def frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes((kind, flags)) + struct.pack(">I", stream) + payload


def _literal(name: bytes, value: bytes) -> bytes:
    """HPACK literal header field without indexing, new name, no Huffman: stateless, so it can be cached."""
    assert len(name) < 127
    assert len(value) < 127
    return b"\x00" + bytes((len(name),)) + name + bytes((len(value),)) + value


RESPONSE_HEADERS = b"\x88" + _literal(b"content-type", b"application/grpc")  # :status 200 is static entry 8
TRAILERS_OK = _literal(b"grpc-status", b"0")


def trailers(status: int, message: str = "") -> bytes:
    block = _literal(b"grpc-status", str(status).encode())
    return block + (_literal(b"grpc-message", message.encode()[:100]) if message else b"")


def grpc_message(payload: bytes) -> bytes:
    return b"\x00" + struct.pack(">I", len(payload)) + payload


READY = grpc_message(b"\x08\x01")  # ServerReadyResponse / ModelReadyResponse {ready: true}


class Messages:
    """The serialized ModelStreamInferResponse of each token id (and the empty final one), made once."""

    def __init__(self, model: str) -> None:
        self.model = model
        self._cache: dict[int, bytes] = {}
        final = service_pb2.ModelStreamInferResponse()
        final.infer_response.model_name = model
        final.infer_response.model_version = "1"
        final.infer_response.parameters["triton_final_response"].bool_param = True
        self.final = grpc_message(final.SerializeToString())

    def token(self, token_id: int) -> bytes:
        cached = self._cache.get(token_id)
        if cached is None:
            message = service_pb2.ModelStreamInferResponse()
            response = message.infer_response
            response.model_name = self.model
            response.model_version = "1"
            response.parameters["triton_final_response"].bool_param = False
            for name, shape in (("output_ids", [1, 1, 1]), ("sequence_length", [1, 1])):
                tensor = response.outputs.add()
                tensor.name, tensor.datatype = name, "INT32"
                tensor.shape.extend(shape)
            response.raw_output_contents.append(struct.pack("<i", token_id))
            response.raw_output_contents.append(struct.pack("<i", 1))
            cached = self._cache[token_id] = grpc_message(message.SerializeToString())
        return cached


@dataclass
class Stream:
    sid: int
    path: str = ""
    body: bytearray = field(default_factory=bytearray)
    window: int = DEFAULT_WINDOW
    tokens: list[int] = field(default_factory=list)
    left: int = 0
    sent: int = 0
    live: bool = False
    data_header: bytes = b""  # the 9 bytes before each token's DATA payload (all token messages are one size)


class Generator:
    """The engine of all connections of this process: each tick, one token for each stream that can take one."""

    def __init__(self, token_ids: list[int], step: float, model: str) -> None:
        self.token_ids = token_ids
        self.step = step
        self.messages = Messages(model)
        self.active: dict[tuple[int, int], tuple[Connection, Stream]] = {}
        self.wake = asyncio.Event()

    def add(self, conn: Connection, stream: Stream) -> None:
        self.active[(id(conn), stream.sid)] = (conn, stream)
        self.wake.set()

    def drop(self, conn: Connection, sid: int) -> None:
        self.active.pop((id(conn), sid), None)

    async def run(self) -> None:
        messages = self.messages
        while True:
            if not self.active:
                self.wake.clear()
                await self.wake.wait()
            moved = False
            touched: set[Connection] = set()
            done: list[tuple[int, int]] = []
            for key, (conn, stream) in self.active.items():
                if conn.closed:
                    done.append(key)
                    continue
                if conn.paused:
                    continue
                tokens = stream.tokens
                payload = messages.token(tokens[stream.sent % len(tokens)])
                if stream.window < len(payload) or conn.window < len(payload):
                    continue
                stream.window -= len(payload)
                conn.window -= len(payload)
                conn.out.append(stream.data_header + payload)
                stream.sent += 1
                stream.left -= 1
                moved = True
                touched.add(conn)
                if stream.left <= 0:
                    final = messages.final
                    if stream.window >= len(final) and conn.window >= len(final):
                        stream.window -= len(final)
                        conn.window -= len(final)
                        conn.out.append(frame(DATA, 0, stream.sid, final))
                    conn.out.append(frame(HEADERS, END_STREAM | END_HEADERS, stream.sid, TRAILERS_OK))
                    conn.streams.pop(stream.sid, None)
                    done.append(key)
            for key in done:
                self.active.pop(key, None)
            for conn in touched:
                conn.flush()
            if not moved:  # every stream waits on flow control or a full socket: sleep until that changes
                self.wake.clear()
                await self.wake.wait()
            elif self.step > 0:
                await asyncio.sleep(self.step)
            else:
                await asyncio.sleep(0)


class Connection(asyncio.Protocol):
    def __init__(self, engine: Generator, model: str) -> None:
        self.engine = engine
        self.model = model
        self.buffer = bytearray()
        self.preface = False
        self.decoder = Decoder()
        self.streams: dict[int, Stream] = {}
        self.window = DEFAULT_WINDOW
        self.initial_window = DEFAULT_WINDOW
        self.out: list[bytes] = []
        self.paused = False
        self.closed = False
        self.headers_block: tuple[int, int, bytearray] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's TCPTransport is no asyncio.Transport
        transport.set_write_buffer_limits(high=HIGH_WATER)  # type: ignore[attr-defined]
        # our SETTINGS (no limit on streams), and a large connection window for the requests' bodies
        settings = struct.pack(">HI", 0x3, 1 << 30) + struct.pack(">HI", 0x4, 1 << 30)
        transport.write(frame(SETTINGS, 0, 0, settings) + frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", (1 << 30))))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        for sid in list(self.streams):
            self.engine.drop(self, sid)
        self.streams.clear()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self.engine.wake.set()

    def flush(self) -> None:
        if self.out and self.transport is not None and not self.closed:
            self.transport.write(b"".join(self.out))
        self.out.clear()

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        if not self.preface:
            if len(buffer) < len(PREFACE):
                return
            if bytes(buffer[: len(PREFACE)]) != PREFACE:
                assert self.transport is not None
                self.transport.close()
                return
            del buffer[: len(PREFACE)]
            self.preface = True
        offset = 0
        while len(buffer) - offset >= 9:
            length = int.from_bytes(buffer[offset : offset + 3], "big")
            if len(buffer) - offset < 9 + length:
                break
            kind, flags = buffer[offset + 3], buffer[offset + 4]
            sid = int.from_bytes(buffer[offset + 5 : offset + 9], "big") & 0x7FFFFFFF
            payload = bytes(buffer[offset + 9 : offset + 9 + length])
            offset += 9 + length
            self.on_frame(kind, flags, sid, payload)
        del buffer[:offset]
        self.flush()

    def on_frame(self, kind: int, flags: int, sid: int, payload: bytes) -> None:
        if kind == DATA:
            if payload:  # give the connection window back at once (flow control counts padding too)
                self.out.append(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", len(payload))))
            if flags & PADDED:
                payload = payload[1 : len(payload) - payload[0]]
            stream = self.streams.get(sid)
            if stream is not None:
                stream.body += payload
                self.on_body(stream, bool(flags & END_STREAM))
        elif kind in (HEADERS, CONTINUATION):
            if kind == HEADERS:
                if flags & PADDED:
                    payload = payload[1 : len(payload) - payload[0]]
                if flags & PRIORITY:
                    payload = payload[5:]
                self.headers_block = (sid, flags, bytearray(payload))
            elif self.headers_block is not None:
                self.headers_block[2].extend(payload)
            if flags & END_HEADERS and self.headers_block is not None:
                sid, first_flags, block = self.headers_block
                self.headers_block = None
                self.on_headers(sid, first_flags, bytes(block))
        elif kind == SETTINGS:
            if flags & ACK:
                return
            for i in range(0, len(payload) - 5, 6):
                key, value = struct.unpack(">HI", payload[i : i + 6])
                if key == 0x4:
                    delta = value - self.initial_window
                    self.initial_window = value
                    for stream in self.streams.values():
                        stream.window += delta
            self.out.append(frame(SETTINGS, ACK, 0, b""))
            self.engine.wake.set()
        elif kind == WINDOW_UPDATE:
            increment = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
            if sid == 0:
                self.window += increment
            elif sid in self.streams:
                self.streams[sid].window += increment
            self.engine.wake.set()
        elif kind == PING:
            if not flags & ACK:
                self.out.append(frame(PING, ACK, 0, payload))
        elif kind == RST_STREAM:
            self.streams.pop(sid, None)
            self.engine.drop(self, sid)
        elif kind == GOAWAY:
            pass

    def on_headers(self, sid: int, flags: int, block: bytes) -> None:
        headers = dict(self.decoder.decode(block))
        stream = self.streams.get(sid)
        if stream is None:  # a new request
            stream = Stream(sid, path=str(headers.get(":path", "")), window=self.initial_window)
            self.streams[sid] = stream
        if flags & END_STREAM:
            self.on_body(stream, True)

    def on_body(self, stream: Stream, ended: bool) -> None:
        method = stream.path[len(SERVICE) :] if stream.path.startswith(SERVICE) else ""
        if method in ("ServerReady", "ModelReady"):
            if ended:
                self.reply(stream.sid, READY)
            return
        if method != "ModelStreamInfer":
            if ended:
                self.reply(stream.sid, None, trailers(12, f"{stream.path} is not served here"))
            return
        if stream.live or len(stream.body) < 5:
            return
        size = int.from_bytes(stream.body[1:5], "big")
        if len(stream.body) < 5 + size:
            return
        request = service_pb2.ModelInferRequest.FromString(bytes(stream.body[5 : 5 + size]))
        del stream.body[: 5 + size]
        values: dict[str, bytes] = {}
        for index, tensor in enumerate(request.inputs):
            if index < len(request.raw_input_contents):
                values[tensor.name] = request.raw_input_contents[index]
        wanted = struct.unpack("<i", values["request_output_len"][:4])[0] if "request_output_len" in values else 16
        prompt = list(struct.unpack(f"<{len(values.get('input_ids', b'')) // 4}i", values.get("input_ids", b"")))
        stream.tokens = self.engine.token_ids or prompt or [0]
        stream.left = max(1, wanted)
        stream.live = True
        length = len(self.engine.messages.token(stream.tokens[0]))
        stream.data_header = struct.pack(">I", length)[1:] + bytes((DATA, 0)) + struct.pack(">I", stream.sid)
        self.out.append(frame(HEADERS, END_HEADERS, stream.sid, RESPONSE_HEADERS))
        self.engine.add(self, stream)

    def reply(self, sid: int, message: bytes | None, trailer: bytes = TRAILERS_OK) -> None:
        self.out.append(frame(HEADERS, END_HEADERS, sid, RESPONSE_HEADERS))
        if message is not None:
            self.out.append(frame(DATA, 0, sid, message))
        self.out.append(frame(HEADERS, END_STREAM | END_HEADERS, sid, trailer))
        self.streams.pop(sid, None)


async def serve(host: str, port: int, token_ids: list[int], step: float, model: str) -> None:
    engine = Generator(token_ids, step, model)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Connection(engine, model), host, port, backlog=4096)
    print("ready", flush=True)
    async with server:
        await engine.run()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token-ids", default="", help="comma-separated token ids to cycle (default: the prompt's)")
    parser.add_argument("--step-ms", type=float, default=0.0, help="pause between ticks (0: none)")
    parser.add_argument("--model", default="tensorrt_llm")
    args = parser.parse_args()
    token_ids = [int(t) for t in args.token_ids.split(",") if t]
    try:
        import uvloop  # type: ignore[import-not-found]

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(args.host, args.port, token_ids, args.step_ms / 1000, args.model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
