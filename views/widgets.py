"""Widgets and drawing helpers several pages share (not a page).

Computation lives in recsys; these functions glue it to Streamlit: cached recommendation lists, the one
explanation per (model, history, item) every page reads, the re-rank knobs, a list drawn as lines.
Charts are in ``views.figures``; page sections more than one page could use are in ``views.panels``.
"""
from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import streamlit as st

from views import state
from views.figures import UNSURE_SD
from recsys.explain import (HistoryExplanation, counterfactual_sentence, explain_items, list_reasons,
                            natural_title)
from recsys.explain.counterfactual import Counterfactual, decide
from recsys.explain.history import bind_user
from recsys.explain.quality import check_cases
from recsys.explain.store import stored_or_live
from recsys.rerank import recommend_reranked, reorders


@st.cache_data(show_spinner=False, max_entries=8)
def item_labels(dataset: str) -> np.ndarray:
    """Every item as a person reads it: "The Prophecy II (1998)", or "item 1234" without a title (a
    title that already ends with its year, to tell it from another of that name, keeps one)."""
    items = state.get_dataset(dataset).items
    titles = items["title"] if "title" in items else pd.Series(pd.NA, index=items.index)
    years = items["year"] if "year" in items else pd.Series(pd.NA, index=items.index)
    ids = items["item_id"] if "item_id" in items else items.index.to_series()
    return np.array([(natural_title(t) if pd.notna(t) and str(t).strip() else f"item {i}")
                     + (f" ({int(y)})" if pd.notna(y) and not str(t).endswith(f"({int(y)})") else "")
                     for t, y, i in zip(titles, years, ids)], dtype=object)


def item_picker(where, dataset: str, label: str, items, key: str, **options) -> list[int]:
    """Pick items by title, kept in the URL. Matching is by substring: fuzzy matching let "Toy Story" +
    Enter pick "Entertaining Angels: The Dorothy Day Story". No "Select all": one click emptied a history."""
    labels = item_labels(dataset)
    picked = where.multiselect(label, items, key=key, format_func=lambda i: labels[int(i)],
                               filter_mode="contains", select_all=False, bind="query-params", **options)
    return [int(i) for i in picked]


def rerank_knobs(key: str, dataset: str) -> tuple[int, float, float]:
    """k, MMR λ and popularity penalty, side by side. MMR diversifies by genre, so it is off for a
    catalogue without genres."""
    a, b, c = st.columns(3)
    # bind: the URL keeps the knobs, so a shared link shows the same lists
    k = a.number_input("List length k", 1, 100, 10, key=f"{key}-k", bind="query-params")
    has_genres = state.get_dataset(dataset).has_genres
    lam = b.slider("MMR λ (1 = model order, lower = more diverse genres)", 0.0, 1.0, 1.0, 0.05,
                   key=f"{key}-lam", disabled=not has_genres, bind="query-params",
                   help=None if has_genres else f"Off: {dataset}'s items have no genres to diversify by")
    lam = lam if has_genres else 1.0  # a value set on another dataset does not carry over
    penalty = c.slider("Popularity penalty", 0.0, 1.0, 0.0, 0.05, key=f"{key}-pop", bind="query-params",
                       help="Subtracts this times the item's scaled log popularity from its relevance")
    if reorders(lam, penalty):
        st.caption("Re-ranked from each model's top candidates"
                   + (f" for genre diversity (MMR λ {lam:.2f})" if lam < 1 else "")
                   + (" and" if lam < 1 and penalty > 0 else "")
                   + (f" against popularity (penalty {penalty:.2f})" if penalty > 0 else "")
                   + ". Each line's score is still the model's own, so scores need not fall in rank order, "
                     "and its counterfactual speaks of the model's own ranking.")
    return int(k), float(lam), float(penalty)


def recommendation_frame(dataset: str, model_name: str, history: tuple[int, ...], user: int | None,
                         k: int, lam: float = 1.0, penalty: float = 0.0,
                         target: tuple[int, ...] = ()) -> pd.DataFrame:
    """A model's list for a history (and known user, which per-user models use)."""
    return _recommendation_frame(dataset, model_name, state.artifact_version(dataset, model_name),
                                 history, user, k, lam, penalty, target)


