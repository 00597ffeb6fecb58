"""A small, deterministic portal dataset built in code (also reused by bench/bench_portal.py).

Warehouse rows go in through ``warehouse.transaction()`` (bulk ``INSERT … BY NAME`` from frames);
control-plane rows through the ORM. Values are synthetic but shaped like the demo provider's.
"""

from __future__ import annotations

import datetime as dt
import uuid

import numpy as np
import pandas as pd
from django.utils import timezone

from apps.analytics.dashboard import DashboardSymbolRow
from apps.analytics.models import DashboardView, OptionsFlow, OptionsFlowPartition
from apps.core import calendar
from apps.core.greeks import bs_price, enrich_chain
from apps.core.registry import ASSETS, JOBS
from apps.ledger.models import AssetCheck, AssetWatermark, IngestionRun, IngestionRunAsset
from apps.portfolio.models import PortfolioSettings, Position, PositionLeg
from optionshelper import warehouse

CHAIN_TABLE_COLUMNS = (
    "symbol snapshot_date provider contract_symbol expiry option_type strike bid ask last mark "
    "volume open_interest implied_vol iv_source bs_price bs_delta bs_gamma bs_theta_per_day bs_vega"
).split()


def sessions_until(end: dt.date, count: int) -> list[dt.date]:
    """The last ``count`` NYSE sessions up to and including ``end``."""
    start = end - dt.timedelta(days=int(count * 1.6) + 10)
    return calendar.sessions_between(start, end)[-count:]


def _insert(connection, table: str, frame: pd.DataFrame) -> None:
    connection.register("seed_frame", frame)
    connection.execute(f"INSERT INTO {table} BY NAME SELECT * FROM seed_frame")
    connection.unregister("seed_frame")


def candles_frame(symbol: str, days: list[dt.date], rng: np.random.Generator) -> pd.DataFrame:
    start = 50 + 400 * rng.random()
    closes = start * np.exp(np.cumsum(rng.normal(0, 0.015, len(days))))
    opens = closes * (1 + rng.normal(0, 0.005, len(days)))
    spread = np.abs(rng.normal(0, 0.01, len(days))) * closes
    now = timezone.now()
    return pd.DataFrame(
        {
            "symbol": symbol,
            "date": days,
            "open": opens,
            "close": closes,
            "adj_close": closes,
            "high": np.maximum(opens, closes) + spread,
            "low": np.minimum(opens, closes) - spread,
            "volume": rng.integers(1e5, 5e6, len(days)).astype(float),
            "provider": "demo",
            "updated_at": now,
        }
    )


def _expiries(as_of: dt.date) -> list[dt.date]:
    out = []
    for months in range(0, 4):
        year, month = (
            as_of.year + (as_of.month - 1 + months) // 12,
            (as_of.month - 1 + months) % 12 + 1,
        )
        out.append(calendar.monthly_expiry(year, month))
    weekly = as_of + dt.timedelta(days=(4 - as_of.weekday()) % 7 + 7)
    return sorted({e for e in out + [weekly] if e > as_of})


def chain_frame(symbol: str, as_of: dt.date, spot: float, rng: np.random.Generator) -> pd.DataFrame:
    """An enriched chain: 5 expiries × 25 strikes × call/put with a smile and greeks."""
    strikes = np.round(spot * np.linspace(0.7, 1.3, 25), 1)
    rows = []
    for expiry in _expiries(as_of):
        t = max((expiry - as_of).days, 1) / 365.0
        for option_type in ("call", "put"):
            moneyness = np.log(strikes / spot)
            iv = 0.28 + 0.5 * moneyness**2 - (0.08 * moneyness if option_type == "put" else 0.0)
            fair = bs_price(spot, strikes, t, iv, 0.04, option_type == "call")
            fair = np.maximum(fair, 0.01)
            for k, price, vol in zip(strikes, fair, iv, strict=True):
                osi = f"{symbol}{expiry:%y%m%d}{option_type[0].upper()}{int(k * 1000):08d}"
                rows.append(
                    {
                        "contract_symbol": osi,
                        "expiry": expiry,
                        "option_type": option_type,
                        "strike": float(k),
                        "bid": price * 0.97,
                        "ask": price * 1.03,
                        "last": price,
                        "volume": float(rng.integers(0, 2000)),
                        "open_interest": float(rng.integers(50, 20000)),
                        "implied_vol": float(vol),
                    }
                )
    chain = enrich_chain(pd.DataFrame(rows), spot=spot, as_of=as_of, risk_free_rate=0.04)
    chain = chain.assign(symbol=symbol, snapshot_date=as_of, provider="demo")
    return chain[[c for c in CHAIN_TABLE_COLUMNS if c in chain.columns]]


