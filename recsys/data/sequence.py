"""Headerless files in the sequential-recommendation literature's formats.

SASRec's and BERT4Rec's preprocessed data sets (Amazon Beauty, Steam, ml-1m) are ``user item`` lines,
space-separated, each user's lines in time order; others add ``rating timestamp`` columns, use commas, or
write one user a line (``user item1 item2 ...``, oldest first). ``sniff_sequence`` recognises these from
a file's first lines, so ``load_dataset(path)`` needs no flags where the file is unambiguous (every id a
whole number and no header), and ``format="sequence"`` forces the reading for string ids.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.data.dataset import Dataset, LoadReport, build_dataset
from recsys.data.readers import check_readable, clean_interactions, read_delimited
from recsys.errors import DataError

_SAMPLE_LINES = 500
_WHOLE = re.compile(r"\d+")
_NUMBER = re.compile(r"\d+(\.\d+)?")
# Smallest epoch second taken for a timestamp column (1973): ratings and ids are far smaller.
_EPOCH_FLOOR = 100_000_000
_HEADER_WORDS = {"user", "item", "user_id", "item_id", "userid", "itemid", "movieid", "rating",
                 "timestamp", "time", "session", "product", "sequence", "items"}


@dataclass(frozen=True)
class SequenceLayout:
    """How a headerless file is laid out: ``sep`` ',' or None for runs of whitespace; ``per_user`` True
    for one user a line, else ``columns`` names the fields of one interaction a line."""

    sep: str | None
    per_user: bool
    columns: tuple[str, ...] = ("user", "item")

    def describe(self) -> str:
        sep = "comma-separated" if self.sep else "whitespace-separated"
        shape = "one user a line (user item1 item2 …)" if self.per_user else " ".join(self.columns)
        return f"{sep}, no header, {shape}"


def _sample(path: Path) -> tuple[list[int], list[str]]:
    """The first non-empty lines and their line numbers (as an editor counts them)."""
    numbers, lines = [], []
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        for number, raw in enumerate(f, 1):
            if raw.strip():
                numbers.append(number)
                lines.append(raw.strip())
                if len(lines) >= _SAMPLE_LINES:
                    break
    return numbers, lines


def _split(line: str, sep: str | None) -> list[str]:
    return [t.strip() for t in line.split(sep)] if sep else line.split()


def sniff_sequence(path: str | Path, *, force: bool = False) -> SequenceLayout | None:
    """The file's layout if its first lines read as a headerless sequence file, else None.

    Without ``force`` only the unambiguous case counts: every id a whole number and a first line that
    is not a header. With ``force`` string ids are allowed and the layout is decided all the same
    (DataError when no layout fits).
    """
    path = check_readable(path)
    numbers, lines = _sample(path)
    if not lines:
        raise DataError("file has no data", file=str(path))
    sep = "," if all("," in line for line in lines) else None
    if sep is None and any(c in lines[0] for c in ";|"):
        return _refuse(force, path, "its lines are separated by ';' or '|', not whitespace or commas")
    rows = [_split(line, sep) for line in lines]
    if {t.lower() for t in rows[0]} & _HEADER_WORDS or (
            len(rows) > 1 and not any(_NUMBER.fullmatch(t) for t in rows[0])
            and all(_NUMBER.fullmatch(t) for t in rows[1])):
        return _refuse(force, path, f"its first line looks like a header ({lines[0][:80]!r})")
    lengths = np.array([len(r) for r in rows])
    if lengths.max() <= 2 and lengths.min() < 2:   # a lone field is a user without items only in lists
        line = numbers[int(np.argmax(lengths < 2))]
        return _refuse(force, path, f"line {line} holds fewer than two fields (a user and an item)")
    if not force and not all(_NUMBER.fullmatch(t) for r in rows for t in r):
        return None                        # string ids: a header cannot be ruled out, so not unambiguous
    n = int(np.bincount(lengths[lengths >= 2]).argmax())
    columns = _interaction_columns([r for r in rows if len(r) == n], n)
    if (lengths == n).all():
        return SequenceLayout(sep, per_user=columns is None, columns=columns or ("user", "item"))
    if columns is not None and n > 2:
        # Rating / timestamp columns on most lines: an odd line is a broken row, not a user's list.
        odd = int(np.argmax(lengths != n))
        raise DataError(f"line {numbers[odd]} has {lengths[odd]} fields where the others have {n} "
                        f"({' '.join(columns)})", file=str(path), line=numbers[odd])
    return SequenceLayout(sep, per_user=True)


def _interaction_columns(rows: list[list[str]], n: int) -> tuple[str, ...] | None:
    """The columns of ``n``-field interaction lines (user item [rating] [timestamp]), or None when the
    fields past the item are not a rating (≤ 10) and an epoch timestamp: then they are more items."""
    if n == 2:
        return ("user", "item")
    rating = all(_NUMBER.fullmatch(r[2]) and float(r[2]) <= 10 for r in rows)
    time_at = lambda k: all(_WHOLE.fullmatch(r[k]) and int(r[k]) >= _EPOCH_FLOOR for r in rows)  # noqa: E731
    if n == 3 and (rating or time_at(2)):
        return ("user", "item", "rating" if rating else "timestamp")
    if n == 4 and rating and time_at(3):
        return ("user", "item", "rating", "timestamp")
    return None


def _refuse(force: bool, path: Path, why: str) -> None:
    if force:
        raise DataError(f"not a headerless sequence file: {why}", file=str(path))
    return None


def load_sequence(path: str | Path, *, name: str | None = None, layout: SequenceLayout | None = None,
                  **filters) -> Dataset:
    """Load a headerless sequence file (see ``sniff_sequence``); the file's order is the time order
    unless it has a timestamp column. ``filters`` are those of ``build_dataset``."""
    path = check_readable(path)
    layout = layout or sniff_sequence(path, force=True)
    file = str(path)
    report = LoadReport(file, notes=[f"read as {layout.describe()}"])
    if layout.per_user:
        frame, empty = _per_user_frame(path, layout.sep)
        if empty:
            report.notes.append(f"{empty:,} lines name a user and no items (skipped)")
        # Line numbers are lost in the expansion to one row per item; messages name the column only.
        frame = clean_interactions(frame, file=file, header_lines=0)
    else:
        raw = read_delimited(path, sep=layout.sep or r"\s+", header=None, names=list(layout.columns),
                             dtype={"user": str, "item": str})
        frame = clean_interactions(raw, file=file, header_lines=0)
    return build_dataset(frame, name=name or path.stem, source=file, report=report, **filters)


def _per_user_frame(path: Path, sep: str | None) -> tuple[pd.DataFrame, int]:
    users, items, empty = [], [], 0
    try:
        with open(path, "r", encoding="utf-8") as f:
            for line in f:
                tokens = _split(line.strip(), sep) if line.strip() else []
                if len(tokens) < 2:
                    empty += bool(tokens)
                    continue
                users.append(np.repeat(tokens[0], len(tokens) - 1))
                items.append(np.asarray(tokens[1:]))
    except UnicodeDecodeError as e:
        raise DataError(f"not valid utf-8 text (bad byte at offset {e.start}); save the file as UTF-8",
                        file=str(path)) from None
    if not users:
        raise DataError("no line names a user and an item", file=str(path))
    return pd.DataFrame({"user": np.concatenate(users), "item": np.concatenate(items)}), empty
