"""The PyTorch lane: the proxy in front of the reference TrtllmService (scripted, guided decoding on), in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from trtllm_nix.llm.upstream_address import UpstreamAddress
from trtllm_nix.proxy.settings import ProxySettings
from trtllm_nix.repo.tokenizer_info import TOKENIZER_INFO_FILE, tokenizer_info_text
from trtllm_nix.triton.ports import free_ports
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.background import ProxyThread
from trtllm_nix_testkit.reference.trtllm_server import ReferenceModel, TrtllmServiceThread

CONTEXT = 16384


def reference_model(assets: Assets, folder: Path, **fields: object) -> ReferenceModel:
    info = folder / TOKENIZER_INFO_FILE
    info.write_text(tokenizer_info_text(assets.tokenizer), "utf-8")
    base: dict[str, object] = {
        "backend": "scripted",
        "tokenizer_dir": assets.tokenizer,
        "max_seq_len": CONTEXT,
        "guided_decoding": info,
    }
    return ReferenceModel(**{**base, **fields})  # type: ignore[arg-type]


def lane_proxy(server: TrtllmServiceThread, assets: Assets, guided: bool = True, **overrides: object) -> ProxyThread:
    fields: dict[str, object] = {
        "tokenizer": assets.tokenizer,
        "port": free_ports(1)[0],
        "upstream": UpstreamAddress((server.target,), guided_decoding=guided),
        "upstream_wait": 30.0,
        **overrides,
    }
    return ProxyThread(ProxySettings(**fields))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def trtllm_service(tmp_path_factory: pytest.TempPathFactory, assets: Assets) -> Iterator[TrtllmServiceThread]:
    with TrtllmServiceThread(reference_model(assets, tmp_path_factory.mktemp("trtllm-service"))) as server:
        yield server


@pytest.fixture(scope="session")
def pytorch_proxy(trtllm_service: TrtllmServiceThread, assets: Assets) -> Iterator[ProxyThread]:
    with lane_proxy(trtllm_service, assets) as proxy:
        yield proxy


@pytest.fixture
def sdk(pytorch_proxy: ProxyThread) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=pytorch_proxy.base_url + "/v1", api_key="unused", max_retries=0) as client:
        yield client
