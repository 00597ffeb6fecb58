"""Vectorised OCC/OSI contract-symbol helpers used by providers that must build symbols.

Vendors hand us whole columns (thousands of contracts), so these work on arrays rather than
one contract at a time. ``apps.analytics.compute.osi`` is the scalar reference; this module
only needs the formatting rule (root + YYMMDD + C|P + strike*1000 as 8 digits).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

_OSI_RE = re.compile(r"^(?P<root>[A-Z0-9.]{1,6})\s*(?P<ymd>\d{6})(?P<cp>[CP])(?P<k>\d{8})$")


def format_osi_columns(
    root: pd.Series | str, expiry: pd.Series, option_type: pd.Series, strike: pd.Series
) -> pd.Series:
    """OSI symbols for aligned columns; option_type is 'call'/'put' (or 'C'/'P')."""
    exp = pd.to_datetime(pd.Series(expiry).reset_index(drop=True))
    ymd = exp.dt.strftime("%y%m%d")
    cp = pd.Series(option_type).reset_index(drop=True).astype(str).str[0].str.upper()
    k = np.rint(pd.Series(strike).reset_index(drop=True).astype(float).to_numpy() * 1000)
    kstr = pd.Series(k.astype(np.int64)).astype(str).str.zfill(8)
    if isinstance(root, str):
        roots = pd.Series(root, index=ymd.index)
    else:
        roots = pd.Series(root).reset_index(drop=True).astype(str).str.strip().str.upper()
    return roots + ymd + cp + kstr


def parse_osi_columns(symbols: pd.Series) -> pd.DataFrame:
    """Split OSI symbols (padded 21-char form tolerated) into root/expiry/option_type/strike."""
    s = pd.Series(symbols).astype(str).str.replace(" ", "", regex=False).str.upper()
    parts = s.str.extract(r"^(?P<root>[A-Z0-9.]{1,6}?)(?P<ymd>\d{6})(?P<cp>[CP])(?P<k>\d{8})$")
    expiry = pd.to_datetime(parts["ymd"], format="%y%m%d", errors="coerce").dt.date
    return pd.DataFrame(
        {
            "root": parts["root"],
            "expiry": expiry,
            "option_type": parts["cp"].map({"C": "call", "P": "put"}),
            "strike": pd.to_numeric(parts["k"], errors="coerce") / 1000.0,
        }
    )
