# examples/gateway-two-hosts.nix: each host's module evaluated as ./example-eval.nix evaluates the one-host example
# (inputs through specialArgs, options outside services.trtllm free-form). `host` is "gpu-a" or "gpu-b".
{ libPath, host }:
let
  lib = import libPath;
  stubs = import ./stubs.nix lib;
  inputs.trtllm-nix = { nixosModules.default = stubs.module; lib = stubs.flakeLib; };
  freeform = { _module.freeformType = lib.types.attrsOf lib.types.anything; };
in
stubs.report (lib.evalModules {
  modules = [ stubs.nixosStubs freeform (import ../../examples/gateway-two-hosts.nix).${host}
    { _module.args = { inherit (stubs) pkgs utils; }; } ];
  specialArgs = { inherit inputs; };
})
