# The CPU demo needs tritonserver from the nvidia-pytriton wheel, which nixpkgs does not package, and the testkit
# (testkit/: the reference backend), which the Nix package does not carry; this wrapper runs `make demo` (its own
# virtualenv, both installed) from a checkout.
{ writeShellApplication, gnumake, python3 }:
writeShellApplication {
  name = "trtllm-nix-demo";
  runtimeInputs = [ gnumake python3 ];
  text = ''
    if [[ ! -f Makefile || ! -d python/trtllm_nix || ! -d testkit ]]; then
      echo "run this from a trtllm-nix checkout (it builds .venv with the nvidia-pytriton wheel)" >&2
      exit 2
    fi
    exec make demo DEMO_ARGS="$*"
  '';
}
