"""How fast the collection is for a learner and for CI (issue 3). Prints figures; asserts nothing.

    .venv/bin/python benchmarks/notebooks.py                # all three measurements (about 2 minutes)
    .venv/bin/python benchmarks/notebooks.py --skip-clone   # without the fresh clone (no package index)
    .venv/bin/python benchmarks/notebooks.py --write-answer # regenerate benchmarks/answers.toml

1. The notebook test run (`pytest notebooks` under strict nbval) against its floor: as many
   trivial notebooks (one `print` cell each) under the same pytest, plugins and settings.
2. A fresh clone to the first answer: `git clone`, the install steps of the README's first command
   (each step timed, as the README writes it: a new venv, uv into it, requirements.txt with uv), then
   lesson 01 executed headless with no configuration, as a new user would (in place of the
   command's last step, which opens JupyterLab). `--with-pip` also times pip on requirements.txt.
3. A 2,000-token streamed answer shown live by `chat_helpers.stream_answer` in a real kernel,
   against printing the same stream raw. The offline endpoint streams with no pacing, so the
   figures are the cost of showing the answer, not of waiting for it.

Everything runs on this machine (the clone installs from the package index as configured for pip),
in temporary folders that are removed, with a time limit on every step.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook, new_output

from collection_tools import apply_reference_environment
from offline_endpoint.answers import split_tokens

ROOT = Path(__file__).resolve().parent.parent

VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
ANSWERS_FILE = ROOT / "benchmarks" / "answers.toml"  # not the product's: loaded only where a benchmark asks
BENCHMARK_PROMPT = "Benchmark: write a long answer of 2,000 tokens."
ANSWER_TOKENS = 2000
FIRST_LESSON = "01_basic_chat.ipynb"
README = ROOT / "README.md"
# The variables a new user has not set: the benchmark's fresh clone runs without them.
PROJECT_VARIABLES = re.compile(r"^(CHAT_|OFFLINE_|FOUNDRY_|LOCAL_|GITHUB_MODELS_)")


# --- the scripted 2,000-token answer -------------------------------------------------------------

_TOPICS = ("why answers stream", "time to first token", "tokens per second", "redrawing an output",
           "what a notebook stores", "what the tests compare", "long answers", "reading as it arrives")


def long_answer() -> str:
    """A Markdown answer of exactly ANSWER_TOKENS tokens (as the offline endpoint counts them), always the same."""
    parts = []
    for number in range(1, 100):
        topic = _TOPICS[(number - 1) % len(_TOPICS)]
        parts.append(
            f"### {number}. {topic.capitalize()}\n\n"
            f"This is part {number} of a long scripted answer, streamed token by token to measure what it "
            f"costs to show an answer live while it arrives. Part {number} is about {topic}: a reader "
            f"sees the text grow, and the notebook keeps the whole answer once it has ended.\n\n"
            f"- The answer so far is redrawn in one output, not printed again and again.\n"
            f"- Each piece is one token, so this part adds about a hundred of them.\n\n")
    tokens = split_tokens("".join(parts))
    return "".join(tokens[:ANSWER_TOKENS - 1]).rstrip() + "."


def answers_toml() -> str:
    reply = long_answer()
    assert "'''" not in reply and len(split_tokens(reply)) == ANSWER_TOKENS
    return ("# The benchmark's prompts (benchmarks/notebooks.py). Generated: do not edit; run\n"
            "#     .venv/bin/python benchmarks/notebooks.py --write-answer\n"
            "# Not among the endpoint's own answers: load it with `--answers benchmarks/answers.toml` or\n"
            "# `offline_endpoint.answers.add_answer_file(...)`.\n"
            f"# The reply is exactly {ANSWER_TOKENS} tokens long, so it streams in {ANSWER_TOKENS} pieces.\n\n"
            f"[[answer]]\nprompt = {BENCHMARK_PROMPT!r}\nreply = '''\n{reply}'''\n")


def check_answers_file() -> None:
    """Stop with a clear message if the scripted answer is missing or not the generated one."""
    entries = tomllib.loads(ANSWERS_FILE.read_text(encoding="utf-8"))["answer"]
    replies = [entry["reply"] for entry in entries if entry["prompt"] == BENCHMARK_PROMPT]
    if replies != [long_answer()]:
        raise SystemExit(f"{ANSWERS_FILE.relative_to(ROOT)} is out of date: run with --write-answer")


# --- helpers ---------------------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    output: str
    returncode: int


def timed(command: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None) -> Run:
    """Run ``command`` to its end (or its time limit) and time it."""
    started = time.perf_counter()
    # A session of its own, so a timeout ends the kernels pytest started too, not only pytest.
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
        returncode = process.returncode
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        output, returncode = f"timed out after {timeout:.0f} s: {command}", -1
    return Run(time.perf_counter() - started, output, returncode)


def last_line(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return lines[-1].strip("= ") if lines else "(no output)"


def lesson_notebooks(folder: Path) -> list[Path]:
    return sorted(folder.glob("[0-9][0-9]*_*.ipynb"))


# --- 1. the notebook test run against its floor ------------------------------------------------------

PYTEST_NOTEBOOKS = ["-m", "pytest", "notebooks", "-q", "-p", "no:cacheprovider"]


def trivial_notebook() -> nbformat.NotebookNode:
    output = new_output("stream", name="stdout", text="hello\n")
    notebook = new_notebook(cells=[new_code_cell('print("hello")', execution_count=1, outputs=[output])])
    notebook.metadata.kernelspec = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return notebook


def measure_notebook_tests() -> tuple[int, Run, Run]:
    """(number of notebooks, the real run, the floor run)."""
    count = len(lesson_notebooks(ROOT / "notebooks"))
    real = timed([str(VENV_PYTHON), *PYTEST_NOTEBOOKS], ROOT, timeout=1200)
    with tempfile.TemporaryDirectory(prefix="nbval-floor-") as folder:
        floor_root = Path(folder)
        # The same configuration, conftest and sanitize file: only the notebooks differ.
        for name in ("pyproject.toml", "conftest.py", "nbval_sanitize.cfg"):
            shutil.copy(ROOT / name, floor_root / name)
        (floor_root / "notebooks").mkdir()
        for number in range(count):
            nbformat.write(trivial_notebook(), floor_root / "notebooks" / f"{number:02d}_trivial.ipynb")
        floor = timed([str(VENV_PYTHON), *PYTEST_NOTEBOOKS], floor_root, timeout=600)
    return count, real, floor


# --- 2. a fresh clone to the first answer ------------------------------------------------------------


def new_user_environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items()
            if not PROJECT_VARIABLES.match(name) and name != "VIRTUAL_ENV"}


def readme_install_steps() -> list[str]:
    """The README's first command, cut at its '&&'s, without its last step (which opens JupyterLab)."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Two commands"):]
    command = re.search(r"```bash\n(.+?)\n```", section, re.S).group(1).strip()  # type: ignore[union-attr]
    steps = command.split(" && ")
    if not steps[-1].startswith(".venv/bin/jupyter lab"):
        raise SystemExit(f"README.md's first command no longer ends by opening JupyterLab: {command}")
    return steps[:-1]


