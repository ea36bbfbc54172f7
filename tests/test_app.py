"""The Streamlit app, headless through streamlit.testing.v1.AppTest."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from recsys.data import load_dataset
from recsys.pipeline import build_all

TIMEOUT = 60
APP = Path(__file__).resolve().parents[1] / "app.py"


def app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=TIMEOUT)


def test_overview_renders_dataset_statistics():
    at = app().run()
    assert not at.exception
    values = {m.label: m.value for m in at.metric}
    assert values["Users"] == "943" and values["Items"] == "1,682"
    assert values["Interactions"] == "100,000"
    assert at.sidebar.selectbox[0].value == "ml-100k"
    assert at.query_params["dataset"] == "ml-100k"


def test_missing_models_are_announced_then_built_on_request():
    at = app().run()
    assert any("Not built yet" in i.value for i in at.info)
    at.button[0].click().run()
    assert not at.exception
    assert not any("Not built yet" in i.value for i in at.info)
    assert len(at.dataframe) == 1


def test_scoreboard_shows_built_models():
    build_all(load_dataset())
    at = app().run()
    assert not at.exception and len(at.dataframe) == 1
    assert not any("Not built yet" in i.value for i in at.info)
    board = at.dataframe[0].value
    assert set(board.index) == {"Popularity", "ItemKNN", "Markov chain"}
    assert 0.04 < float(board.loc["Popularity", "ndcg@10"]) < 0.05


def test_unknown_dataset_in_url_falls_back_with_a_warning():
    at = app()
    at.query_params["dataset"] = "../../etc"
    at.run()
    assert not at.exception
    assert any("Unknown dataset" in w.value for w in at.warning)
    assert at.sidebar.selectbox[0].value == "ml-100k"


def test_scoreboard_labels_non_default_parameters():
    from recsys.artifacts import ArtifactStore
    from recsys.models import get_model
    from recsys.split import leave_one_out

    split = leave_one_out(load_dataset())
    ArtifactStore().save(get_model("pop", half_life_days=30.0).fit(split.train), split.train)
    build_all(load_dataset(), models=["pop"])
    at = app().run()
    board = at.dataframe[0].value
    assert set(board.index) == {"Popularity", "Popularity (half_life_days=30.0)"}


def test_scoreboard_shows_the_newest_of_two_artifacts_with_one_label():
    """An artifact from before a model gained a hyper-parameter has the same label as the new default
    build; the scoreboard (and the Evaluation page's styled table, which needs unique labels) shows the
    newest."""
    import json
    import shutil

    from recsys.artifacts import ArtifactStore

    build_all(load_dataset(), models=["pop"])
    new = next(m for m in ArtifactStore().list() if m["model"] == "pop")
    old = Path(new["path"]).with_name("pop-000000000000")
    shutil.copytree(new["path"], old)
    manifest = json.loads((old / "manifest.json").read_text())
    manifest.update(created="2020-01-01T00:00:00+0000", metrics={**manifest["metrics"], "ndcg@10": 0.5})
    (old / "manifest.json").write_text(json.dumps(manifest))
    at = app().run()
    board = at.dataframe[0].value
    assert list(board.index) == ["Popularity"] and float(board.loc["Popularity", "ndcg@10"]) < 0.05
    at.switch_page("views/evaluation.py").run()
    assert not at.exception


def test_scoreboard_shows_todays_default_over_a_newer_old_default():
    """An artifact built when the defaults were other ones also recorded "no changed parameters"; even
    when it is the newer, the scoreboard shows the artifact of today's defaults, the one the app serves."""
    import json
    import shutil

    from recsys.artifacts import ArtifactStore

    build_all(load_dataset(), models=["pop"])
    new = next(m for m in ArtifactStore().list() if m["model"] == "pop")
    old = Path(new["path"]).with_name("pop-000000000000")
    shutil.copytree(new["path"], old)
    manifest = json.loads((old / "manifest.json").read_text())
    manifest.update(created="2099-01-01T00:00:00+0000", config_hash="0" * 12,
                    metrics={**manifest["metrics"], "ndcg@10": 0.5})
    (old / "manifest.json").write_text(json.dumps(manifest))
    assert ArtifactStore().list()[0]["path"] == str(old)        # the old default is the newest
    at = app().run()
    board = at.dataframe[0].value
    assert list(board.index) == ["Popularity"] and float(board.loc["Popularity", "ndcg@10"]) < 0.05


def test_scoreboard_leaves_out_an_artifact_this_version_cannot_load():
    """Built with a hyper-parameter the model no longer takes: not loadable, so not on the scoreboard,
    whatever metrics it stored."""
    import json
    import shutil

    from recsys.artifacts import ArtifactStore

    build_all(load_dataset(), models=["pop"])
    new = next(m for m in ArtifactStore().list() if m["model"] == "pop")
    gone = Path(new["path"]).with_name("pop-111111111111")
    shutil.copytree(new["path"], gone)
    manifest = json.loads((gone / "manifest.json").read_text())
    manifest.update(config_hash="1" * 12, params={**manifest["params"], "window_days": 3},
                    changed_params={"window_days": 3}, metrics={**manifest["metrics"], "ndcg@10": 0.5})
    (gone / "manifest.json").write_text(json.dumps(manifest))
    at = app().run()
    board = at.dataframe[0].value
    assert list(board.index) == ["Popularity"] and float(board.loc["Popularity", "ndcg@10"]) < 0.05


def test_upload_validates_and_keeps_only_good_files(isolated_data):
    import pytest

    from recsys.errors import DataError
    from views import state

    good = b"user,item,rating,timestamp\n1,10,5,1\n1,11,3,2\n2,10,4,3\n2,12,2,4\n3,11,5,5\n3,12,1,6\n"
    added = state.add_uploaded_dataset("shop", good)
    assert added.n_users == 3 and added.n_items == 3
    assert "shop" in state.dataset_choices()
    assert (isolated_data / "datasets" / "shop" / "interactions.csv").read_bytes() == good
    with pytest.raises(DataError, match="exists already"):
        state.add_uploaded_dataset("shop", good)
    with pytest.raises(DataError, match="rating"):
        state.add_uploaded_dataset("broken", b"user,item,rating\n1,2,five\n")
    # the message names the file the user chose, not where the server kept it
    with pytest.raises(DataError, match=r"^ratings\.csv, line 3: expected 2 fields, found 4") as caught:
        state.add_uploaded_dataset("broken", b"user,item\n1,2\n2,3,4,5\n", "ratings.csv")
    assert "upload" not in str(caught.value) and str(isolated_data) not in str(caught.value)
    with pytest.raises(DataError, match="limited to"):
        state.add_uploaded_dataset("huge", b"x" * (state.UPLOAD_LIMIT_MB * 2**20 + 1))
    with pytest.raises(DataError, match="name"):
        state.add_uploaded_dataset("../../etc", good)
    assert sorted(p.name for p in (isolated_data / "datasets").iterdir()) == ["shop"]  # nothing left over


def test_uploaded_dataset_is_listed_and_renders(isolated_data):
    from views import state

    state.add_uploaded_dataset("shop", b"user,item\n" + b"".join(
        f"{u},{i}\n".encode() for u in range(1, 30) for i in range(u % 7, u % 7 + 6)))
    at = app()
    at.query_params["dataset"] = "shop"
    at.run()
    assert not at.exception and not at.error
    assert at.sidebar.selectbox[0].value == "shop"
    assert {m.label: m.value for m in at.metric}["Users"] == "29"


def test_uploaded_recommendations_are_evaluated_beside_the_models(isolated_data, tmp_path):
    import pytest

    from recsys.errors import DataError
    from views import state

    lines = ["user,item,rank"] + [f"{u},{i},{r}" for u in range(1, 101) for r, i in enumerate([50, 100, 181, 258, 286], 1)]
    built = state.add_recommendations_file("ml-100k", "\n".join(lines).encode(), "my tool.csv")
    assert built.model.rows_ == 500 and 0 <= built.manifest["metrics"]["ndcg@10"] <= 1
    assert "proxy" in state.built_models("ml-100k")
    assert [p.name.startswith("my_tool-") for p in (isolated_data / "recommendations").iterdir()] == [True]
    with pytest.raises(DataError, match="unknown users"):
        state.add_recommendations_file("ml-100k", b"user,item,rank\nnobody,nothing,1\n", "bad.csv")
    with pytest.raises(DataError, match=r"^bad\.csv: needs columns"):
        state.add_recommendations_file("ml-100k", b"user,item\n1,2\n", "bad.csv")
    assert len(list((isolated_data / "recommendations").iterdir())) == 1  # the bad file was not kept


def test_script_in_a_title_is_shown_as_text(isolated_data):
    """A title holding HTML reaches the page escaped: as text, never as markup."""
    folder = isolated_data / "datasets" / "evil"
    folder.mkdir(parents=True)
    rows = [f"{u},{i},{t}" for u in range(1, 21) for t, i in enumerate(range(u % 5, u % 5 + 8))]
    (folder / "interactions.csv").write_text("user,item,timestamp\n" + "\n".join(rows) + "\n")
    titles = ['"<script>alert(1)</script>"' if i == 3 else f"Movie {i}" for i in range(13)]
    (folder / "items.csv").write_text("item,title,genres\n" + "\n".join(
        f"{i},{t},Drama" for i, t in enumerate(titles)) + "\n")
    from recsys.data import load_dataset
    from recsys.pipeline import build_model
    from recsys.split import leave_one_out

    build_model("pop", leave_one_out(load_dataset(folder)))
    at = app()
    at.query_params.update({"dataset": "evil", "models": "pop", "user": "4"})  # 4 has not seen item 3
    at.run()
    at.switch_page("views/users.py").run()
    assert not at.exception
    shown = " ".join(m.value for m in at.markdown)
    assert "&lt;script&gt;alert" in shown and "<script>" not in shown


def test_models_are_shared_across_sessions_not_copied():
    from recsys.data import load_dataset
    from recsys.pipeline import build_all
    from views import state

    build_all(load_dataset(), models=["pop"])
    first, second = state.get_trained("ml-100k", "pop"), state.get_trained("ml-100k", "pop")
    assert first is not None and first is second  # st.cache_resource: one object for every session


def test_the_app_starts_without_importing_torch():
    """The first page must not pay for torch (seconds on 2 cores): model modules, recsys.distributed and
    recsys.compress are imported when a model is trained or loaded, not when the app starts."""
    import subprocess
    import sys

    code = "import sys, views.state, views.widgets; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


def bare_id_catalogue(data) -> AppTest:
    """The app, run once, on a SASRec-style sequence file (bare ids) under <data>/datasets/seq/."""
    folder = data / "datasets" / "seq"
    folder.mkdir(parents=True)
    (folder / "seq.txt").write_text("".join(f"{u} {(u * 7 + s) % 40 + 1}\n" for u in range(1, 60)
                                            for s in range(6)))
    at = app()
    at.query_params["dataset"] = "seq"
    return at.run()


def test_a_catalogue_without_text_says_search_is_off(isolated_data):
    # A SASRec-style sequence file (bare ids) under data/datasets/: no "Build content" offer that
    # would only refuse; the page says why search is off.
    at = bare_id_catalogue(isolated_data)
    at.switch_page("views/items.py").run()
    assert not at.exception and not at.error
    info = [i.value for i in at.info]
    assert any("Search by description is off: seq has no item text" in v for v in info), info
    assert not any("semantic search" in v for v in info), info
    assert "Build content" not in [b.label for b in at.button]


def test_models_that_do_not_apply_say_why_instead_of_offering_a_build(isolated_data, monkeypatch):
    # The content model needs item text; a bare-id sequence file has none. The scoreboard's offer
    # names the build command for this dataset and leaves the content model out of it.
    monkeypatch.setenv("RECLENS_MODELS", "pop,content")
    at = bare_id_catalogue(isolated_data)
    assert not at.exception and not at.error
    info = [i.value for i in at.info]
    assert any("Content (MiniLM) does not apply to this dataset: the content model ranks by item text"
               in v for v in info), info
    offer = next(v for v in info if "Not built yet" in v)
    assert "DATASET=" in offer and "seq" in offer, offer
    assert "Content" not in offer.split("Build them")[0], offer
