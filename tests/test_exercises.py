"""Every lesson's exercise, done as its text says, with a check of what its text promises.

Each test runs the lesson in a real kernel against the offline endpoint (as far as the exercise
needs), then the exercise's own steps as new cells, and reads their outputs. Exercises that edit
`.env` do it in a copy of the repository, so a developer's own `.env` is never touched; the
kernel then runs without the test environment's overrides of those variables, so `.env` counts.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

import nbformat
import pytest
from chat_helpers import connect
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
EXERCISE_MARKER = "## Exercise"


def notebook_path(prefix: str, folder: Path = NOTEBOOKS) -> Path:
    (path,) = [p for p in folder.glob(f"{prefix}_*.ipynb")]
    return path


def exercise_text(prefix: str) -> str:
    cells = nbformat.read(notebook_path(prefix), as_version=4).cells
    (text,) = [cell.source for cell in cells if cell.cell_type == "markdown" and EXERCISE_MARKER in cell.source]
    return text[text.index(EXERCISE_MARKER):]


def text_of(cell: nbformat.NotebookNode) -> str:
    """Everything a cell showed, as text: streams, results, Markdown displays and error explanations."""
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}")
        else:
            data = output.get("data", {})
            parts.append(data.get("text/markdown") or data.get("text/plain", ""))
    return "".join(part if part.endswith("\n") else part + "\n" for part in parts if part).replace("\r\n", "\n")


def run_lesson(prefix: str, exercise: Iterable[str], *, folder: Path = NOTEBOOKS,
               only: Iterable[str] | None = None, first_cell: bool = True) -> list[str]:
    """Run lesson ``prefix``'s code cells before its exercise (or the first cell and those containing one of
    ``only``), then each source of ``exercise`` as a new cell; return what each exercise cell showed.
    ``first_cell=False`` runs the first cell's import line only (its connect() is the exercise's)."""
    path = notebook_path(prefix, folder)
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code" and cell.source.strip() != "# Your code here"
            and not cell.source.startswith("# Your code here")]
    if only is not None:
        wanted = tuple(only)
        code = [code[0], *[cell for cell in code[1:] if any(part in cell.source for part in wanted)]]
    if not first_cell:
        code[0].source = "\n".join(line for line in code[0].source.splitlines() if "connect()" not in line)
    extra = [new_code_cell(source) for source in exercise]
    notebook.cells = [*code, *extra]
    for cell in code:
        cell.metadata.setdefault("tags", [])
    client = NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    failed = [cell.source for cell in code if any(o.output_type == "error" for o in cell.outputs)
              and "raises-exception" not in cell.metadata.get("tags", [])]
    assert failed == [], f"the lesson's own cells failed before the exercise: {failed}"
    return [text_of(cell) for cell in extra]


@pytest.fixture
def repository_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the notebooks and `.env.example` whose kernels read `.env` there, not the test overrides."""
    copy = tmp_path / "repository"
    shutil.copytree(NOTEBOOKS, copy / "notebooks",
                    ignore=shutil.ignore_patterns("node_modules", "__pycache__", ".ipynb_checkpoints"))
    shutil.copy(ROOT / ".env.example", copy / ".env.example")
    for variable in ("CHAT_MODEL", "OFFLINE_FIRST_TOKEN_SECONDS", "OFFLINE_TOKENS_PER_SECOND"):
        monkeypatch.delenv(variable, raising=False)  # what the exercises set in .env
    return copy


def set_in_env_file(env_file: Path, **values: str) -> None:
    """Edit `.env` as a learner does: change each variable's line in place."""
    text = env_file.read_text(encoding="utf-8")
    for name, value in values.items():
        text, count = re.subn(rf"(?m)^#?\s*{name}=.*$", f"{name}={value}", text)
        assert count == 1, f"{name} is not in .env.example once"
    env_file.write_text(text, encoding="utf-8")


# --- 00 Setup: another model, still offline -----------------------------------------------------------


