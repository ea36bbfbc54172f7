"""The charts the pages draw: plotly figures built from frames the library returns (not a page).

Pure functions (no Streamlit calls), so a page is its layout and a chart can be checked in a test by
its traces. Several use graph_objects directly: plotly express costs ~50 ms more per figure, which
shows on pages redrawn at every user switch.
"""
from __future__ import annotations

import zlib

import colorcet as cc
import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import plotly.io as pio

from recsys.explain import natural_title
from recsys.models.registry import BUILTIN

PRIMARY = "#5b4bdb"  # .streamlit/config.toml's primaryColor
LOWERS = "#e4572e"
def _readable_on_white(colour: str) -> bool:
    """WCAG's contrast ratio of at least 3:1 against white, the bar for graphics."""
    rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return 1.05 / (linear @ [0.2126, 0.7152, 0.0722] + 0.05) >= 3


# Categories (genres, segments) and models get colours chosen to be told apart (Glasbey et al. 2007, via
# colorcet), none grey or black (chroma ≥ 20) so the black markers of a user's items stand out on a map,
# and each readable on white: 100+ of them.
CATEGORIES = [c for c in cc.palette["glasbey_bw_minc_20_maxl_70"] if _readable_on_white(c)]
COLORWAY = [PRIMARY, LOWERS, *CATEGORIES]
# One colour per model on every page. The models compared most take the palette's first (most distinct)
# colours; the rest follow in the registry's order, so adding a model moves no other.
_FIRST = ("gpt", "bert", "bpr", "markov", "ease", "itemknn", "userknn", "pop")
_MODEL_ORDER = [*_FIRST, *(name for name in BUILTIN if name not in _FIRST)]
MODEL_COLOURS = {key: CATEGORIES[i] for i, name in enumerate(_MODEL_ORDER)
                 for key in (name, BUILTIN[name].label)}


def model_colour(model: str) -> str:
    """A model's colour, by name or label; models outside the registry (uploads) get a fixed one too."""
    if model in MODEL_COLOURS:
        return MODEL_COLOURS[model]
    return CATEGORIES[len(BUILTIN) + zlib.crc32(model.encode()) % (len(CATEGORIES) - len(BUILTIN))]


def model_colours(models) -> dict[str, str]:
    return {m: model_colour(m) for m in models}


# A prediction is flagged as unsure when the posterior draws' predicted ratings spread by half a star or
# more (their standard deviation): the model's own doubt, beyond the rating noise every prediction has.
UNSURE_SD = 0.5


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


# -- users and lists ----------------------------------------------------------------------------------------
def timeline_figure(timeline: pd.DataFrame, y: str) -> go.Figure:
    """A user's interactions over time, one colour per split part."""
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


def interval_figure(frame: pd.DataFrame, title: str) -> go.Figure:
    """A Bayesian model's list as predicted ratings with 90% interval bars, the unsure ones marked."""
    unsure = frame["model_sd"].to_numpy() >= UNSURE_SD
    labels = [f"{r}. {natural_title(t)[:32]}" for r, t in zip(frame["rank"], frame["title"])]
    fig = go.Figure(go.Scatter(
        x=frame["predicted"], y=labels, mode="markers",
        marker={"size": 9, "color": np.where(unsure, LOWERS, PRIMARY)},
        error_x={"type": "data", "symmetric": False, "array": frame["high"] - frame["predicted"],
                 "arrayminus": frame["predicted"] - frame["low"], "color": "#9a92e8", "thickness": 2},
        customdata=np.c_[frame["low"], frame["high"], frame["model_sd"]],
        hovertemplate="%{y}<br>predicted %{x:.2f}, 90%: %{customdata[0]:.1f}–%{customdata[1]:.1f}"
                      "<br>model's own spread ±%{customdata[2]:.2f}<extra></extra>"))
    fig.update_layout(title=title, height=140 + 26 * len(frame), xaxis_title="rating",
                      yaxis={"autorange": "reversed"}, margin={"l": 10})
    return fig


def overlap_heatmap(matrix: pd.DataFrame, title: str) -> go.Figure:
    fig = go.Figure(go.Heatmap(z=matrix.to_numpy(), x=list(matrix.columns), y=list(matrix.index), zmin=0,
                               zmax=1, colorscale="Purples", showscale=False, texttemplate="%{z:.2f}"))
    fig.update_layout(title=title, height=120 + 45 * len(matrix), yaxis={"autorange": "reversed"})
    return fig


# -- explanations -------------------------------------------------------------------------------------------
def waterfall(base: float, labels: list[str], values: np.ndarray, total: float, title: str,
              start: str = "average prediction") -> go.Figure:
    """From ``start`` (the base value) through each contribution to the total."""
    fig = go.Figure(go.Waterfall(
        orientation="h", measure=["absolute"] + ["relative"] * len(values) + ["total"],
        y=[start, *labels, "score"], x=[base, *values, total], connector={"line": {"color": "#ccc"}},
        increasing={"marker": {"color": PRIMARY}}, decreasing={"marker": {"color": LOWERS}},
        totals={"marker": {"color": "#1f1d2b"}}))
    fig.update_layout(title=title, height=180 + 28 * len(values), yaxis={"autorange": "reversed"})
    return fig


