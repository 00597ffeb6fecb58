"""Chart specs for ``static/js/charts.js``: plain JSON (labels + named series), never NaN.

Views build these and the template embeds them with ``json_script``; the script turns a spec into a
Chart.js config, so no page carries its own JavaScript.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from apps.core.values import json_safe


def series(values: Iterable[Any]) -> list[Any]:
    return [json_safe(v) for v in values]


def chart(
    kind: str,
    labels: Iterable[Any],
    datasets: Mapping[str, Iterable[Any]],
    *,
    title: str = "",
    stacked: bool = False,
    y_label: str = "",
    axis: Mapping[str, str] | None = None,
    kinds: Mapping[str, str] | None = None,
    colors: Mapping[str, str | list[str]] | None = None,
    horizontal: bool = False,
) -> dict[str, Any]:
    """One chart: ``kind`` line|bar|candles; ``axis`` maps a dataset to 'y2' for a second scale."""
    axis, kinds, colors = axis or {}, kinds or {}, colors or {}
    return {
        "kind": kind,
        "title": title,
        "labels": series(labels),
        "stacked": stacked,
        "horizontal": horizontal,
        "y_label": y_label,
        "datasets": [
            {
                "label": name,
                "data": series(values),
                "axis": axis.get(name, "y"),
                "kind": kinds.get(name, kind),
                "color": colors.get(name),
            }
            for name, values in datasets.items()
        ],
    }


GAIN_COLOR, LOSS_COLOR, FLAT_COLOR = "#2f855a", "#c53030", "#a0aec0"


def sign_colors(values: Iterable[Any]) -> list[str]:
    """One bar colour per value, as the tables colour signs: green above zero, red below, grey for
    zero or missing."""
    return [
        GAIN_COLOR if v > 0 else LOSS_COLOR if v < 0 else FLAT_COLOR
        for v in (value if isinstance(value, int | float) else 0 for value in values)
    ]


def percent(values: Iterable[Any]) -> list[Any]:
    """Fractions as percent for chart axes labelled in % (0.291 → 29.1); gaps stay gaps."""
    out = []
    for value in series(values):
        out.append(round(value * 100, 4) if isinstance(value, int | float) else value)
    return out


def has_data(spec: Mapping[str, Any] | None) -> bool:
    """True when a spec has at least one non-null point (empty charts show a note instead)."""
    if not spec:
        return False
    return any(v is not None for ds in spec.get("datasets", []) for v in ds["data"])
