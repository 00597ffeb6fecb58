"""Data-quality checks of the warehouse tables this app writes (SPEC §7); the framework is in ``apps.ledger.checks``."""
