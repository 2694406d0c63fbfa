# examples/nixos-configuration.nix as a system flake imports it: `inputs` through specialArgs (its header says
# so). With viaSpecialArgs = false, `inputs` comes through _module.args instead, which `imports` cannot use:
# evaluation recurses forever. Options the example sets outside services.trtllm are free-form here.
{ libPath, viaSpecialArgs ? true }:
let
  lib = import libPath;
  stubs = import ./stubs.nix lib;
  inputs.trtllm-nix = { nixosModules.default = stubs.module; lib = stubs.flakeLib; };
  freeform = { _module.freeformType = lib.types.attrsOf lib.types.anything; };
in
stubs.report (lib.evalModules ({
  modules = [ stubs.nixosStubs freeform ../../examples/nixos-configuration.nix
    { _module.args = { inherit (stubs) pkgs utils; } // lib.optionalAttrs (!viaSpecialArgs) { inherit inputs; }; } ];
} // lib.optionalAttrs viaSpecialArgs { specialArgs = { inherit inputs; }; }))
