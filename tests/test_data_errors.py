"""Bad files give a DataError that names the file, the line and the column; nothing is written."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.data import load_dataset, load_interactions
from recsys.errors import DataError


def load_csv(tmp_path, text: str | bytes, name="x.csv", **kwargs):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return load_interactions(path, **kwargs), path


def error_of(tmp_path, text, **kwargs) -> DataError:
    with pytest.raises(DataError) as info:
        load_csv(tmp_path, text, **kwargs)
    return info.value


def test_missing_column_names_it_and_lists_what_is_there(tmp_path):
    e = error_of(tmp_path, "user,product\n1,2\n")
    assert e.column == "item" and "x.csv" in str(e) and "product" in str(e)


def test_explicitly_named_optional_column_is_required(tmp_path):
    e = error_of(tmp_path, "user,item\n1,2\n", rating_col="stars")
    assert e.column == "stars"


def test_text_in_rating_column_names_line_and_column(tmp_path):
    e = error_of(tmp_path, "user,item,rating\n1,2,4\n1,3,great\n")
    assert (e.line, e.column) == (3, "rating")
    assert "'great'" in str(e) and "line 3" in str(e)


def test_nan_id(tmp_path):
    e = error_of(tmp_path, "user,item\n1,2\n,3\n")
    assert (e.line, e.column) == (3, "user")


def test_negative_id(tmp_path):
    e = error_of(tmp_path, "user,item\n1,2\n2,-3\n")
    assert (e.line, e.column) == (3, "item") and "negative" in str(e)


def test_fractional_id(tmp_path):
    e = error_of(tmp_path, "user,item\n1.5,2\n")
    assert (e.line, e.column) == (2, "user")


def test_empty_file(tmp_path):
    e = error_of(tmp_path, "")
    assert "empty" in str(e) and "x.csv" in str(e)


def test_header_only(tmp_path):
    e = error_of(tmp_path, "user,item\n")
    assert "no interactions" in str(e)


def test_binary_junk(tmp_path):
    e = error_of(tmp_path, bytes(range(256)) * 10)
    assert "binary" in str(e)


def test_non_utf8_bytes(tmp_path):
    e = error_of(tmp_path, "user,item,title\n1,2,caf\xe9\n".encode("latin-1"))
    assert "UTF-8" in str(e)


def test_wrong_delimiter_is_explained(tmp_path):
    e = error_of(tmp_path, "user;item\n1;2\n", sep=",")
    assert "delimiter" in str(e)


def test_ragged_line(tmp_path):
    e = error_of(tmp_path, "user,item\n1,2\n3,4,5,6\n")
    assert e.line == 3 and "fields" in str(e)


def test_duplicated_column(tmp_path):
    e = error_of(tmp_path, "user,item,item\n1,2,3\n")
    assert (e.line, e.column) == (1, "item") and "more than once" in str(e)


def test_bad_timestamp(tmp_path):
    e = error_of(tmp_path, "user,item,timestamp\n1,2,100\n1,3,yesterday-ish\n")
    assert (e.line, e.column) == (3, "timestamp")


def test_huge_line_is_read(tmp_path):
    # One enormous field is still data, not a crash.
    ds, _ = load_csv(tmp_path, "user,item,note\n1,2," + "x" * 2_000_000 + "\n")
    assert ds.n_interactions == 1


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_dataset(tmp_path / "nope.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no known dataset files"):
        load_dataset(tmp_path / "empty")


def test_unknown_format():
    with pytest.raises(DataError, match="unknown format"):
        load_dataset("ml-100k", format="xml")


def test_not_parquet(tmp_path):
    path = tmp_path / "x.parquet"
    path.write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match="Parquet"):
        load_dataset(path)


def test_bad_ml_dat_movies(tmp_path):
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "ratings.dat").write_text("1::1::5::1\n")
    (folder / "movies.dat").write_text("1::Title only\n")
    with pytest.raises(DataError) as info:
        load_dataset(folder)
    assert info.value.line == 1 and "movies.dat" in str(info.value)


def test_errors_change_nothing_on_disk(tmp_path):
    before = sorted(p.name for p in tmp_path.rglob("*"))
    error_of(tmp_path, "user,item,rating\n1,2,bad\n")
    after = sorted(p.name for p in tmp_path.rglob("*"))
    assert set(after) - set(before) == {"x.csv"}


def test_large_file_loads_vectorised(tmp_path):
    # 300k rows through the generic path: checks that nothing is per-row Python (it runs in ~1 s).
    n = 300_000
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"user": rng.integers(0, 5000, n), "item": rng.integers(0, 2000, n),
                          "rating": rng.integers(1, 6, n), "timestamp": rng.integers(0, 10**9, n)})
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    ds = load_dataset(path)
    assert ds.n_interactions + ds.report.duplicates_dropped == n
