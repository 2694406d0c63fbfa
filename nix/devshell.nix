# nix develop: the runtime (tritonserver, trtllm-build) and trtllm-nix's Python with its test tools.
{ pkgs, trtllm-nix, runtime }:
pkgs.mkShell {
  packages = [
    runtime
    pkgs.openmpi
    (pkgs.python3.withPackages (ps: trtllm-nix.dependencies ++ [ ps.pytest ps.hypothesis ps.mypy ps.openai ]))
    pkgs.ruff
  ];
  shellHook = ''
    export PYTHONPATH=$PWD/python''${PYTHONPATH:+:$PYTHONPATH}
  '';
}
