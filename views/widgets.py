"""Widgets and drawing helpers several pages share (not a page).

Computation lives in recsys; these functions glue it to Streamlit: cached recommendation lists, the one
explanation per (model, history, item) every page reads, the plotly theme, the re-rank knobs.
"""
from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st

from views import state
from recsys.explain import (HistoryExplanation, counterfactual_sentence, explain_items, list_reasons,
                            natural_title, removal_check)
from recsys.explain.store import stored_or_live
from recsys.rerank import recommend_reranked

# A prediction is flagged as unsure when the posterior draws' predicted ratings spread by half a star or
# more (their standard deviation): the model's own doubt, beyond the rating noise every prediction has.
UNSURE_SD = 0.5
PRIMARY = "#5b4bdb"  # .streamlit/config.toml's primaryColor
COLORWAY = [PRIMARY, "#e4572e", "#17bebb", "#ffc914", "#76b041", "#8c6bb1", "#f08a5d", "#2e86ab",
            "#b83b5e", "#6a994e"]


def apply_plot_theme() -> None:
    """One look for every chart: the theme's colour first, a white template."""
    template = go.layout.Template(pio.templates["plotly_white"])
    template.layout.colorway = COLORWAY
    template.layout.font.family = "sans-serif"
    pio.templates["reclens"] = template
    pio.templates.default = "reclens"
    px.defaults.template = "reclens"
    px.defaults.color_discrete_sequence = COLORWAY
    px.defaults.color_continuous_scale = "Purples"


def rerank_knobs(key: str, dataset: str) -> tuple[int, float, float]:
    """k, MMR λ and popularity penalty, side by side. MMR diversifies by genre, so it is off for a
    catalogue without genres."""
    a, b, c = st.columns(3)
    k = a.number_input("List length k", 1, 100, 10, key=f"{key}-k")
    has_genres = state.get_dataset(dataset).has_genres
    lam = b.slider("MMR λ (1 = model order, lower = more diverse genres)", 0.0, 1.0, 1.0, 0.05,
                   key=f"{key}-lam", disabled=not has_genres,
                   help=None if has_genres else f"Off: {dataset}'s items have no genres to diversify by")
    lam = lam if has_genres else 1.0  # a value set on another dataset does not carry over
    penalty = c.slider("Popularity penalty", 0.0, 1.0, 0.0, 0.05, key=f"{key}-pop",
                       help="Subtracts this times the item's scaled log popularity from its relevance")
    return int(k), float(lam), float(penalty)


@st.cache_resource(show_spinner=False)
def _genre_vectors(dataset: str) -> np.ndarray:
    return state.get_dataset(dataset).genre_matrix()[0].toarray()


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
        model, h, k, users=None if user is None else [user], lam=lam, vectors=_genre_vectors(dataset),
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
        summary = model.rating_summary(items, user=user, history=None if user is not None else h)
        frame = frame.assign(predicted=summary["predicted"], low=summary["low"], high=summary["high"],
                             model_sd=summary["model_sd"])
    return frame


def explanations(dataset: str, model_name: str, history: tuple[int, ...], user: int | None,
                 items: tuple[int, ...], method: str | None = None) -> list[HistoryExplanation]:
    """The explanation of each item for this history — the one object every page, check and download
    reads: stored with the model for the test users' lists, otherwise computed once per (model,
    history, items, method) and kept in memory."""
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


def explained_frame(dataset: str, model_name: str, frame: pd.DataFrame, history: tuple[int, ...],
                    user: int | None, ratings: dict[int, float] | None = None
                    ) -> tuple[str | None, pd.DataFrame]:
    """A list with its reasons ("because you watched …", ratings shown) and counterfactuals, and a
    note for the whole list when its items share their reasons."""
    if frame.empty or not history:
        return None, frame
    explained = explanations(dataset, model_name, history, user, tuple(frame["item"].tolist()))
    titles = state.get_dataset(dataset).items["title"].to_numpy()
    note, reasons = list_reasons(explained, titles, ratings=ratings)
    return note, frame.assign(because=reasons,
                              counterfactual=[counterfactual_sentence(e, titles) for e in explained],
                              explained_by=[e.method for e in explained])

