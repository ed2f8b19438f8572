"""Getting Node.js ready for lesson 07, which runs the quick start's JavaScript samples.

The samples live in ``notebooks/javascript`` (and each edition's translation of them in
``notebooks/<language>/javascript``). The ``package.json`` and ``package-lock.json`` that pin the
packages they import are one level up, in ``notebooks/``, where Node finds them from any of those
folders.

Without Node.js, the lesson's cells would each fail in their own way (``node: command not
found``, a long FileNotFoundError from ``subprocess``). So when the samples cannot run,
``ensure_node_packages()`` puts a stand-in ``node`` first on this kernel's PATH: every Node cell
after it prints the same one line, what is missing and what to do, and stops there.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from .language import N_, _

NPM_PROJECT = Path(__file__).resolve().parent.parent  # notebooks/, with package.json
INSTALLED_MARKER = Path("node_modules") / "@azure-rest" / "ai-inference"  # the client the samples use
NODE_MISSING = N_("Node.js is not installed, so the JavaScript cells below cannot run. Install Node.js 20 or "
                "newer (https://nodejs.org), restart JupyterLab, and run this cell again.")
NPM_MISSING = N_("npm is not installed, so the samples' packages cannot be installed and the JavaScript cells "
               "below cannot run. Install Node.js 20 or newer with npm (https://nodejs.org), restart "
               "JupyterLab, and run this cell again.")
# What every Node cell prints instead of running, once ensure_node_packages() found it cannot run.
CELL_CANNOT_RUN = N_("This cell needs Node.js, which is not installed here (see the cell that ran "
                   "ensure_node_packages() above): install Node.js 20 or newer from https://nodejs.org, "
                   "restart JupyterLab, and run the notebook again.")
READY = N_("Node.js is installed and the samples' packages are ready.")

_stand_in_folder: Path | None = None  # where the stand-in node is, once made


def ensure_node_packages(project: Path = NPM_PROJECT) -> None:
    """Check that Node.js and npm are there and install the samples' packages if they are missing.

    Installs with ``npm ci``, which installs exactly what the lock file lists (a few seconds, the
    first time only). Prints one line saying whether the samples can run; if they cannot, every
    later ``node`` command of this kernel prints ``CELL_CANNOT_RUN`` instead. Raises RuntimeError,
    with npm's own message, if the installation fails.
    """
    os.environ["FORCE_COLOR"] = "0"  # plain text from Node, so saved outputs look the same everywhere
    _remove_stand_in()  # Node may have been installed since the last call: look for the real one
    npm = shutil.which("npm")
    if shutil.which("node") is None:
        _put_stand_in_on_path()
        print(_(NODE_MISSING))
        return
    if not (project / INSTALLED_MARKER).is_dir():
        if npm is None:
            _put_stand_in_on_path()
            print(_(NPM_MISSING))
            return
        installed = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=project,
                                   capture_output=True, text=True, timeout=300)
        if installed.returncode != 0:
            # npm says what went wrong first; a usage text it may add after that is left out
            raise RuntimeError(f"npm ci failed in {project}:\n" + installed.stderr[:2000])
    print(_(READY))


def _put_stand_in_on_path() -> None:
    """A ``node`` (and ``node.cmd`` for Windows) that prints CELL_CANNOT_RUN and fails, first on PATH."""
    global _stand_in_folder
    if _stand_in_folder is None or not _stand_in_folder.is_dir():
        _stand_in_folder = Path(tempfile.mkdtemp(prefix="node-stand-in-"))
        script = _stand_in_folder / "node"
        script.write_text(f"#!/bin/sh\necho {shlex.quote(_(CELL_CANNOT_RUN))}\nexit 127\n", encoding="utf-8")
        script.chmod(0o755)
        (_stand_in_folder / "node.cmd").write_text(f"@echo {_(CELL_CANNOT_RUN)}\r\n@exit /b 127\r\n", encoding="utf-8")
    os.environ["PATH"] = os.pathsep.join([str(_stand_in_folder), *_path_without_stand_in()])


def _remove_stand_in() -> None:
    if _stand_in_folder is not None:
        os.environ["PATH"] = os.pathsep.join(_path_without_stand_in())


def _path_without_stand_in() -> list[str]:
    folders = os.environ.get("PATH", "").split(os.pathsep)
    return [folder for folder in folders if folder and (_stand_in_folder is None or Path(folder) != _stand_in_folder)]
