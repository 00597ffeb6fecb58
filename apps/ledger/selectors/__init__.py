"""Reads of the control plane (no writes here)."""
