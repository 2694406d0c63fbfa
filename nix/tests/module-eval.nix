# Evaluates nix/module.nix with nixpkgs' module system and stand-ins for the NixOS options and packages it uses.
# Run by scripts/nix-module-check with a nixpkgs.lib checkout (never committed): it prints the generated units,
# or the assertion messages. `config` is a NixOS configuration fragment to evaluate.
{ libPath, config ? { } }:
let
  lib = import libPath;
  stubs = import ./stubs.nix lib;
in
stubs.report (lib.evalModules {
  modules = [ stubs.nixosStubs stubs.module { _module.args = { inherit (stubs) pkgs utils; }; } config ];
})
