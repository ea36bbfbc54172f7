"""The bad-input catalogue (issue #9), end to end through the CLI: each case exits 2 with one line that
says what is wrong, and nothing under the data folder changes. The same errors are typed exceptions in
the library (test_data_errors, test_models) and st.error messages in the app (test_app, test_pages)."""
from __future__ import annotations

import pytest

from recsys.cli import main

FILES = {
    "wrong_delimiter.csv": ("user;item;rating\n1;2;3\n", ["--sep", ","], "single column"),
    "missing_column.csv": ("user,product\n1,2\n", [], "column 'item'"),
    "duplicated_column.csv": ("user,item,item\n1,2,3\n", [], "duplicated"),
    "nan_id.csv": ("user,item\n1,2\n,3\n", [], "line 3"),
    "negative_id.csv": ("user,item\n1,2\n-4,3\n", [], "line 3"),
    "fractional_id.csv": ("user,item\n1.5,2\n", [], "line 2"),
    "text_rating.csv": ("user,item,rating\n1,2,five\n", [], "column 'rating'"),
    "empty.csv": ("", [], "empty"),
    "header_only.csv": ("user,item\n", [], "no interactions"),
    "binary.csv": (b"\x00\x01\x02\xff\xfe" * 100, [], "binary.csv"),
    "latin1.csv": ("user,item,title\n1,2,caf\xe9\n".encode("latin-1"), [], "UTF-8"),
    "ragged.csv": ("user,item,rating\n1,2,3\n1,2,3,4,5\n", [], "line 3"),
    "bad_timestamp.csv": ("user,item,timestamp\n1,2,yesterday\n", [], "timestamp"),
    "not_parquet.parquet": (b"PAR1 not really", [], "Parquet"),
}

ARGS = [
    (["recommend", "--model", "pop", "--user", "999999"], "unknown user"),
    (["recommend", "--model", "pop", "--user", "1", "--k", "0"], "--k must be positive"),
    (["recommend", "--model", "pop", "--user", "1", "--k", "-5"], "--k must be positive"),
    (["train", "--model", "pop", "--param", "half_life_days=-2"], "must be a number > 0"),
    (["train", "--model", "itemknn", "--param", "neighbors=-3"], "neighbors"),
    (["train", "--model", "bpr", "--param", "lr=-0.1"], "lr"),
    (["train", "--model", "pop", "--param", "alpha=1"], "no parameter"),
    (["train", "--model", "pop", "--param", "oops"], "key=value"),
    (["info", "--dataset", "/no/such/folder"], "no such file"),
    (["info", "--dataset", "ml-100k", "--format", "xml"], "invalid choice"),
    (["evaluate", "--model", "proxy"], "needs path"),
    (["evaluate", "--model", "pop", "--sampled", "0"], "sampled"),
]


def snapshot(root):
    return sorted((str(p.relative_to(root)), p.stat().st_size) for p in root.rglob("*") if p.is_file())


def run_cli(args, capsys) -> tuple[int, str]:
    try:
        code = main(args + ["--quiet"])
    except SystemExit as e:  # argparse's own refusals (unknown choices) exit 2 as well
        code = e.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(FILES))
def test_bad_file(name, tmp_path, capsys, isolated_data):
    content, extra, message = FILES[name]
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = snapshot(isolated_data)
    code, err = run_cli(["info", "--dataset", str(path), *extra], capsys)
    assert code == 2, err
    assert err.count("\n") == 1 and message in err, err
    assert snapshot(isolated_data) == before


@pytest.mark.parametrize("args, message", ARGS)
def test_bad_request(args, message, capsys, isolated_data):
    before = snapshot(isolated_data)
    code, err = run_cli(args, capsys)
    assert code == 2, err
    assert message in err, err
    assert snapshot(isolated_data) == before


def test_empty_history_and_unknown_items_in_the_library(ml100k_split):
    from recsys.errors import DataError, ParameterError
    from recsys.explain import shap_history
    from recsys.models import get_model

    model = get_model("itemknn").fit(ml100k_split.train)
    assert len(model.recommend([], k=5)[0]) == 5  # an empty history still gets a list
    with pytest.raises(ParameterError, match="empty history"):
        shap_history(model, [], 1)
    with pytest.raises(DataError, match="unknown item"):
        model.recommend([10**7], k=5)
    assert len(model.recommend([1, 2], k=10**9)[0]) == model.n_items_ - 2  # huge k: the catalogue


def test_nothing_is_ever_unpickled():
    """No loader in the code base can run pickled code: no pickle / joblib imports, no torch.load,
    no np.load with allow_pickle=True, no pandas read_pickle."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    sources = [*root.joinpath("recsys").rglob("*.py"), *root.joinpath("views").glob("*.py"),
               root / "app.py"]
    banned = re.compile(r"^\s*(import|from)\s+(pickle|cPickle|dill|joblib)\b|torch\.load\(|"
                        r"allow_pickle\s*=\s*True|read_pickle\(|pickle\.loads?\(", re.M)
    offenders = [f"{p.relative_to(root)}: {m.group(0).strip()}" for p in sources
                 for m in banned.finditer(p.read_text())]
    assert not offenders, offenders


def test_a_bad_pickle_in_an_artifact_is_refused(tmp_path, ml100k_split):
    """An .npz holding a pickled object (which np.load would execute with allow_pickle) is refused."""
    import numpy as np

    from recsys.artifacts import ArtifactStore
    from recsys.errors import ArtifactError
    from recsys.models import get_model

    store = ArtifactStore(tmp_path)
    model = get_model("pop").fit(ml100k_split.train)
    path = store.save(model, ml100k_split.train)
    np.savez(path / "arrays.npz", counts_=np.array([object()], dtype=object))
    with pytest.raises(ArtifactError):
        store.load(store.key("pop", model.get_params(), ml100k_split.train))  # checksum first
    with pytest.raises(ArtifactError, match="unreadable"):
        type(model).load(path)  # even without the manifest check, no pickle is loaded


def test_same_seed_same_metrics(ml100k_split):
    from recsys.evaluate import evaluate
    from recsys.models import get_model

    runs = [evaluate(get_model("bpr", epochs=3, seed=7).fit(ml100k_split.train), ml100k_split.test,
                     ml100k_split.train, k=(10,)).metrics for _ in range(2)]
    assert runs[0] == runs[1]
    other = evaluate(get_model("bpr", epochs=3, seed=8).fit(ml100k_split.train), ml100k_split.test,
                     ml100k_split.train, k=(10,)).metrics
    assert other != runs[0]  # the seed matters, so the equality above is not vacuous
