"""Writes to the control plane. Only this package writes ledger rows."""
