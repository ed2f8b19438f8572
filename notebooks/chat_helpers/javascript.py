"""Getting Node.js ready for lesson 07, which runs the quick start's JavaScript samples.

The samples live in ``notebooks/javascript``, with a ``package.json`` and a ``package-lock.json``
that pin the packages they import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SAMPLES_FOLDER = Path(__file__).resolve().parent.parent / "javascript"
INSTALLED_MARKER = Path("node_modules") / "@azure-rest" / "ai-inference"  # the client the samples use
NODE_MISSING = ("Node.js is not installed, so the JavaScript cells below cannot run. Install Node.js 20 or "
                "newer (https://nodejs.org), restart JupyterLab, and run this cell again.")
READY = "Node.js is installed and the samples' packages are ready."


def ensure_node_packages(samples: Path = SAMPLES_FOLDER) -> None:
    """Check that Node.js and npm are there and install the samples' packages if they are missing.

    Installs with ``npm ci``, which installs exactly what the lock file lists (a few seconds, the
    first time only). Prints one line saying whether the samples can run. Raises RuntimeError,
    with npm's own message, if the installation fails.
    """
    os.environ["FORCE_COLOR"] = "0"  # plain text from Node, so saved outputs look the same everywhere
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        print(NODE_MISSING)
        return
    if not (samples / INSTALLED_MARKER).is_dir():
        installed = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=samples,
                                   capture_output=True, text=True, timeout=300)
        if installed.returncode != 0:
            # npm says what went wrong first; a usage text it may add after that is left out
            raise RuntimeError(f"npm ci failed in {samples}:\n" + installed.stderr[:2000])
    print(READY)
