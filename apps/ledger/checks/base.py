"""Shared pieces of the data-quality checks (SPEC §7): the scope, the check specs and outcome building.

A check turns one aggregate query result per symbol into one :class:`CheckOutcome`. Failing data is a
``fail`` outcome, never an exception; an exception raised while checking propagates to the job's run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from apps.core import registry
from apps.ledger.models import CheckStatus, Severity
from apps.ledger.services.run_types import CheckOutcome

SAMPLE_SIZE = 10


@dataclass(frozen=True)
class CheckScope:
    """What a job just wrote: its symbols, the market date it describes, its provider and run.

    ``written_since``: the job's rows are those stored at or after this instant (checks of
    append-only history narrow to them and to the stored rows they could clash with); ``None``
    checks every stored row of the symbols.
    """

    symbols: tuple[str, ...]
    market_date: dt.date | None = None
    provider: str | None = None
    run_id: str | None = None
    written_since: dt.datetime | None = None

    @property
    def normalized_symbols(self) -> tuple[str, ...]:
        """Upper-cased, de-duplicated, sorted: the warehouse stores upper-cased underlyings."""
        return tuple(sorted({s.strip().upper() for s in self.symbols if s and s.strip()}))


@dataclass(frozen=True)
class CheckSpec:
    """One row of the SPEC §7 table plus the wording of its messages."""

    name: str
    asset_key: str
    severity: str
    offending_noun: str  # "duplicate (symbol, date) keys", used in one-line messages

    def __post_init__(self) -> None:
        registry.asset(self.asset_key)  # a typo in an asset name fails at import time


@dataclass(frozen=True)
class SymbolResult:
    """The aggregate one query returns for one symbol."""

    symbol: str
    rows_checked: int
    offending: int
    sample: tuple[str, ...] = ()
    extra: dict[str, Any] | None = None


def _sample(values: Iterable[Any] | None) -> list[str]:
    return [str(v) for v in list(values or [])[:SAMPLE_SIZE]]


def outcome_for(spec: CheckSpec, result: SymbolResult) -> CheckOutcome:
    """``pass``/``fail`` with the metrics SPEC §7 asks for (rows checked, offending, a sample)."""
    sample = _sample(result.sample)
    metrics: dict[str, Any] = {
        "rows_checked": int(result.rows_checked),
        "offending": int(result.offending),
        "sample": sample,
        **(result.extra or {}),
    }
    if result.offending:
        status = CheckStatus.FAIL
        shown = ", ".join(sample[:3]) + (", …" if result.offending > 3 else "")
        message = (
            f"{result.symbol}: {result.offending} {spec.offending_noun} "
            f"in {result.rows_checked} rows checked (e.g. {shown})"
        )
    else:
        status = CheckStatus.PASS
        message = f"{result.symbol}: no {spec.offending_noun} in {result.rows_checked} rows checked"
    return CheckOutcome(
        asset_key=spec.asset_key,
        check_name=spec.name,
        severity=spec.severity,
        status=str(status),
        partition_key=result.symbol,
        metrics=metrics,
        message=message,
    )


def skip_outcome(spec: CheckSpec, partition_key: str, reason: str) -> CheckOutcome:
    return CheckOutcome(
        asset_key=spec.asset_key,
        check_name=spec.name,
        severity=spec.severity,
        status=str(CheckStatus.SKIP),
        partition_key=partition_key,
        metrics={"reason": reason},
        message=f"{partition_key}: skipped ({reason})",
    )


def outcomes_for_symbols(
    spec: CheckSpec,
    symbols: Sequence[str],
    results: Iterable[SymbolResult],
    *,
    empty_reason: str = "no rows",
) -> list[CheckOutcome]:
    """One outcome per scope symbol: its result, or ``skip`` when the query found no rows for it."""
    by_symbol = {r.symbol: r for r in results if r.rows_checked}
    if not symbols:
        return [skip_outcome(spec, registry.ALL_SCOPE, "no symbols in scope")]
    return [
        outcome_for(spec, by_symbol[s]) if s in by_symbol else skip_outcome(spec, s, empty_reason)
        for s in symbols
    ]


def placeholders(values: Sequence[Any]) -> str:
    """``?, ?, ?`` for an IN list (never an empty list: callers skip before querying)."""
    return ", ".join("?" for _ in values)


ERROR = str(Severity.ERROR)
WARN = str(Severity.WARN)
