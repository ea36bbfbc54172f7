"""Progress reporting shared by the library, the CLI (tqdm) and the app (st.progress).

A progress callback takes the fraction done (0..1) and a short message. The library calls it; it never
prints. ``scaled`` maps a sub-task onto part of a parent bar.
"""
from __future__ import annotations

import sys
import time
from typing import Callable

Progress = Callable[[float, str], None]


def no_progress(fraction: float, message: str = "") -> None:
    """The default callback: report nothing."""


def scaled(progress: Progress | None, start: float, end: float) -> Progress:
    """A callback for a sub-task that fills ``start..end`` of the parent's bar."""
    parent = progress or no_progress
    return lambda fraction, message="": parent(start + (end - start) * min(max(fraction, 0.0), 1.0),
                                               message)


class TqdmProgress:
    """A tqdm bar driven by fractions: ``with TqdmProgress("training") as p: model.fit(..., progress=p)``.

    ``disable=None`` draws the bar on a terminal and, elsewhere (a pipe, a CI log), prints a plain line
    every ``every`` seconds instead: a bar's carriage returns make one unreadable line there, and tqdm's
    own default for that case is silence, which looks like a hang during a minutes-long fit.
    """

    def __init__(self, desc: str, disable: bool | None = None, *, every: float = 15.0):
        from tqdm.auto import tqdm  # imported here: only the CLI draws bars

        self._desc, self._every, self._start, self._last = desc, every, time.monotonic(), None
        self._lines = disable is None and not sys.stderr.isatty()
        disable = True if self._lines else disable
        self._bar = tqdm(total=1000, desc=desc, disable=disable, leave=False,
                         bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} {postfix}")

    def __call__(self, fraction: float, message: str = "") -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        if self._lines:
            self._line(fraction, message)
            return
        self._bar.n = int(1000 * fraction)
        if message:
            self._bar.set_postfix_str(message, refresh=False)
        self._bar.refresh()

    def _line(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        if self._last is not None and now - self._last < self._every:
            return
        self._last = now
        shown = f", {message}" if message else ""
        print(f"{self._desc}: {100 * fraction:3.0f}% after {now - self._start:.0f} s{shown}",
              file=sys.stderr, flush=True)

    def __enter__(self) -> "TqdmProgress":
        return self

    def __exit__(self, *exc) -> None:
        self._bar.close()
