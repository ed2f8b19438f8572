"""The Chinese and Dutch editions: complete, in step with the English lessons, answered in their
language by the offline endpoint, and spoken to in their language by the helper."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from azure.ai.inference import ChatCompletionsClient
from azure.ai.inference.models import AssistantMessage, SystemMessage, UserMessage

from collection_tools import LESSONS_GLOB
from collection_tools.catalogues import catalogue_problems
from collection_tools.editions import EDITIONS, ROOT, TRANSLATIONS
from collection_tools.translations import all_problems, code_differences, edition_problems, stamp_notebook
from tests.support import FRANCE, REASONS, SPAIN

ENGLISH_LESSONS = sorted((ROOT / "notebooks").glob(LESSONS_GLOB))
# The seeds' prompts in each edition, and words their scripted answers must hold.
SEEDS = {
    "en": ("You are a helpful assistant.", FRANCE, SPAIN, REASONS, "Paris", "Madrid"),
    "zh": ("你是一个乐于助人的助手。", "法国的首都是哪里？", "西班牙呢？", "给我5个每天锻炼的好理由。",
           "巴黎", "马德里"),
    "nl": ("Je bent een behulpzame assistent.", "Wat is de hoofdstad van Frankrijk?", "En Spanje?",
           "Geef me 5 goede redenen waarom ik elke dag zou moeten bewegen.", "Parijs", "Madrid"),
}
# How each language's fallback reply starts: it says the answer is scripted.
FALLBACK = {"en": "This is the offline practice endpoint", "zh": "这里是离线练习端点",
            "nl": "Dit is het offline oefen-endpoint"}
ENGLISH_WORD = {"zh": "英文", "nl": "Engels"}  # how each edition names English, in its note on Phi-3
TRANSLATION_TOOL = [sys.executable, "scripts/translations.py"]


# --- complete and in step ---

def test_every_lesson_has_an_up_to_date_translation_in_each_edition() -> None:
    problems = all_problems()
    assert not problems, "run scripts/translations.py check:\n" + "\n".join(map(str, problems))


def test_the_translation_tool_says_so_too() -> None:
    result = subprocess.run([*TRANSLATION_TOOL, "check"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout.strip()) == (0, "every translation is in step")


@pytest.fixture
def repository_copy(tmp_path: Path) -> Path:
    """The lessons and samples of every edition, copied, for a test to change."""
    copy = tmp_path / "repository"
    for edition in EDITIONS:
        source = edition.folder()
        target = edition.folder(copy)
        target.mkdir(parents=True, exist_ok=True)
        for path in source.glob(LESSONS_GLOB):
            shutil.copy(path, target / path.name)
        shutil.copytree(source / "javascript", target / "javascript", ignore=shutil.ignore_patterns("node_modules"))
    return copy


def _problems(copy: Path) -> list[str]:
    return [str(problem).replace(str(copy) + "/", "") for edition in TRANSLATIONS
            for problem in edition_problems(edition, copy)]


def test_a_changed_english_lesson_makes_each_translation_stale(repository_copy: Path) -> None:
    english = repository_copy / "notebooks" / "02_multi_turn.ipynb"
    notebook = nbformat.read(english, as_version=4)
    explanation = next(cell for cell in notebook.cells[1:] if cell.cell_type == "markdown")
    explanation.source += "\n\nOne more sentence."
    nbformat.write(notebook, english)
    problems = _problems(repository_copy)
    assert [p.split(":")[0] for p in problems] == ["notebooks/zh/02_multi_turn.ipynb",
                                                   "notebooks/nl/02_multi_turn.ipynb"]
    assert all("stale: 02_multi_turn.ipynb changed since it was translated" in p for p in problems)
    # Once the translation is updated, stamping it clears the report.
    stamp_notebook(repository_copy / "notebooks" / "zh" / english.name, english, "zh")
    assert [p.split(":")[0] for p in _problems(repository_copy)] == ["notebooks/nl/02_multi_turn.ipynb"]


def test_rerunning_or_renavigating_an_english_lesson_does_not_make_translations_stale(repository_copy: Path) -> None:
    english = repository_copy / "notebooks" / "03_streaming.ipynb"
    notebook = nbformat.read(english, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    first = notebook.cells[0]
    renamed = first.source.replace("[04 A playground]", "[04 A renamed neighbour]")  # the navigation line
    assert renamed != first.source
    first.source = renamed
    nbformat.write(notebook, english)
    assert _problems(repository_copy) == []


def test_a_missing_translation_and_a_translation_without_source_are_named(repository_copy: Path) -> None:
    (repository_copy / "notebooks" / "nl" / "04_playground.ipynb").unlink()
    shutil.copy(repository_copy / "notebooks" / "zh" / "01_basic_chat.ipynb",
                repository_copy / "notebooks" / "zh" / "12_gone.ipynb")
    (repository_copy / "notebooks" / "zh" / "javascript" / "basic.js").unlink()
    problems = _problems(repository_copy)
    assert "notebooks/nl/04_playground.ipynb: missing: 04_playground.ipynb has no Nederlands translation" in problems
    assert "notebooks/zh/javascript/basic.js: missing: javascript/basic.js has no 中文 translation" in problems
    assert any(p.startswith("notebooks/zh/12_gone.ipynb: ") and "no English source" in p for p in problems)


def test_code_that_differs_beyond_prompts_and_comments_is_named(repository_copy: Path) -> None:
    translation = repository_copy / "notebooks" / "nl" / "01_basic_chat.ipynb"
    notebook = nbformat.read(translation, as_version=4)
    cell = next(c for c in notebook.cells if c.cell_type == "code" and "temperature" in c.source)
    cell.source = cell.source.replace("temperature", "temperatuur", 1)
    nbformat.write(notebook, translation)
    script = repository_copy / "notebooks" / "zh" / "javascript" / "basic.js"
    script.write_text(script.read_text(encoding="utf-8").replace("max_tokens", "maxTokens"), encoding="utf-8")
    problems = _problems(repository_copy)
    assert any(p.startswith("notebooks/nl/01_basic_chat.ipynb: cell ") and "'temperatuur' should be 'temperature'"
               in p for p in problems), problems
    assert any(p.startswith("notebooks/zh/javascript/basic.js: ") and "maxTokens" in p for p in problems), problems


@pytest.mark.parametrize(("english", "translated", "allowed"), [
    ('ask("What is the capital of France?")  # the question', 'ask("法国的首都是哪里？")  # 问题', True),
    ('print(f"Tokens: {usage.total_tokens}")', 'print(f"Tokens: {usage.total_tokens} in totaal")', True),
    ('print(f"Tokens: {usage.total_tokens}")', 'print(f"Tokens: {usage.prompt_tokens}")', False),
    ('print("Tokens:", n, "of", total)', 'print("Tokens:", n, "van", total)', True),
    ('print(n, "questions:", first)', 'print(n, "vragen:", first)', True),
    ('tqdm(total=n, unit="question")', 'tqdm(total=n, unit="vraag")', False),
    ('{"role": "user", "content": "Hi"}', '{"rol": "user", "content": "Hallo"}', False),
    ('{"role": "user", "content": "Hi"}', '{"role": "gebruiker", "content": "Hallo"}', False),
    ('connect("Phi-3-mini-4k-instruct")', 'connect("Phi-3-mini-128k-instruct")', False),
    ("answer = ask(FRANCE)", "antwoord = ask(FRANCE)", False),
    ("!node javascript/basic.js", "!node javascript/streaming.js", False),
    ('%%bash\ncurl -d \'{"messages": [{"role": "user", "content": "What is 2 + 2?"}]}\'',
     '%%bash\ncurl -d \'{"messages": [{"role": "user", "content": "Hoeveel is 2 + 2?"}]}\'', True),
    ('%%bash\ncurl -d \'{"messages": [{"role": "user", "content": "What is 2 + 2?"}]}\'',
     '%%bash\ncurl -d \'{"berichten": [{"role": "user", "content": "Hoeveel is 2 + 2?"}]}\'', False),
])
def test_code_differences_allow_only_comments_and_natural_language(english: str, translated: str,
                                                                    allowed: bool) -> None:
    assert (code_differences(english, translated) == []) is allowed


def test_javascript_differences_keep_template_placeholders() -> None:
    english = "console.log(`Tokens: ${usage.completion_tokens} in the answer`); // count"
    assert code_differences(english, "console.log(`Tokens: ${usage.completion_tokens} in het antwoord`); // tel",
                            javascript=True) == []
    assert code_differences(english, "console.log(`Tokens: ${usage.total_tokens} in het antwoord`);",
                            javascript=True) != []


def test_translations_keep_the_english_cells() -> None:
    """Same cells, ids and tags, so that nbval checks the same things in every edition."""
    for edition in TRANSLATIONS:
        for english in ENGLISH_LESSONS:
            ours = nbformat.read(english, as_version=4)
            theirs = nbformat.read(edition.folder() / english.name, as_version=4)
            def shape(notebook: nbformat.NotebookNode) -> list[tuple]:
                return [(c.cell_type, c.id, c.metadata.get("tags", [])) for c in notebook.cells]

            assert shape(theirs) == shape(ours), (edition.language, english.name)


# --- what a learner of each edition sees ---

def test_the_readme_leads_to_each_edition_and_each_edition_lists_its_lessons() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for edition in TRANSLATIONS:
        assert f"[{edition.name}](notebooks/{edition.language}/README.md)" in readme
        page = edition.contents_page().read_text(encoding="utf-8")
        for english in ENGLISH_LESSONS:
            assert f"]({english.name})" in page, (edition.language, english.name)


def test_each_edition_s_page_gives_the_readme_s_first_command_opening_its_first_lesson() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = re.search(r"```bash\n(python3 -m venv [^\n]+ notebooks/00_setup\.ipynb)\n```", readme)
    assert command, "the README's first command ends by opening notebooks/00_setup.ipynb"
    for edition in TRANSLATIONS:
        expected = command[1].replace("notebooks/00_setup.ipynb", f"notebooks/{edition.language}/00_setup.ipynb")
        assert f"```bash\n{expected}\n```" in edition.contents_page().read_text(encoding="utf-8")


def test_every_lesson_links_to_itself_in_every_edition() -> None:
    for edition in EDITIONS:
        for lesson in sorted(edition.folder().glob(LESSONS_GLOB)):
            first = nbformat.read(lesson, as_version=4).cells[0].source
            for other in EDITIONS:
                target = Path(os.path.relpath(other.folder() / lesson.name, edition.folder())).as_posix()
                expected = f"**{other.name}**" if other == edition else f"[{other.name}]({target})"
                assert expected in first, (lesson, expected)


def test_relative_links_in_every_edition_lead_somewhere() -> None:
    link = re.compile(r"\]\((?!https?:|#|mailto:)([^)\s#]+)(?:#[^)\s]*)?\)")
    pages = [(p, nbformat.read(p, as_version=4)) for e in EDITIONS for p in sorted(e.folder().glob(LESSONS_GLOB))]
    broken = []
    for path, notebook in pages:
        for cell in notebook.cells:
            if cell.cell_type == "markdown":
                broken += [f"{path.relative_to(ROOT)}: {target}" for target in link.findall(cell.source)
                           if not (path.parent / target).exists()]
    for page in [edition.contents_page() for edition in TRANSLATIONS]:
        broken += [f"{page.relative_to(ROOT)}: {target}" for target in link.findall(page.read_text(encoding="utf-8"))
                   if not (page.parent / target).exists()]
    assert not broken


def test_each_edition_says_once_that_phi_3_was_trained_mostly_on_english() -> None:
    for edition in TRANSLATIONS:
        word = ENGLISH_WORD[edition.language]
        cells = [(lesson.name, number) for lesson in sorted(edition.folder().glob(LESSONS_GLOB))
                 for number, cell in enumerate(nbformat.read(lesson, as_version=4).cells)
                 if cell.cell_type == "markdown" and "Phi-3" in cell.source and word in cell.source
                 and ("训练" in cell.source or "getraind" in cell.source)]
        assert len(cells) == 1 and cells[0][0] == "01_basic_chat.ipynb", (edition.language, cells)


# --- the offline endpoint answers in the prompt's language ---

@pytest.mark.parametrize("language", list(SEEDS))
def test_the_seeds_questions_are_answered_in_their_language(
        language: str, make_chat_client: Callable[..., ChatCompletionsClient]) -> None:
    system, france, spain, reasons, paris, madrid = SEEDS[language]
    client = make_chat_client()
    first = client.complete(messages=[SystemMessage(system), UserMessage(france)]).choices[0].message.content
    assert paris in first
    follow_up = client.complete(messages=[SystemMessage(system), UserMessage(france), AssistantMessage(first),
                                          UserMessage(spain)]).choices[0].message.content
    assert madrid in follow_up and paris in follow_up
    alone = client.complete(messages=[UserMessage(spain)]).choices[0].message.content
    assert madrid not in alone and not alone.startswith(FALLBACK[language])  # "no context", in its language
    exercise = client.complete(messages=[SystemMessage(system), UserMessage(reasons)]).choices[0].message.content
    assert exercise.count("\n1. ") == 1 and "5. " in exercise


@pytest.mark.parametrize(("question", "language"), [
    ("天空为什么是蓝色的？", "zh"), ("Waarom is de lucht blauw?", "nl"), ("Why is the sky blue?", "en"),
    ("Vertel me een grap", "nl"), ("Tell me a joke", "en"),
])
def test_a_question_without_a_scripted_answer_is_told_so_in_its_language(
        question: str, language: str, make_chat_client: Callable[..., ChatCompletionsClient]) -> None:
    answer = make_chat_client().complete(messages=[UserMessage(question)]).choices[0].message.content
    assert answer.startswith(FALLBACK[language])


def test_a_short_question_takes_the_language_of_the_conversation(
        make_chat_client: Callable[..., ChatCompletionsClient]) -> None:
    answer = make_chat_client().complete(messages=[SystemMessage(SEEDS["nl"][0]), UserMessage("Hoi!")])
    assert answer.choices[0].message.content.startswith(FALLBACK["nl"])


# --- the helper speaks the lesson's language ---

def test_the_catalogues_translate_everything_the_helper_prints() -> None:
    problems = catalogue_problems()
    assert not problems, "run scripts/catalogues.py update, then translate:\n" + "\n".join(problems)


LESSON_CELL = """
from chat_helpers import connect, Conversation, practice_fault
connection = connect()
print(Conversation(connection).messages[0].content)
practice_fault("retired")
try:
    connection.client.complete(messages=[{"role": "user", "content": "Hi"}], model=connection.model)
except Exception as error:
    from chat_helpers.explanations import explain
    print(explain(error))
"""


def _run_in(folder: Path, language: str | None = None) -> str:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    if language:
        env["CHAT_LESSON_LANGUAGE"] = language
    result = subprocess.run([sys.executable, "-c", LESSON_CELL], cwd=folder, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize(("folder", "expected"), [
    ("notebooks", ["Connected to the offline practice endpoint", "You are a helpful assistant.", "Why: ",
                   "What to do: "]),
    ("notebooks/zh", ["已连接到离线练习端点", "你是一个乐于助人的助手。", "原因：", "怎么做："]),
    ("notebooks/nl", ["Verbonden met het offline oefen-endpoint", "Je bent een behulpzame assistent.", "Waarom: ",
                      "Wat te doen: "]),
])
def test_the_helper_prints_in_the_language_of_the_lesson_s_folder(folder: str, expected: list[str]) -> None:
    out = _run_in(ROOT / folder)
    for text in expected:
        assert text in out, out


def test_english_is_the_fallback_for_a_language_without_a_catalogue() -> None:
    out = _run_in(ROOT / "notebooks" / "zh", language="fr")
    assert "Connected to the offline practice endpoint" in out and "What to do: " in out
