"""Persisted options flow (SPEC §5, §6.4) and the dashboard's stored view model."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from apps.core.flow_contract import FLOW_CLASSES, GROUP_BY_MODES, MAX_WINDOW, MIN_WINDOW

# Choices built from THE contracts in apps.core.flow (labels as before: "Expiry Strike").
FlowGroupBy = models.TextChoices(
    "FlowGroupBy", [(mode.upper().replace("-", "_"), mode) for mode in GROUP_BY_MODES]
)
FlowClass = models.TextChoices("FlowClass", [(c.upper(), c) for c in FLOW_CLASSES])


class OptionsFlowPartition(models.Model):
    """One computed flow partition and its metadata (snapshot dates used, gap sessions)."""

    symbol = models.CharField(max_length=16)
    from_date = models.DateField()
    to_date = models.DateField()
    window = models.PositiveSmallIntegerField()
    group_by = models.CharField(max_length=16, choices=FlowGroupBy.choices)
    snapshot_dates = models.JSONField(default=list)
    gap_sessions = models.JSONField(default=list, blank=True)
    rows = models.IntegerField(default=0)
    net_delta_oi_notional = models.FloatField(default=0.0)
    net_volume_notional = models.FloatField(default=0.0)
    provider = models.CharField(max_length=32, blank=True, default="")
    # The newest ``updated_at`` of the snapshot headers it was computed from: a re-run whose inputs
    # show the same value is ``up_to_date`` (a re-stored snapshot always moves it).
    inputs_updated_at = models.DateTimeField(null=True, blank=True)
    run = models.ForeignKey(
        "ledger.IngestionRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["symbol", "-to_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["symbol", "from_date", "to_date", "window", "group_by"],
                name="flow_partition_unique",
            ),
            models.CheckConstraint(
                condition=Q(group_by__in=FlowGroupBy.values), name="flow_partition_group_by_valid"
            ),
            models.CheckConstraint(
                condition=Q(window__gte=MIN_WINDOW, window__lte=MAX_WINDOW),
                name="flow_partition_window_valid",
            ),
        ]
        indexes = [
            # Flow page: WHERE symbol = ? AND group_by = ? AND window = ? ORDER BY to_date DESC.
            models.Index(
                fields=["symbol", "group_by", "window", "-to_date"], name="flow_partition_page_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.from_date}→{self.to_date} w{self.window} {self.group_by}"

    @property
    def has_gaps(self) -> bool:
        return bool(self.gap_sessions)


class OptionsFlow(models.Model):
    """One flow row of a partition. Partition replace deletes and re-inserts in one transaction."""

    # No index of its own: flow_row_unique and flow_rows_by_size_idx both lead with partition_id.
    partition = models.ForeignKey(
        OptionsFlowPartition, on_delete=models.CASCADE, related_name="flow_rows", db_index=False
    )
    symbol = models.CharField(max_length=16)
    from_date = models.DateField()
    to_date = models.DateField()
    window = models.PositiveSmallIntegerField()
    group_by = models.CharField(max_length=16, choices=FlowGroupBy.choices)
    row_key = models.CharField(max_length=96)
    contract_symbol = models.CharField(max_length=32, blank=True, default="")
    option_type = models.CharField(max_length=4, blank=True, default="")
    expiry = models.DateField(null=True, blank=True)
    strike = models.FloatField(null=True, blank=True)
    delta_oi = models.FloatField(null=True, blank=True)
    delta_oi_notional = models.FloatField(null=True, blank=True)
    volume_notional = models.FloatField(null=True, blank=True)
    delta_notional = models.FloatField(null=True, blank=True)
    volume = models.FloatField(null=True, blank=True)
    prior_oi = models.FloatField(null=True, blank=True)
    n_pairs = models.IntegerField(default=0)
    flow_class = models.CharField(max_length=16, choices=FlowClass.choices)

    class Meta:
        constraints = [
            # A partition's rows by key (SPEC: unique (partition, row_key)); also serves
            # WHERE partition_id IN (...) for replaces, cascades and the briefing's summaries.
            models.UniqueConstraint(fields=["partition", "row_key"], name="flow_row_unique"),
            models.CheckConstraint(
                condition=Q(flow_class__in=FlowClass.values), name="flow_class_valid"
            ),
        ]
        indexes = [
            # Drill-down of one partition ordered by size: WHERE partition_id = ? ORDER BY ...
            models.Index(fields=["partition", "-delta_oi_notional"], name="flow_rows_by_size_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.row_key}"


class DashboardView(models.Model):
    """The portal home page's view model, built by ``build_dashboard`` (never per request)."""

    market_date = models.DateField(unique=True)
    payload = models.JSONField()
    built_at = models.DateTimeField()
    run = models.ForeignKey(
        "ledger.IngestionRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-market_date"]

    def __str__(self) -> str:
        return f"dashboard {self.market_date}"
