"""Progress for long jobs: a tqdm bar on a terminal, plain log lines otherwise.

Both show the count done out of the total and the elapsed time. Everything goes through the
``optionshelper.jobs`` logger (INFO): ``--quiet`` or ``OPTIONS_HELPER_LOG_LEVEL=WARNING`` silence it.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")
logger = logging.getLogger("optionshelper.jobs")


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}" if minutes else f"{seconds:.1f}s"


def progress_line(desc: str, index: int, total: int, item: object, elapsed_s: float) -> str:
    """``compute_flow 3/12 AAPL (elapsed 4.2s)``: one plain progress line."""
    return f"{desc} {index}/{total} {item} (elapsed {_elapsed(elapsed_s)})"


def progress(
    items: Iterable[T], *, desc: str, total: int | None = None, stream=None
) -> Iterator[T]:
    items = list(items) if total is None else items
    total = total if total is not None else len(items)  # type: ignore[arg-type]
    if not logger.isEnabledFor(logging.INFO):
        yield from items
        return
    stream = stream or sys.stderr
    started = time.monotonic()
    if stream.isatty():
        bar = tqdm(items, desc=desc, total=total, unit="sym", leave=False, file=stream)
        for item in bar:
            bar.set_postfix_str(str(item))
            yield item
        logger.info("%s: %d done in %s", desc, total, _elapsed(time.monotonic() - started))
        return
    for index, item in enumerate(items, start=1):
        logger.info(progress_line(desc, index, total, item, time.monotonic() - started))
        yield item
    if total:
        logger.info("%s: %d done in %s", desc, total, _elapsed(time.monotonic() - started))
