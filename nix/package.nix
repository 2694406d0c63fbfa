# trtllm-nix itself: the tested Python package. Its version and its dependencies come from pyproject.toml by one
# rule (tests/nix/test_recorded_arguments.py compares): each `project.dependencies` entry is the nixpkgs Python package
# of its normalised name (PEP 503: lower case, runs of `_`/`.` as `-`), plus the packages nixpkgs lists for each of
# its extras under `optional-dependencies` (tritonclient[grpc]: grpcio; nixpkgs has no `http` extra for
# tritonclient, which trtllm-nix does not use). pythonRuntimeDepsCheck then holds the build to the same list.
# The `pytorch-lane` extra's smg-grpc-proto is not in nixpkgs: it is ./smg-grpc-proto.nix (its release wheel), added
# to the set the rule looks names up in.
{ lib, callPackage, python3Packages }:
let
  project = (builtins.fromTOML (builtins.readFile ../python/pyproject.toml)).project;
  python3Packages' = python3Packages // { smg-grpc-proto = callPackage ./smg-grpc-proto.nix { inherit python3Packages; }; };
  requirement = spec:
    let
      parts = builtins.match "[[:space:]]*([A-Za-z0-9._-]+)(\\[([A-Za-z0-9,._-]+)])?.*" spec;
      name = lib.toLower (builtins.replaceStrings [ "_" "." ] [ "-" "-" ] (builtins.elemAt parts 0));
      extras = if builtins.elemAt parts 2 == null then [ ] else lib.splitString "," (builtins.elemAt parts 2);
      package = python3Packages'.${name};
    in
    [ package ] ++ lib.concatMap (extra: (package.optional-dependencies or { }).${extra} or [ ]) extras;
in
python3Packages.buildPythonApplication {
  pname = project.name;
  inherit (project) version;
  pyproject = true;
  src = ../python;
  build-system = [ python3Packages.setuptools ];
  # and the `postgresql` extra: services.trtllm.proxy.responsesStore needs the driver (nixpkgs' psycopg finds its
  # libpq itself, so the `binary` extra is nothing there); and the `pytorch-lane` extra: the proxy's
  # --upstream grpc-trtllm:// (openai-qwen3-pytorch, the module's pytorch instances)
  dependencies = lib.concatMap requirement (project.dependencies ++ project.optional-dependencies.postgresql
    ++ project.optional-dependencies.pytorch-lane);
  # nixpkgs carries numpy 2; the `<2` bound is for the Triton Python stub, which runs in the runtime image.
  pythonRelaxDeps = [ "numpy" ];
  # Modules that import tritonclient's generated protobuf code: a gencode/runtime mismatch fails the build here.
  pythonImportsCheck = [ "trtllm_nix" "trtllm_nix.cli" "trtllm_nix.proxy.app" "trtllm_nix.repo.generate"
    "trtllm_nix.llm.trtllm_grpc" ];
  meta = {
    description = project.description;
    license = lib.licenses.asl20;
    mainProgram = "trtllm-nix";
    platforms = [ "x86_64-linux" "aarch64-linux" ];
  };
}
