"""Fixtures of the in-process addon tests (``harness.py`` has the helpers)."""

from __future__ import annotations

import pytest

from tests.addon.harness import write_mapping


@pytest.fixture
def mapping_file(tmp_path):
    """The unit samples' mapping with ``debug_headers = true``."""
    return write_mapping(tmp_path / "mapping.toml")
