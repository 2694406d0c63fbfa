# A GPU server with four Blackwell GPUs: Qwen3-32B NVFP4 at TP4 behind the OpenAI proxy on port 9000 (loopback;
# put a TLS reverse proxy in front, or set openFirewall and an API key).
{ inputs, pkgs, ... }:
let
  trtllm = inputs.trtllm-nix;
  qwen3 = trtllm.lib.forModel "qwen3-32b";
in
{
  imports = [ trtllm.nixosModules.default ];

  hardware.nvidia-container-toolkit.enable = false;
  hardware.graphics.enable = true;
  services.xserver.videoDrivers = [ "nvidia" ];
  hardware.nvidia.open = true;

  # Engines are built on this machine's GPUs, inside the sandbox with the GPU mounted.
  programs.nix-required-mounts = {
    enable = true;
    presets.nvidia-gpu.enable = true;
  };

  services.trtllm = {
    instances.qwen3 = {
      repository = qwen3.repositories.tp4;
      gpus = [ 0 1 2 3 ];
    };
    proxy = {
      enable = true;
      upstream = "qwen3";
      tokenizer = trtllm.lib.tokenizer "qwen3-32b";
      apiKeyFile = "/run/secrets/trtllm-api-key";
      settings.MAX_IN_FLIGHT = "128";
    };
  };
}
