"""The market stores' keyed writes (apps/market/stores.py)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from apps.market import stores
from optionshelper import warehouse

AAPL_CALL, AAPL_PUT = "AAPL261218C00200000", "AAPL261218P00200000"


def _batch(*, end: dt.date, strike: float, bars: list[tuple[str, dt.date]]):
    contracts = pd.DataFrame(
        {
            "contract_symbol": [AAPL_CALL, AAPL_PUT],
            "underlying": "AAPL",
            "expiry": dt.date(2026, 12, 18),
            "option_type": ["call", "put"],
            "strike": [strike, 200.0],
            "multiplier": 100.0,
        }
    )
    bar_rows = pd.DataFrame(
        {
            "contract_symbol": [c for c, _ in bars],
            "date": [d for _, d in bars],
            "underlying": "AAPL",
            **{c: 1.0 for c in stores.BAR_VALUE_COLUMNS},
        }
    )
    meta = pd.DataFrame(
        {
            "contract_symbol": [AAPL_CALL, AAPL_PUT],
            "underlying": "AAPL",
            "provider": "demo",
            "status": "ok",
            "rows": 1,
            "start_date": end,
            "end_date": end,
            "last_success_at": pd.Timestamp(end, tz="UTC"),
            "last_attempt_at": pd.Timestamp(end, tz="UTC"),
            "last_error": None,
            "error_count": 0,
        }
    )
    return stores.bars_batch_write(contracts=contracts, bars=bar_rows, meta=meta, provider="demo")


@pytest.mark.django_db
def test_contracts_and_fetch_records_are_updated_in_place(warehouse_db):
    monday, tuesday = dt.date(2026, 11, 16), dt.date(2026, 11, 17)
    first = _batch(end=monday, strike=200.0, bars=[(AAPL_CALL, monday)])
    assert first.contracts["AAPL"].inserted == 2 and first.bars["AAPL"].inserted == 1
    stamps = dict(warehouse.fetch_all("SELECT contract_symbol, updated_at FROM option_contracts"))

    second = _batch(end=tuesday, strike=205.0, bars=[(AAPL_CALL, tuesday), (AAPL_PUT, tuesday)])
    assert (second.contracts["AAPL"].inserted, second.contracts["AAPL"].updated) == (0, 2)
    assert (second.bars["AAPL"].inserted, second.bars["AAPL"].updated) == (2, 0)
    contracts = {
        row[0]: row[1:]
        for row in warehouse.fetch_all(
            "SELECT contract_symbol, strike, updated_at FROM option_contracts"
        )
    }
    assert contracts[AAPL_CALL][0] == 205.0 and contracts[AAPL_CALL][1] > stamps[AAPL_CALL]
    assert contracts[AAPL_PUT] == (200.0, stamps[AAPL_PUT])  # unchanged: not rewritten
    assert warehouse.fetch_all(
        "SELECT contract_symbol, end_date FROM option_bars_meta ORDER BY 1"
    ) == [(AAPL_CALL, tuesday), (AAPL_PUT, tuesday)]
    assert warehouse.fetch_all("SELECT count(*) FROM option_bars")[0][0] == 3


def _chain(contracts: list[str], mark: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "contract_symbol": contracts,
            "expiry": dt.date(2026, 12, 18),
            "option_type": ["call" if c == AAPL_CALL else "put" for c in contracts],
            "strike": 200.0,
            "mark": mark,
            "open_interest": 10.0,
            "iv_source": "missing",
        }
    )


def _snapshot(chain: pd.DataFrame) -> stores.WriteStats:
    return stores.snapshot_write(
        symbol="AAPL",
        snapshot_date=dt.date(2026, 11, 16),
        provider="demo",
        spot=200.0,
        risk_free_rate=0.04,
        chain=chain,
        quote_quality={},
        meta={},
    )


@pytest.mark.django_db
def test_a_batch_naming_a_key_twice_is_refused_whole(warehouse_db):
    monday = dt.date(2026, 11, 16)
    with pytest.raises(stores.DuplicateKeys, match=f"option_bars: .*{AAPL_CALL}.* more than once"):
        _batch(end=monday, strike=200.0, bars=[(AAPL_CALL, monday), (AAPL_CALL, monday)])
    assert warehouse.fetch_all("SELECT count(*) FROM option_contracts")[0][0] == 0

    _snapshot(_chain([AAPL_CALL, AAPL_PUT], mark=1.5))
    with pytest.raises(stores.DuplicateKeys, match="options_chain: "):
        _snapshot(_chain([AAPL_CALL, AAPL_PUT, AAPL_PUT], mark=2.5))
    assert warehouse.fetch_all("SELECT contract_symbol, mark FROM options_chain ORDER BY 1") == [
        (AAPL_CALL, 1.5),
        (AAPL_PUT, 1.5),
    ]
    with pytest.raises(stores.DuplicateKeys, match="derived_daily: "):
        stores.derived_write(
            rows=pd.DataFrame({"symbol": ["AAPL", "AAPL"], "date": [monday, monday]}),
            provider="demo",
        )
    assert warehouse.fetch_all("SELECT count(*) FROM derived_daily")[0][0] == 0


@pytest.mark.django_db
def test_a_refused_candle_batch_keeps_the_history_it_would_have_replaced(warehouse_db):
    monday = dt.date(2026, 11, 16)

    def candles(*days: dt.date) -> pd.DataFrame:
        return pd.DataFrame({"date": list(days), **{c: 1.0 for c in stores.CANDLE_VALUE_COLUMNS}})

    stores.candles_write_many(frames={"AAPL": candles(monday)}, provider="demo")
    with pytest.raises(stores.DuplicateKeys, match="candles_daily: "):
        stores.candles_write_many(
            frames={"AAPL": candles(monday, monday)}, provider="demo", replace_all=["AAPL"]
        )
    assert warehouse.fetch_all("SELECT symbol, date FROM candles_daily") == [("AAPL", monday)]


@pytest.mark.django_db
def test_a_chain_arrow_cannot_type_is_written_through_pandas(warehouse_db):
    """A vendor column of mixed Python objects (here a float and a string strike) takes the pandas
    path; missing value columns land as NULL on either path."""
    stored = [(AAPL_CALL, 200.0, 1.5, None, None), (AAPL_PUT, 200.0, 1.5, None, None)]

    def rows():
        return warehouse.fetch_all(
            "SELECT contract_symbol, strike, mark, bid, last_trade_at FROM options_chain ORDER BY 1"
        )

    typed = _chain([AAPL_CALL, AAPL_PUT], mark=1.5)
    assert _snapshot(typed).inserted == 2
    assert rows() == stored
    mixed = typed.assign(strike=pd.Series([200.0, "200"], dtype=object))
    assert _snapshot(mixed).updated == 2
    assert rows() == stored
