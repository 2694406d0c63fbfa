# Builders, so another NVFP4/FP8 model takes a few lines: add it to catalog.json, then
#   mkEngine { model = "my-model"; variant = "tp2"; }   mkModelRepo { engine = ...; }
#   mkTritonServer { name = ...; repository = ...; }    mkProxy { name = ...; repository = ...; model = ...; }
# and the PyTorch lane (docs/pytorch-lane.md; no engine: the weights as downloaded, served by trtllm-serve --grpc):
#   mkTrtllmServe { name = ...; model = ...; variant = "tp2"; }    mkPytorchProxy { name = ...; model = ...; }
# Everything that runs TensorRT-LLM or tritonserver enters the runtime (the NVIDIA image root) through
# `trtllm-nix ... --runtime ${runtime}` with bubblewrap on PATH; nothing else knows how the runtime is entered.
{ pkgs, catalog, trtllm-nix, runtime, pytorchRuntime }:
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

  # The tokenizer files alone (a flake output of their own; the proxy reads the engine's copy).
  tokenizer = model: download {
    inherit model;
    what = "tokenizer";
    include = catalog.hf_files.tokenizer;
    hash = (entryOf model).tokenizer_hash;
  };

  # The seed's engine: needs GPUs, so it builds where the builder sees them. The seed's route is
  # `--option sandbox false` from a trusted user (nothing else asked of the host); `.sandboxed` is the same engine
  # behind `requiredSystemFeatures = [ "cuda" ]`, for NixOS programs.nix-required-mounts (preset nvidia-gpu), which
  # mounts the GPUs into the sandbox of exactly those builds (nixpkgs keeps GPU builds apart the same way:
  # passthru.gpuCheck). A sandboxed build has no network, so `.sandboxed` needs the weights pinned (a fixed-output
  # download); unpinned, the seed's route downloads them in a derivation of their own (it warns: not reproducible).
  # Without GPUs the build fails in its preflight, before any conversion, naming the two routes.
  # `gpuArch` (default: the catalog entry's) is part of what the derivation asks: the build refuses a GPU of another
  # architecture in its preflight, so an engine named sm100 was built on sm100 whoever built it. The build records
  # where the weights came from (Hub id, revision, hash) without their store path, which would keep them alive.
  mkEngine = { model, variant, checkpoint ? weights model, gpuArch ? (entryOf model).gpu_arch }:
    let
      entry = entryOf model;
      v = entry.variants.${variant};
      provenance = lib.filterAttrs (_: value: value != null) {
        hf_id = entry.hf_id; revision = entry.revision; weights_hash = entry.weights_hash;
      };
      engine = sandboxed: pkgs.runCommand (catalog.engineNameFor model variant gpuArch) ({
        nativeBuildInputs = [ trtllm-nix pkgs.bubblewrap ];
        passthru = { inherit model variant checkpoint gpuArch; worldSize = v.tp * v.pp; pinned = weightsPinned model; }
          // lib.optionalAttrs (!sandboxed) { sandboxed = engine true; };
      } // lib.optionalAttrs sandboxed {
        requiredSystemFeatures = [ "cuda" ];
      }) ''
        ${lib.optionalString (sandboxed && !weightsPinned model) ''
          echo "trtllm-nix: ${model} is not pinned: a sandboxed engine build cannot download it; pin it with" \
            "trtllm-nix catalog lock ${model}, or build the seed's way: nix build ... --option sandbox false" >&2
          exit 1
        ''}
        export HOME=$TMPDIR
        trtllm-nix engine build --runtime ${runtime} --model ${checkpoint} \
          --tp ${toString v.tp} --pp ${toString v.pp} \
          --max-batch-size ${toString v.max_batch_size} --max-seq-len ${toString v.max_seq_len} \
          --max-num-tokens ${toString v.max_num_tokens} --gpu-arch ${gpuArch} \
          ${lib.concatStringsSep " " (lib.mapAttrsToList (key: value: "--provenance ${key}=${value}") provenance)} \
          --out $out
        trtllm-nix engine check $out
      '';
    in
    engine false;

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

  # The proxy of one repository: the tokenizer is the engine's own files and the limits (max_seq_len, input and
  # batch limits, gathered logits) come from the repository, so it needs no download and cannot disagree with the
  # server. The upstreams are an argument (default: the catalog's Triton gRPC port on loopback). A user's --triton
  # on the command line replaces them instead of adding a second upstream (the proxy's --triton accumulates).
  mkProxy = { name, repository, model, upstreams ? [ "127.0.0.1:${toString catalog.ports.triton_grpc}" ] }:
    pkgs.writeShellApplication {
      inherit name;
      runtimeInputs = [ trtllm-nix ];
      passthru = { inherit repository upstreams; };
      text = ''
        upstreams=(${lib.concatMapStringsSep " " (u: "--triton ${lib.escapeShellArg u}") upstreams})
        for arg in "$@"; do
          case $arg in --triton | --triton=*) upstreams=() ;; esac
        done
        exec trtllm-nix proxy --model-repository ${repository} --tokenizer ${repository.engine}/tokenizer \
          --model-name ${lib.escapeShellArg model} --port ${toString catalog.ports.proxy} "''${upstreams[@]}" "$@"
      '';
    };

  # The PyTorch lane's server: `trtllm-serve MODEL --grpc` at the variant's TP inside the TensorRT-LLM release
  # image (catalog.json pytorch_runtime), on the catalog's port (ports.trtllm_serve_grpc). MODEL is the checkpoint as
  # downloaded (`weights`), so there is no build step; the user's own --port, --gpus, --max-seq-len win.
  mkTrtllmServe = { name, model, variant, checkpoint ? weights model }:
    let v = (entryOf model).pytorch.variants.${variant};
    in pkgs.writeShellApplication {
      inherit name;
      runtimeInputs = [ trtllm-nix pkgs.bubblewrap ];
      passthru = { inherit model variant checkpoint; runtime = pytorchRuntime; worldSize = v.tp; };
      text = ''
        exec trtllm-nix serve-pytorch --model ${checkpoint} --tp ${toString v.tp} --max-seq-len ${toString v.max_seq_len} \
          --runtime ${pytorchRuntime} --port ${toString catalog.ports.trtllm_serve_grpc} "$@"
      '';
    };

  # The proxy in front of the PyTorch lane: the tokenizer is the served checkpoint's own files and the limits come
  # from the server (GetModelInfo's max_seq_len at start), so it cannot disagree with it. A user's --upstream
  # replaces the default (the proxy's --upstream takes the last one given). `guidedDecoding`: the servers run with
  # guided decoding (serve-pytorch's default, as mkTrtllmServe starts them), so the proxy sends guides to them.
  mkPytorchProxy = { name, model, checkpoint ? weights model
                   , upstreams ? [ "127.0.0.1:${toString catalog.ports.trtllm_serve_grpc}" ], guidedDecoding ? true }:
    pkgs.writeShellApplication {
      inherit name;
      runtimeInputs = [ trtllm-nix ];
      passthru = { inherit checkpoint upstreams; };
      text = ''
        exec trtllm-nix proxy --tokenizer ${checkpoint} --model-name ${lib.escapeShellArg (entryOf model).served_name} \
          --port ${toString catalog.ports.proxy} \
          --upstream ${lib.escapeShellArg ("grpc-trtllm://${lib.concatStringsSep "," upstreams}"
            + lib.optionalString guidedDecoding "?guided_decoding=xgrammar")} "$@"
      '';
    };

  # Everything for one catalog model: its engines, repositories and servers per variant, and its proxy; and where
  # the catalog has a `pytorch` block, the PyTorch lane's servers per variant and its proxy (`pytorch`).
  forModel = model:
    let variants = builtins.attrNames catalog.models.${model}.variants;
        perVariant = f: lib.genAttrs variants f;
        served = catalog.models.${model}.served_name;
        pytorchVariants = builtins.attrNames ((entryOf model).pytorch.variants or { });
    in rec {
      pytorch = {
        servers = lib.genAttrs pytorchVariants (variant: mkTrtllmServe {
          name = "trtllm-serve-${served}${catalog.variantSuffix variant}";
          inherit model variant;
        });
        proxy = mkPytorchProxy { name = "openai-${served}-pytorch"; inherit model; };
      };
      engines = perVariant (variant: mkEngine { inherit model variant; });
      repositories = perVariant (variant: mkModelRepo { engine = engines.${variant}; });
      servers = perVariant (variant: mkTritonServer {
        name = "tritonserver-${catalog.models.${model}.served_name}${catalog.variantSuffix variant}";
        repository = repositories.${variant};
      });
      proxy = mkProxy {
        name = "openai-${catalog.models.${model}.served_name}";
        repository = repositories.tp1;
        model = catalog.models.${model}.served_name;
      };
    };
}