def explanation_waterfall(explanation, titles, shown: int = 10) -> go.Figure:
    """An additive explanation from the empty history to the score: its ``shown`` largest credits, the
    rest as one bar."""
    top = explanation.frame(titles).head(shown)
    rest = explanation.values.sum() - top["contribution"].sum()
    labels = [natural_title(t)[:40] for t in top["title"]]
    labels.append(f"{len(explanation.values) - len(top)} other items")
    return waterfall(explanation.base_value, labels, np.append(top["contribution"], rest),
                     explanation.base_value + float(explanation.values.sum()),
                     "Waterfall: from the empty history to the score", start="empty history")


def contribution_bars(explanation, titles, raises: int = 10, lowers: int = 5) -> go.Figure:
    """The history items that raise the score most, then those that lower it most: a reason and its
    counterweights, with the method's error bars where it has them."""
    ranked = explanation.frame(titles)
    table = pd.concat([ranked[ranked["contribution"] > 0].nlargest(raises, "contribution"),
                       ranked[ranked["contribution"] < 0].nsmallest(lowers, "contribution")])
    table = table.sort_values("contribution").assign(title=lambda t: t["title"].map(natural_title))
    fig = px.bar(table, x="contribution", y="title", orientation="h",
                 error_x="error" if "error" in table else None,
                 color=np.where(table["contribution"] > 0, "raises", "lowers"),
                 color_discrete_map={"raises": PRIMARY, "lowers": LOWERS},
                 hover_data={"position": True}, title="What raises the score most, and what lowers it")
    fig.update_layout(height=520, showlegend=False, yaxis_title="")
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


def attention_figure(matrix: pd.DataFrame, title: str) -> go.Figure:
    fig = px.imshow(matrix, color_continuous_scale="Purples", aspect="auto", title=title,
                    labels={"x": "attends to (key)", "y": "position (query)", "color": "weight"})
    fig.update_layout(height=300 + 16 * len(matrix))
    return fig


# -- embeddings ---------------------------------------------------------------------------------------------
# Black, told apart by shape: no genre colour is black (CATEGORIES).
HIGHLIGHTS = (("history", "circle-open", "#1f1d2b"), ("recommended", "diamond-open", "#000000"),
              ("held out", "star", "#000000"))


def embedding_map(frame: pd.DataFrame, dims: int, color: str, title: str, hover_name: str,
                  hover_data: dict, size_max: int) -> go.Figure:
    """A UMAP scatter (2-D or 3-D) of ``frame``'s x, y (z) columns, sized by its ``size`` column."""
    plot = px.scatter_3d if dims == 3 else px.scatter
    axes = {"x": "x", "y": "y"} | ({"z": "z"} if dims == 3 else {})
    hidden = {axis: False for axis in axes} | {"size": False}
    fig = plot(frame, **axes, color=color, size="size", size_max=size_max, hover_name=hover_name,
               hover_data=hover_data | hidden, title=title, color_discrete_sequence=CATEGORIES)
    legend = {"itemsizing": "constant"}
    if pd.api.types.is_numeric_dtype(frame[color]):
        # A colour scale takes the right edge; the highlighted roles' legend would sit on its title.
        legend |= {"orientation": "h", "yanchor": "top", "y": -0.1, "x": 0}
    fig.update_layout(height=650, legend=legend)
    return fig


def highlight_roles(fig: go.Figure, frame: pd.DataFrame, dims: int,
                    highlights: tuple[tuple[str, str, str], ...] = HIGHLIGHTS, whose: str = "user's "
                    ) -> go.Figure:
    """Marks the user's history, recommendations and held-out item (``frame['role']``) on an item map,
    or other roles given as (role, marker symbol, colour)."""
    for role, symbol, colour in highlights:
        part = frame[frame["role"] == role]
        if not len(part):
            continue
        marker = {"symbol": symbol, "size": 12 if dims == 2 else 6, "color": colour,
                  "line": {"width": 2, "color": colour}}
        trace = dict(x=part["x"], y=part["y"], mode="markers", name=f"{whose}{role}", text=part["title"],
                     hovertemplate="%{text}<extra>" + role + "</extra>", marker=marker)
        if dims == 3:
            fig.add_scatter3d(z=part["z"], **trace)
        else:
            fig.add_scatter(**trace)
    return fig


ITEM_HIGHLIGHTS = (("nearest 10", "diamond-open", "#8a7fe0"), ("this item", "star", "#000000"))


def item_on_map(frame: pd.DataFrame, title: str) -> go.Figure:
    """A small 2-D item map: every item a faint grey dot, the item (``role`` "this item", a black star) on
    top of its nearest items in the model's own vector space ("nearest 10", violet open diamonds)."""
    fig = go.Figure(go.Scattergl(x=frame["x"], y=frame["y"], mode="markers", name="other items",
                                 text=frame["title"], hovertemplate="%{text}<extra></extra>",
                                 marker={"size": 3, "color": "#c9c9d4"}))
    highlight_roles(fig, frame, 2, ITEM_HIGHLIGHTS, whose="")
    # larger, with a white rim: the star sits among its neighbours' diamonds
    fig.update_traces(selector={"name": "this item"},
                      marker={"size": 20, "line": {"width": 1, "color": "white"}})
    fig.update_layout(title=title, height=380, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      legend={"orientation": "h", "y": -0.05, "title": ""})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


