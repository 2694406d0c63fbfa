# python3 (3.14 in the pinned nixpkgs: all-packages.nix `python3 = python314;`) and the Python packages the flake
# names. withPackages keeps only Python modules and their dependencies, as nixpkgs' requiredPythonModules does:
# an application (buildPythonApplication) is dropped silently.
{ lib, record }:
let
  pythonId = "python3.14";
  isModule = drv: (drv.pythonModule or null) == pythonId;
  mark = drv: drv // { pythonModule = pythonId; };

  # A nixpkgs Python package with the dependencies nixpkgs propagates for it (only the ones listed here; a test
  # that needs another module lists it itself).
  module = pname: dependencies: mark (record "python-package" {
    inherit pname dependencies;
    version = "standin";
    passthru = { inherit dependencies; } // optional.${pname} or { };
    meta.mainProgram = if pname == "huggingface-hub" then "hf" else pname;
  });

  names = {
    numpy = [ ];
    tritonclient = [ "numpy" ];
    grpcio = [ ];
    protobuf = [ ];
    tokenizers = [ "huggingface-hub" ];
    jinja2 = [ ];
    starlette = [ ];
    pydantic = [ ];
    fastapi = [ "starlette" "pydantic" ];
    uvicorn = [ ];
    uvloop = [ ];
    httptools = [ ];
    httpx = [ ];
    prometheus-client = [ ];
    nvidia-ml-py = [ ];
    huggingface-hub = [ "httpx" ];
    setuptools = [ ];
    pytest = [ ];
    hypothesis = [ ];
    mypy = [ ];
    openai = [ "httpx" "pydantic" ];
    torch = [ "numpy" ];
    safetensors = [ ];
    packaging = [ ];
    xgrammar = [ "pydantic" "torch" "numpy" ];
  };
  # passthru.optional-dependencies as nixpkgs declares it (tritonclient: grpc = [ grpcio packaging ], no http).
  optional.tritonclient.optional-dependencies.grpc = [ packages.grpcio packages.packaging ];
  packages = builtins.mapAttrs (pname: deps: module pname (map (d: packages.${d}) deps)) names;

  closure = drvs: builtins.genericClosure {
    startSet = map (drv: { key = drv.pname; inherit drv; }) (builtins.filter isModule drvs);
    operator = item: map (drv: { key = drv.pname; inherit drv; }) (builtins.filter isModule (item.drv.dependencies or [ ]));
  };

  build = kind: application: args:
    let drv = record kind (args // {
      passthru = (args.passthru or { }) // { dependencies = args.dependencies or [ ]; };
    });
    in if application then drv else mark drv;

  python3Packages = packages // {
    buildPythonApplication = build "buildPythonApplication" true;
    buildPythonPackage = build "buildPythonPackage" false;
    toPythonModule = mark;
  };

  python3 = record "python" { pname = "python3"; version = "3.14"; meta.mainProgram = "python3"; } // {
    pkgs = python3Packages;
    pythonVersion = "3.14";
    withPackages = f:
      let
        chosen = f python3Packages;
        modules = map (item: item.drv) (closure chosen);
      in
      record "python.withPackages" {
        name = "python3-3.14-env";
        dependencies = modules;
        passthru = { modules = map (drv: drv.pname) modules; requested = map (drv: drv.pname or drv.name) chosen; };
        meta.mainProgram = "python3";
      };
  };
in
{ inherit python3 python3Packages; }
