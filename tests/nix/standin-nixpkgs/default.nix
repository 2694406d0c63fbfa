# A stand-in for the part of nixpkgs the flake uses: `import nixpkgs { system; config; }` returns this package set.
# Its builders make derivations that real Nix builds (`nix build`, sandboxed or not, through a daemon): the generic
# builder ./builder.sh stands for stdenv's, the host's tools mounted into the sandbox (extra-sandbox-paths) stand for
# stdenv's own, and ./host.json (written by tests/nix/seed, absent in a checkout) says where the host's stand-ins are:
# the Python site of the dependencies, the stand-in image tar and the stand-in Hub. Without it everything still
# evaluates (tests/nix/test_*.py) and a build fails with one line. Every derivation also carries the arguments it
# was called with under `standin`, so evaluation tests read what the flake passed. What is imitated, from which
# nixpkgs file, and what cannot be shown: ./README.md.
{ system ? "x86_64-linux", config ? { }, overlays ? [ ], ... }:
let
  lib = import ./lib.nix;
  host = if builtins.pathExists ./host.json then builtins.fromJSON (builtins.readFile ./host.json) else {
    shell = "/standin-nixpkgs/no-host.json";
    python = "/standin-nixpkgs/no-host.json";
    site = "/standin-nixpkgs/no-host.json";
    image = "/standin-nixpkgs/no-host.json";
    hub = "/standin-nixpkgs/no-host.json";
  };
  python = import ./python.nix { inherit lib record host hostTool; };

  # Only what the derivation's environment can hold (strings, numbers, booleans, lists of them and of
  # derivations): that is what decides its store path, as in nixpkgs' stdenv.
  envValue = v: builtins.isString v || builtins.isInt v || builtins.isBool v || builtins.isPath v
    || (builtins.isAttrs v && v ? outPath)
    || (builtins.isList v && builtins.all envValue v);
  notEnv = [ "passthru" "meta" "name" "pname" "version" "args" "builder" "system" ];

  # nixpkgs' check-meta.nix: an unfree package is refused at evaluation unless config allows it.
  checkLicense = name: meta:
    if (meta.license.free or true) == false && !(config.allowUnfree or false)
      && !((config.allowUnfreePredicate or (_: false)) { inherit name; pname = name; })
    then throw "standin nixpkgs: Package '${name}' has an unfree license ('unfree'), refusing to evaluate."
    else true;

  # One derivation, built by ./builder.sh running `buildCommand` (a builder that only records has none).
  record = kind: args:
    let
      name = args.name or "${args.pname}-${args.version}";
      meta = args.meta or { };
      env = lib.filterAttrs (key: value: !(builtins.elem key notEnv) && envValue value) args;
      drv = derivation (env // {
        inherit name system;
        builder = host.shell;
        args = [ ./builder.sh ];
        buildCommand = args.buildCommand or ''echo "standin nixpkgs: ${kind} ${name} cannot be built here" >&2; exit 1'';
        standinKind = kind;
      });
    in
    assert checkLicense (args.pname or name) meta;
    (args.passthru or { }) // drv // {
      inherit meta;
      standin = { inherit kind args; config = builtins.attrNames config; };
    } // lib.optionalAttrs (args ? pname) { inherit (args) pname; }
      // lib.optionalAttrs (args ? version) { inherit (args) version; };

  # A host program under the name nixpkgs gives it: a store path whose bin/ links to the host's binary.
  hostTool = name: program: target: meta: record "package" {
    inherit name meta;
    buildCommand = ''mkdir -p $out/bin; ln -s ${target} $out/bin/${program}'';
  };
  # A stand-in program of ./host-tools with its host argument (the image tar, the hub) baked in.
  standinTool = name: program: argument: meta: record "package" {
    inherit name meta;
    tool = ./host-tools + "/${program}";
    buildCommand = ''
      mkdir -p $out/bin
      printf '#!${host.shell}\nexec %s %s "$@"\n' "$tool" ${lib.escapeShellArg argument} > $out/bin/${program}
      chmod +x $out/bin/${program}
    '';
  };

  # nixpkgs' writeShellApplication (trivial-builders): `#!runtimeShell`, errexit/nounset/pipefail, PATH prefixed
  # with runtimeInputs' bin folders, then `text`; its checkPhase runs `bash -n` and shellcheck on the result.
  writeShellApplication = args:
    let
      path = lib.concatMapStringsSep ":" (p: "${p}/bin") (args.runtimeInputs or [ ]);
    in
    record "writeShellApplication" (args // {
      meta = (args.meta or { }) // { mainProgram = args.name; };
      script = ''
        #!${host.shell}
        set -o errexit
        set -o nounset
        set -o pipefail
      '' + lib.optionalString (path != "") ''

        export PATH="${path}:$PATH"
      '' + ''

        ${args.text}
      '';
      buildCommand = ''
        mkdir -p $out/bin
        printf '%s' "$script" > $out/bin/${args.name}
        chmod +x $out/bin/${args.name}
        ${host.shell} -n $out/bin/${args.name}
        shellcheck $out/bin/${args.name}
      '';
    });

  pkgs = {
    inherit lib system config writeShellApplication;
    inherit (python) python3 python3Packages;
    stdenv = {
      mkDerivation = record "stdenv.mkDerivation";
      hostPlatform.system = system;
      cc.cc.lib = record "package" { name = "gcc-lib"; buildCommand = "mkdir -p $out/lib"; };  # libgcc_s, libstdc++
    };
    # nixpkgs' fetchurl: a fixed-output derivation of the file at `url` (flat hash); the stand-in has no network,
    # so it evaluates (its store path is the hash's) and its build fails unless the file is already in the store.
    fetchurl = { url, hash }: record "fetchurl" {
      name = baseNameOf url;
      inherit url;
      outputHash = hash;
      outputHashMode = "flat";
      buildCommand = ''echo "standin nixpkgs: fetchurl ${url}: no network here" >&2; exit 1'';
    };
    # autoPatchelfHook points a binary's libraries at the store; here the host's loader finds them: nothing to do.
    autoPatchelfHook = record "package" { name = "auto-patchelf-hook"; buildCommand = "mkdir -p $out"; };
    stdenvNoCC.mkDerivation = record "stdenvNoCC.mkDerivation";
    runCommand = name: env: script: record "runCommand" (env // { inherit name; buildCommand = script; });
    writeShellScript = name: text: record "writeShellScript" {
      inherit name text;
      buildCommand = ''printf '#!${host.shell}\n%s' "$text" > $out; chmod +x $out'';
    };
    mkShell = args: record "mkShell" (args // { name = args.name or "nix-shell"; });
    # callPackage fills a function's arguments from the set; a missing one fails as in nixpkgs.
    callPackage = fn: overrides:
      let f = if builtins.isFunction fn then fn else import fn;
      in f (builtins.intersectAttrs (builtins.functionArgs f) pkgs // overrides);
    crane = standinTool "crane" "crane" host.image { mainProgram = "crane"; };
    gnutar = hostTool "gnutar" "tar" "/usr/bin/tar" { mainProgram = "tar"; };
    cacert = record "package" {
      name = "cacert";
      buildCommand = "mkdir -p $out/etc/ssl/certs; ln -s /etc/ssl/certs/ca-certificates.crt $out/etc/ssl/certs/ca-bundle.crt";
    };
    curl = hostTool "curl" "curl" "/usr/bin/curl" { mainProgram = "curl"; };
    jq = hostTool "jq" "jq" "/usr/bin/jq" { mainProgram = "jq"; };
    bubblewrap = hostTool "bubblewrap" "bwrap" "/usr/bin/bwrap" { mainProgram = "bwrap"; };
    gnumake = hostTool "gnumake" "make" "/usr/bin/make" { mainProgram = "make"; };
    ruff = hostTool "ruff" "ruff" "/usr/bin/ruff" { mainProgram = "ruff"; };
    shellcheck = hostTool "shellcheck" "shellcheck" "/usr/bin/shellcheck" { mainProgram = "shellcheck"; };
  };
in
pkgs
