"""Data-quality checks of the flow and derived data this app writes (SPEC §7); the framework is in ``apps.ledger.checks``."""
