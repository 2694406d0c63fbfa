"""``tensorrt_llm.mapping.Mapping`` with the recorded keywords and its tp * pp * cp == world_size check."""

from __future__ import annotations

from typing import Any

from tensorrt_llm._facts import PYTHON_API, bind, record


class Mapping:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.fields = bind("Mapping", PYTHON_API["Mapping"], args, kwargs)
        for key, value in self.fields.items():
            setattr(self, key, value)
        world, tp, pp, cp = (int(self.fields[k]) for k in ("world_size", "tp_size", "pp_size", "cp_size"))
        if tp * pp * cp != world:
            raise ValueError(f"world_size must equal tp_size * pp_size * cp_size, got {world} != {tp}*{pp}*{cp}")
        if not 0 <= int(self.fields["rank"]) < world:
            raise ValueError(f"rank {self.fields['rank']} is outside world_size {world}")
        record("Mapping", kwargs=kwargs, args=list(args))
