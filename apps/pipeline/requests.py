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

from apps.core.asof import AsOf, AsOfError, resolve_as_of
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
    try:
        return tuple(select_symbols(symbols=list(symbols or ()), watchlists=list(watchlists or ())))
    except (UnknownWatchlist, ValueError) as exc:
        raise JobRequestError(str(exc)) from None


def request_provider(name: str | None) -> str:
    provider = (name or settings.DEFAULT_PROVIDER or "").strip().lower()
    if provider not in PROVIDER_NAMES:
        shown = name if name is not None else settings.DEFAULT_PROVIDER
        raise JobRequestError(f"unknown provider {shown!r}; valid: {', '.join(PROVIDER_NAMES)}")
    return provider


def job_params(
    *,
    as_of: str | dt.date | AsOf | None,
    symbols: Iterable[str] | None = (),
    watchlists: Iterable[str] | None = (),
    provider: str | None = None,
    options: dict[str, Any] | None = None,
) -> JobParams:
    """Explicit symbols/watchlists, else every portfolio and watchlist symbol; as-of resolved once."""
    return JobParams(
        as_of=request_as_of(as_of),
        symbols=request_symbols(symbols, watchlists),
        provider=request_provider(provider),
        options=dict(options or {}),
    )
