"""What every page shares: the sidebar, session keys, and cached access to datasets and models.

This module is not a page. Widgets that live on every page are created once here (in app.py's sidebar)
with a key, and pages read them from st.session_state. The selected dataset is mirrored in the URL's
query string so that a view can be shared. Heavy objects are cached with st.cache_resource; nothing here
trains a model during a render — ``build_missing`` runs only when a user asks for it.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from recsys.artifacts import ArtifactStore, data_root
from recsys.data import EMBEDDED, Dataset, load_dataset
from recsys.errors import ArtifactError, DataError, RecsysError
from recsys.models import Recommender, get_model
from recsys.pipeline import build_model, default_models
from recsys.split import Split, make_split

ROOT = Path(__file__).resolve().parents[1]
DATASET_KEY = "dataset"


def datasets_dir() -> Path:
    return data_root() / "datasets"


def dataset_choices() -> list[str]:
    """The embedded dataset, then every folder under data/datasets/ (a MovieLens or RecBole folder)."""
    folder = datasets_dir()
    found = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    return [EMBEDDED] + found


def _dataset_source(name: str) -> str:
    # Only listed names are accepted, so a URL or a widget value cannot point outside data/.
    if name not in dataset_choices():
        raise DataError(f"unknown dataset {name!r}")
    return EMBEDDED if name == EMBEDDED else str(datasets_dir() / name)


@st.cache_resource(show_spinner="Loading dataset…")
def get_dataset(name: str) -> Dataset:
    return load_dataset(_dataset_source(name))


@st.cache_resource(show_spinner="Splitting…")
def get_split(name: str, protocol: str = "loo") -> Split:
    return make_split(get_dataset(name), protocol)


def get_trained(dataset: str, model: str, protocol: str = "loo") -> Recommender | None:
    """The stored model, or None when it is not built (or its artifact is unusable).

    The cache key includes the artifact's folder and manifest time, so a model rebuilt elsewhere (the
    CLI, another session) is picked up on the next render without restarting the app.
    """
    split = get_split(dataset, protocol)
    store = ArtifactStore()
    key = store.key(model, get_model(model).get_params(), split.train)
    manifest = store.path(key) / "manifest.json"
    if not manifest.is_file():
        return None
    return _load_artifact(str(store.root), key, manifest.stat().st_mtime_ns)


@st.cache_resource(show_spinner="Loading model…", max_entries=32)
def _load_artifact(root: str, key, mtime_ns: int) -> Recommender | None:
    try:
        return ArtifactStore(root).load(key)
    except ArtifactError:
        return None


def scoreboard(dataset: str, protocol: str = "loo") -> pd.DataFrame:
    """Stored test metrics of every built model for the dataset's split, one row per model; a model
    built with non-default hyper-parameters is labelled with them."""
    split = get_split(dataset, protocol)
    rows = []
    for m in ArtifactStore().list(split.train.fingerprint()):
        try:
            defaults = get_model(m["model"]).get_params()
        except RecsysError:
            continue  # a model this version no longer has
        changed = {k: v for k, v in m.get("params", {}).items() if defaults.get(k) != v}
        label = m["model"] + (f" ({', '.join(f'{k}={v}' for k, v in changed.items())})" if changed else "")
        rows.append({"model": label, **m.get("metrics", {}), "fit seconds": m.get("fit_seconds"),
                     "built": m.get("created")})
    return pd.DataFrame(rows).set_index("model") if rows else pd.DataFrame()


def missing_models(dataset: str, protocol: str = "loo") -> list[str]:
    return [m for m in default_models() if get_trained(dataset, m, protocol) is None]


def build_missing(dataset: str, protocol: str = "loo") -> None:
    """Train the default models that have no valid artifact, with a progress bar."""
    todo = missing_models(dataset, protocol)
    bar = st.progress(0.0, text="Building models…")
    for i, name in enumerate(todo):
        def report(fraction, message="", i=i, name=name):
            bar.progress(min(1.0, (i + fraction) / len(todo)), text=f"{name}: {message}")
        build_model(name, get_split(dataset, protocol), progress=report)
    bar.empty()


def sidebar() -> None:
    """The shared sidebar: dataset choice (kept in the URL)."""
    choices = dataset_choices()
    wanted = st.query_params.get(DATASET_KEY, EMBEDDED)
    if DATASET_KEY not in st.session_state:
        st.session_state[DATASET_KEY] = wanted if wanted in choices else EMBEDDED
    with st.sidebar:
        st.image(str(ROOT / "assets" / "logo.png"), width=160)
        st.selectbox("Dataset", choices, key=DATASET_KEY,
                     help="The embedded MovieLens-100k, or a folder under data/datasets/")
        if wanted not in choices:
            st.warning(f"Unknown dataset {wanted!r} in the URL; showing {EMBEDDED}.")
    st.query_params[DATASET_KEY] = st.session_state[DATASET_KEY]


def current_dataset() -> str:
    return st.session_state.get(DATASET_KEY, EMBEDDED)


def show_error(error: RecsysError) -> None:
    st.error(str(error), icon=":material/error:")


def inject_css() -> None:
    css = ROOT / "assets" / "style.css"
    if css.exists():
        st.markdown(f"<style>{css.read_text()}</style>", unsafe_allow_html=True)
