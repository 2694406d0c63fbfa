"""What the proxy's TrtllmService client refuses rather than guesses: a finish reason it does not know (the
servicer's ``error`` for a result without outputs), a stream that ends without its ``GenerateComplete``, a sequence
it did not ask for. Each is a 502 naming what the server did."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

import httpx
import pytest
from smg_grpc_proto import trtllm_service_pb2 as pb
from trtllm_nix_testkit.assets.build import Assets
from trtllm_nix_testkit.background import ProxyThread
from trtllm_nix_testkit.reference.trtllm_server import TrtllmServiceThread
from trtllm_nix_testkit.reference.trtllm_service import ReferenceTrtllmServicer

from tests.proxy.sse import chat
from tests.pytorch_lane.conftest import lane_proxy, reference_model

TOKENS = [9707, 1879]  # "Hello world" in Qwen3's vocabulary


class _Scripted(ReferenceTrtllmServicer):
    """Answers every Generate with ``answers`` (the reference's own Generate is not used)."""

    answers: ClassVar[list[pb.GenerateResponse]] = []

    async def Generate(self, request: pb.GenerateRequest, context: Any) -> AsyncIterator[pb.GenerateResponse]:
        for answer in self.answers:
            yield answer


@pytest.fixture(scope="module")
def strict(assets: Assets, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ProxyThread, type[_Scripted]]]:
    server = TrtllmServiceThread(reference_model(assets, tmp_path_factory.mktemp("strict")))
    server.servicer.__class__ = _Scripted
    with server, lane_proxy(server, assets) as proxy:
        yield proxy, _Scripted


def _chunk(index: int = 0) -> pb.GenerateResponse:
    return pb.GenerateResponse(chunk=pb.GenerateStreamChunk(token_ids=TOKENS, sequence_index=index))


def _complete(reason: str) -> pb.GenerateResponse:
    return pb.GenerateResponse(complete=pb.GenerateComplete(output_token_ids=TOKENS, finish_reason=reason))


@pytest.mark.parametrize(
    ("answers", "said"),
    [
        ([_chunk(), _complete("error")], "finish_reason 'error'"),
        ([_chunk(), _complete("")], "finish_reason ''"),
        ([_chunk()], "without a GenerateComplete"),
        ([_chunk(1), _complete("stop")], "sequence 1 of 1"),
    ],
)
def test_what_the_client_refuses(
    strict: tuple[ProxyThread, type[_Scripted]], answers: list[pb.GenerateResponse], said: str
) -> None:
    proxy, servicer = strict
    servicer.answers = answers
    response = httpx.post(proxy.base_url + "/v1/chat/completions", json=chat("x"), timeout=30)
    assert response.status_code == 502
    assert said in response.json()["error"]["message"]


def test_a_well_formed_answer_passes(strict: tuple[ProxyThread, type[_Scripted]]) -> None:
    proxy, servicer = strict
    servicer.answers = [_chunk(), _complete("length")]
    answer = httpx.post(proxy.base_url + "/v1/chat/completions", json=chat("x"), timeout=30).json()
    assert answer["choices"][0]["message"]["content"] == "Hello world"
    assert answer["choices"][0]["finish_reason"] == "length"  # the server's word, though max_tokens is not reached
