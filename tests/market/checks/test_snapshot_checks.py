"""The snapshot checks of issue 14 (finding 1): spot sanity, IV range, quote sanity, dropped rows."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from apps.ledger.checks import CheckScope, run_checks
from optionshelper import warehouse

SNAP = dt.date(2024, 3, 15)
EXPIRY = dt.date(2024, 4, 19)


def _header(symbol: str, spot: float, *, meta: dict | None = None, contracts: int = 2) -> None:
    with warehouse.transaction() as con:
        con.execute(
            "INSERT INTO options_snapshot_headers VALUES (?, ?, 'demo', ?, 0.0, ?, '{}', ?, now())",
            [symbol, SNAP, spot, contracts, json.dumps(meta or {})],
        )


def _row(symbol: str, contract: str, **values) -> None:
    row = {"expiry": EXPIRY, "option_type": "call", "strike": 150.0, "bid": 1.0, "ask": 1.2,
           "last": 1.1, "volume": 5.0, "open_interest": 10.0, "implied_vol": 0.3, **values}
    cols = ", ".join(row)
    with warehouse.transaction() as con:
        con.execute(
            f"INSERT INTO options_chain (symbol, snapshot_date, provider, contract_symbol, {cols}) "
            f"VALUES (?, ?, 'demo', ?, {', '.join('?' for _ in row)})",
            [symbol, SNAP, contract, *row.values()],
        )


def _candle(symbol: str, close: float) -> None:
    with warehouse.transaction() as con:
        con.execute(
            "INSERT INTO candles_daily (symbol, date, open, high, low, close, provider, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, 'demo', now())",
            [symbol, SNAP, close, close, close, close],
        )


def _outcomes(symbol: str) -> dict[str, object]:
    scope = CheckScope(symbols=(symbol,), market_date=SNAP)
    return {o.check_name: o for o in run_checks("snapshot_options", scope=scope)}


def test_clean_snapshot_passes_every_check(warehouse_db):
    _header("AAPL", 150.0, meta={"rows_received": 2, "dropped_rows": {}})
    _candle("AAPL", 151.0)
    _row("AAPL", "AAPL240419C00150000")
    _row("AAPL", "AAPL240419P00150000", option_type="put")
    statuses = {name: o.status for name, o in _outcomes("AAPL").items()}
    assert set(statuses.values()) == {"pass"}, statuses
    assert len(statuses) == 5


@pytest.mark.parametrize(
    ("spot", "close", "needle"),
    [(0.0, None, "spot 0.0"), (float("nan"), None, "spot nan"), (-3.0, None, "spot -3.0"),
     (15.0, 150.0, "vs close 150.0")],
)
def test_bad_spot_fails_loudly(warehouse_db, spot, close, needle):
    _header("AAPL", spot)
    if close is not None:
        _candle("AAPL", close)
    outcome = _outcomes("AAPL")["snapshot_spot_sane"]
    assert (outcome.status, outcome.severity) == ("fail", "error")
    assert needle in outcome.metrics["sample"][0]


@pytest.mark.parametrize(
    ("values", "check", "needle"),
    [
        ({"implied_vol": float("inf")}, "snapshot_iv_range", "iv inf"),
        ({"implied_vol": 1e12}, "snapshot_iv_range", "iv 1"),
        ({"bid": 2.0, "ask": 1.0}, "snapshot_quote_sanity", "bid 2.0 > ask 1.0"),
        ({"strike": float("inf")}, "snapshot_quote_sanity", "strike inf"),
        ({"strike": 0.0}, "snapshot_quote_sanity", "strike 0.0"),
        ({"volume": float("nan")}, "snapshot_quote_sanity", "volume"),
        ({"expiry": dt.date(2019, 1, 18)}, "snapshot_quote_sanity", "expired 2019-01-18"),
    ],
)
def test_impossible_rows_fail_loudly(warehouse_db, values, check, needle):
    _header("AAPL", 150.0)
    _row("AAPL", "AAPL240419C00150000")
    _row("AAPL", "AAPL240419P00150000", option_type="put", **values)
    outcome = _outcomes("AAPL")[check]
    assert (outcome.status, outcome.severity) == ("fail", "error")
    assert outcome.metrics["offending"] == 1
    assert needle in outcome.metrics["sample"][0]


def test_dropped_row_share_above_five_percent_fails(warehouse_db):
    _header("AAPL", 150.0, meta={"rows_received": 100, "dropped_rows": {"bad_strike": 2}})
    _header("MSFT", 400.0, meta={"rows_received": 100, "dropped_rows": {"expired": 30,
                                                                          "bad_volume": 5}})
    assert _outcomes("AAPL")["snapshot_dropped_rows"].status == "pass"
    outcome = _outcomes("MSFT")["snapshot_dropped_rows"]
    assert (outcome.status, outcome.severity) == ("fail", "warn")
    assert outcome.metrics["offending"] == 35 and outcome.metrics["rows_checked"] == 100
