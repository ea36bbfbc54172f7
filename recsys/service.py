"""The data folder as the app and the HTTP API see it: the datasets it holds, the models built for them,
and the lists and explanations those models give — with no UI framework in it.

Two front ends sit on this one piece: the Streamlit pages (views/state.py wraps the functions below in
st.cache_resource) and the HTTP API (recsys.api serves a ``Workspace``, which caches in memory itself).
Neither trains: a model that is not built is reported, with the command that builds it. Every cache
entry is keyed by the artifact's manifest time, so a model rebuilt elsewhere is picked up at once.
"""
from __future__ import annotations

import hashlib
import re
import shlex
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from recsys.artifacts import ArtifactKey, ArtifactStore, config_hash
from recsys.cache import data_root
from recsys.data import EMBEDDED, Dataset, load_dataset
from recsys.errors import ArtifactError, DataError
from recsys.models import Recommender, get_model, model_names
from recsys.models.registry import model_facts
from recsys.split import Split, make_split

UPLOAD_LIMIT_MB = 50


# -- datasets -----------------------------------------------------------------------------------------
def datasets_dir(root: Path | None = None) -> Path:
    return (root or data_root()) / "datasets"


def dataset_choices(root: Path | None = None) -> list[str]:
    """The embedded dataset, then every folder under <data>/datasets/ (MovieLens, RecBole, sequence
    files or uploads)."""
    folder = datasets_dir(root)
    found = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")) \
        if folder.is_dir() else []
    return [EMBEDDED] + found


def dataset_source(name: str, root: Path | None = None) -> str:
    """Where a listed dataset is read from. Only listed names are accepted, so a URL, a widget value or
    a request cannot point anywhere else on disk."""
    if name not in dataset_choices(root):
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(dataset_choices(root))}")
    return EMBEDDED if name == EMBEDDED else str(datasets_dir(root) / name)


def build_command(name: str, models: list[str] | tuple[str, ...] = (), root: Path | None = None) -> str:
    """The shell command that builds ``models`` (default: every missing default model) for a listed
    dataset, as the pages and the API's "not built" messages show it."""
    words = ["make build"]
    if name != EMBEDDED:
        source = Path(dataset_source(name, root))
        try:
            source = source.relative_to(Path.cwd())
        except ValueError:
            pass
        words.append(f"DATASET={shlex.quote(str(source))}")
    if models:
        words.append(f"MODELS={','.join(models)}")
    return " ".join(words)


def not_applicable(train: Dataset, models) -> dict[str, str]:
    """Of ``models`` (names), those that cannot learn from ``train`` with their default parameters (what
    the app builds), each with the one-line reason (EASE on a 54k-item catalogue, the content model
    without item text). Nothing is trained."""
    reasons = {}
    for name in models:
        why = get_model(name).not_applicable(train)
        if why:
            reasons[name] = why
    return reasons


# -- artifacts ----------------------------------------------------------------------------------------
def choose_artifact(manifests: list[dict], model: str) -> dict | None:
    """Of one dataset's manifests (newest first), the one the app and the API use for ``model``: the
    artifact of today's default parameters (by its config hash: one built when the defaults were other
    ones recorded no changed parameters either), else the newest (e.g. one trained with `--param
    epochs=5`)."""
    candidates = [m for m in manifests if m.get("model") == model and m.get("config_hash")]
    if not candidates:
        return None
    return next((m for m in candidates if is_todays_default(m)), candidates[0])


def is_todays_default(manifest: dict) -> bool:
    """Whether an artifact was built with the model's parameters as they default today (its manifest's
    "changed_params" says so only for the defaults of the day it was built)."""
    model = manifest.get("model")
    return (model in model_names()
            and manifest.get("config_hash") == config_hash(model, model_facts(model).params))


def artifact_of(store: ArtifactStore, fingerprint: str, model: str,
                manifests: list[dict] | None = None) -> tuple[ArtifactKey | None, int | None]:
    """(key, manifest mtime) of the artifact used for ``model`` on the data with ``fingerprint``."""
    best = choose_artifact(store.list(fingerprint) if manifests is None else manifests, model)
    if best is None:
        return None, None
    path = Path(best["path"]) / "manifest.json"
    return ArtifactKey(fingerprint, model, best["config_hash"]), path.stat().st_mtime_ns


def store_recommendations(data: bytes, filename: str, root: Path | None = None) -> Path:
    """Keep another tool's recommendations file under <data>/recommendations/, named by its content (the
    same upload is one file), written atomically; returns its path for the "proxy" model."""
    if len(data) > UPLOAD_LIMIT_MB * 2**20:
        raise DataError(f"the file is {len(data) / 2**20:.0f} MB; uploads are limited to {UPLOAD_LIMIT_MB} MB")
    folder = (root or data_root()) / "recommendations"
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(data).hexdigest()[:12]
    stem = re.sub(r"[^A-Za-z0-9_-]", "_", Path(filename).stem)[:40] or "recommendations"
    path = folder / f"{stem}-{digest}.csv"
    tmp = folder / f".{path.name}.tmp"
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def test_rows(split: Split) -> dict[int, int]:
    """User index → row of the test split (users with a held-out item)."""
    return {int(u): j for j, u in enumerate(split.test.users)}


