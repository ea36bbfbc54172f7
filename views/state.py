"""What every page shares: the sidebar, session keys, and cached access to datasets and models.

This module is not a page. The sidebar's widgets (dataset, models, user) are created once per run in
app.py with a key, and pages read them from st.session_state. All three are mirrored in the URL's query
string (``?dataset=ml-100k&models=gpt,bert,bpr&user=42``), so a view can be shared. Heavy objects are
cached with st.cache_resource; nothing here trains a model during a render — ``build_missing`` runs only
when a user asks for it.
"""
from __future__ import annotations

import re
import shutil
import tempfile
from urllib.parse import urlencode
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from recsys.artifacts import ArtifactKey, ArtifactStore, params_gone
from recsys.compare import Cohort, PairTest, cohort_values, compare_all
from recsys.data import EMBEDDED, INTERACTIONS_CSV, Dataset, load_dataset
from recsys.errors import ArtifactError, DataError, RecsysError
from recsys.explain.text import natural_titles
from recsys.index import ItemIndex, index_for
from recsys.models import Recommender, model_names, registry
from recsys.pipeline import build_model, default_models
from recsys.search import SearchResult, search_items
from recsys.service import (UPLOAD_LIMIT_MB, artifact_of, build_command, dataset_choices, dataset_source,
                            datasets_dir, is_todays_default, not_applicable, store_recommendations,
                            test_rows)
from recsys.split import Split, make_split

ROOT = Path(__file__).resolve().parents[1]
DATASET_KEY, MODELS_KEY, USER_KEY, ITEM_KEY = "dataset", "models", "user", "item"
PREFERRED = ("gpt", "bert", "bpr")  # the side-by-side the app is about, when they are built


# -- datasets -------------------------------------------------------------------------------------------
@st.cache_resource(show_spinner="Loading dataset…")
def get_dataset(name: str) -> Dataset:
    return load_dataset(dataset_source(name))


@st.cache_resource(show_spinner="Splitting…")
def get_split(name: str, protocol: str = "loo") -> Split:
    return make_split(get_dataset(name), protocol)


def _named_after_upload(error: RecsysError, stored: Path, filename: str) -> RecsysError:
    """The same error, naming the file the user uploaded instead of where the server keeps it."""
    return type(error)(str(error).replace(str(stored), filename))


