# The runtime: NVIDIA's tritonserver:<release>-trtllm-python-py3 image for one system, as two fixed-output
# derivations and a folder naming both:
#   root    `crane export --platform P IMAGE - | tar -x`: the image's filesystem, used as it is (no patching,
#           nothing copied out), pinned by catalog.json runtime.systems.<system>.output_hash;
#   config  `crane config --platform P IMAGE`: the image's own configuration (Env, WorkingDir, Entrypoint), pinned
#           by runtime.systems.<system>.config_hash. Its own derivation, so the root's recorded hash stays valid.
#   $out    root -> the root, image-config.json -> the config: what `--runtime` takes. Without a config_hash the
#           folder has no image-config.json and the entry says it uses the NGC 25.12 defaults.
# `trtllm-nix serve --runtime $out` and `trtllm-nix engine build --runtime $out` enter it with bubblewrap.
# The same for the PyTorch lane's image (`runtimePin = catalog.pytorch_runtime`, `runtimeName =
# "tensorrt-llm-release"`: NVIDIA's tensorrt-llm/release image, entered by `trtllm-nix serve-pytorch --runtime $out`).
# The image is named by its index digest (runtime.image_digest, one for every platform) once recorded, else by tag
# (the build warns; a re-pushed tag fails with a hash mismatch instead of giving other bits). `--platform` is
# explicit: crane takes linux/amd64 on any host without it (go-containerregistry pkg/v1/remote defaultPlatform).
# Registry login: crane reads $DOCKER_CONFIG/config.json; the builds set DOCKER_CONFIG=/etc/nix/docker when the
# daemon makes that folder visible (nix.settings.extra-sandbox-paths, the route nix2container documents for its
# pullImage). A missing hash is a fake hash: the first build prints the real one (`got:`) to record.
{ lib, stdenvNoCC, runCommand, crane, gnutar, cacert, catalog, system, runtimePin ? catalog.runtime
, runtimeName ? "tritonserver-trtllm", runtimeKey ? "runtime", runtimeContents ? "Triton + TensorRT-LLM" }:
let
  pin = runtimePin;
  pinned = pin.systems.${system} or (throw ("trtllm-nix: catalog.json ${runtimeKey}.systems pins "
    + "${lib.concatStringsSep ", " (builtins.attrNames pin.systems)}, not ${system}"));
  reference = if pin.image_digest != null then "${pin.image}@${pin.image_digest}" else pin.image;
  fetch = { pname, hash, mode, command, inputs }: stdenvNoCC.mkDerivation {
    inherit pname;
    version = pin.release;
    nativeBuildInputs = inputs;
    SSL_CERT_FILE = "${cacert}/etc/ssl/certs/ca-bundle.crt";
    impureEnvVars = lib.fetchers.proxyImpureEnvVars;
    outputHashMode = mode;
    outputHashAlgo = "sha256";
    outputHash = if hash != null then hash else lib.fakeHash;
    buildCommand = ''
      ${lib.optionalString (pin.image_digest == null) ''
        echo "trtllm-nix: warning: ${runtimeKey}.image_digest is not set; pulling ${pin.image} by tag (the output hash still pins the content)" >&2
      ''}
      if [ -r /etc/nix/docker/config.json ]; then export DOCKER_CONFIG=/etc/nix/docker; fi
      ${command}
    '';
    meta = meta // { description = "${pname} of ${pin.image} for ${pinned.platform}"; };
  };
  meta = {
    description = "NVIDIA's ${pin.image} (${runtimeContents} ${pin.tensorrt_llm}) for ${pinned.platform}";
    license = lib.licenses.unfree;
    sourceProvenance = [ lib.sourceTypes.binaryNativeCode ];
    platforms = builtins.attrNames pin.systems;
  };
  # Exactly the extraction the recorded hash was computed for (runtime.systems.<system>.output_hash_source).
  root = fetch {
    pname = "${runtimeName}-root";
    hash = pinned.output_hash;
    mode = "recursive";
    inputs = [ crane gnutar ];
    command = ''
      mkdir -p $out
      crane export --platform ${pinned.platform} ${reference} - | tar -xf - -C $out
    '';
  };
  config = fetch {
    pname = "${runtimeName}-config";
    hash = pinned.config_hash;
    mode = "flat";
    inputs = [ crane ];
    command = "crane config --platform ${pinned.platform} ${reference} > $out";
  };
in
runCommand "${runtimeName}-${pin.release}" {
  passthru = {
    inherit root config;
    tensorrtLlmVersion = pin.tensorrt_llm;
    image = reference;
    inherit (pinned) platform;
    gpuArchs = pin.gpu_archs or [ ];
  };
  inherit meta;
} ''
  mkdir -p $out
  ln -s ${root} $out/root
  ${lib.optionalString (pinned.config_hash != null) "ln -s ${config} $out/image-config.json"}
''
