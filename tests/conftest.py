"""Shared test set-up.

pytest-codeblocks runs every ```python block of the docs with ``exec`` in this
process, each with fresh globals. Fresh globals catch a block that leans on a
name from an earlier block; the hook below catches the other way a block can
depend on what ran before it: torch's global state. Before each block the
random generator is set to a seed no page uses and the print options are reset,
so a block that prints random numbers without calling ``torch.manual_seed``
itself, or relies on print options set elsewhere, prints something else than
its expected output and fails, just as it would for a reader pasting it into a
fresh interpreter.
"""

import os

import pytest
import torch
from hypothesis import settings

settings.register_profile("default", deadline=None, max_examples=60, derandomize=True)
settings.register_profile("thorough", deadline=None, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

_UNUSED_SEED = 987_654_321


def pytest_runtest_setup(item: pytest.Item) -> None:
    if type(item).__name__ == "TestBlock":  # a pytest-codeblocks item
        torch.manual_seed(_UNUSED_SEED)
        torch.set_printoptions(profile="default")
        torch.set_default_dtype(torch.float32)
        torch.set_grad_enabled(True)
