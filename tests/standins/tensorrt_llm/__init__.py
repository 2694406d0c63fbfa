"""Stand-in ``tensorrt_llm`` (see tests/standins/README.md): the pinned release's signatures, recorded calls."""

from tensorrt_llm import models as models
from tensorrt_llm._facts import FACTS

__version__ = str(FACTS["triton"]["containers"]["25.12"]["tensorrt_llm"])
