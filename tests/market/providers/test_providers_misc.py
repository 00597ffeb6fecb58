"""Validation, registry, and the yahoo/alpaca providers against recorded payloads."""

from __future__ import annotations

import datetime as dt
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from providers_payload_helpers import (
    barset_from_raw,
    contracts_page_from_raw,
    load_payload,
    snapshot_from_raw,
)

from apps.core import calendar
from apps.market.providers import registry
from apps.market.providers.alpaca import AlpacaProvider, with_backoff
from apps.market.providers.base import (
    CHAIN_COLUMNS,
    HISTORY_COLUMNS,
    NoDataError,
    ProviderConfigError,
    ProviderError,
    ProviderNotInstalled,
    UnknownProviderError,
    UnsupportedByProvider,
)
from apps.market.providers.validation import clean_chain, validate_chain, validate_history
from apps.market.providers.yahoo import YahooProvider

# -- validation ---------------------------------------------------------------------------------

def _chain(**overrides) -> pd.DataFrame:
    base = {"contract_symbol": ["X240621C00010000", "X240621P00010000"],
            "option_type": ["C", "put"], "expiry": ["2024-06-21"] * 2, "strike": [10, 10],
            "bid": [1.0, 0.5], "ask": [1.1, 0.6]}
    base.update(overrides)
    return pd.DataFrame(base)


def test_validate_chain_normalises():
    out = validate_chain("X", _chain())
    assert list(out.columns) == list(CHAIN_COLUMNS)
    assert set(out["option_type"]) == {"call", "put"}
    assert out["expiry"].iloc[0] == dt.date(2024, 6, 21)
    assert out["implied_vol"].isna().all()


@pytest.mark.parametrize("overrides, reason", [
    ({"bid": [-1.0, 0.5]}, "negative_price"),
    ({"option_type": ["call", "straddle"]}, "bad_option_type"),
    ({"bid": [2.0, 0.5]}, "crossed_quote"),
])
def test_validate_chain_drops_bad_rows(overrides, reason):
    cleaned = clean_chain("X", _chain(**overrides))
    assert len(cleaned.chain) == 1 and cleaned.dropped == {reason: 1}


def test_validate_chain_rejects():
    with pytest.raises(ProviderError, match="duplicate contract_symbol") as info:
        validate_chain("X", _chain(contract_symbol=["X240621C00010000"] * 2))
    assert info.value.symbol == "X" and str(info.value).startswith("X: ")
    with pytest.raises(ProviderError, match=r"2 of 2 rows are bad"):
        validate_chain("X", _chain(strike=[0, float("inf")]))


def test_validate_chain_missing_columns():
    with pytest.raises(ProviderError, match=r"missing required columns \['strike'\]"):
        validate_chain("X", _chain().drop(columns="strike"))


def test_validate_chain_with_a_column_named_twice_fails_that_symbol_alone():
    frame = _chain()
    twice = pd.concat([frame, frame[["bid"]]], axis=1)
    with pytest.raises(ProviderError, match=r"names columns more than once: \['bid'\]"):
        validate_chain("X", twice)
    unchanged = frame.copy()
    validate_chain("X", frame)
    pd.testing.assert_frame_equal(frame, unchanged)  # the vendor's frame is not modified


def test_validate_history():
    df = pd.DataFrame({"date": ["2024-06-13", "2024-06-14"], "open": [1, 2], "high": [2, 3],
                       "low": [0.5, 1], "close": [1.5, 2.5]})
    out = validate_history("X", df)
    assert list(out.columns) == list(HISTORY_COLUMNS) and out["date"][0] == dt.date(2024, 6, 13)
    with pytest.raises(ProviderError, match="high < low"):
        validate_history("X", df.assign(high=[0.1, 3]))
    with pytest.raises(ProviderError, match="negative value"):
        validate_history("X", df.assign(close=[-1, 2]))
    with pytest.raises(ProviderError, match="duplicate date"):
        validate_history("X", df.assign(date=["2024-06-13"] * 2))


# -- registry -----------------------------------------------------------------------------------

def test_registry_unknown_and_known():
    with pytest.raises(UnknownProviderError) as info:
        registry.get_provider("bloomberg")
    assert all(name in str(info.value) for name in registry.PROVIDER_NAMES)
    assert registry.get_provider("demo").name == "demo"


# -- yahoo --------------------------------------------------------------------------------------

