# Files of a Hugging Face repository at a pinned commit, as a fixed-output derivation (the only network access).
{ lib, stdenvNoCC, python3Packages, cacert, catalog }:
{ model, what, include, hash, hint }:
let
  entry = catalog.models.${model};
  revision = catalog.pinned "${model}.revision" entry.revision entry.to_compute.revision;
in
stdenvNoCC.mkDerivation {
  name = "${model}-${what}-${builtins.substring 0 12 revision}";
  nativeBuildInputs = [ python3Packages.huggingface-hub ];
  SSL_CERT_FILE = "${cacert}/etc/ssl/certs/ca-bundle.crt";
  outputHashMode = "recursive";
  outputHash = catalog.pinned "${model}.${what} hash" hash hint;
  buildCommand = ''
    export HOME=$TMPDIR HF_HUB_DISABLE_TELEMETRY=1
    hf download ${entry.hf_id} --revision ${revision} --local-dir $out \
      ${lib.concatMapStringsSep " " (pattern: "--include '${pattern}'") include}
    rm -rf $out/.cache
  '';
}
