"""OCC/OSI option contract symbols: ``ROOT`` + ``YYMMDD`` + ``C|P`` + strike x 1000 (8 digits).

Providers disagree on padding (``AAPL  260417C00100000`` vs ``AAPL260417C00100000``), so parsing
accepts both and never raises: unparseable input yields ``None`` / ``valid=False``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from apps.core.values import text_series, to_date

_OSI_PATTERN = r"^\s*(?P<root>[A-Z0-9.]{1,6})\s*(?P<ymd>\d{6})(?P<cp>[CP])(?P<strike>\d{8})\s*$"
_OSI_RE = re.compile(_OSI_PATTERN)


@dataclass(frozen=True)
class OsiContract:
    """The four facts an OSI symbol encodes."""

    root: str
    expiry: dt.date
    option_type: str  # 'call' | 'put'
    strike: float


def format_osi(root: str, expiry: dt.date | str, option_type: str, strike: float) -> str:
    """Build the compact (unpadded) OSI symbol, e.g. ``AAPL260417C00100000``."""
    kind = option_type.strip().lower()
    if kind not in ("call", "put", "c", "p"):
        raise ValueError(f"option_type must be 'call' or 'put', got {option_type!r}")
    thousandths = int(round(float(strike) * 1000))
    if not 0 <= thousandths < 10**8:
        raise ValueError(f"strike {strike!r} does not fit the 8-digit OSI field")
    day = to_date(expiry)
    return f"{root.strip().upper()}{day:%y%m%d}{kind[0].upper()}{thousandths:08d}"


def _expiry_from_ymd(ymd: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(ymd, "%y%m%d").date()
    except ValueError:
        return None


def parse_osi(sym: object) -> OsiContract | None:
    """Parse one OSI symbol (compact or 21-char padded); ``None`` when it is not one."""
    if not isinstance(sym, str):
        return None
    match = _OSI_RE.match(sym.upper())
    if match is None:
        return None
    expiry = _expiry_from_ymd(match["ymd"])
    if expiry is None:
        return None
    kind = "call" if match["cp"] == "C" else "put"
    return OsiContract(match["root"], expiry, kind, int(match["strike"]) / 1000.0)


def parse_osi_series(series: pd.Series) -> pd.DataFrame:
    """Vectorised :func:`parse_osi`: columns root, expiry (dates), option_type, strike, valid.

    Invalid rows carry missing values and ``valid=False`` so callers can filter or report them.
    The pattern and the date are matched by Arrow's compute kernels (no per-row Python).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.utf8_upper(pa.array(series.astype("string"), type=pa.large_string()))
    parts = pc.extract_regex(text, _OSI_PATTERN)
    root, ymd = pc.struct_field(parts, "root"), pc.struct_field(parts, "ymd")
    expiry = pc.cast(pc.strptime(ymd, format="%y%m%d", unit="s", error_is_null=True), pa.date32())
    # strptime rolls impossible days over (Feb 30 → Mar 2): only a date that prints back is one.
    real_day = pc.equal(pc.strftime(expiry, format="%y%m%d"), ymd)
    valid = pc.fill_null(pc.and_(pc.is_valid(root), real_day), False)
    kind = pc.if_else(pc.equal(pc.struct_field(parts, "cp"), "C"), "call", "put")
    strike = pc.divide(pc.cast(pc.struct_field(parts, "strike"), pa.float64()), 1000.0)

    def where_valid(values: pa.Array) -> list:
        return pc.if_else(valid, values, None).to_pylist()

    out = pd.DataFrame(index=series.index)
    out["root"] = pd.Series(where_valid(root), index=series.index, dtype=object)
    out["expiry"] = pd.Series(where_valid(expiry), index=series.index, dtype=object)
    out["option_type"] = pd.Series(where_valid(kind), index=series.index, dtype="str")
    out["strike"] = pd.Series(where_valid(strike), index=series.index, dtype=float)
    out["valid"] = valid.to_numpy(zero_copy_only=False).astype(bool)
    return out


_DIGITS = np.array(list("0123456789"))


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative ints as an (n, width) array of characters."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return _DIGITS[(values[:, None] // powers) % 10]


def format_osi_series(
    root: pd.Series | str, expiry: pd.Series, option_type: pd.Series, strike: pd.Series
) -> pd.Series:
    """Vectorised :func:`format_osi` for aligned columns (option_type 'call'/'put' or 'C'/'P').

    Providers build thousands of symbols per chain from a few roots, expiries and strikes, so each
    distinct value is formatted once (integer arithmetic, no per-row ``strftime``) and the parts
    are joined by Arrow. Returns an Arrow-backed string column.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    days = pd.to_datetime(pd.Series(expiry)).to_numpy().astype("datetime64[D]")
    months = days.astype("datetime64[M]")
    years = months.astype("datetime64[Y]").astype(np.int64) + 1970
    ymd = (
        (years % 100) * 10000
        + (months.astype(np.int64) % 12 + 1) * 100
        + (days - months).astype(np.int64)
        + 1
    )
    thousandths = np.rint(pd.Series(strike).astype(float).to_numpy() * 1000).astype(np.int64)

    def distinct_text(values, text) -> pa.Array:
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        return pa.array(text(uniques), pa.string()).take(pa.array(codes))

    def digits(width: int):
        return lambda uniques: (
            _digits(np.asarray(uniques), width).view(f"U{width}").ravel().tolist()
        )

    roots = (
        pa.scalar(root.strip().upper())
        if isinstance(root, str)
        else distinct_text(pd.Series(root), lambda u: [str(r).strip().upper() for r in u])
    )
    parts = (
        distinct_text(ymd, digits(6)),
        distinct_text(pd.Series(option_type), lambda u: [str(k)[:1].upper() for k in u]),
        distinct_text(thousandths, digits(8)),
    )
    joined = pc.binary_join_element_wise(roots, *parts, "")
    return text_series(joined)
