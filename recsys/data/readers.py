"""Reading delimited files and validating interaction columns, with errors that point at the cell.

Every loader reads through ``read_delimited`` and checks through ``clean_interactions``, so a bad file
gives the same kind of message whatever its format: the file, the line (as an editor numbers it) and the
column. The fast path reads with declared dtypes; only when that fails is the column re-read to find
the first bad line.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.errors import DataError

_SNIFF_BYTES = 8192


def check_readable(path: str | os.PathLike) -> Path:
    """The path, if it names a non-empty text file; DataError otherwise."""
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", file=str(path))
    if path.is_dir():
        raise DataError("is a folder, expected a file", file=str(path))
    if path.stat().st_size == 0:
        raise DataError("file is empty (0 bytes)", file=str(path))
    return path


def _check_text(path: Path) -> None:
    with open(path, "rb") as f:
        head = f.read(_SNIFF_BYTES)
    if b"\x00" in head:
        raise DataError("looks like a binary file, not delimited text", file=str(path))


def read_delimited(path: str | os.PathLike, *, sep: str = ",", header: int | None = 0,
                   names: list[str] | None = None, usecols=None, dtype=None,
                   encoding: str = "utf-8", engine: str = "c", **kwargs) -> pd.DataFrame:
    """``pd.read_csv`` whose failures become DataError naming the file and, where known, the line."""
    path = check_readable(path)
    _check_text(path)
    try:
        if header == 0 and names is None:
            # pandas silently renames a repeated header ('item', 'item.1'); refuse it instead.
            first = pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str, encoding=encoding,
                                engine=engine, **kwargs).iloc[0].tolist()
            repeated = [c for i, c in enumerate(first) if c in first[:i]]
            if repeated:
                raise DataError(f"column {repeated[0]!r} appears more than once in the header",
                                file=str(path), line=1, column=str(repeated[0]))
        return pd.read_csv(path, sep=sep, header=header, names=names, usecols=usecols, dtype=dtype,
                           encoding=encoding, engine=engine, **kwargs)
    except UnicodeDecodeError as e:
        raise DataError(f"not valid {encoding} text (bad byte at offset {e.start}); "
                        "save the file as UTF-8", file=str(path)) from None
    except pd.errors.EmptyDataError:
        raise DataError("file has no data", file=str(path)) from None
    except pd.errors.ParserError as e:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(e))
        if m:
            raise DataError(f"expected {m.group(1)} fields, found {m.group(3)} (wrong delimiter, or an "
                            "unquoted delimiter inside a value?)", file=str(path),
                            line=int(m.group(2))) from None
        raise DataError(f"cannot parse: {str(e).strip().splitlines()[-1]}", file=str(path)) from None
    except ValueError as e:
        # usecols naming absent columns, or a value that does not fit a declared dtype.
        missing = re.search(r"Usecols do not match columns, columns expected but not found: (.*)", str(e))
        if missing:
            raise DataError(f"missing column(s) {missing.group(1)}", file=str(path)) from None
        raise


def require_columns(frame: pd.DataFrame, columns: list[str], file: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns[:20]))
        raise DataError(f"missing column(s) {', '.join(map(repr, missing))}; the file has: {found}",
                        file=file, column=missing[0])
    duplicated = frame.columns[frame.columns.duplicated()].tolist()
    if duplicated:
        raise DataError(f"column {duplicated[0]!r} appears more than once", file=file,
                        column=str(duplicated[0]))


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def clean_interactions(frame: pd.DataFrame, *, file: str, header_lines: int = 1,
                       columns: dict[str, str] | None = None) -> pd.DataFrame:
    """Validate and type a frame of interactions; returns columns user, item[, rating][, timestamp].

    ``columns`` maps the standard names to the file's names (for messages). Ids must be present and
    not negative when numeric; ratings numeric; timestamps integers (epoch seconds) or date strings.
    """
    columns = columns or {}
    name = lambda c: columns.get(c, c)  # noqa: E731
    line = lambda i: i + 1 + header_lines  # noqa: E731
    out = {}
    for c in ("user", "item"):
        values = frame[c]
        nan = values.isna().to_numpy()
        if nan.any():
            raise DataError("missing id (empty or NaN)", file=file, line=line(_first_bad(nan)),
                            column=name(c))
        if pd.api.types.is_float_dtype(values):
            frac = (values % 1 != 0).to_numpy()
            if frac.any():
                raise DataError(f"id {values.iloc[_first_bad(frac)]!r} is not a whole number", file=file,
                                line=line(_first_bad(frac)), column=name(c))
            values = values.astype(np.int64)
        if pd.api.types.is_numeric_dtype(values):
            negative = (values < 0).to_numpy()
            if negative.any():
                raise DataError(f"negative id {values.iloc[_first_bad(negative)]}", file=file,
                                line=line(_first_bad(negative)), column=name(c))
        else:
            values = values.astype(str).str.strip()
            empty = (values == "").to_numpy()
            if empty.any():
                raise DataError("missing id (empty)", file=file, line=line(_first_bad(empty)),
                                column=name(c))
            # Integer tokens (RecBole's atomic files read as text) become ints, so ids sort as numbers.
            if values.str.fullmatch(r"0|[1-9]\d{0,17}").all():
                values = values.astype(np.int64)
        out[c] = values.to_numpy()
    if "rating" in frame:
        values = pd.to_numeric(frame["rating"], errors="coerce")
        bad = values.isna().to_numpy() | ~np.isfinite(values.to_numpy(np.float64))
        if bad.any():
            i = _first_bad(bad)
            raise DataError(f"rating {frame['rating'].iloc[i]!r} is not a number", file=file,
                            line=line(i), column=name("rating"))
        out["rating"] = values.to_numpy(np.float32)
    if "timestamp" in frame:
        out["timestamp"] = _timestamps(frame["timestamp"], file, line, name("timestamp"))
    return pd.DataFrame(out)


def _timestamps(values: pd.Series, file: str, line, column: str) -> np.ndarray:
    """Epoch seconds as int64, from numbers or from date strings; the first row decides which."""
    numeric = pd.to_numeric(values, errors="coerce")
    if pd.notna(numeric.iloc[0]):
        bad = numeric.isna().to_numpy()
        kind = "a number (epoch seconds) like the first row"
    else:
        dates = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
        bad = dates.isna().to_numpy()
        kind = "a date like the first row"
        numeric = (dates - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    if bad.any():
        i = _first_bad(bad)
        raise DataError(f"timestamp {values.iloc[i]!r} is not {kind}", file=file, line=line(i),
                        column=column)
    return numeric.to_numpy(np.float64).astype(np.int64)
