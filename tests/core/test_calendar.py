"""The calendar's disk cache: one file per year-end and library version, replaced, never piled up."""

from __future__ import annotations

import datetime as dt
from array import array

import pytest

from apps.core import calendar


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty cache folder and a calendar to be loaded again; the built tables are counted."""
    built = []

    def build(end: str) -> tuple[array, array]:
        built.append(end)
        return array("q", [10959, 10960]), array("q", [946933200, 947019600])

    monkeypatch.setattr(calendar, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(calendar, "_build", build)
    calendar._tables.cache_clear()
    yield built
    calendar._tables.cache_clear()


def test_the_calendar_reaches_the_end_of_the_third_year_ahead():
    assert calendar._calendar_end(dt.date(2026, 1, 2)) == "2029-12-31"
    assert calendar._calendar_end(dt.date(2026, 12, 31)) == "2029-12-31"
    assert calendar.last_session() >= dt.date(dt.date.today().year + 3, 12, 24)


def test_prepare_builds_once_and_later_processes_read_the_file(fresh_cache):
    path = calendar.prepare()
    assert path is not None and path.exists()
    assert path.name.startswith(f"xnys-2000-01-03-{calendar._calendar_end(dt.date.today())}-")
    calendar._tables.cache_clear()  # as a new process would
    assert calendar.first_session() == dt.date(2000, 1, 3)
    assert fresh_cache == [calendar._calendar_end(dt.date.today())]


def test_a_new_calendar_replaces_the_files_of_older_ones(fresh_cache, tmp_path):
    folder = tmp_path / "cache"
    folder.mkdir()
    older = folder / "xnys-2000-01-03-2029-12-03.bin"  # the daily-named files of earlier versions
    older.write_bytes(b"\0" * 16)
    unrelated = folder / "notes.txt"
    unrelated.write_text("kept")
    path = calendar.prepare()
    assert sorted(p.name for p in folder.iterdir()) == sorted([path.name, "notes.txt"])


def test_a_damaged_cache_file_is_rebuilt(fresh_cache):
    path = calendar._current_cache_file()[1]
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\1\2\3")
    assert calendar.prepare() == path
    assert fresh_cache and calendar._read_cache(path) is not None


def test_no_cache_folder_still_gives_a_calendar(fresh_cache, monkeypatch):
    monkeypatch.setattr(calendar, "CACHE_DIR", None)
    assert calendar.prepare() is None
    assert calendar.is_session(dt.date(2000, 1, 4))
