"""The test suite's deployment: Balikpapan's areas, agencies and access (``support.deployment``)."""

from __future__ import annotations

import pytest
from support.deployment import TABLES


@pytest.fixture
def deployment_tables() -> str:
    """Overrides the shipped fixture (no tables): what ``make_deployment`` writes after the skeleton."""
    return TABLES
