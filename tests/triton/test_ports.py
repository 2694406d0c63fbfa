"""Port checks for any listen address, IPv6 included (``--host ::1`` and ``::`` used to be refused as taken)."""

from __future__ import annotations

import socket

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
