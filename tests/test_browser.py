"""JupyterLab in a real browser (Debian's Chromium, headless, driven by Playwright).

The README's first command: JupyterLab started as the README writes it (only made headless, on a
free port, with a token), in a copy of the repository. It serves the repository's top folder,
hidden files included, runs as root too, asks nothing about Jupyter news, opens every notebook
without marking it modified, saves one unchanged without rewriting it, and opens its terminal in the
top folder, where `cp .env.example .env` works as the lessons write it.

The playground: ipywidgets fails in the browser ("Error displaying widget") when the front end
and the kernel disagree, which no kernel-side test can see. This test starts JupyterLab on a copy of
the notebooks, opens 04_playground, runs all cells and chats. Screenshots are saved in
test-artifacts/ (ignored by git).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from chat_helpers.language import translations
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

# JupyterLab settings for a predictable page: every cell kept in the page (by default a notebook
# only renders the cells near the viewport). No news pop-up comes: the project's own settings
# (jupyter-config/) turn it off, as the README-command test checks.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}

HAIKU_PROMPT = "Write a haiku about a playground."
HAIKU_LINE = "a slide of tokens streaming;"
PROMPT_FROM_NOTEBOOK_ANSWER = "Both control how the next token is chosen"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(url: str, server: subprocess.Popen, log: Path, token: str = "") -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5) as response:
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
            expect(panel.locator(".chat-answer-assistant")).to_contain_text(
                PROMPT_FROM_NOTEBOOK_ANSWER, timeout=KERNEL_SECONDS * 1000)
            kernel_is_idle(page)
            for slider in ("temperature", "top_p", "max_tokens"):  # the meaning shows on hover
                expect(panel.locator(f'[title^="{slider}: "]')).to_have_count(1)

            message_box.fill(HAIKU_PROMPT)
            message_box.press("Enter")
            haiku = panel.locator(".chat-answer-assistant", has_text=HAIKU_LINE)
            expect(haiku).to_be_visible()
            expect(haiku.locator(".chat-answer-note")).to_contain_text("Tokens:")
            expect(haiku.locator(".chat-answer-note")).to_contain_text("completion")
            expect(panel.locator(".chat-answer-user", has_text=HAIKU_PROMPT)).to_be_visible()
            expect(message_box).to_have_value("")

            message_box.fill("What is the capital of France?")
            panel.get_by_role("button", name="Send").click()
            expect(panel.locator(".chat-answer-assistant", has_text="The capital of France is Paris.")
                   ).to_be_visible()
            expect(panel.locator(".chat-answer-note")).to_have_count(3)
            request = panel.locator(".chat-playground-request")  # the exact call Send made, folded
            request.locator("summary").click()
            expect(request).to_contain_text('"content": "What is the capital of France?"')
            expect(request).to_contain_text("max_tokens=1000")

            page.wait_for_timeout(500)  # let the last redraw settle before the picture
            panel.screenshot(path=str(ARTIFACTS / "playground.png"))
            page.screenshot(path=str(ARTIFACTS / "playground-page.png"))
            assert "Error displaying widget" not in page.inner_text("body")
        finally:
            browser.close()
    print(f"browser part took {time.perf_counter() - started:.1f} s")


def test_the_chinese_playground_speaks_chinese(chromium: Path, jupyterlab: str) -> None:
    """The Chinese edition's lesson 04, as a Chinese-speaking learner runs it: the panel's words come
    from the Chinese catalogue, and the seed's question gets its Chinese scripted answer."""
    chinese = translations("zh").gettext
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1800})
            page.set_default_timeout(ANSWER_SECONDS * 1000)
            # A workspace of its own, so that the tab of an earlier test is not restored beside it.
            page.goto(f"{jupyterlab}/lab/workspaces/chinese/tree/zh/{NOTEBOOK}?reset",
                      timeout=SERVER_START_SECONDS * 1000)
            kernel_is_idle(page)
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            panel = page.locator(".chat-playground")
            message_box = panel.get_by_placeholder(chinese("Type a message and press Enter"))
            expect(message_box).to_be_visible(timeout=KERNEL_SECONDS * 1000)
            expect(panel.locator(".chat-answer-assistant")).not_to_have_count(0, timeout=KERNEL_SECONDS * 1000)
            kernel_is_idle(page)
            message_box.fill("法国的首都是哪里？")
            panel.get_by_role("button", name=chinese("Send")).click()
            expect(panel.locator(".chat-answer-assistant", has_text="法国的首都是巴黎。")).to_be_visible()
            expect(panel).to_contain_text(chinese("Chat playground"))
            page.wait_for_timeout(500)
            panel.screenshot(path=str(ARTIFACTS / "playground-zh.png"))
            assert "Error displaying widget" not in page.inner_text("body")
        finally:
            browser.close()


