# Stand-ins for the NixOS pieces the module uses, for nix/tests/{module,example}-eval.nix (nixpkgs.lib only).
lib:
rec {
  package = name: { type = "derivation"; outPath = "/nix/store/stub-${name}"; inherit name; meta.mainProgram = name; };
  pkgs = {
    stdenv.hostPlatform.system = "x86_64-linux";
    curl = package "curl";
    bubblewrap = package "bubblewrap";
    # the script's text, so the check's output shows the readiness URL
    writeShellScript = name: text: text;
  };
  # nixos/lib/utils.nix escapeSystemdExecArg(s), from its documented behaviour: each argument JSON-quoted, then
  # systemd's specifier and variable characters doubled.
  utils.escapeSystemdExecArgs = args: lib.concatMapStringsSep " "
    (arg: builtins.replaceStrings [ "%" "$" ] [ "%%" "$$" ] (builtins.toJSON (toString arg))) args;
  flakePackages = {
    trtllm-nix = package "trtllm-nix";
    tritonserver-trtllm = package "tritonserver-trtllm-root";
    tensorrt-llm-release = package "tensorrt-llm-release";
    smg = package "smg";
  };
  flakeLib = {
    forModel = model: {
      repositories.tp4 = package "${model}-tp4-triton-repo" // { worldSize = 4; engine = package "${model}-tp4-engine"; };
    };
  };
  # the host's system picks the packages, as flake.nix's packagesFor does
  module = import ../module.nix { packagesFor = system: { x86_64-linux = flakePackages; }.${system}; };
  nixosStubs = { lib, ... }: {
    options.systemd.services = lib.mkOption { type = lib.types.attrsOf lib.types.anything; default = { }; };
    options.assertions = lib.mkOption { type = lib.types.listOf lib.types.unspecified; default = [ ]; };
    options.networking.firewall.allowedTCPPorts = lib.mkOption { type = lib.types.listOf lib.types.port; default = [ ]; };
  };
  report = result:
    let failed = builtins.filter (a: !a.assertion) result.config.assertions;
    in if failed != [ ] then { assertions = map (a: a.message) failed; }
    else { inherit (result.config.systemd) services; firewall = result.config.networking.firewall.allowedTCPPorts; };
}
