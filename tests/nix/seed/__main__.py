"""``make nix-seed``: the seed's commands, verbatim and in order, through real Nix (Debian's 2.8, a nix-daemon, a
trusted and an untrusted user) and the executing stand-in nixpkgs (tests/nix/standin-nixpkgs), printing the
transcript. The flake is a copy of this checkout whose lock points nixpkgs at the stand-in and whose runtime pin
is the stand-in image's hash; the commands themselves are the seed's. Needs root (users, the daemon).

    python -m tests.nix.seed [--work DIR] [--transcript FILE]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from trtllm_nix_testkit.assets.build import ensure_assets

from tests.nix.seed.daemon import TRUSTED, UNTRUSTED, Daemon, running_daemon
from tests.nix.seed.host import PIN, REPO, Host, forget, prefetch_weights, prefetch_wheel, prepare
from tests.nix.seed.transcript import SeedFailed, Transcript

CHAT = """curl -s localhost:9000/v1/chat/completions -H 'Content-Type: application/json' \\
  -d '{"model": "qwen3", "messages": [{"role": "user", "content": "#reply: Hello 世界 🎉"}]}'"""
STREAM = """curl -sN localhost:9000/v1/chat/completions -H 'Content-Type: application/json' \\
  -d '{"model": "qwen3", "stream": true, "messages": [{"role": "user", "content": "#reply: <think>Ok.</think>Hi"}]}'"""


def copy_flake(dest: Path, host: Host, weights_hash: str | None = None) -> Path:
    """This checkout's files (tracked and untracked, not ignored), the runtime pinned to the stand-in image, and
    (``weights_hash``) the model pinned to the stand-in Hub's weights."""
    shutil.rmtree(dest, ignore_errors=True)
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    catalog_file = dest / "python" / "trtllm_nix" / "catalog.json"
    catalog = json.loads(catalog_file.read_text())
    catalog["runtime"]["systems"]["x86_64-linux"].update(output_hash=host.image_hash, config_hash=host.config_hash)
    # one stand-in image stands for both NVIDIA images (it carries tritonserver and trtllm-serve)
    pytorch = catalog["pytorch_runtime"]["systems"]["x86_64-linux"]
    pytorch.update(output_hash=host.image_hash, config_hash=host.config_hash)
    if weights_hash is not None:
        catalog["models"]["qwen3-32b"].update(revision=PIN, weights_hash=weights_hash)
    catalog_file.write_text(json.dumps(catalog, indent=2) + "\n")
    host.write(dest / "tests" / "nix" / "standin-nixpkgs")
    subprocess.run(["chmod", "-R", "a+rX", dest], check=True)
    return dest


def seed(work: Path, out: Transcript, daemon: Daemon, flake: Path) -> None:
    subprocess.run(["chown", "-R", f"{TRUSTED}:", flake], check=True)  # the seed's user's checkout
    out.say("# The flake's nixpkgs is the executing stand-in (the lock is the only file that differs).")
    out.run(f"nix flake lock --override-input nixpkgs path:{flake}/tests/nix/standin-nixpkgs")
    forget(out.run("nix eval --raw .#qwen3-32b-weights.outPath").stdout.strip())
    guest_flake = work / "flake-guest"  # the untrusted user's own checkout of the same flake
    shutil.rmtree(guest_flake, ignore_errors=True)
    shutil.copytree(flake, guest_flake, symlinks=True)
    subprocess.run(["chown", "-R", f"{UNTRUSTED}:", guest_flake], check=True)
    guest = Transcript(out.sinks, guest_flake, daemon.client_env(UNTRUSTED), UNTRUSTED)
    out.say("# An untrusted user: the daemon ignores --option sandbox false, so the download runs sandboxed.")
    denied = guest.run("nix build .#qwen3-32b-engine --option sandbox false", expect=1)
    if "--option sandbox false as a trusted user" not in denied.stderr:
        raise SeedFailed("the untrusted user's failure does not say what to do")
    out.say("# The seed, as a trusted user.")
    out.run("nix build .#qwen3-32b-engine --option sandbox false")
    out.say("# (not a seed command) what the engine build printed: the preflight inside the runtime, the build")
    out.run("nix log .#qwen3-32b-engine")
    out.run("mkdir -p ~/.cache/trtllm-engines")
    out.run(
        "ln -sf $(nix build .#qwen3-32b-engine --print-out-paths --option sandbox false) ~/.cache/trtllm-engines/qwen3"
    )
    out.run("test -f ~/.cache/trtllm-engines/qwen3/config.json && ls ~/.cache/trtllm-engines/qwen3/")
    out.start("nix run .#tritonserver-qwen3", "ready:")
    out.start("nix run .#openai-qwen3", "Uvicorn running")
    check(out.run("curl -s localhost:9000/health"), '"ok"')
    check(out.run("curl -s localhost:9000/v1/models"), '"max_model_len":16384')
    check(out.run(CHAT), '"content":"Hello 世界 🎉"')
    check(out.run(STREAM), "data: [DONE]")
    out.stop_all()
    out.run("nix build .#qwen3-32b-engine-tp2 --option sandbox false")
    out.start("nix run .#tritonserver-qwen3-tp2", "ready:")
    out.start("nix run .#openai-qwen3", "Uvicorn running")
    check(out.run(CHAT), '"content":"Hello 世界 🎉"')
    out.stop_all()
    lane = time.monotonic()
    out.say("# The PyTorch lane: trtllm-serve --grpc from the same weights, no engine; the proxy pointed at it.")
    out.start("nix run .#trtllm-serve-qwen3", "ready:")
    out.start("nix run .#openai-qwen3-pytorch", "Uvicorn running")
    models = out.run("curl -s localhost:9000/v1/models")
    check(models, '"max_model_len":16384')  # GetModelInfo, not a repository
    check(models, '"guided_decoding":true')  # trtllm-serve read serve-pytorch's options file; the proxy knows it
    check(out.run(CHAT), '"content":"Hello 世界 🎉"')
    check(out.run(STREAM), "data: [DONE]")
    out.stop_all()
    out.say("# TP2 under the image's mpirun: trtllm-llmapi-launch on each rank, trtllm-serve on rank 0.")
    served = out.start("nix run .#trtllm-serve-qwen3-tp2 -- --workers mpirun", "ready:")
    out.start("nix run .#openai-qwen3-pytorch", "Uvicorn running")
    check(out.run(CHAT), '"content":"Hello 世界 🎉"')
    log = next(line.rsplit("log in ", 1)[1] for line in served.lines if "log in " in line)
    out.say("# (not a seed command) mpirun's other rank, in the launcher's log")
    check(out.run(f"grep -h 'an MPI worker' {log}"), "rank 1 of 2")
    out.stop_all()
    out.say(f"# (the PyTorch lane's commands, its runtime's extraction included: {time.monotonic() - lane:.0f} s)")


