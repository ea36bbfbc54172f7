"""Explanations: history SHAP for one recommendation (bars and waterfall), attention heat-maps of the
transformers, and feature SHAP of the feature model."""
import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from views import state, widgets
from recsys.errors import RecsysError
from recsys.explain import (attention_frame, attention_matrix, available_methods, because_you_watched,
                            counterfactual_sentence, feature_shap, natural_title)
from recsys.explain.methods import LABELS, NOTES

name = state.current_dataset()
st.title("Explanations")
try:
    ds = state.get_dataset(name)
    built = state.built_models(name)
    user = state.current_user()
    ctx = state.user_context(name, user) if user is not None else None
except RecsysError as e:
    state.show_error(e)
    st.stop()
if ctx is None or not built:
    state.offer_build(name, [m for m in state.PREFERRED if m not in built], "explanations")
    st.stop()
titles = ds.items["title"]


def waterfall(base: float, labels: list[str], values: np.ndarray, total: float, title: str) -> go.Figure:
    fig = go.Figure(go.Waterfall(
        orientation="h", measure=["absolute"] + ["relative"] * len(values) + ["total"],
        y=["empty history" if "history" in title else "average prediction"] + labels + ["score"],
        x=[base, *values, total], connector={"line": {"color": "#ccc"}},
        increasing={"marker": {"color": widgets.PRIMARY}}, decreasing={"marker": {"color": "#e4572e"}},
        totals={"marker": {"color": "#1f1d2b"}}))
    fig.update_layout(title=title, height=180 + 28 * len(values), yaxis={"autorange": "reversed"})
    return fig


# -- why this item ----------------------------------------------------------------------------------------
st.subheader(f"Why this item, for user {ctx.raw_id}?")
chosen = [m for m in state.current_models() if m in built] or built
a, b, c = st.columns([1, 2, 1])
model_name = a.selectbox("Model", built, index=built.index(chosen[0]), format_func=state.model_label,
                         key="ex-model")
recs = widgets.recommendation_frame(name, model_name, tuple(ctx.history.tolist()), user, 10)
item = b.selectbox("Recommendation", recs["item"].to_numpy(), key="ex-item",
                   format_func=lambda i: f"#{int(np.flatnonzero(recs['item'] == i)[0]) + 1} "
                                         f"{natural_title(titles.iloc[i])}")
model = state.get_trained(name, model_name)
methods = available_methods(model)
method = c.selectbox("Method", methods, key="ex-method", format_func=lambda m: LABELS.get(m, m),
                     help="The first is this model's default, chosen by measurement (README, "
                          "“Explanations”); the others are there to compare")
history = tuple(ctx.history.tolist())
# The default method reads the very object the Users page shows; another method is computed here.
explanation = widgets.explanations(name, model_name, history, user, (int(item),),
                                   None if method == methods[0] else method)[0]
ratings = state.history_ratings(name, ctx)
st.markdown(f"**{because_you_watched(explanation, titles.to_numpy(), ratings=ratings)}.**")
st.markdown(counterfactual_sentence(explanation, titles.to_numpy()))
settings = ", ".join(f"{k} {v}" for k, v in explanation.settings.items()
                     if k != "reason" and not (k == "path" and v == "history"))
st.caption(f"{state.model_label(model_name)} · {LABELS.get(explanation.method, explanation.method)}"
           f" · {explanation.uncertainty}{' · ' + settings if settings else ''}. "
           + NOTES.get(explanation.method, ""))
if explanation.method != "none":
    # The items that raise the score most, then those that lower it most: a reason and its counterweights
    ranked = explanation.frame(titles)
    table = pd.concat([ranked[ranked["contribution"] > 0].nlargest(10, "contribution"),
                       ranked[ranked["contribution"] < 0].nsmallest(5, "contribution")])
    table = table.sort_values("contribution", ascending=False)
    table["title"] = table["title"].map(natural_title)
    left, right = st.columns(2)
    bars = px.bar(table.iloc[::-1], x="contribution", y="title", orientation="h",
                  error_x="error" if "error" in table else None,
                  color=np.where(table["contribution"].iloc[::-1] > 0, "raises", "lowers"),
                  color_discrete_map={"raises": widgets.PRIMARY, "lowers": "#e4572e"},
                  hover_data={"position": True},
                  title="What raises the score most, and what lowers it")
    bars.update_layout(height=520, showlegend=False, yaxis_title="")
    left.plotly_chart(bars)
    if explanation.additive:
        shown = explanation.frame(titles).head(10)
        rest = explanation.values.sum() - shown["contribution"].sum()
        labels = [natural_title(t)[:40] for t in shown["title"]] + [
            f"{len(explanation.values) - len(shown)} other items"]
        right.plotly_chart(waterfall(explanation.base_value, labels, np.append(shown["contribution"], rest),
                                     explanation.base_value + float(explanation.values.sum()),
                                     "Waterfall: from the empty history to the score"))
    else:
        right.markdown("**This case, checked**")
        right.dataframe(pd.DataFrame(widgets.check_rows(name, model_name, history, user, (int(item),)))
                        .drop(columns=["model", "recommendation"]).T.astype(str).rename(columns={0: ""}))

