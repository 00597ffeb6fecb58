"""Flow page: a (symbol, group-by, window) with no persisted partition is computed on view from
the stored snapshots (read-only, labelled), persisted series are read as before."""

from __future__ import annotations

import csv
import io

import pytest
from django.utils.html import strip_tags

from apps.analytics import selectors as analytics_selectors
from apps.analytics.models import OptionsFlowPartition
from optionshelper import generation
from tests.portal.test_pages import csv_text

pytestmark = [
    pytest.mark.django_db(databases=["default", "warehouse"]),
    pytest.mark.usefixtures("empty_page_cache"),
]
LABEL = "computed on view (not persisted)"
NEVER_PERSISTED = "/flow/?symbol=AAA&group_by=contract&window=1"


@pytest.fixture
def computed(monkeypatch):
    """Counts the on-view computations (the warehouse flow read)."""
    calls: list[tuple] = []
    real = analytics_selectors.flow_on_view

    def counting(**kwargs):
        calls.append(tuple(sorted(kwargs.items())))
        return real(**kwargs)

    monkeypatch.setattr(analytics_selectors, "flow_on_view", counting)
    return calls


def test_a_series_never_persisted_shows_rows_computed_on_view(logged_in, portal_data, computed):
    persisted = OptionsFlowPartition.objects.count()
    response = logged_in.get(NEVER_PERSISTED)
    body = response.content.decode()
    assert response.status_code == 200
    assert LABEL in body and "No partitions" not in body
    rows = list(response.context["table"].data)
    assert len(computed) == 1
    expected = analytics_selectors.flow_on_view(
        symbol="AAA", group_by="contract", window=1, as_of=portal_data["days"][-1]
    )
    assert len(rows) == len(expected.rows) > 0
    assert {r["row_key"] for r in rows} == set(expected.rows["row_key"])
    assert rows[0]["row_key"] in body
    assert OptionsFlowPartition.objects.count() == persisted  # nothing written


def test_the_on_view_model_is_cached_per_generation(logged_in, portal_data, computed):
    logged_in.get(NEVER_PERSISTED)
    logged_in.get(NEVER_PERSISTED)
    assert len(computed) == 1
    generation.bump()
    assert LABEL in logged_in.get(NEVER_PERSISTED).content.decode()
    assert len(computed) == 2


def test_persisted_series_are_read_as_before(logged_in, portal_data, computed):
    response = logged_in.get("/flow/?symbol=AAA&group_by=strike&window=1")
    assert response.status_code == 200
    assert LABEL not in response.content.decode()
    assert computed == []


def test_too_few_snapshots_for_the_window(logged_in, portal_data):
    response = logged_in.get("/flow/?symbol=AAA&group_by=contract&window=5")
    body = response.content.decode()
    assert response.status_code == 200
    assert LABEL not in body
    assert "No stored partition" in body and "cannot be computed on view" in body


def test_a_date_range_before_any_data_says_so_once(logged_in, portal_data):
    body = logged_in.get("/flow/?symbol=AAA&to=1900-01-01").content.decode()
    text = " ".join(strip_tags(body).split())
    assert "No stored partition of AAA" in text and "up to 1900-01-01" in text
    assert "other group-bys" not in text
    assert text.count("compute_flow --symbol AAA") == 1


@pytest.mark.parametrize(
    "query", ["group_by=bogus&window=1", "group_by=contract&window=0", "group_by=contract&window=x"]
)
def test_bad_parameters_are_400(logged_in, portal_data, computed, query):
    assert logged_in.get(f"/flow/?symbol=AAA&{query}").status_code == 400
    assert computed == []


def test_on_view_rows_export_as_csv(logged_in, portal_data):
    response = logged_in.get(f"{NEVER_PERSISTED}&_export=csv&_table=rows")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(csv_text(response))))
    assert rows[0][0] == "Row" and len(rows) > 1
