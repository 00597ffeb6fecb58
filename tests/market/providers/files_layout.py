"""Writers of the files provider's own normalised layout (chains/SYMBOL/DATE.fmt, candles/SYMBOL.fmt),
used by tests to build vendor directories."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from apps.core.symbols import canonical_symbol
from apps.market.providers.base import CHAIN_COLUMNS, ChainSnapshot


def write_chain_file(
    directory: str | Path, snapshot: ChainSnapshot, *, fmt: str = "parquet"
) -> Path:
    """Write a snapshot in the normalised layout (chains/SYMBOL/YYYY-MM-DD.fmt)."""
    folder = Path(directory) / "chains" / canonical_symbol(snapshot.symbol)
    folder.mkdir(parents=True, exist_ok=True)
    frame = snapshot.chain.loc[:, list(CHAIN_COLUMNS)].copy()
    frame["spot"] = snapshot.spot
    path = folder / f"{snapshot.snapshot_date.isoformat()}.{fmt}"
    _write(frame, path)
    return path


def write_candles_file(
    directory: str | Path, symbol: str, candles: pd.DataFrame, *, fmt: str = "parquet"
) -> Path:
    """Write candles in the normalised layout (candles/SYMBOL.fmt)."""
    folder = Path(directory) / "candles"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{canonical_symbol(symbol)}.{fmt}"
    _write(candles, path)
    return path


def _write(frame: pd.DataFrame, path: Path) -> None:
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


# -- the provider -------------------------------------------------------------------------------
