"""Embeddings: UMAP maps of each model's item vectors, with the chosen user's history and
recommendations highlighted."""
import numpy as np
import plotly.express as px
import streamlit as st

from views import state, widgets
from recsys.projection import (cached_projection, cached_user_vectors, item_projection_frame,
                               user_projection_frame)

name, ds, built = state.open_page("Embeddings")

with_vectors = [m for m in built if state.get_trained(name, m).item_embeddings() is not None]
if not with_vectors:
    state.offer_build(name, ["bpr", "gpt", "bert"], "the embedding maps")
    st.stop()
chosen = [m for m in state.current_models() if m in with_vectors]
a, b, c, d = st.columns(4)
model_name = a.selectbox("Model", with_vectors, index=with_vectors.index(chosen[0]) if chosen else 0,
                         format_func=state.model_label, key="emb-model")
kind = b.radio("Map of", ["items", "users"], horizontal=True, key="emb-kind")
dims = d.radio("Dimensions", [2, 3], horizontal=True, key="emb-dims")
model = state.get_trained(name, model_name)
user = state.current_user()
plot = px.scatter_3d if dims == 3 else px.scatter
axes = {"x": "x", "y": "y"} | ({"z": "z"} if dims == 3 else {})


def not_computed(what: str, compute) -> None:
    st.info(f"The {dims}-D UMAP map of {state.model_label(model_name)}'s {what} is not computed yet "
            "(`make build` computes the 2-D maps; the first UMAP call in a process takes ~40 s).")
    if st.button("Compute it now", type="primary"):
        with st.spinner("Running UMAP…"):
            compute()
        st.rerun()
    st.stop()


if kind == "users":
    split = state.get_split(name)
    key = state.artifact_key(name, model_name).name
    found = cached_user_vectors(model, split.test, key, compute=False)
    coords = None if found is None else cached_projection(found[1], dims=dims, compute=False)
    if coords is None:
        not_computed("users", lambda: cached_projection(
            cached_user_vectors(model, split.test, key)[1], dims=dims))
    users = found[0]
    lengths = split.test.histories.lengths[np.searchsorted(split.test.users, users)]
    frame = user_projection_frame(ds, users, coords, lengths)
    options = ["history length"] + [col for col in ("age", "gender", "occupation") if col in frame]
    colour = c.radio("Colour by", options, horizontal=True, key="emb-ucolour")
    frame["log history"] = np.log1p(frame["history"])
    frame["size"] = np.where(frame["user"] == user, 14, 4)
    fig = plot(frame, **axes, color="log history" if colour == "history length" else colour,
               size="size", size_max=14, hover_name="user_id",
               hover_data={"history": True, "x": False, "y": False, "size": False},
               title=f"{state.model_label(model_name)}: {len(frame):,} users (embedding of their "
                     "history), UMAP (cosine)")
    fig.update_layout(height=650)
    st.plotly_chart(fig)
    st.caption("The chosen user is the large point. Users with similar histories in this model's "
               "view sit together.")
    st.stop()

colour = c.radio("Colour by", ["genre", "popularity", "year"], horizontal=True, key="emb-colour")
vectors = model.item_embeddings()
coords = cached_projection(vectors, dims=dims, compute=False)
if coords is None:
    not_computed("items", lambda: cached_projection(vectors, dims=dims))

frame = item_projection_frame(ds, coords)
frame["role"] = "other items"
if user is not None:
    ctx = state.user_context(name, user)
    recs = widgets.recommendation_frame(name, model_name, tuple(ctx.history.tolist()), user, 10)
    frame.loc[ctx.history, "role"] = "history"
    frame.loc[recs["item"].to_numpy(), "role"] = "recommended"
    frame.loc[ctx.target, "role"] = "held out"
frame["size"] = np.where(frame["role"] == "other items", 3, 10)
frame["log popularity"] = np.log1p(frame["popularity"])
colour_column = {"genre": "genre", "popularity": "log popularity", "year": "year"}[colour]
fig = plot(frame, **axes, color=colour_column, size="size", size_max=9 if dims == 2 else 6,
           hover_name="title", hover_data={"genres": True, "year": True, "popularity": True, "role": True,
                                           "x": False, "y": False, "size": False},
           title=f"{state.model_label(model_name)}: {len(frame):,} items, UMAP (cosine)")
highlight = frame[frame["role"] != "other items"]
for role, symbol, colour_ in (("history", "circle-open", "#1f1d2b"), ("recommended", "diamond", "#e4572e"),
                              ("held out", "x", "#17bebb")):
    part = highlight[highlight["role"] == role]
    if not len(part):
        continue
    marker = {"symbol": symbol, "size": 12 if dims == 2 else 6, "color": colour_,
              "line": {"width": 2, "color": colour_}}
    trace = dict(x=part["x"], y=part["y"], mode="markers", name=f"user's {role}", text=part["title"],
                 hovertemplate="%{text}<extra>" + role + "</extra>", marker=marker)
    if dims == 3:
        fig.add_scatter3d(z=part["z"], **trace)
    else:
        fig.add_scatter(**trace)
fig.update_layout(height=650, legend={"itemsizing": "constant"})
st.plotly_chart(fig)
if user is not None:
    st.caption(f"User {ctx.raw_id}: {len(ctx.history)} history items (open circles), "
               f"{state.model_label(model_name)}'s top 10 (diamonds), the held-out item (×).")