def _plain(text) -> str:
    """Data text (titles, genres) shown as-is in markdown that allows HTML: HTML is escaped to
    entities first, then markdown's special characters are backslash-escaped."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~$])", r"\\\1", html.escape(str(text), quote=False))


def show_list(frame: pd.DataFrame) -> None:
    """A recommendation list as numbered lines: title, genres, score (a Bayesian model's predicted
    rating with its 90% interval), and the reason when present."""
    lines = []
    for row in frame.itertuples(index=False):
        mark = " 🎯 **held out**" if getattr(row, "hit", False) else ""
        genres = f"{_plain(row.genres)} · " if isinstance(row.genres, str) and row.genres else ""
        score = f"score {row.score:.3f}"
        if hasattr(row, "low"):
            score = f"predicted {row.predicted:.2f}★, 90% interval {row.low:.1f}–{row.high:.1f}"
            if row.model_sd >= UNSURE_SD:
                score += " · **the model is unsure about this one**"
        lines.append(f"{row.rank}. **{_plain(natural_title(row.title))}**{mark}  \n"
                     f"<small>{genres}{score}</small>")
        for field, style in (("because", "*"), ("counterfactual", "")):
            text = getattr(row, field, None)
            if text:
                lines[-1] += f"  \n<small>{style}{_plain(text)}{style}</small>"
    st.markdown("\n".join(lines) or "*no items*", unsafe_allow_html=True)


def interval_figure(frame: pd.DataFrame, title: str) -> go.Figure:
    """A Bayesian model's list as predicted ratings with 90% interval bars, the unsure ones marked."""
    unsure = frame["model_sd"].to_numpy() >= UNSURE_SD
    labels = [f"{r}. {natural_title(t)[:32]}" for r, t in zip(frame["rank"], frame["title"])]
    fig = go.Figure(go.Scatter(
        x=frame["predicted"], y=labels, mode="markers",
        marker={"size": 9, "color": np.where(unsure, "#e4572e", PRIMARY)},
        error_x={"type": "data", "symmetric": False, "array": frame["high"] - frame["predicted"],
                 "arrayminus": frame["predicted"] - frame["low"], "color": "#9a92e8", "thickness": 2},
        customdata=np.c_[frame["low"], frame["high"], frame["model_sd"]],
        hovertemplate="%{y}<br>predicted %{x:.2f}, 90%: %{customdata[0]:.1f}–%{customdata[1]:.1f}"
                      "<br>model's own spread ±%{customdata[2]:.2f}<extra></extra>"))
    fig.update_layout(title=title, height=140 + 26 * len(frame), xaxis_title="rating",
                      yaxis={"autorange": "reversed"}, margin={"l": 10})
    return fig


def posterior_figure(paths: dict[str, dict], title: str) -> go.Figure:
    """Bayesian MF's predicted rating for one item as a user's rated history is folded in, oldest first:
    the posterior mean and its 90% band, one line per history variant (all items, some left out)."""
    fig = go.Figure()
    for (label, path), colour in zip(paths.items(), COLORWAY):
        x = path["items"]
        fig.add_trace(go.Scatter(x=np.r_[x, x[::-1]], y=np.r_[path["high"], path["low"][::-1]],
                                 fill="toself", fillcolor=colour, opacity=0.15, line={"width": 0},
                                 hoverinfo="skip", showlegend=False))
        fig.add_trace(go.Scatter(x=x, y=path["predicted"], mode="lines+markers", name=label,
                                 line={"color": colour}, customdata=np.c_[path["low"], path["high"]],
                                 hovertemplate="after %{x} rated items: %{y:.2f}, 90% "
                                               "%{customdata[0]:.1f}–%{customdata[1]:.1f}<extra></extra>"))
    fig.update_layout(title=title, height=340, xaxis_title="rated history items folded in (oldest first)",
                      yaxis_title="predicted rating")
    return fig


