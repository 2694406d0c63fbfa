"""trtllm-nix's test machinery, apart from the product: the CPU reference backend (``reference``), the generated
assets (``assets``), the in-process runners (``triton_server``, ``background``), reference repositories
(``repository``) and the body of ``trtllm-nix demo`` (``demo``). It imports the product; the product imports it
only from ``trtllm-nix demo``, lazily."""
