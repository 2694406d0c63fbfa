# services.trtllm: Triton instances (one systemd unit each, one rank per GPU under the runtime's mpirun) or, with
# `kind = "pytorch"`, the PyTorch lane's trtllm-serve --grpc (docs/pytorch-lane.md: TensorRT-LLM's release image, the
# checkpoint as downloaded, no engine), the
# OpenAI proxy, and SMG as the gateway in front of proxies on several hosts (services.trtllm.gateway). Loopback and
# a closed firewall by default; dynamic users; GPU access by device class as nixpkgs' ollama and llama-cpp modules
# grant it; CUDA_DEVICE_ORDER=PCI_BUS_ID so CUDA's numbering is nvidia-smi's;
# TMPDIR/TMP/TEMP in the runtime directory; the proxy starts once its Triton is ready.
# Units: Triton's and mpirun's output (each rank's too, prefixed `[rank N]`) in the journal
# (TRTLLM_NIX_LOG_TO_STDOUT=1); restart with bounded exponential backoff, as nixpkgs' ollama.nix; ordered after
# nvidia-persistenced and nvidia-fabricmanager (NVSwitch systems) where those units exist; the hardening that leaves
# bubblewrap what it needs (see `bubblewrapSafeHardening`).
# One package set per host: `packagesFor system` gives this flake's packages for the host's system
# (pkgs.stdenv.hostPlatform.system), so the package, the runtime, the repository and the tokenizer all come from
# the flake's pinned nixpkgs for that system, whatever the host's nixpkgs is.
{ packagesFor }:
{ config, lib, pkgs, utils, ... }:
let
  inherit (lib) mkEnableOption mkOption mkIf types;
  cfg = config.services.trtllm;
  packages = packagesFor pkgs.stdenv.hostPlatform.system;
  catalog = import ./catalog.nix;
  trtllm-nix = cfg.package;
  # systemd expands % and $ in ExecStart; nixpkgs' utils.escapeSystemdExecArgs quotes them.
  execArgs = utils.escapeSystemdExecArgs;
  # An IPv6 listen address needs brackets in a URL; a wildcard listen address is reached on loopback.
  urlHost = host: if host == "0.0.0.0" then "127.0.0.1" else if host == "::" then "[::1]"
    else if lib.hasInfix ":" host then "[${host}]" else host;

  instanceOptions = { config, ... }: {
    options = {
      kind = mkOption {
        type = types.enum [ "triton" "pytorch" ];
        default = "triton";
        description = ''
          The lane (docs/pytorch-lane.md): "triton" serves a built engine's repository with tritonserver; "pytorch"
          serves `checkpoint` with trtllm-serve --grpc (TensorRT-LLM's PyTorch backend, the release image
          `pytorchRuntime`, no engine build) on `grpcPort` only.
        '';
      };
      repository = mkOption {
        type = types.nullOr types.package;
        default = null;
        description = "kind triton: the model repository (lib.mkModelRepo); its engine is kept alive as a dependency.";
      };
      checkpoint = mkOption {
        type = types.nullOr types.package;
        default = null;
        example = lib.literalExpression ''trtllm-nix.lib.weights "qwen3-32b"'';
        description = "kind pytorch: the checkpoint folder trtllm-serve loads (config.json, weights, tokenizer).";
      };
      guidedDecoding = mkOption {
        type = types.bool;
        default = true;
        description = ''
          kind pytorch: trtllm-serve enforces structured outputs and forced tool calls with xgrammar (its
          `guided_decoding_backend`, as the engine lane's repositories have it); a proxy in front of the instance
          sends guides to it. false: such requests are refused by the proxy, saying why.
        '';
      };
      maxSeqLen = mkOption {
        type = types.nullOr types.ints.positive;
        default = null;
        description = "kind pytorch: trtllm-serve's --max_seq_len (null: the model's); the proxy reads it back.";
      };
      worldSize = mkOption {
        type = types.ints.positive;
        default = config.repository.worldSize or 1;
        defaultText = lib.literalExpression "repository.worldSize (set by lib.mkModelRepo), else 1";
        description = "TP x PP of the engine; for kind pytorch, trtllm-serve's tensor parallelism (1, 2, 4, 8).";
      };
      gpus = mkOption {
        type = types.listOf types.ints.unsigned;
        default = [ 0 ];
        description = "GPU indices, one per rank.";
      };
      host = mkOption { type = types.str; default = "127.0.0.1"; description = "Listen address."; };
      httpPort = mkOption { type = types.port; default = catalog.ports.triton_http; description = "HTTP port."; };
      grpcPort = mkOption {
        type = types.port;
        default = if config.kind == "pytorch" then catalog.ports.trtllm_serve_grpc else catalog.ports.triton_grpc;
        defaultText = lib.literalExpression "8001 (triton), 50051 (pytorch): catalog.json ports";
        description = "gRPC port (for kind pytorch, trtllm-serve's only port).";
      };
      metricsPort = mkOption { type = types.port; default = catalog.ports.triton_metrics; description = "Metrics."; };
      environment = mkOption {
        type = types.attrsOf types.str;
        default = { };
        description = "Extra environment (e.g. NCCL_* settings, which win over the topology-based defaults).";
      };
      extraArgs = mkOption { type = types.listOf types.str; default = [ ]; description = "Extra serve args."; };
      startTimeout = mkOption {
        type = types.ints.positive;
        default = 1800;
        description = "Seconds to wait for readiness (loading a large engine takes minutes).";
      };
      runtime = mkOption {
        type = types.package;
        default = if config.kind == "pytorch" then cfg.pytorchRuntime else cfg.runtime;
        defaultText = lib.literalExpression
          "config.services.trtllm.runtime (triton), config.services.trtllm.pytorchRuntime (pytorch)";
        description = "Runtime image root (entered with --runtime) for this instance.";
      };
      openFirewall = mkOption { type = types.bool; default = false; description = "Open the HTTP/gRPC ports."; };
    };
  };

  unit = name: "trtllm-${name}";
  readyUrl = inst: "http://${urlHost inst.host}:${toString inst.httpPort}/v2/health/ready";
  readyCheck = inst: pkgs.writeShellScript "trtllm-wait-ready" (if inst.kind == "pytorch" then ''
    # trtllm-serve --grpc binds its port once the model is loaded (docs/pytorch-lane.md)
    until (exec 3<>/dev/tcp/${urlHost inst.host}/${toString inst.grpcPort}) 2>/dev/null; do
      sleep 2
    done
  '' else ''
    until ${lib.getExe pkgs.curl} -sf ${lib.escapeShellArg (readyUrl inst)} >/dev/null; do
      sleep 2
    done
  '');
  # What each kind runs (docs/pytorch-lane.md for the PyTorch lane's launcher).
  serveArgs = name: inst: if inst.kind == "pytorch" then [
    (lib.getExe trtllm-nix) "serve-pytorch" "--model" "${inst.checkpoint}" "--tp" (toString inst.worldSize)
    "--gpus" (lib.concatMapStringsSep "," toString inst.gpus)
    "--host" inst.host "--port" (toString inst.grpcPort) "--runtime" "${inst.runtime}"
    "--run-dir" "/run/${unit name}" "--guided-decoding" (if inst.guidedDecoding then "xgrammar" else "none")
  ] ++ lib.optionals (inst.maxSeqLen != null) [ "--max-seq-len" (toString inst.maxSeqLen) ] else [
    (lib.getExe trtllm-nix) "serve" "--repo" "${inst.repository}"
    "--gpus" (lib.concatMapStringsSep "," toString inst.gpus)
    "--host" inst.host "--http-port" (toString inst.httpPort) "--grpc-port" (toString inst.grpcPort)
    "--metrics-port" (toString inst.metricsPort) "--runtime" "${inst.runtime}"
    "--run-dir" "/run/${unit name}"
  ];
  instancePorts = inst: if inst.kind == "pytorch" then [ inst.grpcPort ] else [ inst.httpPort inst.grpcPort inst.metricsPort ];
  # The device classes nixpkgs' ollama.nix and llama-cpp.nix allow for CUDA. /dev/nvidiaN are all of class
  # char-nvidia-frontend (major 195), so this allows every GPU of the host: `gpus` chooses which GPUs CUDA uses
  # (CUDA_VISIBLE_DEVICES), it isolates nothing; per-GPU DeviceAllow entries add nothing while the class is allowed.
  gpuDevices = [ "char-nvidiactl" "char-nvidia-caps" "char-nvidia-frontend" "char-nvidia-uvm" ];
  # What bubblewrap needs in the unit: CLONE_NEWUSER and CLONE_NEWNS, mount/umount2/pivot_root and setgroups inside
  # its own user namespace (so no RestrictNamespaces, no SystemCallFilter=~@privileged or @mount, no PrivateUsers:
  # a nested user namespace cannot map our uid again), and the host's /proc, /sys, /dev and /tmp to bind. These
  # take nothing of that: the namespace's capabilities come from the new user namespace, not the bounding set.
  bubblewrapSafeHardening = {
    CapabilityBoundingSet = "";
    AmbientCapabilities = "";
    NoNewPrivileges = true;
    ProtectKernelModules = true;
    ProtectKernelLogs = true;
    ProtectControlGroups = true;
    RestrictRealtime = true;
    LockPersonality = true;
    RestrictAddressFamilies = [ "AF_UNIX" "AF_INET" "AF_INET6" "AF_NETLINK" ];
    ProtectSystem = "strict";
    ProtectHome = true;
    PrivateTmp = true;
  };
  # nixpkgs' ollama.nix: a failing start is retried with growing delays up to a bound, never given up on.
  restartWithBackoff = {
    Restart = "on-failure";
    RestartSec = 1;
    RestartSteps = 10;
    RestartMaxDelaySec = 300;
  };
  gpuUnits = [ "nvidia-persistenced.service" "nvidia-fabricmanager.service" ];

  instanceService = name: inst: {
    description = if inst.kind == "pytorch" then "trtllm-serve --grpc, TensorRT-LLM's PyTorch backend (${name})"
      else "Triton + TensorRT-LLM (${name})";
    wantedBy = [ "multi-user.target" ];
    # `after` orders only against units that exist: on a host without fabric manager it is a no-op.
    wants = [ "network-online.target" ];
    after = [ "network-online.target" ] ++ gpuUnits;
    # StartLimitIntervalSec=0: the backoff bounds the retries, systemd's 5-in-10-s limit must not end them
    startLimitIntervalSec = 0;
    environment = {
      TMPDIR = "/run/${unit name}";
      TMP = "/run/${unit name}";
      TEMP = "/run/${unit name}";
      HOME = "/run/${unit name}";
      USER = unit name;
      CUDA_DEVICE_ORDER = "PCI_BUS_ID";
      TRTLLM_NIX_LOG_TO_STDOUT = "1";
    } // inst.environment;
    path = [ cfg.bubblewrap ];
    serviceConfig = {
      ExecStart = execArgs (serveArgs name inst ++ inst.extraArgs);
      ExecStartPost = "${readyCheck inst}";
      TimeoutStartSec = inst.startTimeout;
      TimeoutStopSec = 90;
      # A uid of DynamicUser is in no /etc/passwd, the image's included: the image's tools run as "I have no
      # name!"; HOME, TMPDIR and USER are set so none looks itself up (docs/nix.md says what is known of mpirun).
      DynamicUser = true;
      SupplementaryGroups = [ "video" ];
      RuntimeDirectory = unit name;
      RuntimeDirectoryMode = "0700";
      DevicePolicy = "closed";
      DeviceAllow = gpuDevices;
      PrivateDevices = false;
    } // restartWithBackoff // bubblewrapSafeHardening;
  };

  proxy = cfg.proxy;
  upstream = cfg.instances.${proxy.upstream} or null;
  pytorchUpstream = upstream != null && upstream.kind == "pytorch";
  upstreamAddress = "${if upstream != null then urlHost upstream.host else "127.0.0.1"}:${
    toString (if upstream != null then upstream.grpcPort else catalog.ports.triton_grpc)}";
  # the engine lane: the repository's limits and the engine's tokenizer; the PyTorch lane: the checkpoint's
  # tokenizer, the limits from trtllm-serve (GetModelInfo)
  upstreamArgs = if pytorchUpstream then [
    "--tokenizer" (if proxy.tokenizer != null then "${proxy.tokenizer}" else "${upstream.checkpoint}")
    "--model-name" proxy.modelName
    "--host" proxy.host "--port" (toString proxy.port)
    "--upstream" "grpc-trtllm://${upstreamAddress}${lib.optionalString upstream.guidedDecoding "?guided_decoding=xgrammar"}"
  ] else [
    "--model-repository" "${upstream.repository}"
    "--tokenizer" (if proxy.tokenizer != null then "${proxy.tokenizer}" else "${upstream.repository.engine}/tokenizer")
    "--model-name" proxy.modelName
    "--host" proxy.host "--port" (toString proxy.port)
    "--triton" upstreamAddress
  ];
  proxyService = {
    description = "OpenAI-compatible API for ${proxy.modelName} (trtllm-nix)";
    wantedBy = [ "multi-user.target" ];
    startLimitIntervalSec = 0;
    requires = lib.optional (upstream != null) "${unit proxy.upstream}.service";
    after = lib.optional (upstream != null) "${unit proxy.upstream}.service";
    environment = lib.mapAttrs' (key: value: lib.nameValuePair "TRTLLM_NIX_PROXY_${key}" value) proxy.settings
      // lib.optionalAttrs (proxy.responsesStore != null) { TRTLLM_NIX_PROXY_RESPONSES_STORE = proxy.responsesStore; }
      # libpq reads the password from PGPASSFILE; %d: the credentials folder (systemd expands it in Environment=)
      // lib.optionalAttrs (proxy.responsesStorePassFile != null) { PGPASSFILE = "%d/pgpass"; };
    serviceConfig = {
      ExecStart = execArgs ([ (lib.getExe trtllm-nix) "proxy" ] ++ upstreamArgs)
      # %d (the credentials folder) is the one specifier systemd must expand, so it stays outside the escaping.
      + lib.optionalString (proxy.apiKeyFile != null) " --api-key-file %d/api-key"
      + lib.optionalString (proxy.extraArgs != [ ]) " ${execArgs proxy.extraArgs}";
      LoadCredential = lib.optional (proxy.apiKeyFile != null) "api-key:${proxy.apiKeyFile}"
        ++ lib.optional (proxy.responsesStorePassFile != null) "pgpass:${proxy.responsesStorePassFile}";
      DynamicUser = true;
      # $STATE_DIRECTORY: the Responses API's stored responses (responses.sqlite3) unless responsesStore is set
      StateDirectory = "trtllm-proxy";
      PrivateDevices = true;
    } // restartWithBackoff // bubblewrapSafeHardening;
  };

  # SMG in front of proxies on this host and others (docs/gateway.md). The API key is a credential read by
  # `smg-keyfile` (nix/smg.nix), so it is neither in the store nor on the command line.
  gateway = cfg.gateway;
  policies = [ "random" "round_robin" "passthrough" "cache_aware" "power_of_two" "least_load" "manual"
    "consistent_hashing" "prefix_hash" ];
  gatewayService = {
    description = "SMG gateway in front of ${toString (lib.length gateway.workers)} trtllm-nix proxies";
    wantedBy = [ "multi-user.target" ];
    wants = [ "network-online.target" ];
    # a proxy of this host first, when there is one (the others are on their own hosts)
    after = [ "network-online.target" ] ++ lib.optional proxy.enable "trtllm-proxy.service";
    startLimitIntervalSec = 0;
    serviceConfig = {
      # %d (the credentials folder) is the one specifier systemd must expand, so it stays outside the escaping.
      ExecStart = execArgs [ (lib.getExe' gateway.package "smg-keyfile") ] + " %d/api-key " + execArgs ([
        "launch"
        "--host" gateway.host "--port" (toString gateway.port)
        "--prometheus-host" gateway.metricsHost "--prometheus-port" (toString gateway.metricsPort)
        "--policy" gateway.policy
        "--health-check-endpoint" gateway.healthCheckEndpoint
        "--worker-urls"
      ] ++ gateway.workers ++ gateway.extraArgs);
      LoadCredential = [ "api-key:${gateway.apiKeyFile}" ];
      DynamicUser = true;
      PrivateDevices = true;
      # SMG needs no namespaces of its own: the full set, unlike the units that run bubblewrap
      RestrictNamespaces = true;
      SystemCallFilter = [ "@system-service" "~@privileged" ];
      PrivateUsers = true;
      ProtectProc = "invisible";
    } // restartWithBackoff // bubblewrapSafeHardening;
  };

  ports = lib.concatLists (lib.mapAttrsToList (_: instancePorts) cfg.instances)
    ++ lib.optional proxy.enable proxy.port
    ++ lib.optionals gateway.enable [ gateway.port gateway.metricsPort ];