def test_00_another_model_by_editing_env(repository_copy: Path) -> None:
    assert "`cp .env.example .env`" in exercise_text("00")
    subprocess.run(["cp", ".env.example", ".env"], cwd=repository_copy, check=True)  # step 1, in the top folder
    set_in_env_file(repository_copy / ".env", CHAT_MODEL="Phi-3-medium-4k-instruct")  # step 2
    # Step 3: a new kernel runs the cells above the exercise again; they are re-run here by printing
    # what the first cell and the hello cell print.
    connected, hello = run_lesson("00", ["print(connection.describe())", "print(response.choices[0].message.content)"],
                                  folder=repository_copy / "notebooks", only=["Say hello"])
    assert connected.rstrip().endswith("Model: Phi-3-medium-4k-instruct.")
    stored = [cell for cell in nbformat.read(notebook_path("00"), as_version=4).cells
              if cell.cell_type == "code" and "Say hello" in cell.source]
    assert hello == text_of(stored[0])  # the same scripted hello as with the default model


def test_00_a_misspelt_model_gets_the_closest_name(repository_copy: Path) -> None:
    assert "which the offline endpoint does\nnot know" in exercise_text("00") or \
        "which the offline endpoint does not know" in exercise_text("00").replace("\n", " ")
    shutil.copy(repository_copy / ".env.example", repository_copy / ".env")
    set_in_env_file(repository_copy / ".env", CHAT_MODEL="Phi-3-medium-4k-instuct")
    (shown,) = run_lesson("00", ["connection = connect()"], folder=repository_copy / "notebooks", only=(),
                          first_cell=False)
    assert "which the offline endpoint does not know" in shown.replace("\n", " ")
    assert "Phi-3-medium-4k-instruct" in shown


# --- 01 Basic chat: max_tokens ----------------------------------------------------------------------------

GOLDFISH = """response = connection.client.complete(
    messages=[UserMessage(content="Suggest a name for a pet goldfish.")],
    model=connection.model,
    max_tokens={max_tokens},
)
show_answer(response)
show_usage(response)"""


def test_01_max_tokens_cuts_the_answer() -> None:
    assert "max_tokens=5" in exercise_text("01") and "max_tokens=100" in exercise_text("01")
    five, hundred = run_lesson("01", [GOLDFISH.format(max_tokens=5), GOLDFISH.format(max_tokens=100)])
    assert "finish_reason is 'length'" in five and "+ 5 completion" in five
    assert "finish_reason is 'length'" not in hundred and "Bubbles" in hundred


# --- 02 Multi-turn: the smallest budget that keeps the name -------------------------------------------------

TRIMMING = """def conversation_with(budget):
    short = Conversation(connection, system="You are a helpful assistant.", max_prompt_tokens=budget)
    for question in ["My name is Ada. Please remember it.", "What is the capital of France?", "What about Spain?"]:
        short.ask(question)
    return short

print(conversation_with(130).ask("What is my name?").choices[0].message.content)
keeps_ada = [budget for budget in range(100, 131)
             if "Ada" in str(conversation_with(budget).to_send("What is my name?"))]
smallest = keeps_ada[0]
print("smallest:", smallest)
print("at it:", conversation_with(smallest).ask("What is my name?").choices[0].message.content)
print("below:", conversation_with(smallest - 1).ask("What is my name?").choices[0].message.content)"""


def test_02_the_smallest_budget_that_keeps_the_name() -> None:
    text = exercise_text("02")
    assert "max_prompt_tokens=130" in text and "128" not in text, "the hint must not give the answer away"
    (shown,) = run_lesson("02", [TRIMMING])
    lines = shown.splitlines()
    assert lines[0].startswith("Your name is Ada")
    assert lines[1] == "smallest: 128"
    assert lines[2].startswith("at it: Your name is Ada")
    assert lines[3].startswith("below: I don't know your name")


# --- 03 Streaming: a slow model --------------------------------------------------------------------------------

SLOW_STREAM = """answer = stream_answer(connection.client.complete(
    stream=True, messages=[UserMessage(content="What is the capital of France?")], model=connection.model))
print(answer.first_token_seconds, answer.total_seconds, answer.pieces)
print(answer.timing_line())"""


