"""Loader for the real DeltaNeutral VXX chains (``tests.support.REALDATA_DIR``)."""


import pandas as pd
import pytest

from tests.support import REALDATA_DIR

REALDATA = REALDATA_DIR
VXX_FILE = REALDATA / "deltaneutral_VXX_2016-12.csv"
COLUMNS = {"optionroot": "contract_symbol", "type": "option_type", "expiration": "expiry",
           "quotedate": "snapshot_date", "underlying_last": "spot",
           "openinterest": "open_interest", "impliedvol": "implied_vol"}


def load_vxx_raw() -> pd.DataFrame:
    """Standard chain columns plus snapshot_date/spot; Saturday monthlies moved to the Friday."""
    if not VXX_FILE.exists():
        pytest.skip(f"real-data fixture not present: {VXX_FILE} (shared/ is a sibling of the repo)")
    raw = pd.read_csv(VXX_FILE, skipinitialspace=True).rename(columns=COLUMNS)
    raw["snapshot_date"] = pd.to_datetime(raw["snapshot_date"], format="%m/%d/%Y").dt.date
    expiry = pd.to_datetime(raw["expiry"], format="%m/%d/%Y")
    saturday = expiry.dt.day_of_week == 5  # the vendor stores monthlies on the Saturday
    raw["expiry"] = (expiry - pd.to_timedelta(saturday.astype(int), unit="D")).dt.date
    return raw
