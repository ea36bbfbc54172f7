"""Headerless sequence files (SASRec / BERT4Rec style): recognised without flags where unambiguous,
forced with format="sequence", every layout read in time order, bad files named by line."""
from __future__ import annotations

import numpy as np
import pytest

from recsys.cli import main
from recsys.data import detect_format, load_dataset
from recsys.data.sequence import sniff_sequence
from recsys.errors import DataError, NotApplicable
from recsys.models import get_model


def write(tmp_path, text: str, name: str = "seq.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def histories(ds) -> dict:
    return {ds.user_ids[u]: ds.item_ids[ds.sequences()[u]].tolist() for u in range(ds.n_users)}


def test_space_separated_pairs_like_beauty_txt(tmp_path):
    # Each user's lines in time order; the item ids are not in sorted order on purpose.
    path = write(tmp_path, "1 30\n1 10\n1 20\n2 10\n2 30\n")
    assert detect_format(path) == "sequence"
    ds = load_dataset(path)
    assert histories(ds) == {1: [30, 10, 20], 2: [10, 30]}
    assert not ds.has_ratings and not ds.has_timestamps and ds.name == "seq"
    assert any("user item" in line for line in ds.report.lines())


def test_comma_separated_with_rating_and_timestamp_orders_by_time(tmp_path):
    path = write(tmp_path, "7,100,4,978300760\n7,101,5,978300000\n8,100,3.5,978301000\n", "r.csv")
    assert detect_format(path) == "sequence"
    ds = load_dataset(path)
    assert ds.has_ratings and ds.has_timestamps
    assert histories(ds) == {7: [101, 100], 8: [100]}
    assert sorted(ds.rating.tolist()) == [3.5, 4.0, 5.0]


def test_one_user_a_line(tmp_path):
    path = write(tmp_path, "1 5 9 3\n2 9\n3 3 5 7 11 13\n4\n")
    layout = sniff_sequence(path)
    assert layout.per_user
    ds = load_dataset(path)
    assert histories(ds) == {1: [5, 9, 3], 2: [9], 3: [3, 5, 7, 11, 13]}
    assert any("1 lines name a user and no items" in line for line in ds.report.lines())


def test_equal_length_rows_of_items_are_not_taken_for_ratings(tmp_path):
    # Four fields a line, but the third is no rating and the fourth no timestamp: a list of items.
    path = write(tmp_path, "1 50 60 70\n2 60 70 80\n")
    assert sniff_sequence(path).per_user
    assert histories(load_dataset(path)) == {1: [50, 60, 70], 2: [60, 70, 80]}


def test_a_header_keeps_the_generic_reader(tmp_path):
    path = write(tmp_path, "user,item\n1,2\n1,3\n", "with_header.csv")
    assert sniff_sequence(path) is None and detect_format(path) == "csv"
    assert load_dataset(path).n_interactions == 2


def test_string_ids_need_the_flag_and_the_generic_error_says_so(tmp_path):
    path = write(tmp_path, "ann kettle\nann lamp\nbob lamp\n")
    assert detect_format(path) == "csv"          # "ann kettle" could be a header
    with pytest.raises(DataError, match="format='sequence'"):
        load_dataset(path)
    ds = load_dataset(path, format="sequence")
    assert histories(ds) == {"ann": ["kettle", "lamp"], "bob": ["lamp"]}


def test_forced_on_a_header_or_a_lone_field_names_why(tmp_path):
    with pytest.raises(DataError, match="header"):
        load_dataset(write(tmp_path, "user item\n1 2\n"), format="sequence")
    e = pytest.raises(DataError, load_dataset, write(tmp_path, "1 2\n3\n", "lone.txt"),
                      format="sequence").value
    assert "line 2" in str(e) and "fewer than two fields" in str(e)


def test_a_broken_line_among_rating_lines_is_named(tmp_path):
    path = write(tmp_path, "1 10 4 978300760\n1 11 5 978300761\n2 10 978300762\n")
    e = pytest.raises(DataError, load_dataset, path).value
    assert e.line == 3 and "3 fields" in str(e)


def test_a_folder_with_one_text_file(tmp_path):
    folder = tmp_path / "beauty"
    folder.mkdir()
    write(folder, "1 1\n1 2\n2 1\n", "Beauty.txt")
    assert detect_format(folder) == "sequence"
    ds = load_dataset(folder)
    assert ds.name == "beauty" and ds.n_interactions == 3


def test_cli_reads_a_sequence_file_without_flags(tmp_path, capsys):
    path = write(tmp_path, "".join(f"{u} {i}\n" for u in range(1, 6) for i in range(u, u + 4)))
    assert main(["info", "--dataset", str(path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "whitespace-separated, no header, user item" in out and "20" in out


def test_a_catalogue_of_bare_ids_is_not_encoded_as_text(tmp_path, capsys):
    path = write(tmp_path, "".join(f"{u} {(u * 7 + s) % 30}\n" for u in range(40) for s in range(6)))
    ds = load_dataset(path)
    assert not ds.has_item_text and (ds.items["text"] == "").all()
    assert ds.items["title"].iloc[0] == f"item {ds.item_ids[0]}"        # labels stay for the pages
    with pytest.raises(NotApplicable, match="only item ids"):
        get_model("content").fit(ds)
    gpt = get_model("gpt", dim=16, layers=1, heads=1, max_len=8, epochs=1, content_init=True).fit(ds)
    assert gpt.content_init_used_ is False and gpt.item_init_ == "co-occurrence"  # no "item 7" text
    why = get_model("features").not_applicable(ds)
    assert why == "the feature model predicts ratings, and 'seq' has none"
    with pytest.raises(NotApplicable, match="predicts ratings"):
        get_model("features").fit(ds)
    # A build over several models skips the one that cannot apply, with its reason, and goes on.
    code = main(["build", "--dataset", str(path), "--model", "content", "--model", "pop",
                 "--artifacts", str(tmp_path / "store"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0 and "content: skipped: the content model ranks by item text" in out
    assert "pop: built" in out


def test_without_genres_diversity_is_not_claimed(tmp_path):
    # Intra-list diversity compares genres; with none, every pair would look fully diverse (1.0).
    from recsys.evaluate import evaluate
    from recsys.split import leave_one_out

    split = leave_one_out(load_dataset(write(tmp_path, "".join(f"{u} {(u * 7 + s) % 30}\n"
                                                                  for u in range(40) for s in range(6)))))
    result = evaluate(get_model("pop").fit(split.train), split.test, split.train, k=(10,))
    assert np.isnan(result.metrics["ild@10"]) and np.isnan(result.per_user["ild@10"]).all()
    assert result.metrics["ndcg@10"] >= 0
