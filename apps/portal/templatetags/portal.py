"""The portal's one presentation layer for numbers and dates (templates and tables both use it).

Rules: percentages always carry ``%`` (a fraction 0.291 and a percent 29.1 both show ``29.1%``
through ``frac_pct``/``pct``), money carries ``$`` and thousands separators, dates are ISO
(``2026-12-04``) with the weekday in a tooltip, missing values show "—". Green/red tints only
gains and losses (P&L, price change, open-interest flow); a greek, skew or term slope shows its
sign but no colour, since its direction is neither good nor bad.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()
DASH = "—"
MINUS = "−"


def _number(value: Any) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def as_date(value: Any) -> dt.date | None:
    """A date from a date, datetime, pandas Timestamp or ISO text; None when it is none of those."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    to_py = getattr(value, "to_pydatetime", None)
    if callable(to_py):
        return to_py().date()
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


@register.filter
def num(value: Any, decimals: int = 2) -> str:
    number = _number(value)
    return DASH if number is None else f"{number:,.{int(decimals)}f}".replace("-", MINUS)


@register.filter
def money(value: Any, decimals: int = 2) -> str:
    """1234.5 → ``$1,234.50``; negative amounts lead with a minus sign: ``−$1,234.50``."""
    number = _number(value)
    if number is None:
        return DASH
    text = f"${abs(number):,.{int(decimals)}f}"
    return f"{MINUS}{text}" if number < 0 else text


@register.filter
def compact(value: Any) -> str:
    """1234567 → 1.23M: large counts and notionals in tiles and tables."""
    number = _number(value)
    if number is None:
        return DASH
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= size:
            text = f"{abs(number) / size:,.2f}{suffix}"
            return f"{MINUS}{text}" if number < 0 else text
    return f"{number:,.0f}".replace("-", MINUS)


@register.filter
def compact_money(value: Any) -> str:
    """1234567 → ``$1.23M``; −2500 → ``−$2.50k``."""
    text = compact(value)
    if text == DASH:
        return DASH
    return f"{MINUS}${text[1:]}" if text.startswith(MINUS) else f"${text}"


@register.filter
def pct(value: Any, decimals: int = 1) -> str:
    """A value already in percent: 5.0 → ``5.0%``."""
    number = _number(value)
    return DASH if number is None else f"{number:,.{int(decimals)}f}%".replace("-", MINUS)


@register.filter
def frac_pct(value: Any, decimals: int = 1) -> str:
    """A fraction shown as percent: 0.291 → ``29.1%``."""
    number = _number(value)
    return DASH if number is None else pct(number * 100, decimals)


@register.filter
def sign_class(value: Any) -> str:
    number = _number(value)
    if number is None or number == 0:
        return ""
    return "pos" if number > 0 else "neg"


def signed(text: str, value: Any) -> SafeString:
    """``text`` in a span tinted by the sign of ``value`` (green up, red down)."""
    css = sign_class(value)
    if not css or text == DASH:
        return format_html("{}", text)
    return format_html('<span class="{}">{}</span>', css, text)


@register.filter
def signed_money(value: Any, decimals: int = 2) -> SafeString:
    return signed(money(value, decimals), value)


@register.filter
def signed_compact_money(value: Any) -> SafeString:
    return signed(compact_money(value), value)


@register.filter
def signed_pct(value: Any, decimals: int = 1) -> SafeString:
    return signed(pct(value, decimals), value)


@register.filter
def isodate(value: Any) -> str:
    """Any date-like value as ``YYYY-MM-DD``; datetimes keep ``HH:MM`` (``2026-12-04 15:30``)."""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    day = as_date(value)
    return DASH if day is None else day.isoformat()


@register.filter
def duration_minutes(value: Any) -> str:
    """A timedelta as whole minutes ("15 minutes"); "" for anything else."""
    if not isinstance(value, dt.timedelta):
        return ""
    minutes = max(round(value.total_seconds() / 60), 1)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


@register.filter
def weekday(value: Any) -> str:
    day = as_date(value)
    return "" if day is None else day.strftime("%A")


@register.filter
def isodate_html(value: Any) -> SafeString:
    """``<time datetime=… title="Friday">2026-12-04</time>``: ISO text, weekday on hover."""
    day = as_date(value)
    if day is None:
        return format_html("{}", DASH)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', day.isoformat(), weekday(day), isodate(value)
    )


@register.filter
def dash(value: Any) -> Any:
    return DASH if value is None or value == "" else value


@register.filter
def get(mapping: Any, key: str) -> Any:
    """``{{ row|get:"symbol" }}`` for dicts from stored payloads (missing → None)."""
    if isinstance(mapping, dict):
        return mapping.get(key)
    return None


@register.filter
def data_file(value: Any) -> str:
    """A stored file named relative to the data directory (pages show no server paths); a file
    elsewhere by its name only."""
    if not value:
        return DASH
    from pathlib import PurePath

    from django.conf import settings

    path = PurePath(str(value))
    try:
        return str(path.relative_to(settings.DATA_DIR))
    except ValueError:
        return path.name