class FakeTicker:
    """Returns the recorded yfinance shapes (tz-aware index, camelCase chain columns)."""

    def __init__(self, symbol: str, fail: bool = False) -> None:
        self.symbol, self.fail = symbol, fail
        self._opt = load_payload("yfinance_options_AAPL.json")
        self.options = tuple(self._opt["options"])
        self.fast_info = self._opt["fast_info"]
        self.calendar = {"Earnings Date": [dt.date.fromisoformat(d)
                                           for d in self._opt["calendar"]["Earnings Date"]]}

    def history(self, start, end, auto_adjust, actions):
        if self.fail:
            raise ConnectionError("Failed to perform, curl: (6) Could not resolve host")
        raw = load_payload("yfinance_history_AAPL.json")
        frame = pd.DataFrame([r[1:] for r in raw["rows"]], columns=raw["columns"])
        frame.index = pd.DatetimeIndex([r[0] for r in raw["rows"]], name="Date").tz_localize(
            raw["index_tz"])
        frame["Volume"] = frame["Volume"].astype("int64")
        return frame

    def option_chain(self, date):
        rec = self._opt["option_chain"][date]
        make = lambda rows: pd.DataFrame(rows, columns=rec["columns"]).assign(  # noqa: E731
            lastTradeDate=lambda d: pd.to_datetime(d["lastTradeDate"], unit="s", utc=True))
        Options = SimpleNamespace
        return Options(calls=make(rec["calls"]), puts=make(rec["puts"]),
                       underlying=rec["underlying"])


@pytest.fixture
def latest(monkeypatch):
    """Pin 'latest' to 2025-10-06 so the recorded payloads are current."""
    real = calendar.market_date_for
    monkeypatch.setattr(calendar, "market_date_for",
                        lambda as_of, now=None: real(as_of or dt.date(2025, 10, 6),
                                                     now=dt.datetime(2025, 10, 7, tzinfo=dt.UTC)))


def test_yahoo_history_and_quote():
    yahoo = YahooProvider(client_factory=FakeTicker)
    hist = validate_history("AAPL", yahoo.get_history("AAPL", dt.date(2025, 10, 2),
                                                      dt.date(2025, 10, 6)))
    assert list(hist["date"]) == [dt.date(2025, 10, 2), dt.date(2025, 10, 3),
                                  dt.date(2025, 10, 6)]
    assert hist["adj_close"].iloc[-1] == 256.69 and hist["splits"].eq(0).all()
    assert yahoo.get_quote("AAPL") == 256.69


def test_yahoo_chain_snapshot(latest):
    yahoo = YahooProvider(client_factory=FakeTicker)
    assert yahoo.list_option_expiries("AAPL")[0] == dt.date(2025, 10, 17)
    chain = validate_chain("AAPL", yahoo.get_option_chain("AAPL", dt.date(2025, 10, 17)))
    assert len(chain) == 7 and chain["last_trade_at"].dt.tz is not None
    assert chain["volume"].isna().sum() == 1
    assert yahoo.next_earnings("AAPL") == dt.date(2025, 10, 30)
    with pytest.raises(NoDataError, match="current chain"):
        yahoo.get_option_chain("AAPL", dt.date(2025, 10, 17), as_of=dt.date(2025, 9, 1))


def test_yahoo_errors_are_provider_errors():
    yahoo = YahooProvider(client_factory=lambda s: FakeTicker(s, fail=True))
    with pytest.raises(ProviderError, match="AAPL: yahoo history failed: ConnectionError"):
        yahoo.get_history("AAPL", dt.date(2025, 10, 1), dt.date(2025, 10, 6))
    with pytest.raises(UnsupportedByProvider):
        yahoo.get_option_bars(["AAPL251017C00250000"], dt.date(2025, 10, 1),
                              dt.date(2025, 10, 6))


def test_yahoo_not_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "yfinance", None)
    with pytest.raises(ProviderNotInstalled, match=r"options-helper\[yahoo\]"):
        YahooProvider()


# -- alpaca -------------------------------------------------------------------------------------

class FakeAPIError(Exception):
    """Same surface as alpaca.common.exceptions.APIError: status_code and response.headers."""

    def __init__(self, status: int, body: dict, headers: dict | None = None) -> None:
        super().__init__(str(body))
        self.status_code = status
        self.response = SimpleNamespace(status_code=status, headers=headers or {})


class FakeClients:
    def __init__(self, failures: list[Exception] | None = None) -> None:
        self.raw = load_payload("alpaca_AAPL.json")
        self.failures = list(failures or [])
        self.calls: list[str] = []

    def _maybe_fail(self, name: str) -> None:
        self.calls.append(name)
        if self.failures:
            raise self.failures.pop(0)

    def get_stock_bars(self, request):
        self._maybe_fail("stock_bars")
        return barset_from_raw(self.raw["stock_bars"]["bars"])

    def get_option_bars(self, request):
        self._maybe_fail("option_bars")
        return barset_from_raw(self.raw["option_bars"]["bars"])

    def get_option_chain(self, request):
        self._maybe_fail("option_chain")
        return {k: snapshot_from_raw(k, v)
                for k, v in self.raw["option_chain"]["snapshots"].items()}

    def get_option_contracts(self, request):
        self._maybe_fail("contracts")
        page = "contracts_page2" if request.page_token else "contracts_page1"
        return contracts_page_from_raw(self.raw[page])


def _alpaca(clients: FakeClients, sleeps: list[float] | None = None) -> AlpacaProvider:
    fake = {"stock": clients, "option": clients, "trading": clients}
    return AlpacaProvider(clients=fake, sleep=(sleeps.append if sleeps is not None
                                               else lambda s: None),
                          request_factory=lambda kind, **kw: SimpleNamespace(kind=kind, **kw))


