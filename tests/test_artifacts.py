"""The artifact store: keys, verified loads, corrupt / stale detection, atomic saves, rebuilds."""
from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

import recsys
from recsys.artifacts import ArtifactStore
from recsys.errors import ArtifactError
from recsys.models import get_model
from recsys.pipeline import build_model
from recsys.split import leave_one_out


@pytest.fixture
def setup(tiny, tmp_path):
    store = ArtifactStore(tmp_path / "artifacts")
    model = get_model("pop").fit(tiny)
    path = store.save(model, tiny, metrics={"ndcg@10": 0.5})
    return store, store.key("pop", model.get_params(), tiny), path, model


def test_layout_and_manifest(setup, tiny):
    store, key, path, _ = setup
    assert path == store.root / tiny.fingerprint() / f"pop-{key.config}"
    manifest = store.manifest(key)
    assert manifest["library_version"] == recsys.__version__
    assert manifest["metrics"] == {"ndcg@10": 0.5}
    assert set(manifest["files"]) == {"config.json", "arrays.npz"}
    assert manifest["dataset"]["fingerprint"] == tiny.fingerprint()
    assert [m["model"] for m in store.list(tiny.fingerprint())] == ["pop"]


def test_round_trip(setup):
    store, key, _, model = setup
    loaded = store.load(key)
    assert np.array_equal(loaded.popularity_, model.popularity_)


def test_config_hash_separates_parameters(setup, tiny):
    store, key, _, _ = setup
    other = store.key("pop", {"half_life_days": 7.0}, tiny)
    assert other.config != key.config
    with pytest.raises(ArtifactError, match="no artifact"):
        store.load(other)


def test_a_new_revision_of_a_model_is_rebuilt_not_served(setup, tiny, monkeypatch):
    from recsys.models import registry

    store, key, _, model = setup
    params = model.get_params()
    assert store.key("pop", params, tiny) == key
    # Its training changed, the parameters did not (what the facts cache says once the code says so).
    monkeypatch.setitem(registry._FACTS, "pop", registry.ModelFacts(registry.model_facts("pop").params, 1))
    assert store.key("pop", params, tiny).config != key.config
    with pytest.raises(ArtifactError, match="no artifact"):
        store.load(store.key("pop", params, tiny))


def test_bit_flip_is_detected(setup):
    store, key, path, _ = setup
    data = bytearray((path / "arrays.npz").read_bytes())
    data[len(data) // 2] ^= 0x01
    (path / "arrays.npz").write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="checksum"):
        store.load(key)


def test_truncated_file_is_detected(setup):
    store, key, path, _ = setup
    data = (path / "arrays.npz").read_bytes()
    (path / "arrays.npz").write_bytes(data[: len(data) // 3])
    with pytest.raises(ArtifactError):
        store.load(key)


def test_other_library_version_is_refused(setup):
    store, key, path, _ = setup
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["library_version"] = "0.0.0-old"
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="built by recsys 0.0.0-old"):
        store.load(key)


def test_edited_config_is_refused(setup):
    store, key, path, _ = setup
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["config_hash"] = "0" * 12
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="another model or config"):
        store.load(key)


def test_parameters_this_version_does_not_take_are_refused_clearly(setup):
    # An artifact saved when the model had a hyper-parameter it no longer has: a clear ArtifactError
    # (the app then treats the model as not built), not a TypeError from __init__.
    from recsys.models import model_class

    _, _, path, _ = setup
    config = json.loads((path / "config.json").read_text())
    config["params"]["fold_in_half_life"] = 2.0
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArtifactError, match="config.json: its hyper-parameters do not fit .*fold_in_half_life"):
        model_class("pop").load(path)


def test_a_stored_parameter_this_version_does_not_take_fails_verification(setup, monkeypatch):
    # The manifest check (what "is it built?" asks, without loading) refuses it as load would.
    from recsys.models import registry

    store, key, _, _ = setup
    monkeypatch.setitem(registry._FACTS, "pop", registry.ModelFacts({}, 0))  # a version without the parameter
    with pytest.raises(ArtifactError, match=r"does not take \(half_life_days\); rebuild it"):
        store.manifest(key)


def test_the_app_serves_todays_default_not_the_newest_old_default():
    # Both manifests recorded "no changed parameters"; only one has today's defaults' config hash.
    from recsys.artifacts import config_hash
    from recsys.service import choose_artifact

    today = config_hash("pop", get_model("pop").get_params())
    stale = {"model": "pop", "config_hash": "0" * 12, "changed_params": {}}
    custom = {"model": "pop", "config_hash": "1" * 12, "changed_params": {"half_life_days": 7.0}}
    current = {"model": "pop", "config_hash": today, "changed_params": {}}
    assert choose_artifact([stale, custom, current], "pop") is current
    assert choose_artifact([custom, stale], "pop") is custom          # no default: the newest
    assert choose_artifact([custom], "markov") is None