# --- the README's first command -------------------------------------------------------------------

README = ROOT / "README.md"
LESSON_FILE = re.compile(r"^\d\d[a-z]?_[a-z0-9_]+\.ipynb$")
NEWS_QUESTION = "official Jupyter news"


def readme_first_command() -> str:
    """The first ```bash block after the README's '## Two commands' heading."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Two commands"):]
    match = re.search(r"```bash\n(.+?)\n```", section, re.S)
    assert match, "README.md: no bash block under '## Two commands'"
    return match.group(1).strip()


def test_the_readme_command_installs_then_opens_00_setup() -> None:
    steps = readme_first_command().split(" && ")
    assert steps[0] == "python3 -m venv .venv"
    assert any("-r requirements.txt" in step for step in steps[1:-1])
    assert shlex.split(steps[-1]) == [".venv/bin/jupyter", "lab", "notebooks/00_setup.ipynb"]
    install_script = (ROOT / "scripts" / "install.sh").read_text(encoding="utf-8")
    uv_pins = re.findall(r"uv==([\d.]+)", readme_first_command())
    assert uv_pins and f"UV_VERSION={uv_pins[0]}" in install_script, "README and scripts/install.sh pin different uv"


def tracked_files() -> list[str]:
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, check=True)
    return [name for name in listing.stdout.decode().split("\0") if name and (ROOT / name).is_file()]


@dataclass
class Lab:
    url: str
    token: str
    repository: Path
    log: Path

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(f"{self.url}{path}?token={self.token}", timeout=30) as response:
            return json.load(response)


@pytest.fixture(scope="module")
def readme_jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab started by the README's own command, in a copy of the repository that shares .venv."""
    home = tmp_path_factory.mktemp("readme-command")
    repository = home / "repository"
    for name in tracked_files():
        (repository / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, repository / name)
    (repository / ".venv").symlink_to(ROOT / ".venv")
    command = shlex.split(readme_first_command().split(" && ")[-1])
    port, token = free_port(), secrets.token_hex(16)
    headless = ["--no-browser", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={token}"]
    environment = {**os.environ,  # pytest's: offline endpoint, no pacing; no user's own Jupyter settings
                   "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_DATA_DIR": str(home / "data"),
                   "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "IPYTHONDIR": str(home / "ipython")}
    log = home / "jupyterlab.log"
    with log.open("w") as output:
        server = subprocess.Popen([*command, *headless], cwd=repository, env=environment, stdout=output,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://localhost:{port}"
    try:
        wait_until_serving(url, server, log, token)
        yield Lab(url, token, repository, log)
    finally:
        stop(server)


def test_the_readme_command_serves_the_repository_with_its_hidden_files(readme_jupyterlab: Lab) -> None:
    names = {item["name"] for item in readme_jupyterlab.get("/api/contents")["content"]}
    assert {".env.example", "README.md", "notebooks", "jupyter-config"} <= names
    assert not names & {".git", ".venv"}, "the project's settings hide these"
    assert readme_jupyterlab.get("/api/contents/.env.example")["type"] == "file"
    log = readme_jupyterlab.log.read_text()
    assert f"Serving notebooks from local directory: {readme_jupyterlab.repository}" in log
    if os.geteuid() == 0:
        assert "Running as root is not recommended" not in log


def test_the_project_settings_turn_the_news_question_off(readme_jupyterlab: Lab) -> None:
    notification = readme_jupyterlab.get("/lab/api/settings/@jupyterlab/apputils-extension:notification")
    assert notification["schema"]["properties"]["fetchNews"]["default"] == "false"
    assert notification["schema"]["properties"]["checkForUpdates"]["default"] is False
    browser = readme_jupyterlab.get("/lab/api/settings/@jupyterlab/filebrowser-extension:browser")
    assert browser["schema"]["properties"]["showHiddenFiles"]["default"] is True


def stored_python_version(path: Path) -> str | None:
    return json.loads(path.read_text(encoding="utf-8"))["metadata"].get("language_info", {}).get("version")


def dirty_tabs(page: Page) -> list[str]:
    return page.locator(".lm-TabBar-tab.jp-mod-dirty").all_inner_texts()


def test_jupyterlab_opens_every_notebook_unmodified(chromium: Path, readme_jupyterlab: Lab) -> None:
    lab = readme_jupyterlab
    lessons = sorted(path for path in (lab.repository / "notebooks").glob("*.ipynb") if LESSON_FILE.match(path.name))
    kernel_python = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c",
                                    "import platform; print(platform.python_version())"],
                                   capture_output=True, text=True, check=True).stdout.strip()
    ARTIFACTS.mkdir(exist_ok=True)
    checked: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(KERNEL_SECONDS * 1000)
            for path in lessons:
                page.goto(f"{lab.url}/lab/tree/notebooks/{path.name}?reset&token={lab.token}",
                          timeout=SERVER_START_SECONDS * 1000)
                # Once its kernel has started, JupyterLab has written the kernel's metadata into the
                # notebook: the stored metadata is the same, unless this machine's Python version
                # differs from the one that stored the outputs (then only the format is checked, by
                # tests/test_repository_hygiene.py). A notebook is briefly shown modified while it loads.
                page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
                page.wait_for_timeout(500)
                if stored_python_version(path) == kernel_python:
                    assert dirty_tabs(page) == [], f"{path.name} is marked modified once opened"
                    checked.append(path.name)
            assert NEWS_QUESTION not in page.inner_text("body")
            print(f"opened unmodified: {', '.join(checked) or 'none (another Python version stored them)'}")

            # Saved unchanged, the notebook on disk stays byte for byte the same.
            before = (lab.repository / "notebooks" / lessons[0].name).read_bytes()
            page.goto(f"{lab.url}/lab/tree/notebooks/{lessons[0].name}?reset&token={lab.token}")
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
            page.locator(".jp-Notebook").first.click()
            page.keyboard.press("Control+s")
            page.wait_for_timeout(1500)
            assert (lab.repository / "notebooks" / lessons[0].name).read_bytes() == before

            # The top folder is in the file browser, .env.example in it (hidden files are shown).
            page.locator(".jp-BreadCrumbs-home").click()
            expect(page.locator(".jp-DirListing-item", has_text=".env.example")).to_be_visible()

            # File → New → Terminal opens in the repository's top folder: the lessons' command works there.
            page.locator(".lm-MenuBar-itemLabel", has_text="File").click()
            page.locator(".lm-Menu-itemLabel", has_text="New").first.hover()
            page.locator(".lm-Menu-item:visible", has_text="Terminal").last.click()
            page.wait_for_selector(".jp-Terminal")
            page.wait_for_timeout(1500)
            page.keyboard.type("cp .env.example .env && pwd > where.txt\n")
            where = lab.repository / "where.txt"
            deadline = time.monotonic() + 30
            while not (where.exists() and where.read_text().strip()) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert where.read_text().strip() == str(lab.repository)
            assert (lab.repository / ".env").read_bytes() == (lab.repository / ".env.example").read_bytes()
            page.screenshot(path=str(ARTIFACTS / "readme-command-terminal.png"))
        finally:
            browser.close()
