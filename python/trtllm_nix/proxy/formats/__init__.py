"""Model formats, one module per family: how a family marks reasoning and tool calls, read from its answers and
forced by grammars (``formats.reasoning``, ``formats.tool_calls``; the registries in ``formats.registry``).

Every module of this package is imported here, so a family's module registers its classes by being there: adding
a family is one new module (plus its tests), named nowhere else."""

from __future__ import annotations

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
