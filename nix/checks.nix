# Checks: the pytest suite in a derivation (real tritonserver from the nvidia-pytriton wheel is not in nixpkgs, so
# the derivation runs the tests that need no Triton), and, behind requiredSystemFeatures = [ "cuda" ], a GPU smoke
# test that starts the TP1 server and the proxy and asks `trtllm-nix doctor --smoke` for one answer.
# The test environment holds trtllm-nix as a Python module (withPackages drops applications) and what the listed
# tests import (tests/nix/test_checks_env.py walks their imports and compares); not the testkit (testkit/, the
# reference backend and the test assets), which the listed tests and the conftest.py files they load do not import.
{ pkgs, trtllm-nix, server, proxy }:
let
  python = pkgs.python3.withPackages (ps: [
    (ps.toPythonModule trtllm-nix)
    ps.pytest
    ps.hypothesis
    ps.openai
    ps.torch
    ps.safetensors
  ]);
  unitTests = [
    "tests/engine/test_quant.py"
    "tests/engine/test_sizes_and_preflight.py"
    "tests/launch/test_plan.py"
    "tests/proxy/formats/test_qwen3.py"
    "tests/proxy/responses_api/test_protocol.py"
  ];
in
{
  unit-tests = pkgs.runCommand "trtllm-nix-unit-tests" {
    nativeBuildInputs = [ python ];
    passthru = { inherit python unitTests; };
  } ''
    cp -r ${../tests} tests && chmod -R u+w tests
    export HOME=$TMPDIR
    python -m pytest -q -p no:cacheprovider ${pkgs.lib.escapeShellArgs unitTests}
    touch $out
  '';

  gpu-smoke = pkgs.runCommand "trtllm-nix-gpu-smoke" {
    nativeBuildInputs = [ server proxy trtllm-nix pkgs.curl ];
    requiredSystemFeatures = [ "cuda" ];
  } ''
    export HOME=$TMPDIR
    ${pkgs.lib.getExe server} --http-port 18000 --grpc-port 18001 --metrics-port 18002 --run-dir $TMPDIR/run &
    server=$!
    deadline=$((SECONDS + 1800))
    until curl -sf 127.0.0.1:18000/v2/health/ready >/dev/null; do
      kill -0 $server 2>/dev/null || { echo "gpu-smoke: tritonserver exited before it was ready" >&2; exit 1; }
      ((SECONDS < deadline)) || { echo "gpu-smoke: tritonserver not ready after 1800 s" >&2; exit 1; }
      sleep 5
    done
    ${pkgs.lib.getExe proxy} --triton 127.0.0.1:18001 --port 19000 &
    trtllm-nix doctor --smoke http://127.0.0.1:19000
    touch $out
  '';
}
