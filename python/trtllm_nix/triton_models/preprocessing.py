"""``preprocessing``: text to token ids, upstream's contract (no chat template; send a rendered prompt)."""

from __future__ import annotations

from typing import Any

import numpy as np

from trtllm_nix.llm.model_files import ModelFiles
from trtllm_nix.llm.upstream_types import word_list
from trtllm_nix.triton_models.common import Inputs, model_parameters, resolve_path


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        import triton_python_backend_utils as pb

        self._pb = pb
        params = model_parameters(args)
        self._files = ModelFiles.load(resolve_path(args, params["tokenizer_dir"]))
        self._add_special = params.get("add_special_tokens", "false").lower() == "true"

    def execute(self, requests: list[Any]) -> list[Any]:
        return [self._one(request) for request in requests]

    def _one(self, request: Any) -> Any:
        pb = self._pb
        try:
            inputs = Inputs(pb, request)
            query = inputs.string("QUERY") or ""
            ids = list(self._files.tokenizer.encode(query, add_special_tokens=self._add_special).ids)
            output_len = inputs.scalar("REQUEST_OUTPUT_LEN")
            end_id = inputs.scalar("END_ID")
            pad_id = inputs.scalar("PAD_ID")
            stop = self._words(inputs.strings("STOP_WORDS_DICT"))
            bad = self._words(inputs.strings("BAD_WORDS_DICT"))
        except (ValueError, UnicodeDecodeError) as error:
            return pb.InferenceResponse(output_tensors=[], error=pb.TritonError(f"preprocessing: {error}"))
        tensors = [
            pb.Tensor("INPUT_ID", np.asarray([ids], dtype=np.int32)),
            pb.Tensor("REQUEST_INPUT_LEN", np.asarray([[len(ids)]], dtype=np.int32)),
            pb.Tensor("REQUEST_OUTPUT_LEN", np.asarray([[output_len]], dtype=np.int32)),
            pb.Tensor("STOP_WORDS_IDS", word_list(stop)),
            pb.Tensor("BAD_WORDS_IDS", word_list(bad)),
            pb.Tensor("EMBEDDING_BIAS", np.zeros((1, 0), dtype=np.float32)),
            pb.Tensor(
                "OUT_END_ID", np.asarray([[end_id if end_id is not None else self._files.eos_token_id]], dtype=np.int32)
            ),
            pb.Tensor(
                "OUT_PAD_ID", np.asarray([[pad_id if pad_id is not None else self._files.pad_token_id]], dtype=np.int32)
            ),
        ]
        return pb.InferenceResponse(output_tensors=tensors)

    def _words(self, words: list[str] | None) -> list[list[int]]:
        return [self._files.encode(word) for word in (words or []) if word]