@st.cache_data(show_spinner=False, max_entries=512)
def _recommendation_frame(dataset, model_name, version, history, user, k, lam, penalty,
                          target) -> pd.DataFrame:
    model = state.get_trained(dataset, model_name)
    ds = state.get_dataset(dataset)
    h = np.asarray(history, dtype=np.int64)
    items, scores = recommend_reranked(
        model, h, k, users=None if user is None else [user], lam=lam, vectors=ds.genre_vectors(),
        popularity=ds.item_popularity(), popularity_penalty=penalty)
    if user is not None:
        items, scores = np.atleast_1d(np.squeeze(items)), np.atleast_1d(np.squeeze(scores))
        keep = items >= 0
        items, scores = items[keep], scores[keep]
    titles = ds.items["title"]
    frame = pd.DataFrame({"rank": np.arange(1, len(items) + 1), "item": items,
                          "title": titles.to_numpy()[items], "genres": ds.items["genres"].to_numpy()[items],
                          "score": scores})
    if target:
        frame.insert(1, "hit", np.isin(items, target))
    if hasattr(model, "rating_summary"):  # a Bayesian model: each prediction with its uncertainty
        # As the list ranks: a known user's history folded in with their ratings, or their stored
        # posterior draws where those rank (Thompson sampling).
        draws = user is not None and model.per_user_parameters
        summary = model.rating_summary(items, user=user, history=None if draws else h)
        frame = frame.assign(predicted=summary["predicted"], low=summary["low"], high=summary["high"],
                             model_sd=summary["model_sd"])
    return frame


def explanations(dataset: str, model_name: str, history: tuple[int, ...], user: int | None,
                 items: tuple[int, ...], method: str | None = None) -> list[HistoryExplanation]:
    """The explanation of each item for this history — the one object every page, check and download
    reads: stored with the model for the test users' lists, otherwise computed once per (model,
    history, items, method) and kept in memory; a case settled in this session (``decided``) carries
    its settled counterfactual on every page."""
    settled = st.session_state.get(SETTLED, {})
    return [e.settled(settled[key]) if (key := _settled_key(dataset, model_name, history, user, e.item))
            in settled else e for e in _explanations(dataset, model_name, history, user, items, method)]


def _explanations(dataset, model_name, history, user, items, method=None) -> list[HistoryExplanation]:
    """As computed: stored for a test user's list with the default method, else live (cached)."""
    stored = state.stored_explanations(dataset, model_name) if method is None and user is not None \
        else None
    version = state.artifact_version(dataset, model_name)
    return stored_or_live(stored, np.asarray(history, np.int64), user, list(items),
                          lambda missing: _live_explanations(dataset, model_name, version, history, user,
                                                             missing, method))


@st.cache_data(show_spinner="Explaining…", max_entries=256)
def _live_explanations(dataset, model_name, version, history, user, items, method):
    model = state.get_trained(dataset, model_name)
    return explain_items(model, np.asarray(history, np.int64), list(items), user=user, method=method)


# Nodes of the branch and bound when an auditor asks to settle an open case: tens of milliseconds each
# on ml-100k (bench/counterfactual_bnb.py), so under a minute.
DECIDE_NODES = 3000
# Session state: the counterfactuals settled in this session, by (dataset, model, version, history, user,
# item), so that the Users page, the check and the download say what the Explanations page settled.
SETTLED = "settled-counterfactuals"


def decided(dataset: str, model_name: str, history: tuple[int, ...], user: int | None, item: int
            ) -> tuple[str, Counterfactual]:
    """``recsys.explain.counterfactual.decide`` for the case the pages show, once per (model, history,
    item): "found" (with the set), "none" or "open"; a settled case is remembered for the session."""
    key = _settled_key(dataset, model_name, history, user, item)
    status, fact = _decided(*key)
    if status != "open":
        st.session_state.setdefault(SETTLED, {})[key] = fact
    return status, fact


def _settled_key(dataset: str, model_name: str, history: tuple[int, ...], user: int | None, item: int
                 ) -> tuple:
    """A case as ``SETTLED`` and ``_decided`` know it: a rebuilt model (a new version) starts afresh."""
    return dataset, model_name, state.artifact_version(dataset, model_name), history, user, int(item)


@st.cache_data(show_spinner="Trying every set of removals the bound cannot rule out…", max_entries=64)
def _decided(dataset, model_name, version, history, user, item):
    fact = _explanations(dataset, model_name, history, user, (item,))[0].counterfactual
    model = bind_user(state.get_trained(dataset, model_name), user)
    return decide(model, np.asarray(history, np.int64), item, fact, max_nodes=DECIDE_NODES)