def sandboxed(out: Transcript, flake: Path) -> None:
    """The `.sandboxed` engine, as NixOS with programs.nix-required-mounts builds it: the daemon has the `cuda`
    feature, the weights are pinned (a fixed-output download, here prefetched), and the engine build enters the
    runtime with bubblewrap inside Nix's sandbox, which has no /sys and no network."""
    out.say("# NixOS route: nix-required-mounts gives the daemon the cuda feature; the weights are pinned.")
    out.run(f"nix flake lock --override-input nixpkgs path:{flake}/tests/nix/standin-nixpkgs")
    out.run("nix build .#qwen3-32b-engine.sandboxed")
    out.run("nix log .#qwen3-32b-engine.sandboxed | grep -E '^preflight|Total time'")


def check(result: subprocess.CompletedProcess[str], expected: str) -> None:
    if expected not in result.stdout:
        raise SeedFailed(f"expected {expected!r} in the answer")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.nix.seed", description=__doc__)
    parser.add_argument("--work", type=Path, help="work folder (default: a new one under /tmp)")
    parser.add_argument("--transcript", type=Path, help="also write the transcript here")
    args = parser.parse_args()
    # machine-wide: the store, the seed's users' homes and the seed's ports 8000-8002 and 9000; one run at a time
    lock = Path("/tmp/trtllm-nix-seed.lock").open("w")  # noqa: SIM115 - held until the process ends
    fcntl.flock(lock, fcntl.LOCK_EX)
    started = time.monotonic()
    work = args.work or Path(tempfile.mkdtemp(prefix="trtllm-nix-seed-"))
    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o755)
    standin_root = REPO / ".cache" / "standin-root"
    subprocess.run([REPO / "scripts" / "build-standin-root", standin_root, sys.executable], check=True)
    host = prepare(work / "host", standin_root, ensure_assets(REPO / ".cache" / "trtllm-nix", real_models=False))
    flake = copy_flake(work / "flake", host)
    prefetch_wheel(REPO / ".cache" / "nix-seed", sys.executable)  # kept between runs: one download
    # host tools standing for stdenv's, the bare interpreter, the dependencies' modules and the image (crane's
    # network); not the hub, which stands for the network a sandboxed build lacks
    paths = ["/usr", "/bin", "/lib", "/lib64", "/etc/ssl/certs", str(Path(host.python).parents[1])]
    paths += [host.site, host.image]
    patterns = json.loads((REPO / "python" / "trtllm_nix" / "catalog.json").read_text())["hf_files"]["weights"]
    with (args.transcript or Path("/dev/null")).open("w") as saved:
        try:
            with running_daemon(work, paths) as daemon:
                out = Transcript([sys.stdout, saved], flake, daemon.client_env(TRUSTED), TRUSTED)
                try:
                    seed(work, out, daemon, flake)
                    out.say("# This daemon has no cuda feature: the sandboxed engine is refused; the seed's asks none.")
                    for options in ("", " --option extra-system-features cuda"):  # dropped through a daemon
                        refused = out.run(f"nix build .#qwen3-32b-engine.sandboxed{options}", expect=1)
                        if "{cuda}" not in refused.stderr:
                            raise SeedFailed("the sandboxed engine was not refused for the missing cuda feature")
                finally:
                    out.stop_all()
            name = f"qwen3-32b-weights-{PIN[:12]}"
            pinned = copy_flake(work / "flake-pinned", host, prefetch_weights(work, host, patterns, name))
            subprocess.run(["chown", "-R", f"{TRUSTED}:", pinned], check=True)
            with running_daemon(work, paths, ["cuda"]) as daemon:
                sandboxed(Transcript([sys.stdout, saved], pinned, daemon.client_env(TRUSTED), TRUSTED), pinned)
        except SeedFailed as error:
            print(f"nix-seed: FAILED: {error} (work folder {work})")
            return 1
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    print(f"nix-seed: every seed command passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
