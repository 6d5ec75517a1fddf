"""Shared fixtures for the test suite."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import DATA, EXAMPLE


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def example_prefix() -> Path:
    return EXAMPLE / "example"
