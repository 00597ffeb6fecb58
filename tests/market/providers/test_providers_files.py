"""Files provider against the real vendor files and the product's own layout."""

from __future__ import annotations

import datetime as dt
import shutil

import pandas as pd
import pytest

from apps.core import calendar
from apps.market.providers.base import CHAIN_COLUMNS, NoDataError
from apps.market.providers.demo import DemoProvider
from apps.market.providers.files import FilesProvider
from apps.market.providers.validation import validate_chain, validate_history
from tests.market.providers.files_layout import write_candles_file, write_chain_file


@pytest.fixture
def files(realdata) -> FilesProvider:
    return FilesProvider(realdata)


def test_index_finds_every_vendor_symbol(files):
    assert {"VXX", "SPXW", "A", "AAPL", "GOOG", "VIX"} <= set(files.symbols())


def test_vxx_dates_gap_and_counts(files, realdata):
    dates = files.available_dates("VXX")
    assert len(dates) == 20 and dates[0] == dt.date(2016, 12, 1)
    assert dates[-1] == dt.date(2016, 12, 30) and dt.date(2016, 12, 8) not in dates
    with pytest.raises(NoDataError, match="2016-12-08"):
        files.get_chain_snapshot("VXX", as_of=dt.date(2016, 12, 8))
    raw = pd.read_csv(realdata / "deltaneutral_VXX_2016-12.csv", skipinitialspace=True)
    expected = raw.groupby("quotedate").size()
    for day in (dt.date(2016, 12, 1), dt.date(2016, 12, 15), dt.date(2016, 12, 30)):
        snap = files.get_chain_snapshot("VXX", as_of=day)
        assert len(snap.chain) == expected[day.strftime("%m/%d/%Y")]
        assert snap.snapshot_date == day


def test_vxx_saturday_expiry_normalised(files):
    snap = files.get_chain_snapshot("VXX", as_of=dt.date(2016, 12, 1))
    expiries = set(snap.chain["expiry"])
    assert dt.date(2016, 12, 16) in expiries and dt.date(2016, 12, 17) not in expiries
    assert all(e.weekday() != 5 for e in expiries)
    assert snap.spot == pytest.approx(28.95)
    assert (snap.chain["implied_vol"] <= 0.01).any()  # the vendor's placeholders 0 / 0.01
    chain = validate_chain("VXX", snap.chain)
    assert list(chain.columns) == list(CHAIN_COLUMNS)
    assert not (chain["implied_vol"] <= 0.01).any()  # cleared, so the snapshot job re-solves them
    assert chain["implied_vol"].isna().any()


def test_spxw_forty_sessions(files):
    dates = files.available_dates("SPXW")
    assert dates == calendar.sessions_between(dt.date(2018, 1, 2), dt.date(2018, 2, 28))
    snap = files.get_chain_snapshot("SPXW", as_of=dt.date(2018, 2, 5))
    assert set(snap.chain["expiry"]) <= {dt.date(2018, 1, 31), dt.date(2018, 2, 28)}
    hist = validate_history("SPXW", files.get_history("SPXW", dt.date(2018, 1, 1),
                                                      dt.date(2018, 3, 1)))
    assert len(hist) == 40 and hist["volume"].isna().all()
    assert (hist["close"] == hist["open"]).all()


def test_deltaneutral_a_layout(files):
    snap = files.get_chain_snapshot("A")
    assert snap.snapshot_date == dt.date(2016, 1, 5) and snap.spot == pytest.approx(40.55)
    assert len(snap.chain) == 208 and snap.chain["expiry"].nunique() == 7
    assert snap.chain["open_interest"].notna().all()


def test_yahoo_csv_spot_inferred_from_parity(files):
    snap = files.get_chain_snapshot("AAPL")
    assert snap.snapshot_date == dt.date(2025, 10, 6)
    # AAPL closed at 256.69 on 2025-10-06; parity on near-dated mids implies ~256.9
    assert snap.spot == pytest.approx(256.7, rel=0.01)
    chain = validate_chain("AAPL", snap.chain)
    assert len(chain) == 2099 and chain["volume"].isna().sum() == 57
    assert chain["last_trade_at"].notna().any()


def test_yahoo_spot_override(realdata):
    provider = FilesProvider(realdata, spot_overrides={"aapl": 250.0})
    assert provider.get_quote("AAPL") == 250.0


def test_lean_universe(files):
    dates = files.available_dates("GOOG")
    assert len(dates) == 7 and dates[0] == dt.date(2015, 12, 22)
    snap = files.get_chain_snapshot("GOOG", as_of=dt.date(2015, 12, 23))
    assert snap.spot == pytest.approx(748.54)
    assert len(snap.chain) == 2192  # underlying row excluded
    assert snap.chain["contract_symbol"].str.match(r"^GOOG\d{6}[CP]\d{8}$").all()
    hist = files.get_history("GOOG", dt.date(2015, 12, 1), dt.date(2016, 1, 1))
    assert hist.loc[hist["date"] == dt.date(2015, 12, 23), "volume"].iloc[0] == 11492


def test_cboe_datashop(files):
    snap = files.get_chain_snapshot("VIX")
    assert snap.snapshot_date == dt.date(2016, 6, 1) and len(snap.chain) == 882
    assert snap.chain["implied_vol"].isna().all()


def test_unknown_symbol_is_no_data(files):
    with pytest.raises(NoDataError):
        files.get_chain_snapshot("NOPE")


def test_native_layout_round_trip(tmp_path):
    demo = DemoProvider()
    days = [dt.date(2024, 6, 13), dt.date(2024, 6, 14)]
    snaps = [demo.get_chain_snapshot("MSFT", as_of=d) for d in days]
    write_chain_file(tmp_path, snaps[0], fmt="csv")
    write_chain_file(tmp_path, snaps[1], fmt="parquet")
    candles = demo.get_history("MSFT", dt.date(2024, 6, 1), dt.date(2024, 6, 14))
    write_candles_file(tmp_path, "MSFT", candles, fmt="csv")
    files = FilesProvider(tmp_path)
    assert files.available_dates("MSFT") == days
    for snap in snaps:
        back = files.get_chain_snapshot("MSFT", as_of=snap.snapshot_date)
        assert back.spot == snap.spot
        pd.testing.assert_frame_equal(validate_chain("MSFT", back.chain),
                                      validate_chain("MSFT", snap.chain), check_dtype=False)
    hist = files.get_history("MSFT", dt.date(2024, 6, 1), dt.date(2024, 6, 14))
    pd.testing.assert_frame_equal(validate_history("MSFT", hist),
                                  validate_history("MSFT", candles), check_dtype=False)


def test_mixed_directory_copy(tmp_path, realdata):
    shutil.copy(realdata / "deltaneutral_A_2016-01-05_with_T1OI.csv", tmp_path / "a.csv")
    (tmp_path / "notes.csv").write_text("foo,bar\n1,2\n")
    files = FilesProvider(tmp_path)
    assert files.symbols() == ["A"]
