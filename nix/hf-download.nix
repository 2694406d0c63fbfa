# Files of a Hugging Face repository. Pinned (a commit and the output's NAR hash in catalog.json, written by
# `trtllm-nix catalog lock MODEL`): a fixed-output derivation, the only network access, reproducible. Unpinned:
# the files of the default branch are downloaded at build time, which needs `--option sandbox false` and is not
# reproducible; the build says so. Evaluation never fails on a missing pin.
{ lib, stdenvNoCC, python3Packages, cacert, catalog }:
{ model, what, include, hash }:
let
  entry = catalog.models.${model};
  pinned = entry.revision != null && hash != null;
  revision = if entry.revision != null then entry.revision else "main";
  download = ''
    export HOME=$TMPDIR HF_HUB_DISABLE_TELEMETRY=1
    hf download ${entry.hf_id} --revision ${revision} --local-dir $out \
      ${lib.concatMapStringsSep " " (pattern: "--include ${lib.escapeShellArg pattern}") include} || {
      echo "trtllm-nix: downloading ${entry.hf_id} failed.${lib.optionalString (!pinned) " Unpinned, it needs the network, which the Nix sandbox withholds: build with --option sandbox false as a trusted user (trusted-users in nix.conf; an untrusted user's option is ignored), or pin it: trtllm-nix catalog lock ${model}"}" >&2
      exit 1
    }
    rm -rf $out/.cache
  '';
in
stdenvNoCC.mkDerivation ({
  name = "${model}-${what}-${if pinned then builtins.substring 0 12 revision else "unpinned"}";
  nativeBuildInputs = [ python3Packages.huggingface-hub ];
  SSL_CERT_FILE = "${cacert}/etc/ssl/certs/ca-bundle.crt";
  impureEnvVars = lib.fetchers.proxyImpureEnvVars ++ [ "HF_TOKEN" "HF_ENDPOINT" ];
  passthru = { inherit pinned revision; };
  buildCommand = if pinned then download else ''
    echo "trtllm-nix: warning: ${model} is not pinned in catalog.json, so ${entry.hf_id}@${revision} is downloaded" \
      "at build time (needs --option sandbox false) and this ${what} is not reproducible." \
      "Pin it with: trtllm-nix catalog lock ${model}" >&2
    ${download}
  '';
} // lib.optionalAttrs pinned {
  outputHashMode = "recursive";
  outputHashAlgo = "sha256";
  outputHash = hash;
})
