# trtllm-nix itself: the tested Python package, its version read from pyproject.toml, its dependencies from
# nixpkgs' Python packages.
{ lib, python3Packages }:
let
  project = (builtins.fromTOML (builtins.readFile ../python/pyproject.toml)).project;
in
python3Packages.buildPythonApplication {
  pname = project.name;
  inherit (project) version;
  pyproject = true;
  src = ../python;
  build-system = [ python3Packages.setuptools ];
  dependencies = with python3Packages; [
    numpy
    tritonclient
    grpcio
    protobuf
    tokenizers
    jinja2
    fastapi
    uvicorn
    httpx
    prometheus-client
    nvidia-ml-py
    huggingface-hub
  ];
  pythonRelaxDeps = [ "numpy" ];
  pythonImportsCheck = [ "trtllm_nix" ];
  meta = {
    description = project.description;
    license = lib.licenses.asl20;
    mainProgram = "trtllm-nix";
    platforms = [ "x86_64-linux" ];
  };
}