def timeline_figure(timeline: pd.DataFrame, y: str) -> go.Figure:
    """A user's interactions over time, one colour per split part (graph_objects: faster than express
    on a page redrawn at every user switch)."""
    fig = go.Figure()
    for part, rows in timeline.groupby("part", sort=False):
        fig.add_trace(go.Scatter(x=rows["time"], y=rows[y], mode="markers", name=str(part),
                                 marker={"size": 9, "opacity": 0.75}, customdata=rows[["title", "genres"]],
                                 hovertemplate="%{customdata[0]}<br>%{customdata[1]}<br>%{x}<extra></extra>"))
    dated = pd.api.types.is_datetime64_any_dtype(timeline["time"])
    fig.update_layout(height=300, legend_title_text="", yaxis_title=y,
                      xaxis_title="time" if dated else "position in the history (the dataset has no times)",
                      title=f"History timeline: {len(timeline):,} interactions, the last one held out")
    return fig


def lists_table(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """All models' lists in one long table (model, rank, title, ...), for the table view and CSV."""
    return pd.concat([f.assign(model=m) for m, f in frames.items()], ignore_index=True) \
        if frames else pd.DataFrame()


def overlap_heatmap(matrix: pd.DataFrame, title: str) -> go.Figure:
    # graph_objects directly: plotly express costs ~50 ms more per figure, on every user switch
    fig = go.Figure(go.Heatmap(z=matrix.to_numpy(), x=list(matrix.columns), y=list(matrix.index), zmin=0,
                               zmax=1, colorscale="Purples", showscale=False, texttemplate="%{z:.2f}"))
    fig.update_layout(title=title, height=120 + 45 * len(matrix), yaxis={"autorange": "reversed"})
    return fig


def protocol_badge(split, k: int | str = 10, candidates: str = "full ranking",
                   exclude_seen: bool = True) -> None:
    """The protocol behind a number, next to it: split, candidate set, seen-item filter, K."""
    label = (f"{split.description} · {candidates} · "
             f"{'seen items excluded' if exclude_seen else 'seen items kept'} · K={k}")
    st.badge(label, icon=":material/rule:", color="gray",
             help="How these numbers were measured. Sampled candidate sets (as some papers use) are "
                  "never the default here.")


@st.cache_data(show_spinner="Removing each history item and rescoring…", max_entries=128)
def check_rows(dataset: str, model_name: str, history: tuple[int, ...], user: int | None,
               items: tuple[int, ...]) -> list[dict]:
    """The explanation check, one row per recommended item: the rank of the most-credited item's drop
    among all single removals, whether the counterfactual holds when re-scored now, and whether the
    model's terms prove that none can exist."""
    from recsys.explain.counterfactual import excluded_mask, ranks_per_row
    from recsys.explain.history import bind_user
    from recsys.explain.quality import single_removal_drops

    model = bind_user(state.get_trained(dataset, model_name), user)
    titles = state.get_dataset(dataset).items["title"].to_numpy()
    h = np.asarray(history, np.int64)
    explained = explanations(dataset, model_name, history, user, items)
    drops = single_removal_drops(model, h, list(items))
    # every found counterfactual re-scored in one batch of model calls
    found = [e for e in explained if e.counterfactual is not None and e.counterfactual.found]
    rescored = dict(zip((e.item for e in found), ranks_per_row(
        model, [np.delete(h, e.counterfactual.removed) for e in found],
        np.array([e.item for e in found], np.int64), excluded_mask(model.n_items_, h))[0].tolist()))
    rows = []
    for j, e in enumerate(explained):
        row = {"model": state.model_label(model_name), "recommendation": natural_title(titles[e.item]),
               "method": e.method, "uncertainty": e.uncertainty}
        if e.method == "none":
            rows.append({**row, "most-credited item": "—", "its removal drop ranks": "—",
                         "faithful (top 3)": None, "counterfactual": counterfactual_sentence(e, titles),
                         "re-scored rank": None, "counterfactual holds": None, "none can exist": None})
            continue
        check = removal_check(model, e, drops[:, j])
        fact, rank = e.counterfactual, rescored.get(e.item)
        rows.append({**row, "most-credited item": natural_title(titles[h[check.position]]),
                     "its removal drop ranks": f"{check.rank} of {len(h)}",
                     "faithful (top 3)": check.faithful_top3,
                     "counterfactual": counterfactual_sentence(e, titles), "re-scored rank": rank,
                     "counterfactual holds": None if rank is None else rank > fact.cutoff,
                     "none can exist": fact.proved_none})
    return rows
