# nix develop: trtllm-nix's Python with its test tools, ruff, and bubblewrap (the runtime's entry); the checkout's
# testkit/ on PYTHONPATH beside python/ (its heavier dependencies, tritonserver and torch, are `make setup`'s). The
# runtime itself (tens of GB) is not pulled in: build it with `nix build .#tritonserver-trtllm` and pass --runtime.
{ pkgs, trtllm-nix }:
pkgs.mkShell {
  packages = [
    (pkgs.python3.withPackages (ps: trtllm-nix.dependencies ++ [ ps.pytest ps.hypothesis ps.mypy ps.openai ]))
    pkgs.ruff
    pkgs.bubblewrap
  ];
  shellHook = ''
    export PYTHONPATH=$PWD/python:$PWD/testkit''${PYTHONPATH:+:$PYTHONPATH}
  '';
}
