"""``tensorrt_llm.models``: one class per recorded MODEL_MAP target, each with from_hugging_face/save_checkpoint."""

from __future__ import annotations

from tensorrt_llm._facts import PYTHON_API
from tensorrt_llm.models.modeling_utils import PretrainedModel

for _name in sorted(set(PYTHON_API["model_classes"]["MODEL_MAP"].values())):
    globals()[_name] = type(_name, (PretrainedModel,), {})
