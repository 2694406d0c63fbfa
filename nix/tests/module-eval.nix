# Evaluates nix/module.nix with nixpkgs' module system and stand-ins for the NixOS options and packages it uses.
# Run by scripts/nix-module-check with a nixpkgs.lib checkout (never committed): it prints the generated units,
# or the assertion messages. `config` is a NixOS configuration fragment to evaluate.
{ libPath, config ? { } }:
let
  lib = import libPath;
  package = name: { type = "derivation"; outPath = "/nix/store/stub-${name}"; inherit name; meta.mainProgram = name; };
  pkgs = {
    curl = package "curl";
    openmpi = package "openmpi";
    writeShellScript = name: _: "/nix/store/stub-${name}";
    callPackage = path: _: package (baseNameOf (toString path));
  };
  nixosStubs = { lib, ... }: {
    options.systemd.services = lib.mkOption { type = lib.types.attrsOf lib.types.anything; default = { }; };
    options.assertions = lib.mkOption { type = lib.types.listOf lib.types.unspecified; default = [ ]; };
    options.networking.firewall.allowedTCPPorts = lib.mkOption { type = lib.types.listOf lib.types.port; default = [ ]; };
  };
  result = lib.evalModules {
    modules = [ nixosStubs ../module.nix { _module.args = { inherit pkgs; }; } config ];
  };
  failed = builtins.filter (a: !a.assertion) result.config.assertions;
in
if failed != [ ] then { assertions = map (a: a.message) failed; }
else { inherit (result.config.systemd) services; firewall = result.config.networking.firewall.allowedTCPPorts; }
