"""Port checks for any listen address, IPv6 included (``--host ::1`` and ``::`` used to be refused as taken)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from trtllm_nix.triton.ports import free_ports, port_is_free


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "::", "0.0.0.0", "localhost"])
def test_a_free_port_is_free_and_a_listened_one_is_not(host: str) -> None:
    port = free_ports(1, "::1" if ":" in host else "127.0.0.1")[0]
    assert port_is_free(port, host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as listener:
        listener.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", port))
        listener.listen()
        assert not port_is_free(port, "::1" if family == socket.AF_INET6 else "127.0.0.1")


def test_free_ports_on_ipv6_loopback() -> None:
    ports = free_ports(2, "::1")
    assert len(set(ports)) == 2


def test_two_calls_never_hand_out_the_same_port() -> None:
    """A test that picks its servers' ports in two calls (Triton's, then the proxy's) starts them after both: the
    second call must not return a port the first handed out (ci12: a proxy given a Triton's metrics port)."""
    given = [port for _ in range(200) for port in free_ports(3)]
    assert len(given) == len(set(given))


def test_free_ports_are_below_the_ephemeral_range() -> None:
    """An outgoing connection takes its local port from ip_local_port_range: a port picked there can be taken
    before its server binds it (ci12: tritonserver's HTTP port "already in use")."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    assert all(1024 <= port < low for port in free_ports(50))
