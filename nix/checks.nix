# Checks: the pytest suite in a derivation (real tritonserver from the nvidia-pytriton wheel is not in nixpkgs, so
# the derivation runs the tests that need no Triton), and, behind requiredSystemFeatures = [ "cuda" ], a GPU smoke
# test that starts the TP1 server and answers one request through the proxy.
{ pkgs, trtllm-nix, server, proxy }:
let
  python = pkgs.python3.withPackages (ps: trtllm-nix.dependencies ++ [ trtllm-nix ps.pytest ps.hypothesis ]);
in
{
  unit-tests = pkgs.runCommand "trtllm-nix-unit-tests" { nativeBuildInputs = [ python ]; } ''
    cp -r ${../tests} tests && chmod -R u+w tests
    export HOME=$TMPDIR
    python -m pytest -q -p no:cacheprovider tests/engine/test_quant.py tests/engine/test_sizes_and_preflight.py \
      tests/launch/test_plan.py tests/proxy/test_chat_output.py tests/reference/test_contract.py
    touch $out
  '';

  gpu-smoke = pkgs.runCommand "trtllm-nix-gpu-smoke" {
    nativeBuildInputs = [ server proxy pkgs.curl pkgs.jq ];
    requiredSystemFeatures = [ "cuda" ];
  } ''
    export HOME=$TMPDIR
    ${pkgs.lib.getExe server} --http-port 18000 --grpc-port 18001 --metrics-port 18002 &
    until curl -sf localhost:18000/v2/health/ready; do sleep 5; done
    ${pkgs.lib.getExe proxy} --triton 127.0.0.1:18001 --port 19000 &
    until curl -sf localhost:19000/health/ready; do sleep 1; done
    curl -sf localhost:19000/v1/chat/completions -H 'Content-Type: application/json' \
      -d '{"model": "qwen3", "messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 16}' \
      | jq -e '.choices[0].message.content | length > 0'
    touch $out
  '';
}
