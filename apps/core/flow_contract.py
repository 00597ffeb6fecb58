"""THE flow contract (SPEC §6.4): group-by modes, window bounds, row columns and flow classes.

Import-light on purpose (models, forms and commands read it at start-up); the computation that
follows the contract is :mod:`apps.core.flow`.
"""

from __future__ import annotations

import numbers
from typing import Any

GROUP_BY_MODES: tuple[str, ...] = ("contract", "strike", "expiry", "expiry-strike")
GROUP_BY_KEYS: dict[str, list[str]] = {
    "contract": ["contract_symbol", "expiry", "option_type", "strike"],
    "strike": ["option_type", "strike"],
    "expiry": ["option_type", "expiry"],
    "expiry-strike": ["option_type", "expiry", "strike"],
}
DEFAULT_GROUP_BY = "contract"
MIN_WINDOW = 1
MAX_WINDOW = 30
DEFAULT_WINDOW = 1
SUM_COLUMNS = [
    "delta_oi",
    "delta_oi_notional",
    "volume_notional",
    "delta_notional",
    "volume",
    "prior_oi",
]
ROW_COLUMNS = [
    "row_key",
    "contract_symbol",
    "option_type",
    "expiry",
    "strike",
    *SUM_COLUMNS,
    "n_pairs",
    "flow_class",
]
FLOW_CLASSES = ("building", "unwinding", "churn", "unknown")
TOP_CLASSES = ("building", "unwinding")
MULTIPLIER = 100.0


def window_error(window: Any) -> str | None:
    """The one-line complaint about a window, or None when it is valid."""
    if (
        isinstance(window, bool)
        or not isinstance(window, numbers.Integral)
        or not (MIN_WINDOW <= window <= MAX_WINDOW)
    ):
        return f"window must be an integer from {MIN_WINDOW} to {MAX_WINDOW}, got {window!r}"
    return None


def group_by_error(group_by: Any) -> str | None:
    if group_by not in GROUP_BY_MODES:
        return f"group_by must be one of {', '.join(GROUP_BY_MODES)}; got {group_by!r}"
    return None


def validate(window: Any, group_by: Any) -> None:
    """Raise ValueError for a window or group-by outside the contract."""
    problem = window_error(window) or group_by_error(group_by)
    if problem:
        raise ValueError(problem)
