# A recording stand-in for the part of nixpkgs the flake uses: `import nixpkgs { system; config; }` returns this
# package set. Builders return real derivations (they instantiate: `nix flake check --no-build` accepts them) that
# cannot build (their builder does not exist) and carry the arguments they were called with under `standin`, so
# tests read what the flake passed. What is faithful to nixpkgs, and from where, is in ./README.md; attribute names
# exist in nixpkgs (checked against the stored nixpkgs files, see README.md here); a name the flake uses that is not here
# fails evaluation, as it would in nixpkgs.
{ system ? "x86_64-linux", config ? { }, overlays ? [ ], ... }:
let
  lib = import ./lib.nix;
  python = import ./python.nix { inherit lib record; };

  # Only what the derivation's environment can hold (strings, numbers, booleans, lists of them and of
  # derivations): that is what decides its store path, as in nixpkgs' stdenv.
  envValue = v: builtins.isString v || builtins.isInt v || builtins.isBool v || builtins.isPath v
    || (builtins.isAttrs v && v ? outPath)
    || (builtins.isList v && builtins.all envValue v);
  envKeys = [ "nativeBuildInputs" "buildInputs" "buildCommand" "text" "requiredSystemFeatures" "outputHash"
    "outputHashMode" "outputHashAlgo" "impureEnvVars" "SSL_CERT_FILE" "__noChroot" "runtimeInputs"
    "shellHook" "packages" "dependencies" "preferLocalBuild" "allowSubstitutes" ];

  # nixpkgs' check-meta.nix: an unfree package is refused at evaluation unless config allows it.
  checkLicense = name: meta:
    if (meta.license.free or true) == false && !(config.allowUnfree or false)
      && !((config.allowUnfreePredicate or (_: false)) { inherit name; pname = name; })
    then throw "standin nixpkgs: Package '${name}' has an unfree license ('unfree'), refusing to evaluate."
    else true;

  record = kind: args:
    let
      name = args.name or "${args.pname}-${args.version}";
      meta = args.meta or { };
      env = lib.filterAttrs (key: value: builtins.elem key envKeys && envValue value) args;
      drv = derivation (env // {
        inherit name system;
        builder = "/standin-nixpkgs/cannot-build";
        standinKind = kind;
      });
    in
    assert checkLicense (args.pname or name) meta;
    (args.passthru or { }) // drv // {
      inherit meta;
      standin = { inherit kind args; config = builtins.attrNames config; };
    } // lib.optionalAttrs (args ? pname) { inherit (args) pname; }
      // lib.optionalAttrs (args ? version) { inherit (args) version; };

  leaf = name: extra: record "package" { inherit name; meta = extra; };

  pkgs = {
    inherit lib system config;
    inherit (python) python3 python3Packages;
    stdenv.mkDerivation = record "stdenv.mkDerivation";
    stdenvNoCC.mkDerivation = record "stdenvNoCC.mkDerivation";
    runCommand = name: env: script: record "runCommand" (env // { inherit name; buildCommand = script; });
    writeShellScript = name: text: record "writeShellScript" { inherit name text; };
    # nixpkgs' writeShellApplication sets meta.mainProgram = name and runs shellcheck on `text` at build time.
    writeShellApplication = args: record "writeShellApplication" (args // {
      meta = (args.meta or { }) // { mainProgram = args.name; };
    });
    mkShell = args: record "mkShell" (args // { name = args.name or "nix-shell"; });
    # callPackage fills a function's arguments from the package set; a missing one fails as in nixpkgs.
    callPackage = fn: overrides:
      let f = if builtins.isFunction fn then fn else import fn;
      in f (builtins.intersectAttrs (builtins.functionArgs f) pkgs // overrides);
    crane = leaf "crane" { mainProgram = "crane"; };
    gnutar = leaf "gnutar" { mainProgram = "tar"; };
    cacert = leaf "cacert" { };
    curl = leaf "curl" { mainProgram = "curl"; };
    jq = leaf "jq" { mainProgram = "jq"; };
    bubblewrap = leaf "bubblewrap" { mainProgram = "bwrap"; };
    gnumake = leaf "gnumake" { mainProgram = "make"; };
    ruff = leaf "ruff" { mainProgram = "ruff"; };
  };
in
pkgs
