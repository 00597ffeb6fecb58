"""The one door from a request (command flags, a task's arguments, an admin action) to ``JobParams``.

Commands, django-q2 tasks and the admin all build their parameters here, so the as-of, the symbol
selection and the provider are resolved the same way whoever asks. Bad input raises
:class:`JobRequestError` with one line (commands turn it into a usage error, exit 2).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings

from apps.core import registry
from apps.core.asof import AsOf, AsOfError, resolve_as_of
from apps.core.flow_contract import GROUP_BY_MODES, MAX_WINDOW
from apps.core.jobs import JobParams
from apps.market.providers.registry import PROVIDER_NAMES
from apps.portfolio.selectors import UnknownWatchlist, select_symbols


class JobRequestError(ValueError):
    """A request that cannot become a job run; the message is one line for the user."""


def request_as_of(value: str | dt.date | AsOf | None) -> AsOf:
    try:
        return resolve_as_of(value)
    except AsOfError as exc:
        raise JobRequestError(str(exc)) from None


def request_symbols(
    symbols: Iterable[str] | None = (), watchlists: Iterable[str] | None = ()
) -> tuple[str, ...]:
    given = [str(s) for s in symbols or ()]
    if any(not s.strip(", \t") for s in given):
        raise JobRequestError("--symbol must not be empty (omit it to run every tracked symbol)")
    try:
        return tuple(select_symbols(symbols=list(symbols or ()), watchlists=list(watchlists or ())))
    except (UnknownWatchlist, ValueError) as exc:
        raise JobRequestError(str(exc)) from None


def request_provider(name: str | None) -> str:
    provider = (name or settings.DEFAULT_PROVIDER or "").strip().lower()
    if provider not in PROVIDER_NAMES:
        shown = name if name is not None else settings.DEFAULT_PROVIDER
        source = "" if name is not None else " (from OPTIONS_HELPER_PROVIDER)"
        raise JobRequestError(
            f"unknown provider {shown!r}{source}; valid: {', '.join(PROVIDER_NAMES)}"
        )
    return provider


# --- job options: one validator per job, whoever asks (command, run_daily, task, admin) -----------


def _number(options: dict[str, Any], key: str, kind: type, low: float, high: float) -> None:
    if key not in options or options[key] is None:
        return
    flag = "--" + key.replace("_", "-")
    raw = options[key]
    try:
        if isinstance(raw, bool):
            raise ValueError
        value = kind(raw)
        if kind is int and isinstance(raw, float) and not raw.is_integer():
            raise ValueError  # 2.5 is not a count (a huge whole number is: its range says so)
    except (TypeError, ValueError, OverflowError):
        raise JobRequestError(f"{flag} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise JobRequestError(f"{flag} must be between {low} and {high}, got {raw!r}")
    options[key] = value


def _choice(options: dict[str, Any], key: str, choices: Iterable[str]) -> None:
    if key in options and options[key] not in choices:
        flag = "--" + key.replace("_", "-")
        raise JobRequestError(f"{flag} must be one of {', '.join(choices)}, got {options[key]!r}")


def _flag(options: dict[str, Any], key: str) -> None:
    if key in options and not isinstance(options[key], bool):
        raise JobRequestError(f"{key} must be true or false, got {options[key]!r}")


def _candles(o: dict[str, Any]) -> None:
    _number(o, "lookback_days", int, 1, 10000)


def _bars(o: dict[str, Any]) -> None:
    _number(o, "lookback_days", int, 1, 3650)


def _snapshots(o: dict[str, Any]) -> None:
    _number(o, "risk_free_rate", float, -0.05, 0.25)


def _flow(o: dict[str, Any]) -> None:
    _number(o, "window", int, 1, MAX_WINDOW)
    _choice(o, "group_by", GROUP_BY_MODES)
    _number(o, "top", int, 1, 500)
    _flag(o, "persist")


def _derived(o: dict[str, Any]) -> None:
    _flag(o, "all_dates")


_OPTION_VALIDATORS: dict[str, Any] = {
    "ingest_candles": (_candles, {"lookback_days"}),
    "ingest_options_bars": (_bars, {"lookback_days"}),
    "snapshot_options": (_snapshots, {"risk_free_rate"}),
    "compute_flow": (_flow, {"window", "group_by", "top", "persist"}),
    "compute_derived": (_derived, {"all_dates"}),
}


def job_options(job_name: str | None, options: dict[str, Any] | None) -> dict[str, Any]:
    """Validated options of one job (a copy); ``run_daily`` takes ``{job: {option: value}}``."""
    options = dict(options or {})
    if job_name is None:
        return options
    if job_name == registry.PIPELINE_JOB:
        unknown = sorted(set(options) - (set(registry.JOB_NAMES) - {registry.PIPELINE_JOB}))
        if unknown:
            raise JobRequestError(f"run_daily options name unknown jobs: {', '.join(unknown)}")
        return {name: job_options(name, value) for name, value in options.items()}
    validator, known = _OPTION_VALIDATORS.get(job_name, (None, set()))
    if job_name in registry.FORCEABLE_JOBS:
        known = known | {"force"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise JobRequestError(f"{job_name} does not take option(s) {', '.join(unknown)}")
    _flag(options, "force")
    if validator:
        validator(options)
    return options


def job_params(
    *,
    as_of: str | dt.date | AsOf | None,
    symbols: Iterable[str] | None = (),
    watchlists: Iterable[str] | None = (),
    provider: str | None = None,
    options: dict[str, Any] | None = None,
    job: str | None = None,
) -> JobParams:
    """Explicit symbols/watchlists, else every portfolio and watchlist symbol; as-of resolved once;
    ``job``'s options validated by :func:`job_options` (the same rules for every caller)."""
    return JobParams(
        as_of=request_as_of(as_of),
        symbols=request_symbols(symbols, watchlists),
        provider=request_provider(provider),
        options=job_options(job, options),
    )
