"""Free TCP ports picked at run time, and a check that a given one is free, for any listen address: IPv4, IPv6
(``::1``, ``::``) or a name."""

from __future__ import annotations

import contextlib
import socket


def _address(host: str, port: int) -> tuple[socket.AddressFamily, tuple[str, int] | tuple[str, int, int, int]]:
    """The family and socket address a server listening on ``host`` binds (the first ``getaddrinfo`` gives)."""
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    return family, address  # type: ignore[return-value]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports that were free a moment ago (all held open together while picking)."""
    family, address = _address(host, 0)
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(family, socket.SOCK_STREAM))
            sock.bind(address)
            ports.append(int(sock.getsockname()[1]))
        return ports


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
