# tritonserver with the TensorRT-LLM backend and the TensorRT-LLM Python package, from NVIDIA's
# tritonserver:<release>-trtllm-python-py3 image pinned by digest: unpacked in a fixed-output derivation, then
# patched for Nix (autoPatchelf; the driver comes from the host through addDriverRunpath). The release is one whose
# TensorRT-LLM still has the TensorRT engine path (<= 1.2.x). Pins: catalog.json "runtime". Verified only on a GPU
# machine with Nix; here it is parsed and evaluated.
{ lib, stdenvNoCC, crane, gnutar, cacert, autoPatchelfHook, autoAddDriverRunpath, makeWrapper, catalog }:
let
  pin = catalog.runtime;
  digest = catalog.pinned "runtime.image_digest" pin.image_digest pin.to_compute.image_digest;
  rootfs = stdenvNoCC.mkDerivation {
    name = "tritonserver-trtllm-${pin.tensorrt_llm}-rootfs";
    nativeBuildInputs = [ crane gnutar ];
    SSL_CERT_FILE = "${cacert}/etc/ssl/certs/ca-bundle.crt";
    outputHashMode = "recursive";
    outputHash = pin.output_hash;
    buildCommand = ''
      mkdir -p $out
      crane export ${pin.image}@${digest} - | tar -xf - -C $out --exclude='dev/*' --no-same-owner
    '';
  };
in
stdenvNoCC.mkDerivation {
  pname = "tritonserver-trtllm";
  version = pin.tensorrt_llm;
  src = rootfs;
  dontUnpack = true;
  nativeBuildInputs = [ autoPatchelfHook autoAddDriverRunpath makeWrapper ];
  autoPatchelfIgnoreMissingDeps = [ "libcuda.so.1" "libnvidia-ml.so.1" ];
  installPhase = ''
    mkdir -p $out/bin $out/lib
    cp -r $src/opt/tritonserver $out/tritonserver
    cp -r $src/usr/local/lib/python3.12/dist-packages $out/lib/python-packages
    makeWrapper $out/tritonserver/bin/tritonserver $out/bin/tritonserver \
      --prefix LD_LIBRARY_PATH : $out/tritonserver/lib \
      --prefix PYTHONPATH : $out/lib/python-packages
    for tool in trtllm-build trtllm-bench; do
      makeWrapper $src/usr/local/bin/$tool $out/bin/$tool --prefix PYTHONPATH : $out/lib/python-packages
    done
  '';
  passthru.tensorrtLlmVersion = pin.tensorrt_llm;
  meta = {
    description = "Triton Inference Server with the TensorRT-LLM backend (NVIDIA container ${pin.image})";
    license = lib.licenses.unfree;
    mainProgram = "tritonserver";
    platforms = [ "x86_64-linux" ];
  };
}
