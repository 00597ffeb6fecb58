"""The one spelling of an underlying: upper-case, ``.`` as ``-`` (``BRK.B`` and ``BRK-B`` are one).

:func:`canonical_symbol` spells any key the same way (vendor files, provider answers);
:func:`normalize_symbol` also refuses what cannot be a ticker (user input: portfolio, watchlists,
``--symbol``).
"""

from __future__ import annotations

import re

SYMBOL_PATTERN = re.compile(r"^[A-Z][A-Z0-9.\-]{0,9}$")


def canonical_symbol(raw: object) -> str:
    return str(raw).strip().upper().replace(".", "-")


def normalize_symbol(raw: object) -> str:
    """Upper-case and validate a ticker (raises ValueError with one line)."""
    symbol = str(raw).strip().upper()
    if not SYMBOL_PATTERN.match(symbol):
        raise ValueError(f"invalid symbol {raw!r} (expected letters/digits, e.g. AAPL or BRK-B)")
    return canonical_symbol(symbol)
