# SMG (Shepherd Model Gateway), the gateway in front of several trtllm-nix hosts (docs/gateway.md; the module's
# services.trtllm.gateway), from its release wheels on PyPI: nixpkgs has no SMG. Why the wheel and not Cargo: the
# wheel is the artifact SMG's project releases and tests (maturin, manylinux, abi3); it is one native library
# (smg_rs.abi3.so, which needs only glibc and libgcc_s: autoPatchelfHook) and a small Python launcher. From source
# it is a Rust workspace of several hundred crates plus protobuf code generation, whose vendored Cargo.lock would
# have to be hashed and kept in step with each release, for the same binary. Only the x86_64 and aarch64 Linux
# wheels (glibc) are pinned; another system is an evaluation error naming the ones there are.
{ lib, stdenv, fetchurl, autoPatchelfHook, python3Packages }:
let
  version = "1.13.0";
  base = "https://files.pythonhosted.org/packages";
  wheels = {
    x86_64-linux = {
      url = "${base}/bb/8d/2fa4a2179654246ba5280f4da0c31a87378cb8bbb1b986724c7abe57ee93/smg-${version}-cp38-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl";
      hash = "sha256-z66BcdrGinS0giJjsYZPp5lSmS7kcqJbpyZszSADmbQ=";
    };
    aarch64-linux = {
      url = "${base}/26/12/a5c257fae40846b090fa183f1ad76799c6ebdef473b0d65ceb58be65af90/smg-${version}-cp38-abi3-manylinux_2_28_aarch64.whl";
      hash = "sha256-UnYyhWA1Tcom6p9FRpTD1WmU+1pBwyPI7fl1CBgdLX4=";
    };
  };
  system = stdenv.hostPlatform.system;
  wheel = wheels.${system} or (throw
    "smg ${version}: no release wheel for ${system}; there are wheels for ${lib.concatStringsSep ", " (builtins.attrNames wheels)}");
in
python3Packages.buildPythonApplication {
  pname = "smg";
  inherit version;
  format = "wheel";
  src = fetchurl wheel;
  nativeBuildInputs = [ autoPatchelfHook ];
  buildInputs = [ stdenv.cc.cc.lib ]; # libgcc_s.so.1
  # the wheel's Requires-Dist (protobuf comes with grpcio-health-checking)
  dependencies = with python3Packages; [ setproctitle grpcio grpcio-health-checking pyyaml ];
  # `smg-keyfile FILE launch ARGS...`: smg with `--api-key` read from FILE (a systemd credential), so the key is
  # neither in the store nor in the process's command line (/proc/PID/cmdline is readable by every local user).
  # Wrapped like `smg` by wrapPythonPrograms.
  postInstall = ''
    cat > $out/bin/smg-keyfile <<'PY'
    #!/usr/bin/env python3
    import sys

    if len(sys.argv) < 3:
        sys.exit("usage: smg-keyfile KEY_FILE launch ARGS...")
    key_file = sys.argv.pop(1)
    with open(key_file, encoding="utf-8") as file:
        key = file.read().strip()
    if not key:
        sys.exit(f"smg-keyfile: {key_file} is empty")
    sys.argv[0] = "smg"
    sys.argv += ["--api-key", key]
    from smg.cli import main

    sys.exit(main())
    PY
    chmod +x $out/bin/smg-keyfile
  '';
  pythonImportsCheck = [ "smg.smg_rs" ];
  meta = {
    description = "Shepherd Model Gateway: routing, retries and health checks in front of OpenAI-compatible workers";
    homepage = "https://github.com/smg-project/smg";
    license = lib.licenses.asl20;
    sourceProvenance = [ lib.sourceTypes.binaryNativeCode ];
    mainProgram = "smg";
    platforms = builtins.attrNames wheels;
  };
}
