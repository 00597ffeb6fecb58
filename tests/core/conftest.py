"""Fixtures for the pure analytics tests."""

import pandas as pd
import pytest

from tests.core.handchain import hand_chain_enriched


@pytest.fixture
def hand_chain() -> pd.DataFrame:
    return hand_chain_enriched()