# -- the workspace --------------------------------------------------------------------------------------
class Workspace:
    """Datasets under a data folder and the models built for them, each loaded once per process.

    Thread-safe: the API answers requests from a thread pool. Entries are keyed by what they were made
    from (a dataset name, an artifact key and its manifest time), so nothing stale is ever served and a
    rebuilt model replaces the old one on the next request. ``max_entries`` bounds the memory.
    """

    def __init__(self, root: str | Path | None = None, *, protocol: str = "loo", max_entries: int = 64):
        self.root = Path(root) if root is not None else data_root()
        self.store = ArtifactStore(self.root / "artifacts")
        self.protocol = protocol
        self.max_entries = max_entries
        self._cache: OrderedDict = OrderedDict()
        self._lock = threading.RLock()

    def _cached(self, key: tuple, make):
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            value = make()
            self._cache[key] = value
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)
            return value

    # datasets
    def datasets(self) -> list[str]:
        return dataset_choices(self.root)

    def dataset(self, name: str) -> Dataset:
        source = dataset_source(name, self.root)
        return self._cached(("dataset", name), lambda: load_dataset(source))

    def split(self, name: str) -> Split:
        return self._cached(("split", name, self.protocol),
                            lambda: make_split(self.dataset(name), self.protocol))

    def test_row(self, name: str, user: int) -> int | None:
        """The test-split row of a user index, or None when the user has no held-out item."""
        return self._cached(("rows", name), lambda: test_rows(self.split(name))).get(int(user))

    # models
    def artifact(self, name: str, model: str) -> tuple[ArtifactKey | None, int | None]:
        fingerprint = self.split(name).train.fingerprint()
        folder = self.store.root / fingerprint
        stamp = folder.stat().st_mtime_ns if folder.is_dir() else 0
        manifests = self._cached(("manifests", fingerprint, stamp), lambda: self.store.list(fingerprint))
        return artifact_of(self.store, fingerprint, model, manifests)

    def manifest(self, name: str, model: str) -> dict | None:
        """The verified manifest (metrics, protocol, fit time) of the model used, or None if not built."""
        key, stamp = self.artifact(name, model)
        if key is None:
            return None

        def verify():
            try:
                return self.store.manifest(key)
            except ArtifactError:
                return None
        return self._cached(("manifest", key, stamp), verify)

    def built_models(self, name: str) -> list[str]:
        return [m for m in model_names() if self.manifest(name, m) is not None]

    def model(self, name: str, model: str) -> Recommender:
        """The built model; ArtifactError naming the build command when there is none."""
        if model not in model_names():
            raise DataError(f"unknown model {model!r}; known: {', '.join(model_names())}")
        key, stamp = self.artifact(name, model)
        if key is None or self.manifest(name, model) is None:
            raise ArtifactError(f"{model} is not built for {name}: run "
                                f"{build_command(name, [model], self.root)}")
        return self._cached(("model", key, stamp), lambda: self.store.load(key))

    def stored_explanations(self, name: str, model: str):
        """The explanations of the test users' lists stored with the model (None if none)."""
        from recsys.explain.store import StoredExplanations, is_current

        key, stamp = self.artifact(name, model)
        if key is None:
            return None

        def read():
            try:
                arrays = self.store.explanations(key)
            except ArtifactError:
                return None
            return StoredExplanations(arrays) if arrays is not None and is_current(arrays) else None
        return self._cached(("explanations", key, stamp), read)

    def item_index(self, name: str, model: str):
        """The FAISS index over the model's item embeddings, built once per artifact."""
        from recsys.index import index_for

        key, stamp = self.artifact(name, model)
        return self._cached(("index", key, stamp), lambda: index_for(self.model(name, model)))

    def explain(self, name: str, model: str, history: np.ndarray, user: int | None, items, *,
                method: str | None = None, hidden: np.ndarray | None = None) -> list:
        """One ``HistoryExplanation`` per item — the object every page reads: stored with the model for
        the test users' lists, else computed once and kept. ``hidden``: the items a filtered list
        cannot show (ranks are then among the others; never stored)."""
        from recsys.explain.store import stored_or_live

        stored = (self.stored_explanations(name, model) if method is None and user is not None
                  and hidden is None else None)
        key, stamp = self.artifact(name, model)
        history = np.asarray(history, np.int64)
        mask = None if hidden is None else np.packbits(np.asarray(hidden, bool)).tobytes()

        def live(missing):
            return self._cached(("explain", key, stamp, history.tobytes(), user, tuple(missing), method,
                                 mask), lambda: self._explain_live(name, model, history, user, missing,
                                                                   method, hidden))
        return stored_or_live(stored, history, user, [int(i) for i in items], live)

    def _explain_live(self, name, model, history, user, items, method, hidden=None):
        from recsys.explain import explain_items

        return explain_items(self.model(name, model), history, list(items), user=user, method=method,
                             hidden=hidden)
