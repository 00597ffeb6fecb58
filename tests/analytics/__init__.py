"""Tests of the pure analytics library (apps.analytics.compute)."""
