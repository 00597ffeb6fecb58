"""Display filters that tolerate missing values (stored payloads may lack keys: show "—")."""

from __future__ import annotations

import math
from typing import Any

from django import template

register = template.Library()
DASH = "—"


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@register.filter
def num(value: Any, decimals: int = 2) -> str:
    number = _number(value)
    return DASH if number is None else f"{number:,.{int(decimals)}f}"


@register.filter
def money(value: Any) -> str:
    number = _number(value)
    if number is None:
        return DASH
    return f"-${abs(number):,.2f}" if number < 0 else f"${number:,.2f}"


@register.filter
def compact(value: Any) -> str:
    """1234567 → 1.23M: notional amounts in tiles and tables."""
    number = _number(value)
    if number is None:
        return DASH
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= size:
            return f"{number / size:,.2f}{suffix}"
    return f"{number:,.0f}"


@register.filter
def pct(value: Any, decimals: int = 2) -> str:
    """A value already in percent (5.0 → 5.00%)."""
    number = _number(value)
    return DASH if number is None else f"{number:,.{int(decimals)}f}%"


@register.filter
def frac_pct(value: Any, decimals: int = 1) -> str:
    """A fraction shown as percent (0.25 → 25.0%)."""
    number = _number(value)
    return DASH if number is None else f"{number * 100:,.{int(decimals)}f}%"


@register.filter
def sign_class(value: Any) -> str:
    number = _number(value)
    if number is None or number == 0:
        return ""
    return "pos" if number > 0 else "neg"


@register.filter
def dash(value: Any) -> Any:
    return DASH if value is None or value == "" else value


@register.filter
def get(mapping: Any, key: str) -> Any:
    """``{{ row|get:"symbol" }}`` for dicts from stored payloads (missing → None)."""
    if isinstance(mapping, dict):
        return mapping.get(key)
    return None
