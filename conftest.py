"""Every pytest run, notebooks included (their kernels inherit this environment), is made in the
reference environment (collection_tools/reference.env), except the live check:
scripts/live_check.py sets CHAT_LIVE_CHECK=1 to keep the configured provider."""

import os

from collection_tools import apply_reference_environment

if os.environ.get("CHAT_LIVE_CHECK") != "1":
    apply_reference_environment()
