"""Every pytest run, notebooks included (their kernels inherit this environment), is offline,
except the live check: scripts/live_check.py sets CHAT_LIVE_CHECK=1 to keep the configured provider."""

import os

import test_settings

if os.environ.get("CHAT_LIVE_CHECK") != "1":
    test_settings.apply()