# -- uncertainty: Bayesian MF -------------------------------------------------------------------------------
st.subheader("How sure? Bayesian MF's posterior for this item")
if "bpmf" not in built:
    state.offer_build(name, ["bpmf"], "prediction intervals", key="build-bpmf")
else:
    bayes = state.get_trained(name, "bpmf")
    left_out = st.multiselect("Leave these history items out", ctx.history[::-1], key="ex-bpmf-out",
                              format_func=lambda i: natural_title(titles.iloc[i]),
                              placeholder="Most recent first…")
    variants = {"all rated items": ctx.history}
    if left_out:
        variants[f"without {len(left_out)} item(s)"] = ctx.history[~np.isin(ctx.history, left_out)]
    paths = {label: bayes.posterior_path(h, [ratings[int(i)] for i in h], int(item))
             for label, h in variants.items()}
    st.plotly_chart(widgets.posterior_figure(paths, f"{natural_title(titles.iloc[int(item)])}: predicted "
                                                    f"rating for user {ctx.raw_id}"))
    ends = [f"{label}: {p['predicted'][-1]:.2f}★ (90% {p['low'][-1]:.1f}–{p['high'][-1]:.1f}, "
            f"model's own spread ±{p['model_sd'][-1]:.2f})" for label, p in paths.items()]
    st.caption("Each point folds the user's ratings so far into the posterior of their taste (one "
               "Gaussian per kept Gibbs draw); the band is the 90% predictive interval, rating noise "
               "included. " + " · ".join(ends))

# -- attention --------------------------------------------------------------------------------------------
st.subheader("Attention")
transformers = [m for m in built if hasattr(state.get_trained(name, m), "attention")]
if not transformers:
    state.offer_build(name, ["gpt", "bert"], "attention maps", key="build-attn")
else:
    a, b, c, d = st.columns(4)
    t_name = a.selectbox("Transformer", transformers, format_func=state.model_label, key="ex-tf")
    t_model = state.get_trained(name, t_name)
    frame = attention_frame(t_model, ctx.history, titles)
    layer = b.selectbox("Layer", sorted(frame["layer"].unique()), index=int(frame["layer"].max()),
                        key="ex-layer")
    head = c.selectbox("Head", ["mean of heads", *sorted(frame["head"].unique())], key="ex-head")
    last = d.slider("Last positions", 5, int(frame["query"].max()) + 1,
                    min(30, int(frame["query"].max()) + 1), key="ex-last")
    matrix = attention_matrix(frame, int(layer), None if head == "mean of heads" else int(head))
    matrix = matrix.iloc[-last:, -last:]
    fig = px.imshow(matrix, color_continuous_scale="Purples", aspect="auto",
                    labels={"x": "attends to (key)", "y": "position (query)", "color": "weight"},
                    title=f"{state.model_label(t_name)}, layer {layer}, {head if isinstance(head, str) else f'head {head}'}")
    fig.update_layout(height=300 + 16 * last)
    st.plotly_chart(fig)
    st.caption("Rows are the positions the model reads (oldest first); each row sums to 1 over the "
               "whole history. GPT's last row and BERT's [MASK] row make the recommendation.")

# -- feature SHAP -----------------------------------------------------------------------------------------
st.subheader("Feature SHAP")
if "features" not in built:
    state.offer_build(name, ["features"], "feature SHAP", key="build-feat")
else:
    f_model = state.get_trained(name, "features")
    f_item = st.selectbox("Item", recs["item"].to_numpy(), key="ex-fitem",
                          format_func=lambda i: str(titles.iloc[i]))
    with st.spinner("Feature SHAP (the first one in a server compiles shap's kernels, about 9 s)…"):
        fx = feature_shap(f_model, user, int(f_item))
    table = fx.frame()
    st.plotly_chart(waterfall(fx.base_value, [f"{f} = {v}" for f, v in zip(table["feature"], table["value"])],
                              table["shap"].to_numpy(), fx.prediction,
                              f"Predicted rating {fx.prediction:.2f} for {titles.iloc[int(f_item)]}"))
    st.caption("The feature model predicts a rating from user age, gender, occupation and item genres, "
               "year and popularity only; exact Shapley values against 100 random (user, item) pairs.")
    st.dataframe(pd.DataFrame(table), hide_index=True)
