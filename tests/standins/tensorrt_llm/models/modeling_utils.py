"""``QuantConfig`` with the recorded keywords; the model classes' ``from_hugging_face`` and ``save_checkpoint``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tensorrt_llm._facts import PYTHON_API, bind, record
from tensorrt_llm.mapping import Mapping
from tensorrt_llm.quantization import QuantAlgo

DTYPES = ("auto", "float16", "bfloat16", "float32")
ARCH_KEYS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "intermediate_size")


class QuantConfig:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.fields = bind("QuantConfig", PYTHON_API["QuantConfig"], args, kwargs)
        for key in ("quant_algo", "kv_cache_quant_algo"):
            value = self.fields[key]
            if value is not None and not isinstance(value, QuantAlgo):
                raise TypeError(f"QuantConfig.{key} must be a QuantAlgo or None, got {value!r}")
        kv = self.fields["kv_cache_quant_algo"]
        if kv is not None and kv.value not in PYTHON_API["QuantAlgo"]["kv_cache_quant_algos"]:
            raise ValueError(f"kv_cache_quant_algo {kv.value} is not a KV-cache algorithm")
        record("QuantConfig", kwargs={k: getattr(v, "value", v) for k, v in kwargs.items()})

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(v, "value", v) for k, v in self.fields.items()}


class PretrainedModel:
    def __init__(self, config: dict[str, Any], rank: int) -> None:
        self.config = config
        self.rank = rank

    @classmethod
    def from_hugging_face(cls, *args: Any, **kwargs: Any) -> PretrainedModel:
        bound = bind(
            f"{cls.__name__}.from_hugging_face", PYTHON_API["model_classes"]["from_hugging_face"], args, kwargs
        )
        mapping, quant, dtype = bound["mapping"], bound["quant_config"], bound["dtype"]
        if not isinstance(mapping, Mapping):
            raise TypeError(f"mapping must be a Mapping, got {type(mapping).__name__}")
        if quant is not None and not isinstance(quant, QuantConfig):
            raise TypeError(f"quant_config must be a QuantConfig, got {type(quant).__name__}")
        if dtype not in DTYPES:
            raise ValueError(f"dtype {dtype!r} is not one of {DTYPES}")
        hf = json.loads((Path(bound["hf_model_or_dir"]) / "config.json").read_text("utf-8"))
        config = {
            "architecture": cls.__name__,
            "dtype": hf.get("torch_dtype", "bfloat16") if dtype == "auto" else dtype,
            "vocab_size": hf["vocab_size"],
            "head_size": hf.get("head_dim") or hf["hidden_size"] // hf["num_attention_heads"],
            **{key: hf[key] for key in ARCH_KEYS},
            "mapping": {k: mapping.fields[k] for k in ("world_size", "tp_size", "pp_size")},
            "quantization": quant.to_dict() if quant else {"quant_algo": None, "kv_cache_quant_algo": None},
        }
        record("from_hugging_face", model_class=cls.__name__, kwargs=sorted(kwargs), dtype=dtype)
        return cls(config, int(mapping.fields["rank"]))

    def save_checkpoint(self, *args: Any, **kwargs: Any) -> None:
        bound = bind("save_checkpoint", PYTHON_API["model_classes"]["save_checkpoint"], args, kwargs)
        out = Path(bound["output_dir"])
        (out / f"rank{self.rank}.safetensors").write_bytes(b"stand-in rank weights")
        if bound["save_config"]:
            (out / "config.json").write_text(json.dumps(self.config, indent=2), "utf-8")
        record("save_checkpoint", rank=self.rank, save_config=bound["save_config"])
