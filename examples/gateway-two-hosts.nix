# Two GPU hosts behind one gateway (docs/gateway.md): each host serves Qwen3-32B NVFP4 (TP4) with its proxy on the
# private network; host A also runs SMG, the gateway clients use, and both proxies keep the Responses API's stored
# responses in one PostgreSQL database, so a conversation's next turn may land on either host.
#
# Each attribute is one host's NixOS module, next to its hardware configuration and the driver settings of
# ./nixos-configuration.nix (left out here), in your system flake with specialArgs = { inherit inputs; }:
#
#   nixosConfigurations.gpu-a = nixpkgs.lib.nixosSystem { system = "x86_64-linux"; specialArgs = { inherit inputs; };
#     modules = [ ./hardware-a.nix (import ./gateway-two-hosts.nix).gpu-a ]; };
#   nixosConfigurations.gpu-b = ... (import ./gateway-two-hosts.nix).gpu-b ...
#
# Secrets (never in the store): /run/secrets/trtllm-api-key on both hosts (the same key: SMG forwards it to the
# proxies, which check it again), and the database password in a .pgpass file (the proxy's PGPASSFILE). The
# PostgreSQL server itself (services.postgresql on a third host, or either of these) is yours; the proxy creates
# its one table. Clients use http://gpu-a:30000/v1; Prometheus scrapes gpu-a:29000 (smg_*) and each proxy's
# /metrics (trtllm_nix_*, with the key).
let
  apiKeyFile = "/run/secrets/trtllm-api-key";
  # each host: the engine and its proxy, on the private address the gateway reaches
  gpuHost = address: { inputs, ... }:
    let qwen3 = inputs.trtllm-nix.lib.forModel "qwen3-32b"; in
    {
      imports = [ inputs.trtllm-nix.nixosModules.default ];
      services.trtllm = {
        instances.qwen3 = { repository = qwen3.repositories.tp4; gpus = [ 0 1 2 3 ]; };
        proxy = {
          enable = true;
          upstream = "qwen3";
          host = address;
          openFirewall = true; # for the gateway; keep the private network private
          inherit apiKeyFile;
          responsesStore = "postgresql://trtllm@db.internal:5432/trtllm";
          responsesStorePassFile = "/run/secrets/trtllm-pgpass"; # db.internal:5432:trtllm:trtllm:PASSWORD
        };
      };
    };
in
{
  gpu-a = {
    imports = [ (gpuHost "10.0.0.11") ];
    services.trtllm.gateway = {
      enable = true;
      host = "0.0.0.0";
      workers = [ "http://10.0.0.11:9000" "http://10.0.0.12:9000" ];
      policy = "cache_aware";
      inherit apiKeyFile;
      metricsHost = "0.0.0.0";
      openFirewall = true;
      openMetricsFirewall = true;
    };
  };
  gpu-b = gpuHost "10.0.0.12";
}
