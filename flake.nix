{
  description = "Serve NVIDIA's pre-quantized NVFP4/FP8 checkpoints with Triton + TensorRT-LLM behind an OpenAI API";

  inputs.nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      system = "x86_64-linux";
      pkgs = import nixpkgs {
        inherit system;
        # Only the runtime (NVIDIA's image) is unfree. No global cudaSupport: nothing here compiles CUDA, and it
        # would rebuild openmpi/ucx/torch locally instead of taking them from the binary cache.
        config.allowUnfreePredicate = package: nixpkgs.lib.getName package == "tritonserver-trtllm-root";
      };
      inherit (pkgs) lib;
      catalog = import ./nix/catalog.nix;
      trtllm-nix = pkgs.callPackage ./nix/package.nix { };
      runtime = pkgs.callPackage ./nix/runtime.nix { inherit catalog; };
      builders = import ./nix/lib { inherit pkgs catalog trtllm-nix runtime; };
      qwen3 = builders.forModel "qwen3-32b";
      app = package: { type = "app"; program = lib.getExe package; };
    in
    {
      lib = builders // { inherit catalog; };

      packages.${system} = {
        inherit trtllm-nix;
        tritonserver-trtllm = runtime;
        qwen3-32b-weights = builders.weights "qwen3-32b";
        qwen3-32b-tokenizer = builders.tokenizer "qwen3-32b";
        qwen3-32b-engine = qwen3.engines.tp1;
        qwen3-32b-engine-tp2 = qwen3.engines.tp2;
        qwen3-32b-engine-tp4 = qwen3.engines.tp4;
        qwen3-32b-triton-repo = qwen3.repositories.tp1;
        tritonserver-qwen3 = qwen3.servers.tp1;
        tritonserver-qwen3-tp2 = qwen3.servers.tp2;
        tritonserver-qwen3-tp4 = qwen3.servers.tp4;
        openai-qwen3 = qwen3.proxy;
        demo = pkgs.callPackage ./nix/demo.nix { };
        default = trtllm-nix;
      };

      apps.${system} = lib.mapAttrs (_: app) {
        inherit (self.packages.${system})
          tritonserver-qwen3 tritonserver-qwen3-tp2 tritonserver-qwen3-tp4 openai-qwen3 demo;
        default = trtllm-nix;
      };

      checks.${system} = import ./nix/checks.nix {
        inherit pkgs trtllm-nix;
        server = qwen3.servers.tp1;
        proxy = qwen3.proxy;
      };

      devShells.${system}.default = import ./nix/devshell.nix { inherit pkgs trtllm-nix; };

      # One package set: the module's packages default to this flake's (see nix/module.nix).
      nixosModules.default = import ./nix/module.nix { packages = self.packages.${system}; };
    };
}
