"""MovieLens loaders: the embedded ml-100k (RecBole atomic files shipped in the recbole wheel) and the
formats GroupLens distributes — ml-100k (u.data), ml-1m / ml-10m (``::``-separated .dat), and
ml-20m / ml-25m / ml-latest (ratings.csv, movies.csv).

The recbole wheel is installed with ``--no-deps`` only for its data files; it is found through
importlib.metadata and never imported, since its own dependencies conflict with ours.
"""
from __future__ import annotations

import csv
import importlib.metadata
import re
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.data.dataset import Dataset, build_dataset
from recsys.data.readers import clean_interactions, read_delimited, require_columns
from recsys.errors import DataError

EMBEDDED = "ml-100k"
_YEAR_IN_TITLE = re.compile(r"\s*\((\d{4})\)\s*$")
ML100K_GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
                 "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
                 "Romance", "Sci-Fi", "Thriller", "War", "Western"]
# ml-1m users.dat stores occupations as codes; its README gives the names.
ML1M_OCCUPATIONS = ["other", "academic/educator", "artist", "clerical/admin", "college/grad student",
                    "customer service", "doctor/health care", "executive/managerial", "farmer",
                    "homemaker", "K-12 student", "lawyer", "programmer", "retired", "sales/marketing",
                    "scientist", "self-employed", "technician/engineer", "tradesman/craftsman",
                    "unemployed", "writer"]


def embedded_dir() -> Path:
    """The folder of the ml-100k atomic files inside the installed recbole wheel."""
    try:
        dist = importlib.metadata.distribution("recbole")
    except importlib.metadata.PackageNotFoundError:
        raise DataError("the embedded dataset needs the recbole wheel's data files: "
                        "run `pip install --no-deps recbole==1.2.1` (make install does)") from None
    for f in dist.files or []:
        if str(f).endswith("dataset_example/ml-100k/ml-100k.inter"):
            return Path(dist.locate_file(f)).parent
    raise DataError("the installed recbole wheel has no dataset_example/ml-100k files")


def load_embedded(**filters) -> Dataset:
    """MovieLens-100k, shipped offline in the recbole wheel."""
    return load_atomic(embedded_dir(), name=EMBEDDED, **filters)


def _split_title(titles: pd.Series) -> tuple[pd.Series, pd.Series]:
    """'Toy Story (1995)' -> ('Toy Story', 1995)."""
    titles = titles.fillna("").astype(str)
    year = titles.str.extract(_YEAR_IN_TITLE, expand=False)
    return titles.str.replace(_YEAR_IN_TITLE, "", regex=True).str.strip(), pd.to_numeric(year)


def load_atomic(directory: str | Path, *, name: str | None = None, **filters) -> Dataset:
    """RecBole atomic files: <name>.inter with optional <name>.item and <name>.user (tab-separated,
    headers 'field:type')."""
    directory = Path(directory)
    inter = sorted(directory.glob("*.inter"))
    if not inter:
        raise DataError("no .inter file", file=str(directory))
    stem = inter[0].with_suffix("")
    raw = read_delimited(inter[0], sep="\t", quoting=csv.QUOTE_NONE, dtype=str)
    raw.columns = [c.split(":")[0] for c in raw.columns]
    require_columns(raw, ["user_id", "item_id"], str(inter[0]))
    keep = {"user_id": "user", "item_id": "item", "rating": "rating", "timestamp": "timestamp"}
    raw = raw[[c for c in keep if c in raw]].rename(columns=keep)
    frame = clean_interactions(raw, file=str(inter[0]),
                               columns={"user": "user_id", "item": "item_id"})
    items = users = None
    item_file = stem.with_suffix(".item")
    if item_file.exists():
        t = read_delimited(item_file, sep="\t", quoting=csv.QUOTE_NONE, dtype=str)
        t.columns = [c.split(":")[0] for c in t.columns]
        require_columns(t, ["item_id"], str(item_file))
        items = pd.DataFrame({
            "title": t.get("movie_title", t.get("title")),
            "genres": t["class"].fillna("").str.split().str.join("|") if "class" in t else "",
            "year": pd.to_numeric(t.get("release_year"), errors="coerce"),
        })
        items.index = _index_like(t["item_id"], frame["item"])
    user_file = stem.with_suffix(".user")
    if user_file.exists():
        t = read_delimited(user_file, sep="\t", quoting=csv.QUOTE_NONE, dtype=str)
        t.columns = [c.split(":")[0] for c in t.columns]
        users = pd.DataFrame({"age": pd.to_numeric(t.get("age"), errors="coerce"),
                              "gender": t.get("gender"), "occupation": t.get("occupation")})
        users.index = _index_like(t["user_id"], frame["user"])
    return build_dataset(frame, name=name or stem.name, source=str(inter[0]), items=items,
                         users=users, **filters)


def _index_like(ids: pd.Series, like: pd.Series) -> pd.Index:
    """Side-table ids typed like the interaction ids, so that they match (-1 never does)."""
    if pd.api.types.is_integer_dtype(like):
        return pd.Index(pd.to_numeric(ids, errors="coerce").fillna(-1).astype(np.int64))
    return pd.Index(ids.astype(str).str.strip())


