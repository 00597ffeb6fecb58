"""Small normalisers shared by the compute modules (dates, JSON-safe numbers)."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# Values of exactly these types are already plain. Exact types, since pandas' Timestamp and NaT
# subclass datetime; anything else may be a numpy or pandas value, and only then are those
# libraries imported (a report of plain values, such as db_health's, never loads them).
_PLAIN = frozenset({str, int, bool, dt.date, dt.datetime})


def to_date(value: Any) -> dt.date | None:
    """A python ``date`` from a date, datetime, Timestamp, datetime64 or ISO string (None if NA)."""
    if value is None:
        return None
    if type(value) is dt.date:
        return value
    if type(value) is dt.datetime:
        return value.date()
    import pandas as pd

    if not isinstance(value, str) and pd.isna(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(value).date()


def date_series(values: pd.Series) -> pd.Series:
    """Normalise a column of dates / datetime64 / strings to python ``date`` objects (None when
    missing or unparseable). Each distinct value is converted once: a chain's thousands of rows
    share a few expiries."""
    import numpy as np
    import pandas as pd

    codes, distinct = pd.factorize(values)
    stamps = pd.to_datetime(pd.Series(distinct), errors="coerce")
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_localize(None)
    days = pd.Series(stamps.dt.date, dtype=object).where(stamps.notna(), None).tolist()
    lookup = np.array([*days, None], dtype=object)  # code -1 (missing) takes the last entry
    return pd.Series(lookup[codes], index=values.index, dtype=object)


def day_numbers(values: pd.Series | np.ndarray) -> np.ndarray:
    """Days since the epoch as float (NaN for missing): cheap vectorised date arithmetic."""
    import numpy as np
    import pandas as pd

    stamps = pd.to_datetime(pd.Series(values), errors="coerce")
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_localize(None)
    days = stamps.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    out = days.astype("int64").astype(float)
    out[np.isnat(days)] = np.nan
    return out


def date_number(value: Any) -> float:
    """Days since the epoch for one date-like value."""
    day = to_date(value)
    if day is None:
        raise ValueError(f"not a date: {value!r}")
    return float((day - dt.date(1970, 1, 1)).days)


def clean(value: Any) -> Any:
    """JSON-safe scalar: numpy scalars to python, NaN/inf/NA to None, Timestamps to dates."""
    if value is None:
        return None
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind in _PLAIN:
        return value
    import numpy as np
    import pandas as pd

    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.date()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if not isinstance(value, str | dt.date) and pd.isna(value):
        return None
    return value


def clean_dict(values: dict[str, Any]) -> dict[str, Any]:
    """:func:`clean` applied to every value of a dict."""
    return {key: clean(value) for key, value in values.items()}


def json_safe(value: Any) -> Any:
    """Strict-JSON data, recursively: the one JSON cleaner (reports, payloads, ``--json``).

    NaN/inf/NA → None, numpy scalars → Python, dates and Timestamps → ISO strings, UUIDs → str,
    Decimals → float, tuples and sets → lists, dict keys → str.
    """
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_safe(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        value = float(value)
    value = clean(value)
    if isinstance(value, dt.date):  # datetime included
        return value.isoformat()
    return value


def text_series(values: Any) -> pd.Series:
    """An Arrow string array as pandas' default string column, without a Python object per row
    (building it from numpy or object strings converts row by row)."""
    import numpy as np
    import pandas as pd

    return pd.Series(values, dtype=pd.StringDtype("pyarrow", na_value=np.nan))
