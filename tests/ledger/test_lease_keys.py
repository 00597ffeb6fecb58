"""Issue 14, finding 9: the lease key is the resolved market date + symbol set, not the spelling."""

from __future__ import annotations

import datetime as dt

import pytest

from apps.ledger.services.run_types import JobAlreadyRunning
from apps.ledger.services.runs import job_run, lease_key_for
from apps.pipeline.requests import job_params


@pytest.mark.django_db
def test_latest_and_the_same_explicit_date_collide():
    latest = job_params(as_of="latest", symbols=["AAPL", "msft"], provider="demo")
    explicit = job_params(
        as_of=latest.as_of.market_date.isoformat(), symbols=["MSFT", "AAPL"], provider="demo"
    )
    assert latest.as_of.requested != explicit.as_of.requested
    keys = {
        lease_key_for(as_of=p.as_of.market_date, symbols=list(p.symbols))
        for p in (latest, explicit)
    }
    assert len(keys) == 1
    day = dt.date(2024, 1, 2)
    assert lease_key_for(as_of=day, symbols=["aapl ", "AAPL"]) == "2024-01-02|AAPL"

    first = dict(job_name="run_daily", as_of=latest.as_of.market_date, symbols=["AAPL", "MSFT"])
    with job_run(**first):
        with pytest.raises(JobAlreadyRunning):
            with job_run(
                job_name="run_daily",
                as_of=explicit.as_of.market_date,
                symbols=list(explicit.symbols),
            ):
                pass
