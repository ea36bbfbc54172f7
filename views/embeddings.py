"""Embeddings: UMAP maps of each model's item vectors, with the chosen user's history and
recommendations highlighted, and of the test users' history vectors."""
import numpy as np
import streamlit as st

from views import figures, state, widgets
from recsys.projection import (cached_projection, cached_user_vectors, item_colourings,
                               item_projection_frame, user_projection_frame)

name, ds, built = state.open_page("Embeddings")
with_vectors = [m for m in built if state.get_trained(name, m).item_embeddings() is not None]
if not with_vectors:
    state.offer_build(name, ["bpr", "gpt", "bert"], "the embedding maps")
    st.stop()
chosen = [m for m in state.current_models() if m in with_vectors]
a, b, c, d = st.columns(4)
model_name = a.selectbox("Model", with_vectors, index=with_vectors.index(chosen[0]) if chosen else 0,
                         format_func=state.model_label, key="emb-model", bind="query-params")
kind = b.radio("Map of", ["items", "users"], horizontal=True, key="emb-kind", bind="query-params")
dims = d.radio("Dimensions", [2, 3], horizontal=True, key="emb-dims", bind="query-params")
model, label, user = state.get_trained(name, model_name), state.model_label(model_name), state.current_user()


def projected(what: str, vectors, compute_vectors=None) -> np.ndarray:
    """The stored UMAP coordinates, or a button that computes them (`make build` stores the 2-D maps)."""
    coords = None if vectors is None else cached_projection(vectors, dims=dims, compute=False)
    if coords is not None:
        return coords
    st.info(f"The {dims}-D UMAP map of {label}'s {what} is not computed yet (`make build` computes the "
            "2-D maps; the first UMAP call in a process takes ~40 s).")
    if st.button("Compute it now", type="primary"):
        with st.spinner("Running UMAP…"):
            cached_projection(vectors if vectors is not None else compute_vectors(), dims=dims)
        st.rerun()
    st.stop()


if kind == "users":
    split, key = state.get_split(name), state.artifact_key(name, model_name).name
    found = cached_user_vectors(model, split.test, key, compute=False)
    coords = projected("users", None if found is None else found[1],
                       lambda: cached_user_vectors(model, split.test, key)[1])
    lengths = split.test.histories.lengths[np.searchsorted(split.test.users, found[0])]
    frame = user_projection_frame(ds, found[0], coords, lengths)
    colour = c.radio("Colour by", ["history length"] + [col for col in ("age", "gender", "occupation")
                                                         if col in frame], horizontal=True,
                     key="emb-ucolour", bind="query-params")
    frame = frame.assign(**{"log history": np.log1p(frame["history"]),
                            "size": np.where(frame["user"] == user, 14, 4)})
    st.plotly_chart(figures.embedding_map(
        frame, dims, "log history" if colour == "history length" else colour,
        f"{label}: {len(frame):,} users (embedding of their history), UMAP (cosine)", "user_id",
        {"history": True}, 14))
    st.caption("The chosen user is the large point. Users with similar histories in this model's "
               "view sit together.")
    st.stop()

offered = item_colourings(ds)  # a bare-id catalogue (Amazon Beauty) has no genres or years
colour = c.radio("Colour by", offered, horizontal=True, key="emb-colour", bind="query-params")
frame = item_projection_frame(ds, projected("items", model.item_embeddings())).assign(
    role="other items", title=widgets.item_labels(name))  # hover names in natural order, with the year
if user is not None:
    ctx = state.user_context(name, user)
    recs = widgets.recommendation_frame(name, model_name, tuple(ctx.history.tolist()), user, 10)
    for role, items in (("history", ctx.history), ("recommended", recs["item"].to_numpy()),
                        ("held out", ctx.target)):
        frame.loc[items, "role"] = role
frame = frame.assign(size=np.where(frame["role"] == "other items", 3, 10),
                     **{"log popularity": np.log1p(frame["popularity"])})
fig = figures.embedding_map(frame, dims, {"popularity": "log popularity"}.get(colour, colour),
                            f"{label}: {len(frame):,} items, UMAP (cosine)", "title",
                            {"genres": "genre" in offered, "year": "year" in offered, "popularity": True,
                             "role": True},
                            9 if dims == 2 else 6)
st.plotly_chart(figures.highlight_roles(fig, frame, dims))
if user is not None:
    st.caption(f"User {ctx.raw_id}: {len(ctx.history)} history items (open circles), "
               f"{label}'s top 10 (open diamonds), the held-out item (star).")
