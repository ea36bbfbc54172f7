"""Embeddings: UMAP maps of each model's item vectors, with the chosen user's history and
recommendations highlighted."""
import numpy as np
import plotly.express as px
import streamlit as st

from views import state, widgets
from recsys.errors import RecsysError
from recsys.projection import cached_projection, item_projection_frame

name = state.current_dataset()
st.title("Embeddings")
try:
    ds = state.get_dataset(name)
    built = state.built_models(name)
except RecsysError as e:
    state.show_error(e)
    st.stop()

with_vectors = [m for m in built if state.get_trained(name, m).item_embeddings() is not None]
if not with_vectors:
    state.offer_build(name, ["bpr", "gpt", "bert"], "the embedding maps")
    st.stop()
chosen = [m for m in state.current_models() if m in with_vectors]
a, b, c = st.columns(3)
model_name = a.selectbox("Model", with_vectors, index=with_vectors.index(chosen[0]) if chosen else 0,
                         format_func=state.model_label, key="emb-model")
colour = b.radio("Colour by", ["genre", "popularity", "year"], horizontal=True, key="emb-colour")
dims = c.radio("Dimensions", [2, 3], horizontal=True, key="emb-dims")

vectors = state.get_trained(name, model_name).item_embeddings()
coords = cached_projection(vectors, dims=dims, compute=False)
if coords is None:
    st.info(f"The {dims}-D UMAP map of {state.model_label(model_name)} is not computed yet "
            "(`make build` computes the 2-D maps; the first UMAP call in a process takes ~40 s).")
    if st.button("Compute it now", type="primary"):
        with st.spinner("Running UMAP…"):
            cached_projection(vectors, dims=dims)
        st.rerun()
    st.stop()

frame = item_projection_frame(ds, coords)
frame["role"] = "other items"
user = state.current_user()
if user is not None:
    ctx = state.user_context(name, user)
    recs = widgets.recommendation_frame(name, model_name, tuple(ctx.history.tolist()), user, 10,
                                        explain=False)
    frame.loc[ctx.history, "role"] = "history"
    frame.loc[recs["item"].to_numpy(), "role"] = "recommended"
    frame.loc[ctx.target, "role"] = "held out"
frame["size"] = np.where(frame["role"] == "other items", 3, 10)
frame["log popularity"] = np.log1p(frame["popularity"])
colour_column = {"genre": "genre", "popularity": "log popularity", "year": "year"}[colour]
plot = px.scatter_3d if dims == 3 else px.scatter
axes = {"x": "x", "y": "y"} | ({"z": "z"} if dims == 3 else {})
fig = plot(frame, **axes, color=colour_column, size="size", size_max=9 if dims == 2 else 6,
           hover_name="title", hover_data={"genres": True, "year": True, "popularity": True, "role": True,
                                           "x": False, "y": False, "size": False},
           title=f"{state.model_label(model_name)}: {len(frame):,} items, UMAP (cosine)")
highlight = frame[frame["role"] != "other items"]
if len(highlight) and dims == 2:
    for role, symbol, colour_ in (("history", "circle-open", "#1f1d2b"), ("recommended", "star", "#e4572e"),
                                  ("held out", "x", "#17bebb")):
        part = highlight[highlight["role"] == role]
        fig.add_scatter(x=part["x"], y=part["y"], mode="markers", name=f"user's {role}",
                        text=part["title"], hovertemplate="%{text}<extra>" + role + "</extra>",
                        marker={"symbol": symbol, "size": 12, "color": colour_,
                                "line": {"width": 2, "color": colour_}})
fig.update_layout(height=650, legend={"itemsizing": "constant"})
st.plotly_chart(fig)
if user is not None:
    st.caption(f"User {ctx.raw_id}: {len(ctx.history)} history items (open circles), "
               f"{state.model_label(model_name)}'s top 10 (stars), the held-out item (×).")
