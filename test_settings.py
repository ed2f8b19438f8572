"""The environment every test run and every stored notebook output is made in.

Notebooks talk to the offline endpoint with no pacing, whatever a developer's `.env` says,
so their outputs are the same on every machine. Environment variables win over `.env`.
"""

import os

TEST_ENVIRONMENT = {
    "CHAT_PROVIDER": "offline",
    "CHAT_MODEL": "",
    "OFFLINE_FIRST_TOKEN_SECONDS": "0",
    "OFFLINE_TOKENS_PER_SECOND": "0",
}


def apply() -> None:
    os.environ.update(TEST_ENVIRONMENT)
