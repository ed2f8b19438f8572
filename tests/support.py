"""What the tests share besides fixtures: the key and model they send, and the seeds' prompts.

Fixtures are in conftest.py; this module is imported (``from tests.support import ...``).
"""

TEST_KEY = "offline-test-key-4f9c2e"  # distinctive, so a test can search responses for it
TEST_MODEL = "Phi-3-small-8k-instruct"  # the model the seeds use

# The seeds' prompts, which the offline endpoint has scripted answers for.
FRANCE = "What is the capital of France?"
SPAIN = "What about Spain?"
REASONS = "Give me 5 good reasons why I should exercise every day."
