"""Free TCP ports picked at run time, and a check that a given one is free, for any listen address: IPv4, IPv6
(``::1``, ``::``) or a name."""

from __future__ import annotations

import contextlib
import random
import socket
from pathlib import Path


def _address(host: str, port: int) -> tuple[socket.AddressFamily, tuple[str, int] | tuple[str, int, int, int]]:
    """The family and socket address a server listening on ``host`` binds (the first ``getaddrinfo`` gives)."""
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    return family, address  # type: ignore[return-value]


_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 10_000  # below: well-known and registered ports
_given: set[int] = set()  # handed out by this process: never twice


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports that were free a moment ago (all held open together while picking), for servers a
    test starts. Picked below the kernel's ephemeral range, where no outgoing connection takes its local port
    before the server binds it, and never one this process handed out before: a second call cannot give away a
    port whose server is still starting."""
    try:
        ephemeral = int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral = 32768  # Linux's default
    candidates = [port for port in range(_LOWEST, ephemeral) if port not in _given]
    random.shuffle(candidates)
    family, _ = _address(host, 0)
    ports: list[int] = []
    with contextlib.ExitStack() as stack:
        for port in candidates:
            sock = stack.enter_context(socket.socket(family, socket.SOCK_STREAM))
            try:
                sock.bind(_address(host, port)[1])
            except OSError:
                continue
            ports.append(port)
            if len(ports) == count:
                _given.update(ports)
                return ports
    raise OSError(f"no {count} free ports between {_LOWEST} and {ephemeral} on {host}")


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on ``port`` now: a listener there says no, old connections in TIME_WAIT don't
    (servers bind with SO_REUSEADDR, and so does this check)."""
    try:
        family, address = _address(host, port)
    except socket.gaierror:
        return False
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError:
            return False
        return True