def add_uploaded_dataset(name: str, data: bytes, filename: str = "the uploaded file") -> Dataset:
    """Validate an uploaded interactions CSV with the generic loader and keep it under
    data/datasets/<name>/. Nothing is written unless it loads; DataError says what is wrong."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}", name or ""):
        raise DataError("a dataset name is 1-40 letters, digits, '-' or '_', starting with a letter or "
                        "digit")
    if name in dataset_choices():
        raise DataError(f"a dataset named {name!r} exists already; choose another name")
    if len(data) > UPLOAD_LIMIT_MB * 2**20:
        raise DataError(f"the file is {len(data) / 2**20:.0f} MB; uploads are limited to "
                        f"{UPLOAD_LIMIT_MB} MB (put bigger datasets under data/datasets/ yourself)")
    datasets_dir().mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=datasets_dir(), prefix=".upload-"))
    try:
        (tmp / INTERACTIONS_CSV).write_bytes(data)
        dataset = load_dataset(tmp, name=name)
        tmp.rename(datasets_dir() / name)  # atomic: the dataset appears complete or not at all
    except RecsysError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _named_after_upload(e, tmp / INTERACTIONS_CSV, filename) from e
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dataset


def add_recommendations_file(dataset: str, data: bytes, filename: str):
    """Store an uploaded recommendations file under data/recommendations/ and build the "proxy" model
    from it (evaluated with the app's protocol). DataError says what is wrong; nothing is kept then."""
    path = store_recommendations(data, filename)
    try:
        built = build_model("proxy", get_split(dataset), params={"path": str(path)})
    except RecsysError as e:
        path.unlink(missing_ok=True)
        raise _named_after_upload(e, path, filename) from e
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return built


# -- models ---------------------------------------------------------------------------------------------
def model_label(name: str) -> str:
    return registry.model_label(name)


def get_trained(dataset: str, model: str, protocol: str = "loo") -> Recommender | None:
    """The stored model, or None when it is not built (or its artifact is unusable).

    The artifact of today's default parameters wins; otherwise the newest artifact of that model on this
    data (e.g. one trained with `python -m recsys train --model gpt --epochs 5`). The cache key includes the
    artifact's folder and manifest time, so a model rebuilt elsewhere (the CLI, another session) is
    picked up on the next render without restarting the app.
    """
    key, mtime = _artifact(dataset, model, protocol)
    return None if key is None else _load_artifact(str(ArtifactStore().root), key, mtime)


def artifact_key(dataset: str, model: str, protocol: str = "loo") -> ArtifactKey | None:
    """The key of the artifact the app uses for ``model`` (None when it is not built)."""
    return _artifact(dataset, model, protocol)[0]


def artifact_version(dataset: str, model: str, protocol: str = "loo") -> str:
    """Changes whenever the model the app would use changes: a cache key for derived results."""
    key, mtime = _artifact(dataset, model, protocol)
    return f"{ArtifactStore().root}|{key}|{mtime}"


def _artifact(dataset: str, model: str, protocol: str = "loo"):
    """(key, manifest mtime) of the artifact the app uses for ``model``, or (None, None).

    Read from the manifests alone, so listing what is built imports no model code (no torch).
    """
    fingerprint = get_split(dataset, protocol).train.fingerprint()
    return artifact_of(ArtifactStore(), fingerprint, model, _manifests(fingerprint))


def _manifests(fingerprint: str) -> list[dict]:
    """The store's manifests for one dataset, re-read only when an artifact folder is added, replaced or
    removed (that changes the folder's mtime); a render asks for them once per model."""
    folder = ArtifactStore().root / fingerprint
    mtime = folder.stat().st_mtime_ns if folder.is_dir() else 0
    return _list_manifests(str(ArtifactStore().root), fingerprint, mtime)


@st.cache_resource(show_spinner=False, max_entries=16)
def _list_manifests(root: str, fingerprint: str, mtime_ns: int) -> list[dict]:
    return ArtifactStore(root).list(fingerprint)


@st.cache_resource(show_spinner=False, max_entries=256)
def _verified(root: str, key, mtime_ns: int) -> bool:
    try:
        ArtifactStore(root).manifest(key)
        return True
    except ArtifactError:
        return False


def is_built(dataset: str, model: str, protocol: str = "loo") -> bool:
    """A usable artifact exists (manifest and checksums verified; the model is not loaded)."""
    key, mtime = _artifact(dataset, model, protocol)
    return key is not None and _verified(str(ArtifactStore().root), key, mtime)


@st.cache_resource(show_spinner="Loading model…", max_entries=32)
def _load_artifact(root: str, key, mtime_ns: int) -> Recommender | None:
    try:
        return ArtifactStore(root).load(key)
    except ArtifactError:
        return None


@st.cache_resource(show_spinner=False, max_entries=64)
def _load_evaluation(root: str, _key, path: str, mtime_ns: int) -> dict[str, np.ndarray] | None:
    try:
        return ArtifactStore(root).evaluation(_key)
    except ArtifactError:
        return None


@st.cache_resource(show_spinner=False, max_entries=64)
def _load_explanations(root: str, _key, path: str, mtime_ns: int):
    from recsys.explain.store import StoredExplanations, is_current

    try:
        arrays = ArtifactStore(root).explanations(_key)
    except ArtifactError:
        return None
    return StoredExplanations(arrays) if is_current(arrays) else None


def stored_explanations(dataset: str, model: str, protocol: str = "loo"):
    """The explanations of the test users' lists stored with a built model (None if none)."""
    key, mtime = _artifact(dataset, model, protocol)
    if key is None:
        return None
    store = ArtifactStore()
    return _load_explanations(str(store.root), key, str(store.path(key)), mtime)


def get_evaluation(dataset: str, model: str, protocol: str = "loo") -> dict[str, np.ndarray] | None:
    """Per-user test metrics and top lists stored with a built model (None if not built)."""
    key, mtime = _artifact(dataset, model, protocol)
    if key is None:
        return None
    store = ArtifactStore()
    return _load_evaluation(str(store.root), key, str(store.path(key)), mtime)


@st.cache_resource(show_spinner="Comparing every pair of models…", max_entries=16)
def _model_tests(dataset: str, metric: str, versions: tuple[tuple[str, str], ...], cohort: Cohort
                 ) -> list[PairTest]:
    keep = cohort.mask(get_split(dataset).test.users, get_dataset(dataset), get_split(dataset).test)
    return compare_all({m: cohort_values(get_evaluation(dataset, m), keep)[metric] for m, _ in versions})


def model_tests(dataset: str, metric: str, models: list[str], cohort: Cohort = Cohort()) -> list[PairTest]:
    """Every pair of ``models`` (built) on the per-user ``metric`` over the ``cohort``'s test users, as
    one Holm-corrected family: the all-pairs matrix and the two-model verdict read the same tests."""
    return _model_tests(dataset, metric, tuple((m, artifact_version(dataset, m)) for m in models), cohort)


@st.cache_resource(show_spinner="Building the FAISS index…", max_entries=16)
def _item_index(dataset: str, model: str, version: str) -> ItemIndex:
    return index_for(get_trained(dataset, model))


def item_index(dataset: str, model: str) -> ItemIndex:
    """The FAISS index over a built model's item embeddings, built once per artifact."""
    return _item_index(dataset, model, artifact_version(dataset, model))


def text_search(dataset: str, text: str, k: int = 10, genre: str | None = None) -> SearchResult:
    """Items whose text matches free text (the content model's vectors), with the closest genres and
    whether anything matches well enough (``recsys.search``)."""
    return search_items(get_trained(dataset, "content"), get_dataset(dataset), text, k, genre=genre)


def built_models(dataset: str, protocol: str = "loo") -> list[str]:
    """Registry models with a usable artifact for the dataset."""
    return [m for m in model_names() if is_built(dataset, m, protocol)]


def scoreboard(dataset: str, protocol: str = "loo") -> pd.DataFrame:
    """Stored test metrics of every built model for the dataset's split, one row per model; a model
    built with non-default hyper-parameters is labelled with them. When two artifacts get the same label
    (one built before the model gained a hyper-parameter, or before its defaults changed), the one the
    app serves is shown: today's defaults', else the newest."""
    split = get_split(dataset, protocol)
    rows = []
    manifests = ArtifactStore().list(split.train.fingerprint())  # newest first
    for m in sorted(manifests, key=lambda m: not is_todays_default(m)):  # stable: then newest first
        if m.get("model") not in model_names() or params_gone(m):
            continue  # a model, or a hyper-parameter, this version no longer has
        changed = m.get("changed_params")
        if changed is None:  # written before manifests recorded it
            defaults = registry.model_facts(m["model"]).params
            changed = {k: v for k, v in m.get("params", {}).items() if defaults.get(k) != v}
        label = m["model"] + (f" ({', '.join(f'{k}={v}' for k, v in changed.items())})" if changed else "")
        if any(r["model"] == label for r in rows):
            continue
        rows.append({"model": label, **m.get("metrics", {}), "fit seconds": m.get("fit_seconds"),
                     "built": m.get("created")})
    return pd.DataFrame(rows).set_index("model") if rows else pd.DataFrame()


def show_scoreboard(board: pd.DataFrame, columns: list[str], highlight: list[str] | None = None
                    ) -> pd.DataFrame:
    """A scoreboard as the pages show it: models by their labels ("MF (BPR)", "GPT (epochs=5)"), every
    row in view (no inner scroll hiding the 11th), metrics to 4 places, seconds to 0.1. Returns what it
    showed, as numbers (for an export)."""
    def label(row: str) -> str:
        name, _, params = row.partition(" (")
        return model_label(name) + (f" ({params}" if params else "")

    numbers = board[columns].apply(pd.to_numeric, errors="coerce").rename(index=label)
    # As text: a metric a model lacks (RMSE of a ranking model) is blank — the grid draws a missing
    # number as "None" whatever the Styler says. The best value per higher-is-better column is shaded.
    text = numbers.apply(lambda col: col.map(lambda v: "" if pd.isna(v) else
                                             f"{v:,.1f}" if col.name == "fit seconds" else f"{v:.4f}"))
    best = numbers.eq(numbers.max()) & numbers.notna()
    styled = text.style.apply(lambda col: np.where(best[col.name] & (col.name in (highlight or [])),
                                                   "background-color: #e4e0fb", ""), axis=0)
    st.dataframe(styled, height=3 + 35 * (len(text) + 1) if len(text) > 9 else "auto",
                 column_config={"_index": st.column_config.TextColumn(width="medium")}  # whole labels
                 | {c: st.column_config.TextColumn(c, alignment="right") for c in columns})
    return numbers


def training_curves(dataset: str, models: list[str]) -> pd.DataFrame:
    """What each trained model recorded per epoch (or sampler sweep): one row per (model, step,
    quantity), e.g. loss and valid_ndcg@10. Models fitted in closed form (ItemKNN, EASE) have none."""
    rows = []
    for m in models:
        model = get_trained(dataset, m)
        for record in getattr(model, "history_", None) or []:
            step = record.get("epoch", record.get("sweep"))
            rows += [{"model": model_label(m), "step": step, "quantity": k, "value": float(v)}
                     for k, v in record.items() if k not in ("epoch", "sweep", "seconds", "targets")
                     and isinstance(v, (int, float)) and step is not None]
    return pd.DataFrame(rows, columns=["model", "step", "quantity", "value"])


def stopped_by_budget(dataset: str, models: list[str]) -> list[str]:
    """Labels of the models whose training their time budget ended (``time_budget_``), not validation."""
    out = []
    for m in models:
        model = get_trained(dataset, m)
        budget, history = getattr(model, "time_budget_", None), getattr(model, "history_", None) or []
        if budget is not None and history and history[-1].get("seconds", 0) >= budget:
            out.append(model_label(m))
    return out


def unbuilt_models(dataset: str, protocol: str = "loo") -> list[str]:
    """Default models without a usable artifact, whether or not they apply to the dataset."""
    return [m for m in default_models() if not is_built(dataset, m, protocol)]


def missing_models(dataset: str, protocol: str = "loo") -> list[str]:
    """Default models without an artifact that could be built here (not those that do not apply)."""
    unbuilt = unbuilt_models(dataset, protocol)
    skip = inapplicable(dataset, tuple(unbuilt), protocol)
    return [m for m in unbuilt if m not in skip]


@st.cache_resource(show_spinner=False, max_entries=64)
def inapplicable(dataset: str, models: tuple[str, ...], protocol: str = "loo") -> dict[str, str]:
    """Of ``models``, the ones that cannot learn from this dataset, with why."""
    return not_applicable(get_split(dataset, protocol).train, models)


def build_missing(dataset: str, protocol: str = "loo", models: list[str] | None = None) -> None:
    """Train the models (default: the default list) that have no valid artifact, with a progress bar."""
    todo = [m for m in (models or missing_models(dataset, protocol)) if not is_built(dataset, m, protocol)]
    bar = st.progress(0.0, text="Building models…")
    for i, name in enumerate(todo):
        def report(fraction, message="", i=i, name=name):
            bar.progress(min(1.0, (i + fraction) / len(todo)), text=f"{name}: {message}")
        build_model(name, get_split(dataset, protocol), progress=report)
    bar.empty()


def offer_build(dataset: str, models: list[str], what: str = "this page", key: str = "build") -> None:
    """The "not built yet" state: which models, the shell command, and a button that builds them; models
    that do not apply to the dataset say why instead."""
    skip = inapplicable(dataset, tuple(models))
    for model, why in skip.items():
        st.info(f"{model_label(model)} does not apply to this dataset: {why}.", icon=":material/block:")
    models = [m for m in models if m not in skip]
    if not models:
        return
    labels = ", ".join(model_label(m) for m in models)
    st.info(f"Not built yet for {what}: {labels}. Build them here, or run "
            f"`{build_command(dataset, models)}` in a shell.", icon=":material/construction:")
    if st.button(f"Build {labels}" if len(models) <= 3 else f"Build these {len(models)} models", key=key,
                 type="primary"):
        build_missing(dataset, models=models)
        st.rerun()


def user_url(dataset: str, raw_user: str, models: list[str] | None = None) -> str:
    """A link to the Users page for one user (with ``models`` chosen); the dataset goes in too, or the
    same numeric id would open another person in the default dataset."""
    query = {DATASET_KEY: dataset, USER_KEY: raw_user} | ({MODELS_KEY: ",".join(models)} if models else {})
    return f"/users?{urlencode(query)}"


def item_url(dataset: str, raw_item) -> str:
    return f"/item?{urlencode({DATASET_KEY: dataset, ITEM_KEY: str(raw_item)})}"


def item_from_url(ds: Dataset, default: int) -> int:
    """The item ``?item=<raw id>`` names, or ``default`` (with a warning when the id is unknown)."""
    asked = st.query_params.get(ITEM_KEY)
    if asked is None:
        return default
    found = np.flatnonzero(ds.item_ids.astype(str) == str(asked))
    if not len(found):
        st.warning(f"No item {asked!r} in this dataset; showing {ds.item_ids[default]}.")
        return default
    return int(found[0])


def chosen_models(dataset: str, built: list[str], what: str) -> list[str]:
    """The sidebar's models; when none is chosen, says why nothing shows and stops the page: choose one
    (some are built) or build the preferred ones (none is)."""
    models = current_models()
    if models:
        return models
    if built:
        st.info(f"No model chosen: pick one or more under **Models** in the sidebar for {what}.",
                icon=":material/arrow_back:")
    else:
        offer_build(dataset, list(PREFERRED), what)
    st.stop()


# -- the chosen user ---------------------------------------------------------------------------------------
@dataclass
class UserContext:
    """One test user as the pages see them: the history models get, and the held-out item."""

    index: int                  # internal user index
    raw_id: str
    history: np.ndarray         # the history every model scores (train + validation items, by time)
    target: np.ndarray          # the held-out test item(s)
    timeline: pd.DataFrame      # every interaction with title, genres, time, rating and split part


@st.cache_resource(show_spinner=False, max_entries=16)
def _user_rows(dataset: str, protocol: str = "loo") -> dict[int, int]:
    return test_rows(get_split(dataset, protocol))


def user_context(dataset: str, user: int, protocol: str = "loo") -> UserContext:
    ds, split = get_dataset(dataset), get_split(dataset, protocol)
    row = _user_rows(dataset, protocol).get(int(user))
    if row is None:
        raise DataError(f"user {ds.user_ids[user]} has no held-out interactions in the test split")
    history = split.test.histories[row].astype(np.int64)
    target = split.test.targets[row].astype(np.int64)
    mask = ds.user == user
    order = np.argsort(ds.timestamp[mask], kind="stable")
    items = ds.item[mask][order]
    part = np.full(len(items), "history", dtype=object)
    part[np.isin(items, target)] = "held out (test)"
    # Without timestamps (a bare sequence file) the order is all there is: positions, not 1970 dates.
    when = (pd.to_datetime(ds.timestamp[mask][order], unit="s") if ds.has_timestamps
            else np.arange(1, len(items) + 1))
    timeline = pd.DataFrame({
        "time": when, "item": items,
        "title": natural_titles(ds.items["title"].to_numpy()[items]),
        "genres": ds.items["genres"].to_numpy()[items],
        "rating": ds.rating[mask][order], "part": part})
    return UserContext(int(user), str(ds.user_ids[user]), history, target, timeline)


def history_ratings(dataset: str, ctx: UserContext) -> dict[int, float] | None:
    """The user's rating of each history item (None when the dataset has no ratings), so reasons can
    show them."""
    return get_dataset(dataset).ratings_of(ctx.index, ctx.history)


def held_out_users(dataset: str) -> np.ndarray:
    return get_split(dataset).test.users


# -- the sidebar ------------------------------------------------------------------------------------------
def sidebar() -> None:
    """Dataset, models and user, each kept in the URL."""
    choices = dataset_choices()
    wanted = st.query_params.get(DATASET_KEY, EMBEDDED)
    if DATASET_KEY not in st.session_state or st.session_state[DATASET_KEY] not in choices:
        st.session_state[DATASET_KEY] = wanted if wanted in choices else EMBEDDED
    with st.sidebar:
        st.image(str(ROOT / "assets" / "logo.png"), width=160)
        st.selectbox("Dataset", choices, key=DATASET_KEY, on_change=_forget_user,
                     help="The embedded MovieLens-100k, or a folder under data/datasets/")
        if wanted not in choices:
            st.warning(f"Unknown dataset {wanted!r} in the URL; showing {EMBEDDED}.")
    name = st.session_state[DATASET_KEY]
    st.query_params[DATASET_KEY] = name
    try:
        ds = get_dataset(name)
        built = built_models(name)
    except RecsysError as e:
        with st.sidebar:
            show_error(e)
        return
    _models_widget(built)
    _user_widget(ds, name)


def _forget_user() -> None:
    for key in (USER_KEY, MODELS_KEY):
        st.session_state.pop(key, None)
        st.query_params.pop(key, None)


def _models_widget(built: list[str]) -> None:
    if MODELS_KEY not in st.session_state:
        # dict.fromkeys: "?models=gpt,gpt" shows GPT once
        asked = list(dict.fromkeys(m for m in st.query_params.get(MODELS_KEY, "").split(",") if m in built))
        st.session_state[MODELS_KEY] = asked or [m for m in PREFERRED if m in built] or built[:3]
    else:  # the list of built models can change (a build, another dataset)
        st.session_state[MODELS_KEY] = [m for m in st.session_state[MODELS_KEY] if m in built]
    with st.sidebar:
        st.multiselect("Models", built, key=MODELS_KEY, format_func=model_label,
                       placeholder="No models built yet" if not built else "Choose models",
                       help="Built models; the Overview page builds the missing ones")
    st.query_params[MODELS_KEY] = ",".join(st.session_state[MODELS_KEY])


def _user_widget(ds: Dataset, name: str) -> None:
    users = held_out_users(name)
    if not len(users):
        return
    raw_ids = {str(r): i for i, r in enumerate(ds.user_ids)}
    if USER_KEY not in st.session_state:
        st.session_state[USER_KEY] = st.query_params.get(USER_KEY, str(ds.user_ids[users[0]]))
    with st.sidebar:
        st.text_input("User id", key=USER_KEY, help="A user id as it appears in the dataset")
        typed = st.session_state[USER_KEY].strip()
        if typed not in raw_ids or raw_ids[typed] not in _user_rows(name):
            st.warning(f"No test user {typed!r}; showing user {ds.user_ids[users[0]]}.")
            typed = str(ds.user_ids[users[0]])
    st.session_state["user_index"] = raw_ids[typed]
    st.query_params[USER_KEY] = typed


def set_user(raw_id) -> None:
    """Callback for buttons that pick a user (run before the sidebar's widget is drawn)."""
    st.session_state[USER_KEY] = str(raw_id)


def current_dataset() -> str:
    return st.session_state.get(DATASET_KEY, EMBEDDED)


def current_models() -> list[str]:
    return list(st.session_state.get(MODELS_KEY, []))


def current_user() -> int | None:
    return st.session_state.get("user_index")


def open_page(title: str) -> tuple[str, Dataset, list[str]]:
    """A page's start: its title, then the chosen dataset's name, the dataset and the built models —
    or the loader's message and an end to the page when the dataset cannot be read."""
    st.title(title)
    name = current_dataset()
    try:
        return name, get_dataset(name), built_models(name)
    except RecsysError as e:
        show_error(e)
        st.stop()


def open_user_page(title: str) -> tuple[str, Dataset, list[str], UserContext]:
    """``open_page`` for a page about the chosen user: also that user's context — or a note and an
    end to the page when the dataset has no test users."""
    name, ds, built = open_page(title)
    user = current_user()
    if user is None:
        st.info("This dataset has no test users.")
        st.stop()
    try:
        return name, ds, built, user_context(name, user)
    except RecsysError as e:
        show_error(e)
        st.stop()


def show_error(error: RecsysError) -> None:
    st.error(str(error), icon=":material/error:")


def inject_css() -> None:
    css = ROOT / "assets" / "style.css"
    if css.exists():
        st.markdown(f"<style>{css.read_text()}</style>", unsafe_allow_html=True)
