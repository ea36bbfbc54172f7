"""Loaders: the embedded ml-100k and every MovieLens / generic format, filters and id handling."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.data import detect_format, load_dataset, load_interactions
from recsys.data.ragged import Ragged
from recsys.errors import DataError

from conftest import make_dataset


def test_embedded_ml100k_has_the_published_size(ml100k):
    assert (ml100k.n_users, ml100k.n_items, ml100k.n_interactions) == (943, 1682, 100_000)
    assert ml100k.has_item_text                      # titles, genres and years become item text
    assert ml100k.user.dtype == np.int32 and ml100k.item.dtype == np.int32
    assert ml100k.rating.dtype == np.float32 and ml100k.timestamp.dtype == np.int64
    assert ml100k.user.min() == 0 and ml100k.user.max() == 942
    # Raw ids are numbers, sorted numerically: index 0 is user 1 / item 1.
    assert ml100k.user_ids[0] == 1 and ml100k.item_ids[:3].tolist() == [1, 2, 3]
    toy = ml100k.items.iloc[ml100k.item_index(1)]
    assert toy["title"] == "Toy Story" and toy["year"] == 1995
    assert toy["genres"] == "Animation|Children's|Comedy"
    assert "Toy Story" in toy["text"] and "Animation" in toy["text"]
    assert list(ml100k.users.columns) == ["age", "gender", "occupation"]
    assert ml100k.users.iloc[0].tolist() == [24, "M", "technician"]


def test_interactions_sorted_by_user_then_time(ml100k):
    key = ml100k.user.astype(np.int64) * 2**32 + (ml100k.timestamp - ml100k.timestamp.min())
    assert (np.diff(key) >= 0).all()


def test_equal_timestamps_keep_file_order():
    ds = make_dataset([(1, 30, 1, 5), (1, 10, 1, 5), (1, 20, 1, 5), (1, 40, 1, 1)])
    assert ds.item_ids[ds.sequences()[0]].tolist() == [40, 30, 10, 20]


def test_duplicates_are_dropped_keeping_the_latest_and_counted():
    ds = make_dataset([(1, 10, 1, 1), (1, 10, 5, 9), (1, 11, 3, 2), (2, 10, 2, 3)])
    assert ds.n_interactions == 3
    assert ds.report.duplicates_dropped == 1
    assert any("duplicate" in line for line in ds.report.lines())
    u, i = ds.user_index(1), ds.item_index(10)
    assert ds.rating[(ds.user == u) & (ds.item == i)].tolist() == [5.0]


def test_rating_threshold_and_kcore():
    rows = [(u, i, 5 if (u + i) % 3 else 1, u * 10 + i) for u in range(6) for i in range(6) if u >= i]
    ds = make_dataset(rows, rating_threshold=4)
    assert (ds.rating >= 4).all() and ds.report.below_rating_threshold > 0
    core = make_dataset(rows, min_user_interactions=3, min_item_interactions=3)
    assert core.user_activity().min() >= 3 and core.item_popularity().min() >= 3
    assert core.report.kcore_dropped == len(rows) - core.n_interactions > 0


def test_filters_that_leave_nothing_raise():
    with pytest.raises(DataError, match="no interactions left"):
        make_dataset([(1, 10, 1, 1)], min_user_interactions=5)


def test_unknown_user_and_item_lookups(ml100k):
    assert ml100k.user_index("943") == 942
    with pytest.raises(DataError, match="unknown user"):
        ml100k.user_index(99999)
    with pytest.raises(DataError, match="unknown item"):
        ml100k.item_index("abc")


def test_fingerprint_changes_with_content(tiny):
    same = make_dataset([(r.user, r.item, r.rating, r.timestamp) for r in pd.DataFrame(
        {"user": tiny.user_ids[tiny.user], "item": tiny.item_ids[tiny.item], "rating": tiny.rating,
         "timestamp": tiny.timestamp}).itertuples()], items=None)
    assert same.fingerprint() == tiny.fingerprint()
    assert tiny.subset(tiny.rating > 2).fingerprint() != tiny.fingerprint()


def test_genre_matrix(tiny):
    m, names = tiny.genre_matrix()
    assert names == ["Action", "Comedy", "Drama", "Romance"]
    assert m.shape == (6, 4) and m.sum() == 7
    assert m[tiny.item_index(11)].toarray().tolist() == [[1, 1, 0, 0]]


def test_ragged_take_and_rows():
    r = Ragged.from_list([np.array([1, 2]), np.array([], int), np.array([3, 4, 5])])
    assert r.lengths.tolist() == [2, 0, 3]
    t = r.take(np.array([2, 0]))
    assert [x.tolist() for x in t.rows()] == [[3, 4, 5], [1, 2]]
    assert r.row_ids().tolist() == [0, 0, 2, 2, 2]


# -- the formats people download --------------------------------------------------------------------
def write_ml100k(folder):
    folder.mkdir()
    (folder / "u.data").write_text("1\t1\t5\t100\n1\t2\t3\t200\n2\t1\t4\t150\n2\t3\t2\t50\n")
    genres = ["0"] * 19
    toy = genres.copy(); toy[3] = toy[4] = "1"  # noqa: E702
    (folder / "u.item").write_bytes(
        ("1|Toy Story (1995)|01-Jan-1995||http://x|" + "|".join(toy) + "\n"
         "2|Caf\xe9 Society (1996)|01-Jan-1996||http://x|" + "|".join(genres) + "\n"
         "3|Heat (1995)|01-Jan-1995||http://x|" + "|".join(genres) + "\n").encode("latin-1"))
    (folder / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\n")


def test_ml100k_raw_folder(tmp_path):
    write_ml100k(tmp_path / "ml-100k")
    ds = load_dataset(tmp_path / "ml-100k")
    assert detect_format(tmp_path / "ml-100k") == "ml-100k"
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (2, 3, 4)
    assert ds.items["title"].tolist() == ["Toy Story", "Café Society", "Heat"]
    assert ds.items["year"].tolist() == [1995, 1996, 1995]
    assert ds.items["genres"][0] == "Animation|Children's"
    assert ds.users["occupation"].tolist() == ["technician", "other"]
    assert ds.item_ids[ds.sequences()[1]].tolist() == [3, 1]  # user 2, in time order


def test_ml1m_dat_folder(tmp_path):
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "ratings.dat").write_text("1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n")
    (folder / "movies.dat").write_bytes(
        "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n661::Star Wars: Episode IV (1977)::Action|Sci-Fi\n"
        .encode("latin-1"))
    (folder / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072\n")
    ds = load_dataset(folder)
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (2, 2, 3)
    star = ds.items.iloc[ds.item_index(661)]
    assert star["title"] == "Star Wars: Episode IV" and star["year"] == 1977
    assert star["genres"] == "Action|Sci-Fi"
    assert ds.users["occupation"].tolist() == ["K-12 student", "self-employed"]


def test_ml_csv_folder(tmp_path):
    folder = tmp_path / "ml-latest-small"
    folder.mkdir()
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,964982703\n"
                                        "1,3,4.5,964981247\n2,1,2.5,964982224\n")
    (folder / "movies.csv").write_text('movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n'
                                       '3,"Grumpier Old Men, The (1995)",(no genres listed)\n')
    ds = load_dataset(folder)
    assert ds.items["title"].tolist() == ["Toy Story", "Grumpier Old Men, The"]
    assert ds.items["genres"].tolist() == ["Adventure|Animation", ""]
    assert ds.rating.tolist() == [4.5, 4.0, 2.5]  # user 1 sorted by time


def test_atomic_folder(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "mine.inter").write_text("user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
                                       "u1\ti1\t3\t10\nu1\ti2\t4\t5\nu2\ti1\t1\t7\n")
    ds = load_dataset(folder)
    assert ds.user_ids.tolist() == ["u1", "u2"] and ds.item_ids.tolist() == ["i1", "i2"]
    assert ds.item_ids[ds.sequences()[0]].tolist() == ["i2", "i1"]


def test_generic_csv_with_items_file_and_no_timestamps(tmp_path):
    path = tmp_path / "clicks.csv"
    path.write_text("customer;product\nann;p2\nann;p1\nbob;p2\n")
    items = tmp_path / "products.csv"
    items.write_text("product,name,category,blurb\np1,Kettle,Kitchen,boils water\np2,Lamp,Home,\n")
    ds = load_interactions(path, user_col="customer", item_col="product", items_path=items,
                           title_col="name", genres_col="category", text_col="blurb")
    assert not ds.has_ratings and not ds.has_timestamps
    assert ds.item_ids[ds.sequences()[ds.user_index("ann")]].tolist() == ["p2", "p1"]  # file order
    kettle = ds.items.iloc[ds.item_index("p1")]
    assert kettle["title"] == "Kettle" and kettle["genres"] == "Kitchen"
    assert "boils water" in kettle["text"]


def test_generic_parquet_and_date_timestamps(tmp_path):
    path = tmp_path / "events.parquet"
    pd.DataFrame({"user": [5, 5, 6], "item": [1, 2, 1], "rating": [1.0, 2.0, 3.0],
                  "timestamp": ["2024-01-02", "2024-01-01", "2024-03-01T10:00:00"]}).to_parquet(path)
    ds = load_dataset(path)
    assert detect_format(path) == "parquet"
    assert ds.timestamp.tolist() == [1704067200, 1704153600, 1709287200]


def test_ratings_of_a_user(ml100k):
    for user in (0, 1, 500, ml100k.n_users - 1):
        mask = ml100k.user == user
        expected = dict(zip(ml100k.item[mask].tolist(), ml100k.rating[mask].tolist()))
        assert ml100k.ratings_of(user) == expected, user
    some = list(expected)[:3] + [ml100k.n_items - 1 if ml100k.n_items - 1 not in expected else 0]
    assert ml100k.ratings_of(user, some) == {i: expected[i] for i in some if i in expected}


def test_items_sharing_a_title_are_told_apart(ml100k):
    """ml-100k lists two films as "Cape Fear" and some films twice ("Chasing Amy", ids 246 and 268): each
    item's title names it alone, by year where that differs, else by id; the text models read keeps the
    source's title."""
    items = ml100k.items.set_index("item_id")
    assert not ml100k.items["title"].duplicated().any(), \
        ml100k.items["title"][ml100k.items["title"].duplicated(keep=False)].tolist()
    assert {items.loc[218, "title"], items.loc[673, "title"]} == {"Cape Fear (1991)", "Cape Fear (1962)"}
    assert items.loc[[246, 268], "title"].tolist() == ["Chasing Amy (item 246)", "Chasing Amy (item 268)"]
    assert items.loc[1, "title"] == "Toy Story"                       # an unshared title stays as it was
    assert items.loc[218, "text"].startswith("Cape Fear. ")
