"""The PyTorch lane's client is an extra (``trtllm-nix[pytorch-lane]``): without it the engine lane runs, and a proxy
asked for the PyTorch lane says in one line what to install."""

from __future__ import annotations

import sys

import pytest
from trtllm_nix.errors import UserError


def test_without_smg_grpc_proto_the_lane_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from trtllm_nix.proxy.app import _pytorch_lane_info

    for name in [m for m in sys.modules if m.startswith(("smg_grpc_proto", "trtllm_nix.llm.trtllm_grpc"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "smg_grpc_proto", None)  # what an installation without the extra has
    with pytest.raises(UserError, match=r"install trtllm-nix\[pytorch-lane\]"):
        _pytorch_lane_info()
