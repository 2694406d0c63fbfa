# A GPU server with four Blackwell GPUs: Qwen3-32B NVFP4 at TP4 behind the OpenAI proxy on port 9000 (loopback;
# put a TLS reverse proxy in front, or set openFirewall and an API key).
#
# Use it from your system flake, passing the flake inputs with specialArgs (through _module.args, `inputs` is
# needed by `imports` before it exists: infinite recursion):
#
#   inputs.trtllm-nix.url = "github:<owner>/trtllm-nix";
#   outputs = { nixpkgs, trtllm-nix, ... }@inputs: {
#     nixosConfigurations.gpu = nixpkgs.lib.nixosSystem {
#       system = "x86_64-linux";
#       specialArgs = { inherit inputs; };
#       modules = [ ./hardware-configuration.nix ./nixos-configuration.nix ];
#     };
#   };
#
# Pin the model first (`trtllm-nix catalog lock qwen3-32b` in a checkout): an unpinned engine downloads its
# weights during the build, which the sandbox of a NixOS rebuild does not allow.
{ inputs, config, lib, ... }:
let
  trtllm = inputs.trtllm-nix;
  qwen3 = trtllm.lib.forModel "qwen3-32b";
in
{
  imports = [ trtllm.nixosModules.default ];

  # The NVIDIA driver is unfree (trtllm-nix's own runtime comes from the flake's package set, which allows it).
  nixpkgs.config.allowUnfree = true;

  # Driver. B200/GB200 (sm100) boards are SXM/HGX parts joined by NVSwitch: they need the datacenter driver with
  # nvidia-fabricmanager, which nixpkgs enables with hardware.nvidia.datacenter.enable (and which nixpkgs does not
  # allow together with services.xserver.videoDrivers = [ "nvidia" ]). Without fabric manager, CUDA on an NVSwitch
  # system does not initialise. Blackwell needs the open kernel modules.
  hardware.nvidia = {
    datacenter.enable = true;
    open = true;
    nvidiaPersistenced = true;
  };
  hardware.graphics.enable = true;
  # PCIe cards (RTX PRO 6000 Blackwell and the like) have no NVSwitch: use the regular driver instead:
  #   services.xserver.videoDrivers = [ "nvidia" ];  (and no datacenter.enable)

  # Engines are built on this machine's GPUs, inside the sandbox with the GPU mounted: this adds the `cuda`
  # system feature the engine derivations require and mounts /dev/nvidia* and the driver for those builds only.
  programs.nix-required-mounts = {
    enable = true;
    presets.nvidia-gpu.enable = true;
  };

  # Optional: the community CUDA binary cache (prebuilt CUDA packages from canonical nixpkgs, redistributed under
  # NVIDIA's agreement with the NixOS Foundation; https://discourse.nixos.org/t/69189). It serves what nixpkgs
  # builds with cudaSupport at the default cudaCapabilities; narrowing cudaCapabilities (e.g. [ "10.0" ]) changes
  # every CUDA derivation's hash, so nothing is substituted and all of it builds locally (hours). trtllm-nix itself
  # compiles no CUDA and needs neither.
  # nix.settings.extra-substituters = [ "https://cache.flox.dev" ];
  # nix.settings.extra-trusted-public-keys = [ "flox-cache-public-1:7F4OyH7ZCnFhcze3fJdfyXYLQw/aV7GEed86nQ7IsOs=" ];

  services.trtllm = {
    instances.qwen3 = {
      repository = qwen3.repositories.tp4;
      gpus = [ 0 1 2 3 ];
    };
    proxy = {
      enable = true;
      upstream = "qwen3";
      apiKeyFile = "/run/secrets/trtllm-api-key";
      settings.MAX_IN_FLIGHT = "128";
    };
  };
}
