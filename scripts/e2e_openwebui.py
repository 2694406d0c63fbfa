"""End to end with a real OpenWebUI: demo (scripted backend) + OpenWebUI + headless Chromium.

``--real``: the demo serves the real SmolLM2-135M-Instruct instead (reference backend, hf mode), the browser asks
it "What is the capital of France?" and passes when its streamed answer names Paris (openwebui-real-answer.png).

Run with ``make e2e-openwebui`` (it prepares .venv-openwebui and Debian's chromium). Everything binds to
127.0.0.1 on free ports and is stopped at the end. Passes when the streamed answer appears in the chat and the
model's reasoning shows as OpenWebUI's collapsible reasoning block, not as answer text. Saves screenshots.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import ElementClickInterceptedException, StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

REASONING = "Checking the whole stack."
ANSWER = "Hello from trtllm-nix!"
PROMPT = f"#reply: <think>{REASONING}</think>{ANSWER} 🎉"
REAL_QUESTION = "What is the capital of France?"
REAL_ANSWER_WORD = "Paris"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"e2e-openwebui: FAILED: timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.25)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
            return bool(response.status == 200)
    except OSError:
        return False


def start(command: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env, start_new_session=True)


def stop(process: subprocess.Popen[bytes], sig: int) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def browser(profile: Path) -> WebDriver:
    options = Options()
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,800",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.binary_location = "/usr/bin/chromium"
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def send(driver: WebDriver, url: str, prompt: str) -> None:
    driver.get(url)
    wait_for("OpenWebUI's chat input", lambda: bool(driver.find_elements(By.ID, "chat-input")), 60)

    def dismiss_dialogs_and_focus() -> bool:
        try:
            for button in driver.find_elements(By.TAG_NAME, "button"):
                if "Okay, Let" in button.text:  # the "What's New" dialog of a fresh install (it may come late)
                    button.click()
                    break
            driver.find_element(By.ID, "chat-input").click()
        except (StaleElementReferenceException, ElementClickInterceptedException):
            return False  # the page re-rendered, or a dialog still covers the input
        return True

    wait_for("the chat input to take a click", dismiss_dialogs_and_focus, 60)
    box = driver.find_element(By.ID, "chat-input")
    box.send_keys(prompt)
    box.send_keys(Keys.ENTER)


def drive_real_chat(driver: WebDriver, url: str, out: Path) -> None:
    send(driver, url, REAL_QUESTION)

    def reply_text() -> str:
        try:
            text = driver.find_element(By.TAG_NAME, "body").text
        except StaleElementReferenceException:
            return ""
        return text.rsplit(REAL_QUESTION, 1)[-1] if REAL_QUESTION in text else ""

    # Greedy, the bf16 model's whole answer is "The capital of France is Paris." and its end token.
    wait_for("the real model's answer", lambda: f"{REAL_ANSWER_WORD}." in reply_text(), 180)
    driver.save_screenshot(str(out / "openwebui-real-answer.png"))
    answer = next(line for line in reply_text().splitlines() if REAL_ANSWER_WORD in line)
    print(f"e2e-openwebui: the real SmolLM2 answered: {answer.strip()!r}")


def drive_chat(driver: WebDriver, url: str, out: Path) -> None:
    send(driver, url, PROMPT)

    def reply_text() -> str:
        text = driver.find_element(By.TAG_NAME, "body").text
        return text.rsplit(PROMPT, 1)[-1] if PROMPT in text else ""

    wait_for("the streamed answer", lambda: ANSWER in reply_text() and "Thought for" in reply_text(), 90)
    driver.save_screenshot(str(out / "openwebui-chat.png"))
    reply = reply_text()
    if "<think>" in reply or "</think>" in reply or REASONING in reply:
        raise SystemExit(f"e2e-openwebui: FAILED: reasoning leaked into the answer text: {reply!r}")
    header = next(e for e in driver.find_elements(By.XPATH, "//*[contains(text(), 'Thought for')]") if e.is_displayed())
    header.click()
    wait_for("the reasoning block to open", lambda: REASONING in reply_text(), 10)
    driver.save_screenshot(str(out / "openwebui-reasoning-open.png"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trtllm-nix", default=".venv/bin/trtllm-nix")
    parser.add_argument("--open-webui", default=".venv-openwebui/bin/open-webui")
    parser.add_argument("--out", type=Path, default=Path(".cache/trtllm-nix/e2e"))
    parser.add_argument("--real", action="store_true", help="the real SmolLM2 (hf backend) instead of scripted")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="e2e-openwebui-"))
    proxy_port, webui_port = free_port(), free_port()
    backend = "hf" if args.real else "scripted"
    demo = start([args.trtllm_nix, "demo", "--backend", backend, "--port", str(proxy_port)], args.out / "demo.log")
    env = {
        **os.environ,
        "DATA_DIR": str(work / "data"),
        "OPENAI_API_BASE_URL": f"http://127.0.0.1:{proxy_port}/v1",
        "OPENAI_API_KEY": "unused",
        "OFFLINE_MODE": "true",
        "HF_HUB_OFFLINE": "1",
        "WEBUI_AUTH": "False",
        "ENABLE_OLLAMA_API": "false",
        "BYPASS_EMBEDDING_AND_RETRIEVAL": "true",
        "ANONYMIZED_TELEMETRY": "false",
        "DO_NOT_TRACK": "true",
        "SCARF_NO_ANALYTICS": "true",
        "WEBUI_SECRET_KEY": "e2e-only-secret",
    }
    webui = start(
        [args.open_webui, "serve", "--host", "127.0.0.1", "--port", str(webui_port)], args.out / "open-webui.log", env
    )
    driver = None
    try:
        wait_for("the demo proxy", lambda: http_ok(f"http://127.0.0.1:{proxy_port}/health/ready"), 120)
        wait_for("OpenWebUI", lambda: http_ok(f"http://127.0.0.1:{webui_port}/health"), 180)
        driver = browser(work / "chromium")
        (drive_real_chat if args.real else drive_chat)(driver, f"http://127.0.0.1:{webui_port}/", args.out)
    finally:
        if driver is not None:
            driver.quit()
        stop(webui, signal.SIGTERM)
        stop(demo, signal.SIGINT)
    print(f"e2e-openwebui: PASSED (screenshots in {args.out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