def test_03_a_slow_model_by_editing_env(repository_copy: Path) -> None:
    text = exercise_text("03").replace("\n", " ")
    assert "OFFLINE_FIRST_TOKEN_SECONDS=2" in text and "OFFLINE_TOKENS_PER_SECOND=5" in text
    shutil.copy(repository_copy / ".env.example", repository_copy / ".env")
    set_in_env_file(repository_copy / ".env", OFFLINE_FIRST_TOKEN_SECONDS="2", OFFLINE_TOKENS_PER_SECOND="5")
    # A short answer instead of the lesson's 137 tokens (27 s at 5 tokens/s): the same pacing, sooner.
    (shown,) = run_lesson("03", ["from azure.ai.inference.models import UserMessage\n" + SLOW_STREAM],
                          folder=repository_copy / "notebooks", only=())
    first, total, pieces = re.search(r"(?m)([\d.]+) ([\d.]+) (\d+)$", shown).groups()
    timing = shown.strip().splitlines()[-1]
    assert 1.9 <= float(first) <= 3.0, "nothing for 2 seconds"
    rate = (int(pieces) - 1) / (float(total) - float(first))
    assert 4 <= rate <= 5.5, f"about 5 tokens/s, not {rate:.1f}"
    shape = r"First token after (1\.9\d|2\.\d\d) s; then \d+ more in [\d.]+ s \([45] tokens/s\)"
    assert re.match(shape, timing), timing


# --- 04 A playground ---------------------------------------------------------------------------------------------

PLAYGROUND_STEPS = [
    # 1. max_tokens 10, then back to 1000
    """playground.max_tokens.value = 10
short = playground.send("Give me 5 good reasons why I should exercise every day.")
print(short.finish_reason, "|", playground.bubbles.children[-1].value.count("cut off at max_tokens"))
playground.max_tokens.value = 1000
whole = playground.send("Give me 5 good reasons why I should exercise every day.")
print(whole.finish_reason)""",
    # 2. France, Spain, Clear, Spain
    """in_context = playground.send("What is the capital of France?") and playground.send("What about Spain?")
playground.clear()
alone = playground.send("What about Spain?")
print(in_context.text)
print(alone.text)""",
    # 3. Export: the roles
    """import json
print([message["role"] for message in json.loads(playground.export_json())])""",
]


def test_04_the_playground_exercise() -> None:
    text = exercise_text("04")
    assert "**max_tokens** to `10`" in text and "**Clear**" in text and "**Export**" in text
    cut, spain, roles = run_lesson("04", PLAYGROUND_STEPS)
    assert cut.splitlines() == ["length | 1", "stop"]
    in_context, alone = spain.splitlines()[:2]
    assert in_context.startswith("The capital of Spain is Madrid")
    assert not alone.startswith("The capital of Spain") and "context" in alone
    assert roles.strip() == "['system', 'user', 'assistant']"
    # (Step 4 needs a real model: offline answers do not change with temperature.)


# --- 05a Errors: a misspelt model name ----------------------------------------------------------------------------

MISSPELT = """try:
    connection.client.complete(messages=france, model="Phi-3-small-8k-instuct")
except HttpResponseError as error:
    show_error(error)"""


def test_05a_a_misspelt_model_name() -> None:
    assert "404" in exercise_text("05a")
    (shown,) = run_lesson("05a", [MISSPELT], only=["france = ["])
    assert shown.startswith("ResourceNotFoundError (HTTP 404, code 'unknown_model')")
    suggestion = shown.replace("\n  ", " ").split("Did you mean ", 1)[1]
    assert suggestion.startswith("Phi-3-small-8k-instruct")


# --- 05b Rate limits: a pacer that allows one too many ---------------------------------------------------------------

PACED = """limited, limited_client = rate_limited_practice_endpoint()
pacer = RequestPacer(requests=4, per_seconds=1)
for text in questions:
    with pacer:
        {call}
print([request.status for request in limited.requests])"""


def test_05b_a_pacer_one_over_the_limit() -> None:
    text = exercise_text("05b")
    assert "RequestPacer(requests=4, per_seconds=1)" in text
    promised = re.search(r"`(\[200(?:, \d+)+\])`", text).group(1)
    plain, retried = run_lesson("05b", [
        PACED.format(call="limited_client.complete(messages=[UserMessage(content=text)], model=connection.model)"),
        PACED.format(call="call_with_retry(limited_client.complete, messages=[UserMessage(content=text)], "
                          "model=connection.model)"),
    ], only=["france = [", "def rate_limited_practice_endpoint"])
    assert plain.strip() == promised and "Rate limited" not in plain
    assert retried.strip().splitlines()[-1] == promised
    assert "Rate limited (UserByModelByMinute): waiting 1 s, then retrying." in retried


# --- 06 REST and curl ---------------------------------------------------------------------------------------------

