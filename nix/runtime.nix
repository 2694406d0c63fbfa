# The runtime: NVIDIA's tritonserver:<release>-trtllm-python-py3 image root, unpacked whole by a fixed-output
# derivation and used as it is (no patching, nothing copied out). `trtllm-nix serve --runtime ROOT` and
# `trtllm-nix engine build --runtime ROOT` enter it with bubblewrap, so tritonserver, mpirun and TensorRT-LLM run in
# the userland NVIDIA tested. Pinned by its recorded output hash (catalog.json runtime.output_hash): the content
# is fixed whether the image is named by digest or, while runtime.image_digest is null, by tag (the build warns;
# a re-pushed tag fails with a hash mismatch instead of giving other bits). A missing output_hash is a fake hash:
# the first build prints the real one (`got:`) to record.
{ lib, stdenvNoCC, crane, gnutar, cacert, catalog }:
let
  pin = catalog.runtime;
  reference = if pin.image_digest != null then "${pin.image}@${pin.image_digest}" else pin.image;
in
stdenvNoCC.mkDerivation {
  pname = "tritonserver-trtllm-root";
  version = pin.tensorrt_llm;
  nativeBuildInputs = [ crane gnutar ];
  SSL_CERT_FILE = "${cacert}/etc/ssl/certs/ca-bundle.crt";
  impureEnvVars = lib.fetchers.proxyImpureEnvVars;
  outputHashMode = "recursive";
  outputHashAlgo = "sha256";
  outputHash = if pin.output_hash != null then pin.output_hash else lib.fakeHash;
  # Exactly the extraction the recorded hash was computed for (catalog.json runtime.output_hash_source).
  buildCommand = ''
    ${lib.optionalString (pin.image_digest == null) ''
      echo "trtllm-nix: warning: runtime.image_digest is not set; pulling ${pin.image} by tag (the output hash still pins the content)" >&2
    ''}
    mkdir -p $out
    crane export ${reference} - | tar -xf - -C $out
  '';
  passthru = { tensorrtLlmVersion = pin.tensorrt_llm; image = reference; };
  meta = {
    description = "Root filesystem of NVIDIA's ${pin.image} (Triton + TensorRT-LLM ${pin.tensorrt_llm})";
    license = lib.licenses.unfree;
    platforms = [ "x86_64-linux" ];
  };
}
