"""A generic interactions file (CSV, TSV or Parquet) with named columns, and an optional items file.

Columns are named by keyword: ``user`` and ``item`` are required; ``rating`` and ``timestamp`` are used
when present (or required, when named explicitly). Without timestamps the file's order is the time order.
"""
from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from recsys.data.dataset import Dataset, build_dataset
from recsys.data.readers import check_readable, clean_interactions, read_delimited, require_columns
from recsys.errors import DataError

_DELIMITERS = ",\t;|"


def sniff_delimiter(path: Path) -> str:
    """The delimiter of a text table, guessed from its first lines (',' when unsure)."""
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        head = f.read(64 * 1024)
    try:
        return csv.Sniffer().sniff(head.split("\n", 1)[0], delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","


def read_table(path: str | Path, sep: str | None = None) -> tuple[pd.DataFrame, str]:
    """A CSV/TSV/Parquet file as a frame, and the delimiter used ('' for Parquet)."""
    path = check_readable(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            return pd.read_parquet(path), ""
        except Exception as e:  # pyarrow raises many types for a bad file; all mean "not Parquet"
            raise DataError(f"cannot read as Parquet: {str(e).splitlines()[0]}", file=str(path)) from None
    sep = sep or ("\t" if path.suffix.lower() == ".tsv" else sniff_delimiter(path))
    return read_delimited(path, sep=sep), sep


def load_interactions(path: str | Path, *, user_col: str = "user", item_col: str = "item",
                      rating_col: str | None = None, timestamp_col: str | None = None,
                      sep: str | None = None, items_path: str | Path | None = None,
                      items_id_col: str | None = None, title_col: str = "title",
                      genres_col: str = "genres", year_col: str = "year", text_col: str | None = None,
                      name: str | None = None, **filters) -> Dataset:
    """Load an interactions table.

    ``rating_col`` / ``timestamp_col`` default to 'rating' / 'timestamp' if such columns exist; naming
    them explicitly makes them required. ``items_path`` is a table keyed by ``items_id_col`` (default:
    ``item_col``) with optional title, genres ('|'-separated), year and free-text columns.
    ``filters`` are those of ``build_dataset`` (k-core, rating threshold).
    """
    path = Path(path)
    raw, used_sep = read_table(path, sep)
    file = str(path)
    optional = {"rating": (rating_col, "rating"), "timestamp": (timestamp_col, "timestamp")}
    wanted = [user_col, item_col] + [c for c, _ in optional.values() if c]
    if len(raw.columns) == 1 and len(wanted) > 1 and used_sep:
        raise DataError(f"found a single column {raw.columns[0]!r}: is the delimiter "
                        f"{used_sep!r} right? pass sep=... (--sep on the command line); a file with no "
                        "header reads with format='sequence' (--format sequence)", file=file)
    if not set(wanted) & set(map(str, raw.columns)) and all(
            str(c).replace(".", "", 1).isdigit() for c in raw.columns):
        raise DataError(f"the first line ({', '.join(map(str, raw.columns[:4]))}) is data, not column names: "
                        "a file with no header reads with format='sequence' (--format sequence)",
                        file=file, line=1)
    require_columns(raw, wanted, file)
    columns = {"user": user_col, "item": item_col}
    for std, (explicit, default) in optional.items():
        chosen = explicit or (default if default in raw.columns else None)
        if chosen:
            columns[std] = chosen
    frame = raw[list(columns.values())].set_axis(list(columns), axis=1)
    header_lines = 1 if used_sep else 0
    frame = clean_interactions(frame, file=file, header_lines=header_lines, columns=columns)

    items = None
    if items_path is not None:
        table, _ = read_table(items_path)
        key = items_id_col or item_col
        require_columns(table, [key], str(items_path))
        if table[key].duplicated().any():
            raise DataError(f"item id {table[key][table[key].duplicated()].iloc[0]!r} appears twice",
                            file=str(items_path), column=key)
        items = pd.DataFrame(index=pd.Index(_like(table[key], frame["item"])))
        for std, col in (("title", title_col), ("genres", genres_col), ("year", year_col),
                         ("text", text_col)):
            if col and col in table:
                items[std] = table[col].to_numpy()
    return build_dataset(frame, name=name or path.stem, source=file, items=items, **filters)


def _like(ids: pd.Series, like: pd.Series) -> pd.Series:
    """Item-file ids in the dtype of the interaction ids, so that 7 and '7' match."""
    if pd.api.types.is_integer_dtype(like):
        return pd.to_numeric(ids, errors="coerce").fillna(-1).astype("int64")
    return ids.astype(str).str.strip()