def derived_frame(candles: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    close = candles["close"].to_numpy()
    rets = pd.Series(np.log(close)).diff()
    n = len(candles)
    iv = 0.25 + 0.05 * np.sin(np.arange(n) / 9) + rng.normal(0, 0.01, n)
    return pd.DataFrame(
        {
            "symbol": candles["symbol"],
            "date": candles["date"],
            "spot": close,
            "pc_oi": 0.8 + 0.3 * rng.random(n),
            "pc_vol": 0.7 + 0.5 * rng.random(n),
            "call_wall": np.round(close * 1.05),
            "put_wall": np.round(close * 0.95),
            "max_pain": np.round(close),
            "gamma_peak_strike": np.round(close),
            "atm_iv_near": iv,
            "em_near_pct": iv * 0.2,
            "skew_near_pp": 3 + rng.normal(0, 1, n),
            "iv_term_slope": rng.normal(0, 0.01, n),
            "rv_20d": rets.rolling(20).std().to_numpy() * np.sqrt(252),
            "rv_60d": rets.rolling(60).std().to_numpy() * np.sqrt(252),
            "atm_iv_percentile": 100 * rng.random(n),
            "atm_iv_rank": 100 * rng.random(n),
            "provider": "demo",
            "updated_at": timezone.now(),
        }
    )


def seed_warehouse(
    symbols: list[str], days: list[dt.date], *, snapshots: int = 2, seed: int = 7
) -> dict[str, float]:
    """Candles and derived rows for every session; chains for the last ``snapshots`` sessions."""
    rng = np.random.default_rng(seed)
    spots: dict[str, float] = {}
    with warehouse.transaction() as connection:
        for symbol in symbols:
            candles = candles_frame(symbol, days, rng)
            _insert(connection, "candles_daily", candles)
            _insert(connection, "derived_daily", derived_frame(candles, rng))
            for day, close in zip(
                days[-snapshots:], candles["close"].iloc[-snapshots:], strict=True
            ):
                chain = chain_frame(symbol, day, float(close), rng)
                _insert(connection, "options_chain", chain)
                header = pd.DataFrame(
                    [
                        {
                            "symbol": symbol,
                            "snapshot_date": day,
                            "provider": "demo",
                            "spot": close,
                            "risk_free_rate": 0.04,
                            "contracts": len(chain),
                            "updated_at": timezone.now(),
                        }
                    ]
                )
                _insert(connection, "options_snapshot_headers", header)
            spots[symbol] = float(candles["close"].iloc[-1])
    return spots


def seed_flow(
    symbols: list[str], days: list[dt.date], *, partitions: int = 8, rows: int = 30, seed: int = 11
) -> None:
    rng = np.random.default_rng(seed)
    now = timezone.now()
    parts, flows = [], []
    for symbol in symbols:
        for prev, day in zip(days[-partitions - 1 : -1], days[-partitions:], strict=True):
            strikes = np.round(np.linspace(80, 120, rows), 1)
            d_oi = rng.normal(0, 800, rows)
            vol_notional = np.abs(rng.normal(0, 2e5, rows))
            gaps = [str(prev + dt.timedelta(days=1))] if day == days[-3] else []
            part = OptionsFlowPartition(
                symbol=symbol,
                from_date=prev,
                to_date=day,
                window=1,
                group_by="strike",
                snapshot_dates=[str(prev), str(day)],
                gap_sessions=gaps,
                rows=rows,
                net_delta_oi_notional=float((d_oi * 100).sum()),
                net_volume_notional=float(vol_notional.sum()),
                provider="demo",
                computed_at=now,
            )
            parts.append(part)
            flows.extend(
                OptionsFlow(
                    partition=part,
                    symbol=symbol,
                    from_date=prev,
                    to_date=day,
                    window=1,
                    group_by="strike",
                    row_key=f"{k:g}",
                    strike=float(k),
                    delta_oi=float(d),
                    delta_oi_notional=float(d * 100),
                    volume_notional=float(v),
                    delta_notional=float(d * 50),
                    volume=float(abs(d) * 2),
                    prior_oi=1000.0,
                    n_pairs=2,
                    flow_class="building" if d > 0 else "unwinding",
                )
                for k, d, v in zip(strikes, d_oi, vol_notional, strict=True)
            )
    OptionsFlowPartition.objects.bulk_create(parts)  # sets each partition's id (RETURNING)
    OptionsFlow.objects.bulk_create(flows)


def seed_ledger(symbols: list[str], days: list[dt.date]) -> None:
    """One run per job per session (the last ingest run failed), watermarks, checks."""
    base = timezone.now() - dt.timedelta(days=len(days[-10:]))
    run_rows, event_rows = [], []
    for i, day in enumerate(days[-10:]):
        for j, spec in enumerate(JOBS):
            failed = spec.name == "ingest_options_bars" and i == 9
            started = base + dt.timedelta(days=i, minutes=j * 3)
            run = IngestionRun(
                job_name=spec.name,
                triggered_by="cli",
                status="failed" if failed else "success",
                started_at=started,
                ended_at=started + dt.timedelta(seconds=20 + j),
                duration_ms=(20 + j) * 1000,
                heartbeat_at=started,
                as_of=day,
                provider="demo",
                error_type="ProviderError" if failed else "",
                error_message="provider timed out for AAA" if failed else "",
                error_stack_hash="abc123" if failed else "",
            )
            run_rows.append(run)
            event_rows.extend(
                IngestionRunAsset(
                    run=run,
                    asset_key=asset.key,
                    asset_kind=asset.kind,
                    partition_key=scope,
                    status="failed" if failed else "success",
                    rows_inserted=10,
                    started_at=started,
                )
                for asset in spec.assets
                for scope in (symbols if asset.per_symbol else ["ALL"])
            )
    IngestionRun.objects.bulk_create(run_rows)
    IngestionRunAsset.objects.bulk_create(event_rows)
    last_run = max(run_rows, key=lambda run: run.started_at)
    AssetWatermark.objects.bulk_create(
        AssetWatermark(
            asset_key=asset.key,
            scope_key=scope,
            updated_at=timezone.now(),
            last_run=last_run,
            watermark_ts=dt.datetime.combine(
                days[-1 - (3 if asset.key == "option_bars" else 0)], dt.time(20), tzinfo=dt.UTC
            ),
        )
        for asset in ASSETS
        for scope in (symbols if asset.per_symbol else ["ALL"])
    )
    AssetCheck.objects.create(
        run=last_run,
        asset_key="options_snapshots",
        partition_key=symbols[0],
        check_name="chain_not_empty",
        severity="warn",
        status="fail",
        checked_at=timezone.now(),
        metrics={"rows": 0},
        message="synthetic failed check",
    )


def seed_portfolio(symbol: str, as_of: dt.date, spot: float) -> None:
    expiries = _expiries(as_of)
    strikes = np.round(spot * np.linspace(0.7, 1.3, 25), 1)
    atm = float(strikes[np.argmin(np.abs(strikes - spot))])
    PortfolioSettings.objects.create(cash=25_000.0, risk_profile={"max_portfolio_risk_pct": 0.2})
    single = Position.objects.create(position_id="p-call", symbol=symbol, cost_basis=2.5)
    PositionLeg.objects.create(
        position=single, option_type="call", expiry=expiries[1], strike=atm, contracts=2
    )
    spread = Position.objects.create(position_id="p-spread", symbol=symbol, net_debit=-150.0)
    PositionLeg.objects.create(
        position=spread,
        side="short",
        option_type="put",
        expiry=expiries[2],
        strike=atm,
        contracts=1,
    )
    PositionLeg.objects.create(
        position=spread,
        side="long",
        option_type="put",
        expiry=expiries[2],
        strike=float(strikes[8]),
        contracts=1,
    )


def seed_dashboard(symbols: list[str], market_date: dt.date, spots: dict[str, float]) -> None:
    payload = {
        "schema_version": 1,
        "market_date": str(market_date),
        "built_at": timezone.now().isoformat(),
        "overall_health": "warning",
        "symbols": [
            DashboardSymbolRow(
                symbol=s,
                spot=spots[s],
                change_pct=1.2 * (i - 0.5),
                pc_oi=0.9,
                atm_iv=0.27,
                iv_rank=44.0,
                flow_net_notional=125000.0 * (1 - 2 * i),
                flow_window=1,
                health="healthy" if i == 0 else "degraded",
            ).to_payload()
            for i, s in enumerate(symbols)
        ]
        + [{"symbol": "ZZZ"}],  # a sparse row must still render
        "portfolio": {
            "positions": 2,
            "market_value": 1234.5,
            "cost": 1000.0,
            "pnl": 234.5,
            "pnl_pct": None,
        },
        "jobs": [
            {
                "job_name": "build_dashboard",
                "status": "success",
                "started_at": timezone.now().isoformat(),
                "duration_ms": 120,
            }
        ],
        "briefing": {"markdown_path": "reports/briefing.md", "json_path": "reports/briefing.json"},
        "disclaimer": "Not financial advice.",
    }
    DashboardView.objects.create(market_date=market_date, payload=payload, built_at=timezone.now())


def seed_all(
    symbols: tuple[str, ...] = ("AAA", "BBB"), sessions: int = 70, end: dt.date | None = None
) -> dict[str, object]:
    """Everything the portal pages show, for ``symbols`` over ``sessions`` sessions."""
    end = end or calendar.last_completed_session()
    days = sessions_until(end, sessions)
    spots = seed_warehouse(list(symbols), days)
    seed_flow(list(symbols), days)
    seed_ledger(list(symbols), days)
    seed_portfolio(symbols[0], days[-1], spots[symbols[0]])
    seed_dashboard(list(symbols), days[-1], spots)
    return {"symbols": symbols, "days": days, "spots": spots, "run_id": str(uuid.uuid4())}
