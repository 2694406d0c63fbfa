"""``postprocessing``: token ids to text, upstream's contract. It decodes what it is given as one whole sequence.

Streaming clients should use ``ensemble``, which decodes incrementally from all generated ids; this model, like
upstream's, cannot know about ids it was not sent.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trtllm_nix.llm.model_files import ModelFiles
from trtllm_nix.triton_models.common import Inputs, model_parameters, resolve_path, string_tensor


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        import triton_python_backend_utils as pb

        self._pb = pb
        params = model_parameters(args)
        self._files = ModelFiles.load(resolve_path(args, params["tokenizer_dir"]))
        self._skip_special = params.get("skip_special_tokens", "true").lower() == "true"

    def execute(self, requests: list[Any]) -> list[Any]:
        return [self._one(request) for request in requests]

    def _one(self, request: Any) -> Any:
        pb = self._pb
        inputs = Inputs(pb, request)
        tokens = np.asarray(inputs.array("TOKENS_BATCH"))
        lengths = np.asarray(inputs.array("SEQUENCE_LENGTH")).reshape(-1)
        beams = tokens.reshape(-1, tokens.shape[-1])
        texts = [
            self._files.tokenizer.decode(beam[: int(length)].tolist(), skip_special_tokens=self._skip_special)
            for beam, length in zip(beams, lengths, strict=False)
        ]
        return pb.InferenceResponse(output_tensors=[string_tensor(pb, "OUTPUT", texts, (1, len(texts)))])