def measure_fresh_clone(with_pip: bool = False) -> tuple[dict[str, Run], str]:
    """The time of each step from `git clone` to an executed first lesson, and the lesson used."""
    env = new_user_environment()
    steps: dict[str, Run] = {}
    with tempfile.TemporaryDirectory(prefix="fresh-clone-") as folder:
        clone = Path(folder) / "clone"
        # uv's own cache, empty: what a machine that never ran uv has (pip here keeps no cache).
        env["UV_CACHE_DIR"] = str(Path(folder) / "uv-cache")
        steps["git clone"] = timed(["git", "clone", "--quiet", ROOT.as_uri(), str(clone)], Path(folder), 120, env)
        lessons = lesson_notebooks(clone / "notebooks") if steps["git clone"].returncode == 0 else []
        if not lessons:
            return steps, "(no notebook in the committed tree)"
        lesson = next((path for path in lessons if path.name == FIRST_LESSON), lessons[0])
        for step in readme_install_steps():
            steps[step] = timed(shlex.split(step), clone, 900, env)
        steps[f"nbconvert --execute {lesson.name}"] = timed(
            [".venv/bin/jupyter", "nbconvert", "--to", "notebook", "--execute", "--output-dir", folder,
             str(lesson.relative_to(clone))], clone, 300, env)
        if with_pip:  # for comparison: the same requirements with pip, into a venv of their own
            timed(["python3", "-m", "venv", ".venv-pip"], clone, 120, env)
            steps["(for comparison, not counted) .venv-pip/bin/pip install -r requirements.txt"] = timed(
                [".venv-pip/bin/pip", "install", "--quiet", "-r", "requirements.txt"], clone, 900, env)
    return steps, lesson.name


# --- 3. a 2,000-token answer streamed live against printed raw ---------------------------------------

SETUP = f"""\
from azure.ai.inference.models import UserMessage
import chat_helpers.display
from chat_helpers import connect, stream_answer
from offline_endpoint.answers import add_answer_file

add_answer_file({str(ANSWERS_FILE)!r})
connection = connect(quiet=True)

def stream():
    return connection.client.complete(messages=[UserMessage({BENCHMARK_PROMPT!r})], model=connection.model,
                                      stream=True)
"""
LIVE = "answer = stream_answer(stream())\nassert answer.pieces == {tokens}, answer.pieces"
RAW = """\
pieces = 0
for update in stream():
    if update.choices and update.choices[0].delta.content:
        print(update.choices[0].delta.content, end="")
        pieces += 1
assert pieces == {tokens}, pieces
"""
EVERY_TOKEN = "chat_helpers.display.UPDATE_INTERVAL_SECONDS = 0\n" + LIVE + \
    "\nchat_helpers.display.UPDATE_INTERVAL_SECONDS = {interval}"