def test_model_facts_are_each_models_defaults_and_survive_a_damaged_cache(monkeypatch, tmp_path):
    # What manifests are checked against, read from a cache instead of importing every model.
    from recsys.models import BUILTIN, registry

    monkeypatch.setenv("RECLENS_CACHE", str(tmp_path))
    for damage in (None, "{not json", '{"pop": {"params": 3}}', '{"pop": {"params": {}, "revision": 0}}'):
        monkeypatch.setattr(registry, "_FACTS", {})
        if damage:
            next(tmp_path.glob("model-facts-*.json")).write_text(damage)
        for name in BUILTIN:
            facts, cls = registry.model_facts(name), registry.model_class(name)
            assert facts.params == json.loads(json.dumps(cls().get_params(), default=str)), (name, damage)
            assert facts.revision == cls.revision and facts.param_names == cls.param_names(), (name, damage)
        assert len(list(tmp_path.glob("model-facts-*.json"))) == 1


def test_listing_and_scoring_built_models_imports_no_model_code(isolated_data, monkeypatch):
    # The sidebar's "built models" and the Overview's scoreboard read manifests: no torch (seconds).
    import subprocess
    import sys
    from pathlib import Path

    from recsys.data import load_dataset
    from recsys.models import registry
    from recsys.pipeline import build_all

    monkeypatch.setattr(registry, "_FACTS", {})  # as in a new process: the build writes the facts
    build_all(load_dataset(), models=["pop", "markov"])
    code = ("import sys; from views import state; "
            "built = state.built_models('ml-100k'); board = state.scoreboard('ml-100k'); "
            "print(built, sorted(board.index), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip().splitlines()[-1] == "['markov', 'pop'] ['markov', 'pop'] False"


def test_garbage_manifest(setup):
    store, key, path, _ = setup
    (path / "manifest.json").write_bytes(b"\x00\xff not json")
    with pytest.raises(ArtifactError, match="manifest unreadable"):
        store.load(key)


def test_a_save_killed_midway_leaves_nothing_loadable(tiny, tmp_path, monkeypatch):
    store = ArtifactStore(tmp_path / "artifacts")
    model = get_model("pop").fit(tiny)

    def crash(path):
        (path / "arrays.npz").write_bytes(b"half")
        raise KeyboardInterrupt  # what a kill -INT mid-save looks like
    monkeypatch.setattr(model, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        store.save(model, tiny)
    key = store.key("pop", model.get_params(), tiny)
    with pytest.raises(ArtifactError, match="no artifact"):
        store.load(key)
    assert not list((store.root / tiny.fingerprint()).iterdir())  # the temporary folder is gone


def test_leftover_temporary_folders_are_ignored_and_cleaned(setup, tiny):
    store, key, path, _ = setup
    leftover = path.parent / f".tmp-{path.name}-x"
    leftover.mkdir()
    (leftover / "arrays.npz").write_bytes(b"junk")
    assert [m["model"] for m in store.list()] == ["pop"]
    assert store.clean_temporary() == 0 and leftover.exists()     # young: maybe a save in progress
    old = time.time() - 7200
    os.utime(leftover, (old, old))
    assert store.clean_temporary() == 1 and not leftover.exists()


def test_a_build_sweeps_old_leftovers(setup, tiny):
    from recsys.pipeline import build_all

    store, key, path, _ = setup
    leftover = path.parent / f".tmp-{path.name}-x"
    leftover.mkdir()
    old = time.time() - 7200
    os.utime(leftover, (old, old))
    build_all(tiny, ["pop"], store=store)
    assert not leftover.exists()


def test_pipeline_builds_then_loads_then_rebuilds_corrupt(tiny, tmp_path):
    store = ArtifactStore(tmp_path / "artifacts")
    split = leave_one_out(tiny)
    first = build_model("pop", split, store=store)
    assert not first.loaded and "hr@10" in first.manifest["metrics"]
    second = build_model("pop", split, store=store)
    assert second.loaded
    path = store.path(store.key("pop", second.model.get_params(), split.train))
    (path / "config.json").write_text("{}")
    third = build_model("pop", split, store=store)
    assert not third.loaded and "checksum" in third.rebuilt_because
    assert build_model("pop", split, store=store).loaded


def test_no_pickle_anywhere_in_the_library():
    from pathlib import Path
    root = Path(recsys.__file__).parent
    for source in root.rglob("*.py"):
        text = source.read_text()
        for banned in ("import pickle", "allow_pickle=True", "weights_only=False"):
            assert banned not in text, f"{source}: {banned}"


def test_per_user_evaluation_is_stored_and_averages_to_the_reported_means(ml100k_split):
    from recsys.artifacts import ArtifactStore
    from recsys.pipeline import build_model

    built = build_model("markov", ml100k_split)
    store = ArtifactStore()
    key = store.key("markov", built.model.get_params(), ml100k_split.train)
    per_user = store.evaluation(key)
    assert np.array_equal(per_user["users"], ml100k_split.test.users)
    assert per_user["lists"].shape == (len(ml100k_split.test), 20)
    for name, value in built.manifest["metrics"].items():
        if name in per_user:
            assert np.nanmean(per_user[name]) == pytest.approx(value, abs=1e-12), name
    assert "changed_params" in built.manifest and built.manifest["changed_params"] == {}
    first = ml100k_split.test.histories[0]
    assert per_user["lists"][0, :10].tolist() == built.model.recommend(first, k=10, users=[
        ml100k_split.test.users[0]])[0].ravel().tolist()