def explained_frame(dataset: str, model_name: str, frame: pd.DataFrame, history: tuple[int, ...],
                    user: int | None, ratings: dict[int, float] | None = None, reranked: bool = False
                    ) -> tuple[str | None, pd.DataFrame]:
    """A list with its reasons ("because you watched …", ratings shown) and counterfactuals, and a
    note for the whole list when its items share their reasons. ``reranked``: the list is not in the
    model's order (MMR, a popularity penalty), so each counterfactual says where the model ranks it."""
    if frame.empty or not history:
        return None, frame
    explained = explanations(dataset, model_name, history, user, tuple(frame["item"].tolist()))
    titles = state.get_dataset(dataset).items["title"].to_numpy()
    note, reasons = list_reasons(explained, titles, ratings=ratings)
    shown = range(1, len(frame) + 1) if reranked else [None] * len(frame)
    return note, frame.assign(because=reasons,
                              counterfactual=[counterfactual_sentence(e, titles, shown_at=place)
                                              for e, place in zip(explained, shown)],
                              explained_by=[e.method for e in explained])


def _plain(text) -> str:
    """Data text (titles, genres) shown as-is in markdown that allows HTML: HTML is escaped to
    entities first, then markdown's special characters are backslash-escaped."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~$])", r"\\\1", html.escape(str(text), quote=False))


def show_list(frame: pd.DataFrame, dataset: str | None = None) -> None:
    """A recommendation list as numbered lines: title (a link to its Item page, given the dataset),
    genres, score (a Bayesian model's predicted rating with its 90% interval), and the reason."""
    ids = state.get_dataset(dataset).item_ids if dataset else None
    if len(frame) > 1 and frame["score"].nunique() == 1:  # e.g. a fold-in of an empty history
        st.caption(f"Every item here scores {frame['score'].iloc[0]:.3f}: the model prefers none of them, so "
                   "which tied items are shown, and in what order, is the catalogue's, not the model's.")
    lines = []
    for row in frame.itertuples(index=False):
        mark = " 🎯 **held out**" if getattr(row, "hit", False) else ""
        genres = f"{_plain(row.genres)} · " if isinstance(row.genres, str) and row.genres else ""
        score = f"score {row.score:.3f}"
        if hasattr(row, "low"):
            score = f"predicted {row.predicted:.2f}★, 90% interval {row.low:.1f}–{row.high:.1f}"
            if row.model_sd >= UNSURE_SD:
                score += " · **the model is unsure about this one**"
        title = f"**{_plain(natural_title(row.title))}**"
        if ids is not None:
            title = f"[{title}]({state.item_url(dataset, ids[row.item])})"
        lines.append(f"{row.rank}. {title}{mark}  \n"
                     f"<small>{genres}{score}</small>")
        for field, style in (("because", "*"), ("counterfactual", "")):
            text = getattr(row, field, None)
            if text:
                lines[-1] += f"  \n<small>{style}{_plain(text)}{style}</small>"
    st.markdown("\n".join(lines) or "*no items*", unsafe_allow_html=True)


def lists_table(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """All models' lists in one long table (model, rank, title, ...), for the table view and CSV."""
    return pd.concat([f.assign(model=m) for m, f in frames.items()], ignore_index=True) \
        if frames else pd.DataFrame()


def protocol_badge(split, k: int | str = 10, candidates: str = "full ranking",
                   exclude_seen: bool = True) -> None:
    """The protocol behind a number, next to it: split, candidate set, seen-item filter, K."""
    label = (f"{split.description} · {candidates} · "
             f"{'seen items excluded' if exclude_seen else 'seen items kept'} · K={k}")
    st.badge(label, icon=":material/rule:", color="gray",
             help="How these numbers were measured. Sampled candidate sets (as some papers use) are "
                  "never the default here.")


def check_rows(dataset: str, model_name: str, history: tuple[int, ...], user: int | None,
               items: tuple[int, ...]) -> list[dict]:
    """``recsys.explain.quality.check_cases`` for the very explanations the pages show (with the
    counterfactuals settled in this session), per model."""
    return _check_rows(dataset, model_name, history, user,
                       explanations(dataset, model_name, history, user, items))


@st.cache_data(show_spinner="Removing each history item and rescoring…", max_entries=128)
def _check_rows(dataset, model_name, history, user, explained):
    rows = check_cases(state.get_trained(dataset, model_name), np.asarray(history, np.int64), explained,
                       state.get_dataset(dataset).items["title"].to_numpy(), user)
    return [{"model": state.model_label(model_name), **row} for row in rows]