def test_alpaca_history_and_bars():
    alpaca = _alpaca(FakeClients())
    hist = validate_history("AAPL", alpaca.get_history("AAPL", dt.date(2025, 10, 2),
                                                       dt.date(2025, 10, 6)))
    assert list(hist["date"]) == [dt.date(2025, 10, 2), dt.date(2025, 10, 3),
                                  dt.date(2025, 10, 6)]
    assert hist["trade_count"].iloc[0] == 612345 and hist["vwap"].notna().all()
    bars = alpaca.get_option_bars(["AAPL251017C00250000"], dt.date(2025, 10, 1),
                                  dt.date(2025, 10, 6))
    assert list(bars.columns) == ["contract_symbol", "date", "open", "high", "low", "close",
                                  "volume", "vwap", "trade_count"]
    assert list(bars["date"]) == [dt.date(2025, 10, 3), dt.date(2025, 10, 6)]


def test_alpaca_snapshot_joins_contracts(latest):
    clients = FakeClients()
    snap = _alpaca(clients).get_chain_snapshot("AAPL")
    chain = validate_chain("AAPL", snap.chain)
    assert snap.snapshot_date == dt.date(2025, 10, 6) and snap.spot == 256.69
    assert len(chain) == 3 and clients.calls.count("contracts") == 2  # paginated
    row = chain.set_index("contract_symbol").loc["AAPL251017P00250000"]
    assert row["bid"] == 1.52 and row["open_interest"] == 15002 and row["implied_vol"] == 0.2705
    no_trade = chain.set_index("contract_symbol").loc["AAPL251121C00260000"]
    assert np.isnan(no_trade["last"]) and pd.isna(no_trade["last_trade_at"])
    contracts = _alpaca(FakeClients()).list_option_contracts("AAPL")
    assert contracts["multiplier"].eq(100).all() and len(contracts) == 3


def test_alpaca_429_retry_after_then_success():
    sleeps: list[float] = []
    err = FakeAPIError(429, load_payload("alpaca_AAPL.json")["error_429"], {"Retry-After": "7"})
    clients = FakeClients([err])
    hist = _alpaca(clients, sleeps).get_history("AAPL", dt.date(2025, 10, 2),
                                                dt.date(2025, 10, 6))
    assert len(hist) == 3 and sleeps == [7.0] and clients.calls == ["stock_bars"] * 2


def test_alpaca_500_exhausted():
    sleeps: list[float] = []
    errors = [FakeAPIError(500, {"message": "internal"}) for _ in range(5)]
    with pytest.raises(ProviderError, match=r"AAPL: alpaca stock bars failed: HTTP 500"):
        _alpaca(FakeClients(errors), sleeps).get_history("AAPL", dt.date(2025, 10, 2),
                                                         dt.date(2025, 10, 6))
    assert sleeps == [1.0, 2.0, 4.0, 8.0]


def test_with_backoff_does_not_retry_client_errors():
    calls = []

    def boom():
        calls.append(1)
        raise FakeAPIError(403, {"message": "forbidden"})

    with pytest.raises(FakeAPIError):
        with_backoff(boom, attempts=4, sleep=lambda s: None)
    assert len(calls) == 1


def test_alpaca_missing_credentials(monkeypatch):
    monkeypatch.delenv("APCA_API_KEY_ID", raising=False)
    monkeypatch.setenv("APCA_API_SECRET_KEY", "sekrit-value-123")
    with pytest.raises(ProviderConfigError) as info:
        AlpacaProvider()
    assert "APCA_API_KEY_ID" in str(info.value) and "sekrit" not in str(info.value)


def test_recorded_payloads_parse_with_real_alpaca_models():
    """When alpaca-py is installed, the recorded JSON must validate against its real models."""
    pytest.importorskip("alpaca")
    from alpaca.data.mappings import BAR_MAPPING  # noqa: F401
    from alpaca.data.models.bars import BarSet
    from alpaca.data.models.snapshots import OptionsSnapshot
    from alpaca.trading.models import OptionContractsResponse
    from pydantic import TypeAdapter

    from apps.market.providers.alpaca import chain_frame, contracts_frame, snapshots_frame

    raw = load_payload("alpaca_AAPL.json")
    page = TypeAdapter(OptionContractsResponse).validate_python(raw["contracts_page1"])
    contracts = contracts_frame("AAPL", page.option_contracts)
    snaps = {k: OptionsSnapshot(k, v) for k, v in raw["option_chain"]["snapshots"].items()}
    chain = chain_frame(snapshots_frame(snaps), contracts)
    assert chain.set_index("contract_symbol").loc["AAPL251017C00250000", "bid"] == 8.0
    df = BarSet(raw["stock_bars"]["bars"]).df
    assert {"open", "high", "low", "close", "volume", "trade_count", "vwap"} <= set(df.columns)
    assert list(df.index.names) == ["symbol", "timestamp"]
