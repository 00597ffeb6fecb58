"""Portal fixtures: a logged-in client and a small seeded dataset (see seed.py)."""

from __future__ import annotations

import pytest

from tests.portal import seed


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("viewer", password="pw-viewer-123")


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user("staff", password="pw-staff-123", is_staff=True)


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def portal_data(warehouse_db, db):
    """Two symbols × 70 sessions of candles/derived, two chain snapshots, flow, runs, portfolio."""
    return seed.seed_all()
