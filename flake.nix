{
  description = "Serve NVIDIA's pre-quantized NVFP4/FP8 checkpoints with Triton + TensorRT-LLM behind an OpenAI API";

  inputs.nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      catalog = import ./nix/catalog.nix;
      # The systems the runtime image is pinned for (catalog.json runtime.systems): x86_64-linux, and aarch64-linux
      # for GB200 (sm100) and DGX Spark (GB10, sm121).
      systems = builtins.attrNames catalog.runtime.systems;
      forSystems = f: nixpkgs.lib.genAttrs systems (system: f (perSystem system));
      perSystem = system:
        let
          pkgs = import nixpkgs {
            inherit system;
            # Only the runtime (NVIDIA's image) is unfree. No global cudaSupport: nothing here compiles CUDA, and
            # it would rebuild openmpi/ucx/torch locally instead of taking them from the binary cache.
            config.allowUnfreePredicate = package: builtins.elem (builtins.parseDrvName (nixpkgs.lib.getName package)).name
              [ "tritonserver-trtllm" "tritonserver-trtllm-root" "tritonserver-trtllm-config"
                "tensorrt-llm-release" "tensorrt-llm-release-root" "tensorrt-llm-release-config" ];
          };
          trtllm-nix = pkgs.callPackage ./nix/package.nix { };
          runtime = pkgs.callPackage ./nix/runtime.nix { inherit catalog system; };
          # The PyTorch lane's runtime: NVIDIA's tensorrt-llm/release image (catalog.json pytorch_runtime), for
          # trtllm-serve --grpc (docs/pytorch-lane.md).
          pytorchRuntime = pkgs.callPackage ./nix/runtime.nix {
            inherit catalog system;
            runtimePin = catalog.pytorch_runtime;
            runtimeName = "tensorrt-llm-release";
            runtimeKey = "pytorch_runtime";
            runtimeContents = "TensorRT-LLM";
          };
          builders = import ./nix/lib { inherit pkgs catalog trtllm-nix runtime pytorchRuntime; };
        in
        { inherit system pkgs trtllm-nix runtime pytorchRuntime builders; qwen3 = builders.forModel "qwen3-32b"; };
      app = lib: package: { type = "app"; program = lib.getExe package; };
    in
    {
      lib = (perSystem "x86_64-linux").builders // {
        inherit catalog;
        # The builders of another system: lib.forSystem "aarch64-linux" (GB200, DGX Spark).
        forSystem = system: (perSystem system).builders;
      };

      packages = forSystems (s: {
        inherit (s) trtllm-nix;
        tritonserver-trtllm = s.runtime;
        tritonserver-trtllm-root = s.runtime.root;
        tritonserver-trtllm-config = s.runtime.config;
        qwen3-32b-weights = s.builders.weights "qwen3-32b";
        qwen3-32b-tokenizer = s.builders.tokenizer "qwen3-32b";
        qwen3-32b-engine = s.qwen3.engines.tp1;
        qwen3-32b-engine-tp2 = s.qwen3.engines.tp2;
        qwen3-32b-engine-tp4 = s.qwen3.engines.tp4;
        qwen3-32b-triton-repo = s.qwen3.repositories.tp1;
        tritonserver-qwen3 = s.qwen3.servers.tp1;
        tritonserver-qwen3-tp2 = s.qwen3.servers.tp2;
        tritonserver-qwen3-tp4 = s.qwen3.servers.tp4;
        openai-qwen3 = s.qwen3.proxy;
        # The PyTorch lane (docs/pytorch-lane.md): trtllm-serve --grpc from the weights, no engine build; its proxy
        # is openai-qwen3-pytorch (the same API on the same port as openai-qwen3, pointed at trtllm-serve).
        tensorrt-llm-release = s.pytorchRuntime;
        tensorrt-llm-release-root = s.pytorchRuntime.root;
        tensorrt-llm-release-config = s.pytorchRuntime.config;
        trtllm-serve-qwen3 = s.qwen3.pytorch.servers.tp1;
        trtllm-serve-qwen3-tp2 = s.qwen3.pytorch.servers.tp2;
        trtllm-serve-qwen3-tp4 = s.qwen3.pytorch.servers.tp4;
        openai-qwen3-pytorch = s.qwen3.pytorch.proxy;
        demo = s.pkgs.callPackage ./nix/demo.nix { };
        # the gateway in front of several hosts (docs/gateway.md), from its release wheel
        smg = s.pkgs.callPackage ./nix/smg.nix { };
        default = s.trtllm-nix;
      });

      apps = forSystems (s: builtins.mapAttrs (_: app s.pkgs.lib) {
        inherit (self.packages.${s.system})
          tritonserver-qwen3 tritonserver-qwen3-tp2 tritonserver-qwen3-tp4 openai-qwen3 demo smg
          trtllm-serve-qwen3 trtllm-serve-qwen3-tp2 trtllm-serve-qwen3-tp4 openai-qwen3-pytorch;
        default = s.trtllm-nix;
      });

      checks = forSystems (s: import ./nix/checks.nix {
        inherit (s) pkgs trtllm-nix;
        server = s.qwen3.servers.tp1;
        proxy = s.qwen3.proxy;
      });

      devShells = forSystems (s: { default = import ./nix/devshell.nix { inherit (s) pkgs trtllm-nix; }; });

      # One package set per host: the module takes this flake's packages for the host's system
      # (pkgs.stdenv.hostPlatform.system), so an aarch64 host gets aarch64 packages (see nix/module.nix).
      nixosModules.default = import ./nix/module.nix { packagesFor = system: self.packages.${system}; };
    };
}
