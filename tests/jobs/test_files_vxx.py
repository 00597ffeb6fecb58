"""The real DeltaNeutral VXX file (Dec 2016, 2016-12-08 missing) through the files provider, then flow."""

from __future__ import annotations

import datetime as dt
import shutil

import pandas as pd
import pytest
from django.core.management import call_command
from django.db.models import Sum

from apps.analytics.models import OptionsFlow, OptionsFlowPartition
from apps.core import calendar
from apps.core.flow import GROUP_BY_MODES
from apps.ledger.models import IngestionRun
from optionshelper import warehouse
from tests.jobs.helpers import event_status, watermark_date
from tests.support import REALDATA_DIR

pytestmark = pytest.mark.skipif(
    not (REALDATA_DIR / "deltaneutral_VXX_2016-12.csv").exists(),
    reason=f"real vendor data not found under {REALDATA_DIR}",
)

VXX_FILE = "deltaneutral_VXX_2016-12.csv"
GAP = dt.date(2016, 12, 8)
# (as-of, window) partitions computed for every group-by mode
FLOW_CASES = ((dt.date(2016, 12, 9), 1), (dt.date(2016, 12, 30), 1), (dt.date(2016, 12, 13), 3))


def _reference_totals(chain: pd.DataFrame, as_of: dt.date, window: int) -> tuple[float, float]:
    """SPEC §6.4 from scratch: left-join today to the previous snapshot by contract; sum pairs."""
    dates = sorted(d for d in chain["snapshot_date"].unique() if d <= as_of)[-(window + 1) :]
    total_oi = total_notional = 0.0
    for before, today in zip(dates, dates[1:], strict=False):
        t = chain[chain["snapshot_date"] == today]
        b = chain[chain["snapshot_date"] == before][["contract_symbol", "open_interest"]]
        pair = t.merge(b, on="contract_symbol", how="left", suffixes=("", "_before"))
        delta = pair["open_interest"] - pair["open_interest_before"]
        total_oi += float(delta.sum(skipna=True))
        total_notional += float((delta * pair["mark"] * 100).sum(skipna=True))
    return total_oi, total_notional


@pytest.mark.django_db
def test_vxx_file_snapshots_gap_and_flow_totals(warehouse_db, tmp_path, settings):
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    shutil.copy(REALDATA_DIR / VXX_FILE, vendor / VXX_FILE)
    settings.FILES_PROVIDER_DIR = str(vendor)

    sessions = calendar.sessions_between(dt.date(2016, 12, 1), dt.date(2016, 12, 31))
    assert len(sessions) == 21 and GAP in sessions
    for day in sessions:
        call_command(
            "snapshot_options", "--provider", "files", "--symbol", "VXX", "--as-of", day.isoformat()
        )

    snap_runs = IngestionRun.objects.filter(job_name="snapshot_options")
    assert snap_runs.count() == 21
    assert set(snap_runs.values_list("status", flat=True)) == {"success"}
    statuses = {run.as_of: event_status(run.pk, "options_snapshots")["VXX"] for run in snap_runs}
    assert statuses.pop(GAP) == "skipped"
    assert set(statuses.values()) == {"success"}
    gap_event = snap_runs.get(as_of=GAP).assets.get(partition_key="VXX")
    assert gap_event.extra["reason"] == "no_data"

    stored = [
        r[0]
        for r in warehouse.fetch_all(
            "SELECT snapshot_date FROM options_snapshot_headers WHERE symbol = 'VXX' "
            "ORDER BY snapshot_date"
        )
    ]
    assert stored == [d for d in sessions if d != GAP]
    assert watermark_date("options_snapshots", "VXX") == dt.date(2016, 12, 30)
    chain = warehouse.fetch_df(
        "SELECT snapshot_date, contract_symbol, open_interest, mark FROM options_chain "
        "WHERE symbol = 'VXX'"
    )
    chain["snapshot_date"] = pd.to_datetime(chain["snapshot_date"]).dt.date
    assert chain.groupby("snapshot_date").size().between(1000, 2000).all()

    for as_of, window in FLOW_CASES:
        expected_oi, expected_notional = _reference_totals(chain, as_of, window)
        for group_by in GROUP_BY_MODES:
            call_command(
                "compute_flow",
                "--symbol",
                "VXX",
                "--as-of",
                as_of.isoformat(),
                "--window",
                str(window),
                "--group-by",
                group_by,
            )
            partition = OptionsFlowPartition.objects.get(
                symbol="VXX", to_date=as_of, window=window, group_by=group_by
            )
            if as_of == dt.date(2016, 12, 9) or window == 3:
                assert partition.gap_sessions == ["2016-12-08"]
            else:
                assert partition.gap_sessions == []
            totals = OptionsFlow.objects.filter(partition=partition).aggregate(
                oi=Sum("delta_oi"), notional=Sum("delta_oi_notional")
            )
            assert totals["oi"] == pytest.approx(expected_oi, abs=1e-6), (as_of, group_by)
            assert totals["notional"] == pytest.approx(expected_notional, rel=1e-9), (
                as_of,
                group_by,
            )
            assert partition.net_delta_oi_notional == pytest.approx(expected_notional, rel=1e-9)
    assert set(
        IngestionRun.objects.filter(job_name="compute_flow").values_list("status", flat=True)
    ) == {"success"}
