"""Ragged arrays: many variable-length integer sequences in two flat arrays (CSR layout).

User histories and held-out targets are ragged. Two flat arrays keep millions of them compact and let
batch code slice without Python objects per user.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Ragged:
    """Row ``i`` is ``values[indptr[i]:indptr[i + 1]]``; order within a row is kept (time order)."""

    indptr: np.ndarray  # int64, (n_rows + 1,)
    values: np.ndarray  # (indptr[-1],)

    @classmethod
    def from_groups(cls, groups: np.ndarray, values: np.ndarray, n_rows: int) -> "Ragged":
        """Build from a row id per value; ``groups`` must already be sorted (stable order kept)."""
        counts = np.bincount(groups, minlength=n_rows)
        indptr = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return cls(indptr, np.asarray(values))

    @classmethod
    def from_list(cls, rows: list[np.ndarray], dtype=np.int32) -> "Ragged":
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        values = np.concatenate(rows).astype(dtype) if rows else np.zeros(0, dtype)
        return cls(indptr, values)

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def __getitem__(self, i: int) -> np.ndarray:
        return self.values[self.indptr[i]:self.indptr[i + 1]]

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.indptr)

    def rows(self, start: int = 0, stop: int | None = None) -> list[np.ndarray]:
        """Rows ``start:stop`` as a list of views (no copies)."""
        stop = len(self) if stop is None else min(stop, len(self))
        return [self.values[self.indptr[i]:self.indptr[i + 1]] for i in range(start, stop)]

    def row_ids(self) -> np.ndarray:
        """The row index of every value (the inverse of ``from_groups``)."""
        return np.repeat(np.arange(len(self), dtype=np.int64), self.lengths)

    def take(self, rows: np.ndarray) -> "Ragged":
        """A new Ragged with only ``rows``, in the given order."""
        rows = np.asarray(rows, dtype=np.int64)
        lengths = self.lengths[rows]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        # Offset of each value inside its row, added to the row's start in the source.
        within = np.arange(indptr[-1], dtype=np.int64) - np.repeat(indptr[:-1], lengths)
        source = np.repeat(self.indptr[rows], lengths) + within
        return Ragged(indptr, self.values[source])