def load_ml100k_raw(directory: str | Path, **filters) -> Dataset:
    """The GroupLens ml-100k folder: u.data (tab), u.item and u.user ('|', latin-1)."""
    directory = Path(directory)
    data = directory / "u.data"
    raw = read_delimited(data, sep="\t", header=None, names=["user", "item", "rating", "timestamp"])
    frame = clean_interactions(raw, file=str(data), header_lines=0)
    items = users = None
    if (directory / "u.item").exists():
        t = read_delimited(directory / "u.item", sep="|", header=None, encoding="latin-1",
                           names=["item", "title", "release", "video", "url", *ML100K_GENRES])
        title, year = _split_title(t["title"])
        flags = t[ML100K_GENRES].fillna(0).astype(bool).to_numpy()
        items = pd.DataFrame({"title": title, "year": year,
                              "genres": ["|".join(np.asarray(ML100K_GENRES)[row]) for row in flags]})
        items.index = pd.Index(t["item"].astype(np.int64))
    if (directory / "u.user").exists():
        t = read_delimited(directory / "u.user", sep="|", header=None,
                           names=["user", "age", "gender", "occupation", "zip"])
        users = t.set_index("user")[["age", "gender", "occupation"]]
    return build_dataset(frame, name=directory.name or "ml-100k", source=str(data), items=items,
                         users=users, **filters)


def _read_double_colon(path: Path, names: list[str], encoding: str = "utf-8") -> pd.DataFrame:
    """'a::b::c' lines. The C parser cannot split on '::', so split on ':' and keep every other field;
    this is only valid where no field contains ':' (true of ratings.dat and users.dat)."""
    wide = [f"{n}{j}" for n in names for j in range(2)][:-1]
    t = read_delimited(path, sep=":", header=None, names=wide, encoding=encoding)
    return t[[f"{n}0" for n in names]].set_axis(names, axis=1)


def _read_text_lines(path: Path) -> list[str]:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # ml-1m's movies.dat is latin-1
    return [line for line in text.splitlines() if line.strip()]


def load_ml_dat(directory: str | Path, **filters) -> Dataset:
    """ml-1m / ml-10m: ratings.dat, movies.dat and (ml-1m) users.dat, fields separated by '::'."""
    directory = Path(directory)
    ratings = directory / "ratings.dat"
    raw = _read_double_colon(ratings, ["user", "item", "rating", "timestamp"])
    frame = clean_interactions(raw, file=str(ratings), header_lines=0)
    items = users = None
    movies = directory / "movies.dat"
    if movies.exists():
        rows = [line.split("::") for line in _read_text_lines(movies)]
        bad = next((i for i, r in enumerate(rows) if len(r) != 3), None)
        if bad is not None:
            raise DataError("expected 3 fields separated by '::'", file=str(movies), line=bad + 1)
        t = pd.DataFrame(rows, columns=["item", "title", "genres"])
        title, year = _split_title(t["title"])
        items = pd.DataFrame({"title": title, "year": year,
                              "genres": t["genres"].replace("(no genres listed)", "")})
        items.index = pd.Index(pd.to_numeric(t["item"]).astype(np.int64))
    if (directory / "users.dat").exists():
        t = _read_double_colon(directory / "users.dat", ["user", "gender", "age", "occupation", "zip"])
        occupation = pd.to_numeric(t["occupation"], errors="coerce")
        names = np.asarray(ML1M_OCCUPATIONS + ["unknown"])
        t["occupation"] = names[occupation.fillna(len(ML1M_OCCUPATIONS)).astype(int).clip(0, 21)]
        users = t.set_index("user")[["age", "gender", "occupation"]]
    return build_dataset(frame, name=directory.name or "movielens", source=str(ratings), items=items,
                         users=users, **filters)


def load_ml_csv(directory: str | Path, **filters) -> Dataset:
    """ml-20m / ml-25m / ml-latest(-small): ratings.csv (userId, movieId, rating, timestamp) and
    movies.csv (movieId, title, genres)."""
    directory = Path(directory)
    ratings = directory / "ratings.csv"
    cols = ["userId", "movieId", "rating", "timestamp"]
    raw = read_delimited(ratings, usecols=lambda c: c in cols)
    require_columns(raw, cols[:2], str(ratings))
    raw = raw.rename(columns={"userId": "user", "movieId": "item"})
    frame = clean_interactions(raw, file=str(ratings),
                               columns={"user": "userId", "item": "movieId"})
    items = None
    movies = directory / "movies.csv"
    if movies.exists():
        t = read_delimited(movies)
        require_columns(t, ["movieId", "title"], str(movies))
        title, year = _split_title(t["title"])
        genres = t["genres"].fillna("").replace("(no genres listed)", "") if "genres" in t else ""
        items = pd.DataFrame({"title": title, "year": year, "genres": genres})
        items.index = pd.Index(t["movieId"].astype(np.int64))
    return build_dataset(frame, name=directory.name or "movielens", source=str(ratings), items=items,
                         **filters)