def curl(max_tokens: int) -> str:
    return f"""%%bash
curl -s -X POST "$CHAT_ENDPOINT_URL/chat/completions" \\
    -H "Content-Type: application/json" \\
    -H "Authorization: Bearer $CHAT_API_KEY" \\
    -d '{{
        "messages": [
            {{"role": "system", "content": "You are a helpful assistant."}},
            {{"role": "user", "content": "What is the capital of France?"}}
        ],
        "max_tokens": {max_tokens},
        "model": "'"$CHAT_MODEL_ID"'"
    }}' | python3 -c 'import json, sys; a = json.load(sys.stdin); print(a["choices"][0]["finish_reason"], \
a["usage"]["completion_tokens"], a["choices"][0]["message"]["content"])'"""


SPAIN_ALONE = """%%bash
curl -s -X POST "$CHAT_ENDPOINT_URL/chat/completions" \\
    -H "Content-Type: application/json" \\
    -H "Authorization: Bearer $CHAT_API_KEY" \\
    -d '{
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What about Spain?"}
        ],
        "model": "'"$CHAT_MODEL_ID"'"
    }' | python3 -c 'import json, sys; print(json.load(sys.stdin)["choices"][0]["message"]["content"])'"""


def test_06_max_tokens_and_a_conversation_without_its_history() -> None:
    text = exercise_text("06")
    assert '"max_tokens": 5' in text and "`50`" in text and "What about Spain?" in text
    five, fifty, alone = run_lesson("06", [curl(5), curl(50), SPAIN_ALONE], only=())
    assert five.split()[:2] == ["length", "5"]
    assert fifty.split()[:2] == ["stop", "7"] and "The capital of France is Paris." in fifty
    assert "no context" in alone and not alone.startswith("The capital of Spain")


# --- 07 JavaScript: the usage of a stream ---------------------------------------------------------------------------


def test_07_usage_js_prints_the_completion_tokens(tmp_path: Path) -> None:
    if shutil.which("node") is None:
        pytest.fail("Node.js is needed for the JavaScript lesson (CI's .ci/run checks for it).")
    text = exercise_text("07")
    solution = re.search(r"```js\n(.+?)\n```", text, re.S).group(1)
    assert "137 completion tokens" in text.replace("\n", " ")
    samples = NOTEBOOKS / "javascript"
    connect(quiet=True)  # the notebooks' own offline endpoint; CHAT_* into the environment, as the lesson's cell does
    from chat_helpers import ensure_node_packages

    ensure_node_packages()
    folder = tmp_path / "javascript"
    shutil.copytree(samples, folder)
    (tmp_path / "node_modules").symlink_to(NOTEBOOKS / "node_modules")  # where Node looks: up from the script
    subprocess.run(["cp", "streaming.js", "usage.js"], cwd=folder, check=True)  # step 1
    usage_js = (folder / "usage.js").read_text(encoding="utf-8")
    loop = re.search(r"  for await \(const event of sseStream\) \{\n.*?\n  \}\n", usage_js, re.S)
    assert loop, "streaming.js no longer has the loop the exercise edits"
    (folder / "usage.js").write_text(usage_js.replace(loop.group(0), solution + "\n"), encoding="utf-8")  # step 2
    result = subprocess.run(["node", "usage.js"], cwd=folder, capture_output=True, text=True, timeout=60)  # step 3
    assert result.returncode == 0, result.stderr
    assert "Tokens: 137 in the answer" in result.stdout


# --- 08 The openai SDK: one more turn -------------------------------------------------------------------------------

ITALY_OPENAI = """messages.append({"role": "assistant", "content": response.choices[0].message.content})
messages.append({"role": "user", "content": "What about Italy?"})
response = openai_client.chat.completions.create(messages=messages, model=connection.model)
show_answer(response)"""

ITALY_AZURE = """azure_messages = [
    SystemMessage(content="You are a helpful assistant."),
    UserMessage(content="What is the capital of France?"),
    AssistantMessage(content="The capital of France is Paris."),
    UserMessage(content="What about Spain?"),
    AssistantMessage(content=messages[4]["content"]),
    UserMessage(content="What about Italy?"),
]
show_answer(connection.client.complete(messages=azure_messages, model=connection.model))"""


def test_08_what_about_italy_with_both_sdks() -> None:
    text = exercise_text("08")
    assert "response.choices[0].message.content" in text and "What about Italy?" in text
    with_openai, with_azure = run_lesson("08", [ITALY_OPENAI, ITALY_AZURE])
    assert "The capital of Italy is Rome." in with_openai
    assert "The capital of Italy is Rome." in with_azure
