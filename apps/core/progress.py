"""Progress for long jobs: a bar on a terminal, plain log lines otherwise."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
logger = logging.getLogger("optionshelper.jobs")


def progress(items: Iterable[T], *, desc: str, total: int | None = None) -> Iterator[T]:
    items = list(items) if total is None else items
    total = total if total is not None else len(items)  # type: ignore[arg-type]
    if sys.stderr.isatty():
        from tqdm import tqdm

        yield from tqdm(items, desc=desc, total=total, unit="sym", leave=False)
        return
    for index, item in enumerate(items, start=1):
        logger.info("%s %d/%d: %s", desc, index, total, item)
        yield item
