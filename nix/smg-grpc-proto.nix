# smg-grpc-proto, the generated gRPC client of trtllm-serve's TrtllmService (the PyTorch lane's upstream,
# llm/trtllm_grpc.py), from its release wheel on PyPI: nixpkgs has no smg-grpc-proto. The wheel is pure Python
# (py3-none-any: generated *_pb2.py modules), so it is one wheel for every system, installed as it is. Its
# Requires-Dist, grpcio >= 1.81.1 and protobuf >= 6.33.5 (the versions its modules were generated for), are nixpkgs'
# grpcio and protobuf. Pinned with the TensorRT-LLM line it speaks to (python/pyproject.toml's pytorch-lane extra).
{ lib, fetchurl, python3Packages }:
let
  version = "0.4.28";
in
python3Packages.buildPythonPackage {
  pname = "smg-grpc-proto";
  inherit version;
  format = "wheel";
  src = fetchurl {
    url = "https://files.pythonhosted.org/packages/17/9f/ab7836d97f5e9c971d1c116542454cf17967f6d12026c7770247463ce9ae/smg_grpc_proto-${version}-py3-none-any.whl";
    hash = "sha256-lw3sCowOeLQnWMdpDMe4u/BBb2gP2tRIpPXJuMPmivs=";
  };
  dependencies = with python3Packages; [ grpcio protobuf ];
  pythonImportsCheck = [ "smg_grpc_proto" "smg_grpc_proto.generated.trtllm_service_pb2_grpc" ];
  meta = {
    description = "Generated gRPC/protobuf modules of the SMG engine protocols (TrtllmService of trtllm-serve --grpc)";
    homepage = "https://github.com/smg-project/smg";
    license = lib.licenses.asl20; # the wheel's License-Expression: Apache-2.0
    platforms = [ "x86_64-linux" "aarch64-linux" ];
  };
}
