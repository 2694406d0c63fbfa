# Evaluates nix/module.nix with nixpkgs' module system and stand-ins for the NixOS options and packages it uses.
# Run by scripts/nix-module-check with a nixpkgs.lib checkout (never committed): it prints the generated units,
# or the assertion messages. `config` is a NixOS configuration fragment to evaluate.
{ libPath, config ? { } }:
let
  lib = import libPath;
  package = name: { type = "derivation"; outPath = "/nix/store/stub-${name}"; inherit name; meta.mainProgram = name; };
  pkgs = {
    curl = package "curl";
    bubblewrap = package "bubblewrap";
    writeShellScript = name: _: "/nix/store/stub-${name}";
  };
  # nixos/lib/utils.nix escapeSystemdExecArg(s), from its documented behaviour: each argument JSON-quoted, then
  # systemd's specifier and variable characters doubled.
  utils.escapeSystemdExecArgs = args: lib.concatMapStringsSep " "
    (arg: builtins.replaceStrings [ "%" "$" ] [ "%%" "$$" ] (builtins.toJSON (toString arg))) args;
  flakePackages = { trtllm-nix = package "trtllm-nix"; tritonserver-trtllm = package "tritonserver-trtllm-root"; };
  flakeLib.tokenizer = model: package "${model}-tokenizer";
  nixosStubs = { lib, ... }: {
    options.systemd.services = lib.mkOption { type = lib.types.attrsOf lib.types.anything; default = { }; };
    options.assertions = lib.mkOption { type = lib.types.listOf lib.types.unspecified; default = [ ]; };
    options.networking.firewall.allowedTCPPorts = lib.mkOption { type = lib.types.listOf lib.types.port; default = [ ]; };
  };
  module = import ../module.nix { packages = flakePackages; inherit flakeLib; };
  result = lib.evalModules {
    modules = [ nixosStubs module { _module.args = { inherit pkgs utils; }; } config ];
  };
  failed = builtins.filter (a: !a.assertion) result.config.assertions;
in
if failed != [ ] then { assertions = map (a: a.message) failed; }
else { inherit (result.config.systemd) services; firewall = result.config.networking.firewall.allowedTCPPorts; }
