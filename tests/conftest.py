"""What every test module may use: the ``shared_dir`` fixture and the Hypothesis profiles.

Profiles (select with ``HYPOTHESIS_PROFILE``; ``ci`` is the default):

- ``ci``: 50 examples per property (tests that are costly per example take a fraction of the
  active profile's ``max_examples``, so they scale with it), no deadline (CI machines are
  shared), and failing examples printed as blobs for ``@reproduce_failure``;
- ``thorough``: 1000 examples per property, for a long local run before a release.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

SHARED_DIR = Path(__file__).parents[1].parent / "shared"

settings.register_profile(
    "ci",
    max_examples=50,
    deadline=None,  # timings on two shared cores say nothing about the code
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=1000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared reference directory that sits beside the checkout (``../shared``)."""
    return SHARED_DIR


@pytest.fixture(autouse=True)
def _close_sdk_clients():
    """The official SDK clients a test opened on an emulator (``_helpers_emulator.sdk``) are
    closed when it ends."""
    yield
    helpers = sys.modules.get("tests._helpers_emulator")
    if helpers is not None:
        helpers.close_sdk_clients()