in
{
  options.services.trtllm = {
    package = mkOption {
      type = types.package;
      default = packages.trtllm-nix;
      defaultText = lib.literalExpression "trtllm-nix.packages.\${pkgs.stdenv.hostPlatform.system}.trtllm-nix";
      description = "trtllm-nix (the launcher and the proxy), from this flake's nixpkgs.";
    };
    runtime = mkOption {
      type = types.package;
      default = packages.tritonserver-trtllm;
      defaultText = lib.literalExpression "trtllm-nix.packages.\${pkgs.stdenv.hostPlatform.system}.tritonserver-trtllm";
      description = "The runtime image root (catalog.json's pinned NVIDIA image), entered with bubblewrap.";
    };
    pytorchRuntime = mkOption {
      type = types.package;
      default = packages.tensorrt-llm-release;
      defaultText = lib.literalExpression "trtllm-nix.packages.\${pkgs.stdenv.hostPlatform.system}.tensorrt-llm-release";
      description = "The PyTorch lane's runtime (catalog.json pytorch_runtime: NVIDIA's tensorrt-llm/release image).";
    };
    bubblewrap = mkOption {
      type = types.package;
      default = pkgs.bubblewrap;
      defaultText = lib.literalExpression "pkgs.bubblewrap";
      description = "bubblewrap, on the units' PATH to enter the runtime.";
    };
    instances = mkOption {
      type = types.attrsOf (types.submodule instanceOptions);
      default = { };
      description = "Model servers, each its own TP world: Triton (kind triton) or trtllm-serve --grpc (kind pytorch).";
    };
    proxy = {
      enable = mkEnableOption "the OpenAI-compatible proxy";
      host = mkOption { type = types.str; default = "127.0.0.1"; description = "Listen address."; };
      port = mkOption { type = types.port; default = catalog.ports.proxy; description = "Listen port."; };
      upstream = mkOption { type = types.str; description = "Name of the services.trtllm.instances entry."; };
      tokenizer = mkOption {
        type = types.nullOr types.path;
        default = null;
        description = ''
          Tokenizer folder; null: the served engine's own copy (the upstream instance's repository's engine). The
          proxy always reads the limits (max_model_len, prompt and answer bounds) from that repository.
        '';
      };
      modelName = mkOption { type = types.str; default = "qwen3"; description = "Model id at /v1/models."; };
      apiKeyFile = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "File with the API key clients must send; passed through LoadCredential, never the store.";
      };
      settings = mkOption {
        type = types.attrsOf types.str;
        default = { };
        example = { MAX_IN_FLIGHT = "64"; DEFAULT_CHAT_TEMPLATE_KWARGS = ''{"enable_thinking": false}''; };
        description = "TRTLLM_NIX_PROXY_* settings (see trtllm-nix proxy --help).";
      };
      responsesStore = mkOption {
        type = types.nullOr (types.strMatching "postgres(ql)?://.+");
        default = null;
        example = "postgresql://trtllm@db.internal:5432/trtllm";
        description = ''
          PostgreSQL URL (no password in it: it would be in the store) for the Responses API's stored responses,
          shared by the proxies of several hosts behind services.trtllm.gateway; null: SQLite in the unit's state
          directory, for this host only.
        '';
      };
      responsesStorePassFile = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "A .pgpass file with the database password (PGPASSFILE), passed through LoadCredential.";
      };
      extraArgs = mkOption { type = types.listOf types.str; default = [ ]; description = "Extra proxy args."; };
      openFirewall = mkOption { type = types.bool; default = false; description = "Open the proxy port."; };
    };
    gateway = {
      enable = mkEnableOption "SMG, the gateway in front of several proxies (on this host or others; docs/gateway.md)";
      package = mkOption {
        type = types.package;
        default = packages.smg;
        defaultText = lib.literalExpression "trtllm-nix.packages.\${pkgs.stdenv.hostPlatform.system}.smg";
        description = "SMG, from its release wheel (nix/smg.nix).";
      };
      host = mkOption { type = types.str; default = "127.0.0.1"; description = "Listen address."; };
      port = mkOption { type = types.port; default = 30000; description = "Listen port (SMG's default)."; };
      workers = mkOption {
        type = types.listOf types.str;
        example = [ "http://10.0.0.11:9000" "http://10.0.0.12:9000" ];
        description = ''
          URLs of the trtllm-nix proxies it routes to (services.trtllm.proxy on each host, listening where the
          gateway reaches it, with the same API key and the same --responses-store).
        '';
      };
      policy = mkOption {
        type = types.enum policies;
        default = "cache_aware";
        description = "SMG's routing policy; cache_aware keeps a prompt family on one proxy (prefix cache reuse).";
      };
      apiKeyFile = mkOption {
        type = types.str;
        description = ''
          File with the API key: clients must send it, and SMG forwards it to the proxies, which check it too (set
          the same file as each proxy's apiKeyFile). Required: without a key SMG's worker admin route is open.
          Passed through LoadCredential, never the store.
        '';
      };
      metricsHost = mkOption { type = types.str; default = "127.0.0.1"; description = "Prometheus listen address."; };
      metricsPort = mkOption { type = types.port; default = 29000; description = "Prometheus port (smg_*)."; };
      healthCheckEndpoint = mkOption {
        type = types.str;
        default = "/health/ready";
        description = "Worker health check: the proxy's readiness (503 while none of its Tritons is ready).";
      };
      extraArgs = mkOption {
        type = types.listOf types.str;
        default = [ ];
        example = [ "--health-check-interval-secs" "10" "--retry-max-retries" "3" ];
        description = "Extra `smg launch` arguments.";
      };
      openFirewall = mkOption { type = types.bool; default = false; description = "Open the gateway port."; };
      openMetricsFirewall = mkOption { type = types.bool; default = false; description = "Open the metrics port."; };
    };
  };

  config = mkIf (cfg.instances != { } || proxy.enable || gateway.enable) {
    assertions = [
      {
        assertion = lib.length ports == lib.length (lib.unique ports);
        message = "services.trtllm: every instance, the proxy and the gateway need their own ports (got ${toString ports})";
      }
      {
        assertion = !proxy.enable || upstream != null;
        message = "services.trtllm.proxy.upstream must name one of services.trtllm.instances";
      }
      {
        assertion = !gateway.enable || gateway.workers != [ ];
        message = "services.trtllm.gateway.workers must list at least one proxy URL";
      }
      {
        assertion = !gateway.enable || lib.all (url: builtins.match "https?://.+" url != null) gateway.workers;
        message = "services.trtllm.gateway.workers are URLs (http://HOST:PORT), got ${toString gateway.workers}";
      }
      {
        assertion = !gateway.enable || !proxy.enable || proxy.apiKeyFile != null;
        message = "services.trtllm.proxy.apiKeyFile must be set behind the gateway: SMG forwards its key to the proxies";
      }
    ] ++ lib.mapAttrsToList (name: inst: {
      assertion = if inst.kind == "pytorch" then inst.checkpoint != null else inst.repository != null;
      message = "services.trtllm.instances.${name} (kind ${inst.kind}) needs "
        + (if inst.kind == "pytorch" then "checkpoint (the checkpoint folder trtllm-serve loads)"
           else "repository (lib.mkModelRepo)");
    }) cfg.instances ++ lib.mapAttrsToList (name: inst: {
      assertion = inst.kind != "pytorch" || builtins.elem inst.worldSize [ 1 2 4 8 ];
      message = "services.trtllm.instances.${name}: trtllm-serve runs TP 1, 2, 4 or 8 on one host, not ${toString inst.worldSize}";
    }) cfg.instances ++ lib.mapAttrsToList (name: inst: {
      assertion = lib.length inst.gpus == inst.worldSize;
      message = "services.trtllm.instances.${name}.gpus lists ${toString (lib.length inst.gpus)} GPU(s) "
        + "but the engine's world size (TP x PP) is ${toString inst.worldSize}";
    }) cfg.instances;

    systemd.services = lib.mapAttrs' (name: inst: lib.nameValuePair (unit name) (instanceService name inst))
      cfg.instances // lib.optionalAttrs proxy.enable { trtllm-proxy = proxyService; }
      // lib.optionalAttrs gateway.enable { trtllm-gateway = gatewayService; };

    networking.firewall.allowedTCPPorts =
      lib.concatLists (lib.mapAttrsToList (_: i: lib.optionals i.openFirewall
        (if i.kind == "pytorch" then [ i.grpcPort ] else [ i.httpPort i.grpcPort ])) cfg.instances)
      ++ lib.optional (proxy.enable && proxy.openFirewall) proxy.port
      ++ lib.optional (gateway.enable && gateway.openFirewall) gateway.port
      ++ lib.optional (gateway.enable && gateway.openMetricsFirewall) gateway.metricsPort;
  };
}
