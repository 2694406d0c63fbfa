# Builders, so another NVFP4/FP8 model takes a few lines: add it to catalog.json, then
#   mkEngine { model = "my-model"; variant = "tp2"; }   mkModelRepo { engine = ...; }
#   mkTritonServer { name = ...; repository = ...; }    mkProxy { name = ...; tokenizer = ...; model = ...; }
{ pkgs, catalog, trtllm-nix, runtime }:
let
  inherit (pkgs) lib;
  download = pkgs.callPackage ../hf-download.nix { inherit catalog; };
  tokenizerFiles = [ "tokenizer.json" "tokenizer_config.json" "special_tokens_map.json" "generation_config.json"
                     "vocab.json" "merges.txt" "chat_template.jinja" ];
in
rec {
  weights = model: download {
    inherit model;
    what = "weights";
    include = [ "*.safetensors" "*.safetensors.index.json" "config.json" "hf_quant_config.json" ] ++ tokenizerFiles;
    hash = catalog.models.${model}.weights_hash;
    hint = catalog.models.${model}.to_compute.weights_hash;
  };

  # Only what the proxy needs, never the 20 GB of weights.
  tokenizer = model: download {
    inherit model;
    what = "tokenizer";
    include = tokenizerFiles;
    hash = catalog.models.${model}.tokenizer_hash;
    hint = catalog.models.${model}.to_compute.tokenizer_hash;
  };

  # Needs a GPU of the engine's architecture: requiredSystemFeatures = [ "cuda" ] (NixOS:
  # programs.nix-required-mounts). Fallback: nix build --option sandbox false (the seed's route; impure).
  mkEngine = { model, variant, checkpoint ? weights model }:
    let v = catalog.models.${model}.variants.${variant};
    in pkgs.runCommand (catalog.engineName model variant) {
      nativeBuildInputs = [ trtllm-nix runtime ];
      requiredSystemFeatures = [ "cuda" ];
      passthru = { inherit model variant; worldSize = v.tp * v.pp; };
    } ''
      export HOME=$TMPDIR
      trtllm-nix engine build --model ${checkpoint} --tp ${toString v.tp} --pp ${toString v.pp} \
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
      runtimeInputs = [ trtllm-nix runtime pkgs.openmpi ];
      passthru = { inherit repository; inherit (repository) worldSize; };
      text = ''exec trtllm-nix serve --repo ${repository} --tritonserver ${lib.getExe runtime} "$@"'';
    };

  mkProxy = { name, tokenizer, model }:
    pkgs.writeShellApplication {
      inherit name;
      runtimeInputs = [ trtllm-nix ];
      text = ''
        exec trtllm-nix proxy --tokenizer ${tokenizer} --model-name ${model} \
          --port ${toString catalog.ports.proxy} --triton 127.0.0.1:${toString catalog.ports.triton_grpc} "$@"
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
