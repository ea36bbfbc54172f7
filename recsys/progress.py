"""Progress reporting shared by the library, the CLI (tqdm) and the app (st.progress).

A progress callback takes the fraction done (0..1) and a short message. The library calls it; it never
prints. ``scaled`` maps a sub-task onto part of a parent bar.
"""
from __future__ import annotations

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
    """A tqdm bar driven by fractions: ``with TqdmProgress("training") as p: model.fit(..., progress=p)``."""

    def __init__(self, desc: str, disable: bool | None = None):
        from tqdm.auto import tqdm  # imported here: only the CLI draws bars

        self._bar = tqdm(total=1000, desc=desc, disable=disable, leave=False,
                         bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} {postfix}")

    def __call__(self, fraction: float, message: str = "") -> None:
        self._bar.n = int(1000 * min(max(fraction, 0.0), 1.0))
        if message:
            self._bar.set_postfix_str(message, refresh=False)
        self._bar.refresh()

    def __enter__(self) -> "TqdmProgress":
        return self

    def __exit__(self, *exc) -> None:
        self._bar.close()
