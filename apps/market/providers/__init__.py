"""Market-data providers: one interface (base.py), several sources, looked up by name."""

from .base import (
    ChainSnapshot,
    MarketDataProvider,
    NoDataError,
    ProviderConfigError,
    ProviderError,
    ProviderNotInstalled,
    UnknownProviderError,
    UnsupportedByProvider,
)
from .registry import PROVIDER_NAMES, get_provider

__all__ = [
    "PROVIDER_NAMES",
    "ChainSnapshot",
    "MarketDataProvider",
    "NoDataError",
    "ProviderConfigError",
    "ProviderError",
    "ProviderNotInstalled",
    "UnknownProviderError",
    "UnsupportedByProvider",
    "get_provider",
]