# -- evaluation ---------------------------------------------------------------------------------------------
def metric_bars(means: pd.DataFrame, metric: str) -> go.Figure:
    fig = px.bar(means.sort_values(metric), x=metric, y="model", orientation="h", color="model",
                 color_discrete_map=model_colours(means["model"]), title=f"{metric} on the test split")
    fig.update_layout(height=170 + 40 * len(means), yaxis_title="", showlegend=False)
    return fig


def segment_bars(table: pd.DataFrame, metric: str, title: str, errors: pd.DataFrame | None = None) -> go.Figure:
    """``segment_means``' table as grouped bars, each segment labelled with its number of users, and
    ``segment_errors``' 95% intervals as error bars when given."""
    long = table.drop(columns="users").reset_index().melt(id_vars="segment", var_name="model",
                                                          value_name=metric)
    if errors is not None:
        long["error"] = errors.reset_index().melt(id_vars="segment", var_name="model")["value"].to_numpy()
        # every per-user metric is at least 0: an interval drawn below it would show impossible values
        long["error below"] = np.minimum(long["error"], long[metric].clip(lower=0))
    fig = px.bar(long, x="segment", y=metric, color="model", barmode="group", title=f"{metric} {title}",
                 error_y="error" if errors is not None else None,
                 error_y_minus="error below" if errors is not None else None,
                 color_discrete_map=model_colours(long["model"].unique()))
    fig.update_xaxes(title="", tickangle=0, ticktext=[f"{s}<br>{n:,} users" for s, n in table["users"].items()],
                     tickvals=list(table.index))
    fig.update_layout(legend={"orientation": "h", "y": -0.25, "title": ""})
    return fig


def exposure_figure(curves: pd.DataFrame, catalogue: pd.DataFrame) -> go.Figure:
    fig = px.line(curves, x="decile", y="share of slots", color="model", markers=True,
                  color_discrete_map=model_colours(curves["model"].unique()),
                  title="Share of top-10 slots by item popularity decile (1 = the most popular 10%)")
    fig.add_scatter(x=catalogue["decile"], y=catalogue["share of interactions"],
                    name="share of interactions", line={"dash": "dot", "color": "#999"})
    # the legend below the plot, in rows: a dozen models listed down the side were cut off
    fig.update_layout(height=520, legend={"orientation": "h", "y": -0.2, "title": ""})
    return fig


def pairs_scatter(pairs: pd.DataFrame, first: str, second: str, metric: str) -> go.Figure:
    """Per-user values of two models against each other, with the diagonal."""
    fig = px.scatter(pairs, x=second, y=first, hover_name="user", opacity=0.5,
                     title=f"Per-user {metric}: points above the diagonal favour {first}")
    top = float(max(np.nanmax(pairs[first]), np.nanmax(pairs[second]), 1e-9))
    fig.add_shape(type="line", x0=0, y0=0, x1=top, y1=top, line={"dash": "dot", "color": "#999"})
    fig.update_layout(height=450)
    return fig


def pairs_heatmap(matrix: pd.DataFrame, metric: str) -> go.Figure:
    """``recsys.compare.pairs_matrix``: row − column differences, coloured only where significant."""
    diff, significant = matrix["difference"], matrix["significant"].astype(bool)
    text = diff.map(lambda d: "" if pd.isna(d) else f"{d:+.4f}")
    shown = diff.where(significant)
    top = float(np.nanmax(np.abs(diff.to_numpy()))) if diff.notna().to_numpy().any() else 1.0
    verdict = np.where(significant, np.where(diff > 0, "row beats column", "column beats row"),
                       "cannot be told apart")
    fig = go.Figure(go.Heatmap(z=shown, x=list(diff.columns), y=list(diff.index), text=text,
                               texttemplate="%{text}", zmid=0, zmin=-top, zmax=top, colorscale="RdBu",
                               customdata=verdict, showscale=False, xgap=2, ygap=2,
                               hovertemplate="%{y} − %{x}: %{text}<br>%{customdata}<extra></extra>"))
    fig.update_layout(height=160 + 36 * len(diff), plot_bgcolor="#f2f2f2",
                      title=f"{metric}: row minus column (blue: the row is better, red: worse, grey: "
                            "cannot be told apart)")
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(side="top", tickangle=0)
    return fig


def training_curve(curves: pd.DataFrame, quantity: str) -> go.Figure:
    """``state.training_curves`` for one quantity: a line per model over its epochs."""
    rows = curves[curves["quantity"] == quantity]
    fig = px.line(rows, x="step", y="value", color="model", markers=True,
                  color_discrete_map=model_colours(rows["model"].unique()),
                  labels={"step": "epoch (BPMF: sampler sweep)", "value": quantity},
                  title=f"{quantity} per epoch, as recorded while training")
    fig.update_layout(height=380, legend_title_text="")
    return fig

