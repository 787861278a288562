from __future__ import annotations

import pytest

from routing.mapping_loader import load_mapping
from tests.unit.samples import MAPPING


@pytest.fixture(scope="session")
def mapping():
    return load_mapping(MAPPING)