def measure_streaming(repeats: int) -> dict[str, list[float]]:
    """Seconds per run of each way of showing the answer, measured by the notebook client."""
    apply_reference_environment()  # the kernel inherits this environment: offline, no pacing
    from chat_helpers.display import UPDATE_INTERVAL_SECONDS

    cells = {
        "live (stream_answer)": new_code_cell(LIVE.format(tokens=ANSWER_TOKENS)),
        "raw (print each piece)": new_code_cell(RAW.format(tokens=ANSWER_TOKENS)),
        "live, redrawn on every token": new_code_cell(
            EVERY_TOKEN.format(tokens=ANSWER_TOKENS, interval=UPDATE_INTERVAL_SECONDS)),
    }
    notebook = new_notebook(cells=[new_code_cell(SETUP), *cells.values()])
    client = NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "notebooks")}})
    seconds: dict[str, list[float]] = {name: [] for name in cells}
    with client.setup_kernel():
        client.execute_cell(notebook.cells[0], 0)
        for round_number in range(repeats + 1):  # round 0 warms the kernel and the endpoint up
            for index, (name, cell) in enumerate(cells.items(), start=1):
                started = time.perf_counter()
                client.execute_cell(cell, index)
                if round_number:
                    seconds[name].append(time.perf_counter() - started)
    for name, cell in cells.items():
        errors = [output for output in cell.outputs if output.output_type == "error"]
        if errors:
            raise SystemExit(f"{name}: {errors[0].ename}: {errors[0].evalue}")
    return seconds


# --- the report ----------------------------------------------------------------------------------------


def row(what: str, figure: str, target: str = "", verdict: str = "") -> str:
    return f"| {what} | {figure} | {target} | {verdict} |"


def verdict(value: float, limit: float) -> str:
    return "met" if value <= limit else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-clone", action="store_true", help="leave out the fresh clone and install")
    parser.add_argument("--with-pip", action="store_true", help="also time pip on requirements.txt, for comparison")
    parser.add_argument("--repeats", type=int, default=5, help="streaming runs of each kind (median shown)")
    parser.add_argument("--write-answer", action="store_true", help="regenerate the scripted 2,000-token answer")
    arguments = parser.parse_args()
    if arguments.write_answer:
        ANSWERS_FILE.write_text(answers_toml(), encoding="utf-8")
        print(f"wrote {ANSWERS_FILE.relative_to(ROOT)}")
        return
    check_answers_file()
    print(f"{os.cpu_count()} CPU cores; Python {sys.version.split()[0]}\n")
    table = ["| measurement | figure | target | |", "|---|---|---|---|"]
    notes = []

    count, real, floor = measure_notebook_tests()
    ratio = real.seconds / floor.seconds
    table += [row(f"`pytest notebooks` ({count} notebooks)", f"{real.seconds:.1f} s"),
              row(f"the floor: {count} one-cell notebooks, same pytest", f"{floor.seconds:.1f} s"),
              row("ratio", f"{ratio:.2f}", "<= 1.3", verdict(ratio, 1.3))]
    notes.append(f"notebook run: {last_line(real.output)}; floor run: {last_line(floor.output)}")

    if not arguments.skip_clone:
        steps, lesson = measure_fresh_clone(arguments.with_pip)
        for step, run in steps.items():
            table.append(row(f"fresh clone: `{step}`", f"{run.seconds:.1f} s"))
            if run.returncode != 0:
                notes.append(f"{step} FAILED: {last_line(run.output)}")
        counted = {step: run for step, run in steps.items() if not step.startswith("(")}
        total = sum(run.seconds for run in counted.values())
        failed = any(run.returncode != 0 for run in steps.values()) or lesson.startswith("(")
        table.append(row(f"fresh clone to the first answer ({lesson})", f"{total:.1f} s", "<= 30 s",
                         "failed" if failed else verdict(total, 30)))
        if lesson != FIRST_LESSON:
            notes.append(f"{FIRST_LESSON} is not committed yet: the clone executed {lesson} instead")

    seconds = measure_streaming(arguments.repeats)
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    raw = medians["raw (print each piece)"]
    for name, median in medians.items():
        table.append(row(f"{ANSWER_TOKENS}-token stream, {name}", f"{median * 1000:.0f} ms"))
    live_ratio = medians["live (stream_answer)"] / raw
    table.append(row("live / raw", f"{live_ratio:.2f}", "<= 1.1", verdict(live_ratio, 1.1)))
    table.append(row("redrawn on every token / raw", f"{medians['live, redrawn on every token'] / raw:.2f}"))
    notes.append(f"streaming: median of {arguments.repeats} runs each, timed around the cell by the notebook client")

    print("\n".join(table))
    print()
    print("\n".join(f"- {note}" for note in notes))


if __name__ == "__main__":
    main()
