"""Datasets: the ``Dataset`` type and loaders for MovieLens and generic files.

``load_dataset("ml-100k")`` gives the embedded default; a folder or file path is recognised by its
files (``format="auto"``), or the format is named: ml-100k, ml-dat (ml-1m/ml-10m), ml-csv
(ml-20m/ml-25m/ml-latest), atomic (RecBole), csv / parquet (generic, with a header), sequence (the
literature's headerless ``user item`` lines or one user a line, e.g. SASRec's Amazon Beauty).
"""
from __future__ import annotations

from pathlib import Path

from recsys.data.dataset import Dataset, LoadReport, build_dataset
from recsys.data.generic import load_interactions
from recsys.data.movielens import (EMBEDDED, load_atomic, load_embedded, load_ml100k_raw, load_ml_csv,
                                   load_ml_dat)
from recsys.data.ragged import Ragged
from recsys.data.sequence import load_sequence, sniff_sequence
from recsys.errors import DataError

FORMATS = ("auto", "ml-100k", "ml-dat", "ml-csv", "atomic", "csv", "parquet", "sequence")

__all__ = ["Dataset", "LoadReport", "Ragged", "DataError", "build_dataset", "load_dataset",
           "load_interactions", "load_sequence", "load_embedded", "detect_format", "FORMATS", "EMBEDDED",
           "INTERACTIONS_CSV", "ITEMS_CSV"]


# A generic dataset folder (what the app's upload writes): interactions plus an optional items table.
INTERACTIONS_CSV = "interactions.csv"
ITEMS_CSV = "items.csv"


def detect_format(path: str | Path) -> str:
    """Name the format of a dataset folder or file from the files it holds."""
    path = Path(path)
    if path.is_dir():
        for marker, fmt in (("u.data", "ml-100k"), ("ratings.dat", "ml-dat"),
                            ("ratings.csv", "ml-csv"), (INTERACTIONS_CSV, "csv")):
            if (path / marker).exists():
                return fmt
        if any(path.glob("*.inter")):
            return "atomic"
        if sequence_file(path) is not None:
            return "sequence"
        raise DataError(f"no known dataset files here (u.data, ratings.dat, ratings.csv, "
                        f"{INTERACTIONS_CSV}, *.inter, or one *.txt sequence file)",
                        file=str(path))
    if not path.exists():
        raise DataError("no such file or folder", file=str(path))
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix == ".inter":
        return "atomic"
    return "sequence" if sniff_sequence(path) is not None else "csv"


def sequence_file(folder: Path) -> Path | None:
    """The one ``*.txt`` file of a dataset folder (a sequence file such as SASRec's Beauty.txt)."""
    texts = [p for p in folder.glob("*.txt") if p.is_file() and not p.name.startswith(".")]
    return texts[0] if len(texts) == 1 else None


def load_dataset(source: str | Path = EMBEDDED, *, format: str = "auto", **kwargs) -> Dataset:
    """Load a dataset by name ("ml-100k", the embedded default) or path.

    ``kwargs`` go to the loader: filters (``min_user_interactions``, ``min_item_interactions``,
    ``rating_threshold``) for every format, and column names for csv / parquet.
    """
    if format not in FORMATS:
        raise DataError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    if str(source) == EMBEDDED and format in ("auto", "atomic") and not Path(source).exists():
        return load_embedded(**kwargs)
    fmt = detect_format(source) if format == "auto" else format
    if fmt == "sequence":
        path = Path(source)
        if path.is_dir():
            found = sequence_file(path)
            if found is None:
                raise DataError("--format sequence on a folder needs exactly one *.txt file in it",
                                file=str(path))
            kwargs.setdefault("name", path.name)
            path = found
        return load_sequence(path, **kwargs)
    if fmt in ("csv", "parquet"):
        path = Path(source)
        if path.is_dir():  # a folder holding interactions.csv and, optionally, items.csv
            items = path / ITEMS_CSV
            kwargs.setdefault("items_path", items if items.is_file() else None)
            kwargs.setdefault("name", path.name)
            path = path / INTERACTIONS_CSV
        return load_interactions(path, **kwargs)
    path = Path(source)
    folder = path if path.is_dir() else path.parent
    loader = {"ml-100k": load_ml100k_raw, "ml-dat": load_ml_dat, "ml-csv": load_ml_csv,
              "atomic": load_atomic}[fmt]
    return loader(folder, **kwargs)
