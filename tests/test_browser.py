"""The playground in a real browser: JupyterLab, headless Chromium, the notebook run as a learner runs it.

ipywidgets fails in the browser ("Error displaying widget") when the front end and the kernel
disagree, which no kernel-side test can see. This test starts JupyterLab on a copy of the
notebooks, opens 04_playground in Debian's Chromium driven by Playwright, runs all cells and
chats. A screenshot is saved in test-artifacts/ (ignored by git).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
NOTEBOOK = "04_playground.ipynb"
SERVER_START_SECONDS = 180  # JupyterLab on a busy 2-core machine
KERNEL_SECONDS = 180
ANSWER_SECONDS = 60

# JupyterLab settings for a quiet, predictable page: no news or update toasts, and every cell
# kept in the page (by default a notebook only renders the cells near the viewport).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}

HAIKU_PROMPT = "Write a haiku about a playground."
HAIKU_LINE = "a slide of tokens streaming;"
PROMPT_FROM_NOTEBOOK_ANSWER = "Both control how the next token is chosen"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/status", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer within {SERVER_START_SECONDS} s:\n{log.read_text()[-3000:]}")


def stop(server: subprocess.Popen) -> None:
    """Stop JupyterLab (it shuts its kernels down), or kill its process group if it hangs."""
    if server.poll() is None:
        server.send_signal(signal.SIGINT)  # twice within 5 s: JupyterLab stops without asking
        time.sleep(0.5)
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a JupyterLab serving a copy of notebooks/, with its own settings; no token."""
    home = tmp_path_factory.mktemp("jupyterlab")
    notebooks = home / "notebooks"
    shutil.copytree(ROOT / "notebooks", notebooks,
                    ignore=shutil.ignore_patterns("node_modules", "__pycache__", ".ipynb_checkpoints"))
    settings = home / "settings"
    for name, values in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    environment = {**os.environ,  # pytest's: offline endpoint, no pacing (the kernel inherits it)
                   "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_DATA_DIR": str(home / "data"),
                   "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "IPYTHONDIR": str(home / "ipython")}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = home / "jupyterlab.log"
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
               "--IdentityProvider.token=", "--PasswordIdentityProvider.hashed_password=",
               f"--ServerApp.root_dir={notebooks}", f"--LabApp.user_settings_dir={settings}",
               f"--LabApp.workspaces_dir={home / 'workspaces'}", "--LabApp.expose_app_in_browser=True"]
    with log.open("w") as output:
        server = subprocess.Popen(command, cwd=home, env=environment, stdout=output, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        wait_until_serving(url, server, log)
        yield url
    finally:
        stop(server)


def kernel_is_idle(page: Page) -> None:
    page.wait_for_function(
        """() => {
            const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
            const kernel = panel && panel.sessionContext && panel.sessionContext.session
                && panel.sessionContext.session.kernel;
            return kernel && kernel.status === "idle";
        }""", timeout=KERNEL_SECONDS * 1000)


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Debian's Chromium; its absence fails the test (it is a requirement, not an option)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's Chromium (apt-get install chromium); "
                    ".ci/run does this. The browser test needs it and downloads no browser.")
    return CHROMIUM


def test_the_playground_chats_in_jupyterlab(chromium: Path, jupyterlab: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    started = time.perf_counter()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1800})
            page.set_default_timeout(ANSWER_SECONDS * 1000)
            page.goto(f"{jupyterlab}/lab/tree/{NOTEBOOK}", timeout=SERVER_START_SECONDS * 1000)
            kernel_is_idle(page)
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")

            panel = page.locator(".chat-playground")
            message_box = panel.get_by_placeholder("Type a message and press Enter")
            # The notebook's own send() has answered, so all cells have run and the kernel listens.
            expect(panel.locator(".chat-playground-assistant")).to_contain_text(
                PROMPT_FROM_NOTEBOOK_ANSWER, timeout=KERNEL_SECONDS * 1000)
            kernel_is_idle(page)
            for slider in ("temperature", "top_p", "max_tokens"):  # the meaning shows on hover
                expect(panel.locator(f'[title^="{slider}: "]')).to_have_count(1)

            message_box.fill(HAIKU_PROMPT)
            message_box.press("Enter")
            haiku = panel.locator(".chat-playground-assistant", has_text=HAIKU_LINE)
            expect(haiku).to_be_visible()
            expect(haiku.locator(".chat-playground-note")).to_contain_text("Tokens:")
            expect(haiku.locator(".chat-playground-note")).to_contain_text("completion")
            expect(panel.locator(".chat-playground-user", has_text=HAIKU_PROMPT)).to_be_visible()
            expect(message_box).to_have_value("")

            message_box.fill("What is the capital of France?")
            panel.get_by_role("button", name="Send").click()
            expect(panel.locator(".chat-playground-assistant", has_text="The capital of France is Paris.")
                   ).to_be_visible()
            expect(panel.locator(".chat-playground-note")).to_have_count(3)

            page.wait_for_timeout(500)  # let the last redraw settle before the picture
            panel.screenshot(path=str(ARTIFACTS / "playground.png"))
            page.screenshot(path=str(ARTIFACTS / "playground-page.png"))
            assert "Error displaying widget" not in page.inner_text("body")
        finally:
            browser.close()
    print(f"browser part took {time.perf_counter() - started:.1f} s")
