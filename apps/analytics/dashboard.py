"""The dashboard's stored row contract: one typed structure for the builder, the page and the tests.

``build_dashboard`` writes :meth:`DashboardSymbolRow.to_payload` dicts into ``DashboardView.payload``;
the home page reads them back with :meth:`DashboardSymbolRow.from_payload` (tolerant of rows written
by older builds: missing keys read as None), so a key the page reads cannot go unwritten.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

_LIVE = frozenset({"health"})


@dataclass(frozen=True)
class DashboardSymbolRow:
    symbol: str
    spot: float | None = None
    change_pct: float | None = None  # percent (1.2 = 1.2 %)
    pc_oi: float | None = None
    atm_iv: float | None = None  # fraction (0.27 = 27 %)
    iv_rank: float | None = None  # 0..100
    iv_history: int | None = None  # prior sessions with an ATM IV behind iv_rank
    flow_net_notional: float | None = None  # $ ΔOI notional
    flow_window: int | None = None
    warnings: int = 0
    health: str = "unknown"  # read live by the page (apps.ledger.selectors.health); not stored
    stale: bool = False  # today's inputs missing (upstream failed): older values are shown
    stale_note: str | None = None

    def to_payload(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if key not in _LIVE}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> DashboardSymbolRow | None:
        """A row from stored JSON; None for a row without a symbol."""
        if not isinstance(data, dict) or not data.get("symbol"):
            return None
        known = {f.name for f in fields(cls)} - _LIVE  # an older build's stored health is stale
        values = {k: v for k, v in data.items() if k in known and v is not None}
        return cls(**values)


def rows_from_payload(payload: dict[str, Any]) -> list[DashboardSymbolRow]:
    rows = (DashboardSymbolRow.from_payload(item) for item in payload.get("symbols") or [])
    return [row for row in rows if row is not None]
