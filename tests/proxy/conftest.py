"""Proxies on real ports in front of the session's real tritonservers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import openai
import pytest
from trtllm_nix.proxy.settings import ProxySettings
from trtllm_nix.triton.ports import free_ports

from tests.helpers import RunningTriton

if TYPE_CHECKING:  # the testkit, imported where used: the Nix checks' parser tests load this module without it
    from trtllm_nix_testkit.assets.build import Assets
    from trtllm_nix_testkit.background import ProxyThread


def start_proxy(backend: RunningTriton, assets: Assets, **overrides: object) -> ProxyThread:
    from trtllm_nix_testkit.background import ProxyThread

    fields: dict[str, object] = {
        "tokenizer": assets.tokenizer,
        "triton": backend.server.grpc_url,
        "port": free_ports(1)[0],
        **overrides,
    }
    proxy = ProxyThread(ProxySettings(**fields))  # type: ignore[arg-type]
    proxy.start()
    return proxy


@pytest.fixture(scope="session")
def scripted_proxy(scripted_triton: RunningTriton, assets: Assets) -> Iterator[ProxyThread]:
    proxy = start_proxy(scripted_triton, assets)
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def hf_proxy(hf_triton: RunningTriton, assets: Assets) -> Iterator[ProxyThread]:
    proxy = start_proxy(hf_triton, assets, reasoning_parser="none")  # raw text, to compare with transformers
    yield proxy
    proxy.stop()


@pytest.fixture
def client(scripted_proxy: ProxyThread) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=scripted_proxy.base_url + "/v1", api_key="unused", max_retries=0) as sdk:
        yield sdk
