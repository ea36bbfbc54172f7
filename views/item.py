"""Item: one item's page — what it is, who interacted and how they rated it, which test users each model
recommends it to, its nearest items per model and where it sits on each model's map. Titles elsewhere
link here (``?item=<id>``)."""
import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from views import figures, state, widgets
from recsys.compare import recommended_to
from recsys.projection import cached_projection, item_projection_frame

name, ds, built = state.open_page("Item")
labels = widgets.item_labels(name)
popularity = ds.item_popularity()
item = state.item_from_url(ds, default=int(np.argmax(popularity)))
item = st.selectbox("Item", np.arange(ds.n_items), index=item, format_func=lambda i: labels[i],
                    filter_mode="contains")
st.query_params[state.ITEM_KEY] = str(ds.item_ids[item])

rank = int((popularity > popularity[item]).sum()) + 1
who = ds.interactions_of(item)
cols = st.columns(4)
cols[0].metric("Item id", str(ds.item_ids[item]))
cols[1].metric("Interactions", f"{int(popularity[item]):,}")
cols[2].metric("Popularity rank", f"#{rank:,} of {ds.n_items:,}")
if ds.has_ratings and len(who):
    cols[3].metric("Mean rating", f"{who['rating'].mean():.2f}★", help=f"over {len(who):,} ratings")
st.caption(ds.items["text"].iloc[item] or "This item has no title, genres or text of its own.")

left, right = st.columns(2)
with left:
    st.subheader("Who interacted")
    if ds.has_ratings and len(who):
        fig = px.histogram(who, x="rating", nbins=5, title=f"{len(who):,} ratings of this item")
        fig.update_layout(height=260, bargap=0.1)
        st.plotly_chart(fig)
    shown = who.sort_values("time", ascending=False).head(200)
    shown.insert(0, "open", [state.user_url(name, u) for u in shown["user"]])
    st.dataframe(shown, hide_index=True, height=300, column_config={
        "open": st.column_config.LinkColumn("open", display_text="Users page ↗", width="small")})
with right:
    st.subheader("Who gets it recommended")
    rows = []
    for model in built:
        evaluation = state.get_evaluation(name, model)
        if evaluation is None or "lists" not in evaluation:
            continue
        users = recommended_to(evaluation, item, k=10)
        rows.append({"model": state.model_label(model), "test users": len(users),
                     "share": 100 * len(users) / len(evaluation["users"]),
                     "for example": ", ".join(str(ds.user_ids[u]) for u in users[:5])})
    if rows:
        st.dataframe(pd.DataFrame(rows).sort_values("test users", ascending=False), hide_index=True,
                     height=3 + 35 * (len(rows) + 1),  # every model in view
                     column_config={"share": st.column_config.NumberColumn(format="%.1f%%")})
        st.caption("Test users whose top 10 (as evaluated) holds this item.")
    else:
        st.caption("No built model has stored its test lists yet.")

st.subheader("Nearest items, per model")
vectors = {m: v for m in state.current_models() or built
           if m in built and (v := state.get_trained(name, m).item_embeddings()) is not None}
with_vectors = list(vectors)
nearest = {m: state.item_index(name, m).similar_items(item, k=10) for m in with_vectors}
for column, (model, (near, similarity)) in zip(st.columns(max(1, len(with_vectors))), nearest.items()):
    column.markdown(f"**{state.model_label(model)}**")
    column.dataframe(pd.DataFrame({"item": labels[near], "similarity": similarity}), hide_index=True)
if not with_vectors:
    st.caption("None of the chosen models has item vectors (GPT, BERT4Rec and MF do).")
    st.stop()

st.subheader("Where it sits on each map")
maps = {m: coords for m, v in vectors.items()
        if (coords := cached_projection(v, dims=2, compute=False)) is not None}
for start in range(0, len(maps), 3):
    for column, (model, coords) in zip(st.columns(3), list(maps.items())[start:start + 3]):
        frame = item_projection_frame(ds, coords).assign(role="other items", title=labels)
        frame.loc[nearest[model][0], "role"] = "nearest 10"
        frame.loc[item, "role"] = "this item"
        column.plotly_chart(figures.item_on_map(frame, state.model_label(model)))
missing = [state.model_label(m) for m in with_vectors if m not in maps]
if maps:
    st.caption("UMAP maps of each model's item vectors (the Embeddings page draws them large): the star is "
               "this item, the diamonds its 10 nearest items in the model's own space — UMAP keeps most "
               "neighbours close, not all.")
if missing:
    st.caption(f"No map stored yet for {', '.join(missing)}: `make build` computes them, or the Embeddings "
               "page's **Compute it now**.")
