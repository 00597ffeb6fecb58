"""``flow_no_null_primary_keys`` (SPEC §7) over the persisted ``OptionsFlow`` rows (metadata DB).

The rows checked are those of the partitions the run wrote (``scope.run_id``), or, without a run, the
scope symbols' partitions ending on ``scope.market_date`` (each symbol's newest ``to_date`` when that
is ``None``). A row offends when a partition key or its ``row_key`` is NULL or blank.
"""

from __future__ import annotations

from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Trim

from apps.analytics.models import OptionsFlow, OptionsFlowPartition
from apps.core import registry
from apps.ledger.checks.base import (
    ERROR,
    CheckScope,
    CheckSpec,
    SymbolResult,
    outcomes_for_symbols,
    skip_outcome,
)
from apps.ledger.services.run_types import CheckOutcome

NO_NULL_KEYS = CheckSpec(
    "flow_no_null_primary_keys", "options_flow", ERROR, "rows with a NULL or blank key"
)

_BLANK = (
    Q(symbol__isnull=True)
    | Q(symbol_t="")
    | Q(group_by__isnull=True)
    | Q(group_by_t="")
    | Q(row_key__isnull=True)
    | Q(row_key_t="")
    | Q(from_date__isnull=True)
    | Q(to_date__isnull=True)
    | Q(window__isnull=True)
)


def _partitions(scope: CheckScope) -> QuerySet[OptionsFlowPartition]:
    if scope.run_id:
        return OptionsFlowPartition.objects.filter(run_id=scope.run_id)
    partitions = OptionsFlowPartition.objects.filter(symbol__in=scope.normalized_symbols)
    if scope.market_date is not None:
        return partitions.filter(to_date=scope.market_date)
    newest = (
        OptionsFlowPartition.objects.filter(symbol=OuterRef("symbol"))
        .values("symbol")
        .annotate(newest=Max("to_date"))
        .values("newest")
    )
    return partitions.filter(to_date=Subquery(newest))


def _rows(scope: CheckScope) -> QuerySet[OptionsFlow]:
    return OptionsFlow.objects.filter(partition__in=_partitions(scope)).annotate(
        symbol_t=Trim("symbol"), group_by_t=Trim("group_by"), row_key_t=Trim("row_key")
    )


def _sample(rows: QuerySet[OptionsFlow], symbol: str) -> tuple[str, ...]:
    offending = rows.filter(_BLANK, partition__symbol=symbol).order_by("pk")[:10]
    return tuple(
        f"{r.pk}:{r.symbol}|{r.from_date}|{r.to_date}|w{r.window}|{r.group_by}|{r.row_key!r}"
        for r in offending
    )


def check_no_null_keys(scope: CheckScope) -> list[CheckOutcome]:
    rows = _rows(scope)
    counts = (
        rows.values("partition__symbol")
        .annotate(n=Count("pk"), bad=Count("pk", filter=_BLANK))
        .order_by("partition__symbol")
    )
    results = [
        SymbolResult(
            c["partition__symbol"] or registry.ALL_SCOPE,
            c["n"],
            c["bad"],
            _sample(rows, c["partition__symbol"]) if c["bad"] else (),
        )
        for c in counts
    ]
    symbols = sorted(set(scope.normalized_symbols) | {r.symbol for r in results})
    if not symbols:
        return [skip_outcome(NO_NULL_KEYS, registry.ALL_SCOPE, "no flow rows")]
    return outcomes_for_symbols(NO_NULL_KEYS, symbols, results, empty_reason="no flow rows")


SOURCE = "metadata"
CHECKS = ((NO_NULL_KEYS, check_no_null_keys),)
