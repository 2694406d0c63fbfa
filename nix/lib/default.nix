# Builders, so another NVFP4/FP8 model takes a few lines: add it to catalog.json, then
#   mkEngine { model = "my-model"; variant = "tp2"; }   mkModelRepo { engine = ...; }
#   mkTritonServer { name = ...; repository = ...; }    mkProxy { name = ...; tokenizer = ...; model = ...; }
# Everything that runs TensorRT-LLM or tritonserver enters the runtime (the NVIDIA image root) through
# `trtllm-nix ... --runtime ${runtime}` with bubblewrap on PATH; nothing else knows how the runtime is entered.
{ pkgs, catalog, trtllm-nix, runtime }:
let
  inherit (pkgs) lib;
  download = pkgs.callPackage ../hf-download.nix { inherit catalog; };
  entryOf = model: catalog.models.${model};
  weightsPinned = model: (entryOf model).revision != null && (entryOf model).weights_hash != null;
in
rec {
  weights = model: download {
    inherit model;
    what = "weights";
    include = catalog.hf_files.weights;
    hash = (entryOf model).weights_hash;
  };

  # Only what the proxy needs, never the 20 GB of weights.
  tokenizer = model: download {
    inherit model;
    what = "tokenizer";
    include = catalog.hf_files.tokenizer;
    hash = (entryOf model).tokenizer_hash;
  };

  # Needs a GPU of the engine's architecture, so it requires the `cuda` system feature. Nix checks features even
  # with the sandbox off; what to set (docs/nix.md): on NixOS `programs.nix-required-mounts` with
  # `presets.nvidia-gpu.enable = true` (adds the feature and mounts the GPU into the sandbox); elsewhere
  # `extra-system-features = cuda` in nix.conf, or `--option extra-system-features cuda` as a trusted user.
  # Pinned weights come from their fixed-output download; unpinned ones are downloaded by the build itself
  # (needs `--option sandbox false`; the build warns that the engine is not reproducible).
  mkEngine = { model, variant, checkpoint ? if weightsPinned model then weights model else null }:
    let
      entry = entryOf model;
      v = entry.variants.${variant};
      source = if checkpoint != null then [ "--model" "${checkpoint}" ]
        else [ "--model" entry.hf_id ] ++ lib.optionals (entry.revision != null) [ "--revision" entry.revision ];
    in
    pkgs.runCommand (catalog.engineName model variant) {
      nativeBuildInputs = [ trtllm-nix pkgs.bubblewrap ];
      requiredSystemFeatures = [ "cuda" ];
      SSL_CERT_FILE = "${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt";
      passthru = { inherit model variant; worldSize = v.tp * v.pp; pinned = checkpoint != null; };
    } ''
      export HOME=$TMPDIR HF_HOME=$TMPDIR/hf HF_HUB_DISABLE_TELEMETRY=1
      ${lib.optionalString (checkpoint == null) ''
        echo "trtllm-nix: warning: ${model} is not pinned in catalog.json: this build downloads ${entry.hf_id}" \
          "itself (needs --option sandbox false) and the engine is not reproducible." \
          "Pin it with: trtllm-nix catalog lock ${model}" >&2
      ''}
      trtllm-nix engine build --runtime ${runtime} ${lib.escapeShellArgs source} \
        --tp ${toString v.tp} --pp ${toString v.pp} \
        --max-batch-size ${toString v.max_batch_size} --max-seq-len ${toString v.max_seq_len} \
        --max-num-tokens ${toString v.max_num_tokens} --out $out
      trtllm-nix engine check $out
    '';

  # Pure: a function of the engine and its tokenizer files.
  mkModelRepo = { engine, extraArgs ? [ ] }:
    pkgs.runCommand "${engine.name}-triton-repo" {
      nativeBuildInputs = [ trtllm-nix ];
      passthru = { inherit engine; inherit (engine) worldSize; };
    } ''
      trtllm-nix repo generate --engine ${engine} --tokenizer ${engine}/tokenizer --out $out \
        ${lib.escapeShellArgs extraArgs}
    '';

  mkTritonServer = { name, repository }:
    pkgs.writeShellApplication {
      inherit name;
      runtimeInputs = [ trtllm-nix pkgs.bubblewrap ];
      passthru = { inherit repository runtime; inherit (repository) worldSize; };
      text = ''exec trtllm-nix serve --repo ${repository} --runtime ${runtime} "$@"'';
    };

  # The upstreams are an argument (default: the catalog's Triton gRPC port on loopback). A user's --triton on the
  # command line replaces them instead of adding a second upstream (the proxy's --triton accumulates).
  mkProxy = { name, tokenizer, model, upstreams ? [ "127.0.0.1:${toString catalog.ports.triton_grpc}" ] }:
    pkgs.writeShellApplication {
      inherit name;
      runtimeInputs = [ trtllm-nix ];
      passthru = { inherit tokenizer upstreams; };
      text = ''
        upstreams=(${lib.concatMapStringsSep " " (u: "--triton ${lib.escapeShellArg u}") upstreams})
        for arg in "$@"; do
          case $arg in --triton | --triton=*) upstreams=() ;; esac
        done
        exec trtllm-nix proxy --tokenizer ${tokenizer} --model-name ${lib.escapeShellArg model} \
          --port ${toString catalog.ports.proxy} "''${upstreams[@]}" "$@"
      '';
    };

  # Everything for one catalog model: its engines, repositories and servers per variant, and its proxy.
  forModel = model:
    let variants = builtins.attrNames catalog.models.${model}.variants;
        perVariant = f: lib.genAttrs variants f;
    in rec {
      engines = perVariant (variant: mkEngine { inherit model variant; });
      repositories = perVariant (variant: mkModelRepo { engine = engines.${variant}; });
      servers = perVariant (variant: mkTritonServer {
        name = "tritonserver-${catalog.models.${model}.served_name}${catalog.variantSuffix variant}";
        repository = repositories.${variant};
      });
      proxy = mkProxy {
        name = "openai-${catalog.models.${model}.served_name}";
        tokenizer = tokenizer model;
        model = catalog.models.${model}.served_name;
      };
    };
}
