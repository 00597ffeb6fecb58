"""Positions and watchlists a user owns (SPEC §2), editable in the admin."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from apps.core.symbols import SYMBOL_PATTERN, normalize_symbol  # noqa: F401 (models validate with it)


def validate_symbol(value: str) -> None:
    try:
        normalize_symbol(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


class OptionType(models.TextChoices):
    CALL = "call"
    PUT = "put"


class LegSide(models.TextChoices):
    LONG = "long"
    SHORT = "short"


class PortfolioSettings(models.Model):
    """The portfolio's top-level fields (one row): currency, cash and the risk profile."""

    base_currency = models.CharField(max_length=3, default="USD")
    cash = models.FloatField(default=0.0)
    risk_profile = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "portfolio settings"
        verbose_name_plural = "portfolio settings"

    def __str__(self) -> str:
        return f"Portfolio ({self.base_currency}, cash {self.cash:,.2f})"

    @classmethod
    def load(cls) -> PortfolioSettings:
        return cls.objects.order_by("pk").first() or cls()


class Position(models.Model):
    """A single-leg (always long) or multi-leg position; legs hold the contracts."""

    position_id = models.CharField(max_length=64, unique=True)
    symbol = models.CharField(max_length=10, validators=[validate_symbol])
    cost_basis = models.FloatField(
        null=True, blank=True, help_text="premium per share (single-leg)"
    )
    net_debit = models.FloatField(
        null=True, blank=True, help_text="total dollars (multi-leg); a credit is negative"
    )
    opened_at = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["symbol", "position_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(cost_basis__isnull=True) | Q(cost_basis__gte=0),
                name="position_cost_basis_non_negative",
            )
        ]

    def __str__(self) -> str:
        return f"{self.position_id} ({self.symbol})"



class PositionLeg(models.Model):
    position = models.ForeignKey(Position, on_delete=models.CASCADE, related_name="legs")
    side = models.CharField(max_length=5, choices=LegSide.choices, default=LegSide.LONG)
    option_type = models.CharField(max_length=4, choices=OptionType.choices)
    expiry = models.DateField()
    strike = models.FloatField()
    contracts = models.PositiveIntegerField()

    class Meta:
        ordering = ["position", "expiry", "strike"]
        constraints = [
            models.CheckConstraint(condition=Q(strike__gt=0), name="leg_strike_positive"),
            models.CheckConstraint(condition=Q(contracts__gt=0), name="leg_contracts_positive"),
            models.CheckConstraint(condition=Q(side__in=LegSide.values), name="leg_side_valid"),
            models.CheckConstraint(
                condition=Q(option_type__in=OptionType.values), name="leg_option_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.contracts} {self.option_type} {self.strike:g} {self.expiry}"


class Watchlist(models.Model):
    name = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WatchlistSymbol(models.Model):
    watchlist = models.ForeignKey(Watchlist, on_delete=models.CASCADE, related_name="symbols")
    symbol = models.CharField(max_length=10, validators=[validate_symbol])

    class Meta:
        ordering = ["watchlist", "symbol"]
        constraints = [
            models.UniqueConstraint(fields=["watchlist", "symbol"], name="watchlist_symbol_unique")
        ]

    def __str__(self) -> str:
        return self.symbol
