"""Widgets and drawing helpers several pages share (not a page).

Computation lives in recsys; these functions glue it to Streamlit: cached recommendation lists with their
"because you watched" lines, the plotly theme, the re-rank knobs.
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
from recsys.explain import because_you_watched, explain_items, removal_check
from recsys.rerank import recommend_reranked

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


def rerank_knobs(key: str) -> tuple[int, float, float]:
    """k, MMR λ and popularity penalty, side by side."""
    a, b, c = st.columns(3)
    k = a.number_input("List length k", 1, 100, 10, key=f"{key}-k")
    lam = b.slider("MMR λ (1 = model order, lower = more diverse genres)", 0.0, 1.0, 1.0, 0.05,
                   key=f"{key}-lam")
    penalty = c.slider("Popularity penalty", 0.0, 1.0, 0.0, 0.05, key=f"{key}-pop",
                       help="Subtracts this times the item's scaled log popularity from its relevance")
    return int(k), float(lam), float(penalty)


@st.cache_resource(show_spinner=False)
def _genre_vectors(dataset: str) -> np.ndarray:
    return state.get_dataset(dataset).genre_matrix()[0].toarray()


def recommendation_frame(dataset: str, model_name: str, history: tuple[int, ...], user: int | None,
                         k: int, lam: float = 1.0, penalty: float = 0.0, explain: bool = True,
                         target: tuple[int, ...] = ()) -> pd.DataFrame:
    """A model's list for a history (and known user, which per-user models use), with a
    "because you watched" line per item from a fast history SHAP (recent 20 items as players)."""
    return _recommendation_frame(dataset, model_name, state.artifact_version(dataset, model_name),
                                 history, user, k, lam, penalty, explain, target)


@st.cache_data(show_spinner=False, max_entries=512)
def _recommendation_frame(dataset, model_name, version, history, user, k, lam, penalty, explain,
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
    if explain and len(h) and len(items):
        explained = explain_items(model, h, items, max_players=20, permutations=1)
        frame["because"] = [because_you_watched(e, titles) for e in explained]
    return frame


def _plain(text) -> str:
    """Data text (titles, genres) shown as-is in markdown that allows HTML: HTML is escaped to
    entities first, then markdown's special characters are backslash-escaped."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~$])", r"\\\1", html.escape(str(text), quote=False))


def show_list(frame: pd.DataFrame) -> None:
    """A recommendation list as numbered lines: title, genres, score, and the reason when present."""
    lines = []
    for row in frame.itertuples(index=False):
        mark = " 🎯 **held out**" if getattr(row, "hit", False) else ""
        lines.append(f"{row.rank}. **{_plain(row.title)}**{mark}  \n"
                     f"<small>{_plain(row.genres)} · score {row.score:.3f}</small>")
        because = getattr(row, "because", None)
        if because:
            lines[-1] += f"  \n<small>*{_plain(because)}*</small>"
    st.markdown("\n".join(lines) or "*no items*", unsafe_allow_html=True)


def lists_table(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """All models' lists in one long table (model, rank, title, ...), for the table view and CSV."""
    return pd.concat([f.assign(model=m) for m, f in frames.items()], ignore_index=True) \
        if frames else pd.DataFrame()


def overlap_heatmap(matrix: pd.DataFrame, title: str) -> go.Figure:
    fig = px.imshow(matrix, text_auto=".2f", zmin=0, zmax=1, color_continuous_scale="Purples",
                    title=title, aspect="auto")
    fig.update_layout(height=120 + 45 * len(matrix), coloraxis_showscale=False)
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
def removal_row(dataset: str, model_name: str, history: tuple[int, ...], item: int) -> dict:
    """One row of the Users page's explanation check (see recsys.explain.removal_check)."""
    model = state.get_trained(dataset, model_name)
    titles = state.get_dataset(dataset).items["title"]
    explanation = explain_items(model, np.asarray(history), [item], permutations=1)[0]
    check = removal_check(model, explanation)
    return {"model": state.model_label(model_name), "recommendation": titles.iloc[item],
            "most-credited item": titles.iloc[int(history[check.position])],
            "score drop": round(check.drop, 4), "rank of that drop": f"{check.rank} of {len(history)}",
            "holds": check.rank == 1}
