"""Items: semantic text search over item descriptions, and similar items per model through FAISS."""
import numpy as np
import pandas as pd
import streamlit as st

from views import state, widgets
from recsys.errors import RecsysError
from recsys.explain import natural_titles
from recsys.index import ItemIndex, approximate_overlap
from recsys.search import SEARCHED

name, ds, built = state.open_page("Items")


def index_of(model: str) -> ItemIndex:
    return state.item_index(name, model)


def table(items: np.ndarray, similarity: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"open": [state.item_url(name, ds.item_ids[i]) for i in items],
                         "title": natural_titles(ds.items["title"].to_numpy()[items]),
                         "genres": ds.items["genres"].to_numpy()[items],
                         "year": ds.items["year"].to_numpy()[items], "similarity": similarity})


st.subheader("Search by description")
if not ds.has_item_text:
    st.info(f"Search by description is off: {name} has no item text — no titles, genres or descriptions, "
            "only item ids — so there is nothing to match a query against. Similar items below come from "
            "the models' own item vectors.", icon=":material/search_off:")
elif "content" not in built:
    state.offer_build(name, ["content"], "semantic search", key="build-content")
else:
    query = st.text_input("Describe what you are looking for", "outer space", key="items-query",
                          bind="query-params")
    left, right = st.columns([1, 3])
    k = left.slider("Results", 5, 50, 10, key="items-k")
    st.caption(f"Searches {SEARCHED}, by meaning (all-MiniLM-L6-v2 sentence vectors, cosine).")
    try:
        result = state.text_search(name, query, k)
        within = right.radio("Search within", ["all items", *[g for g, _ in result.genres]], horizontal=True,
                             key="items-within", help="The genres whose names are closest to the query",
                             format_func=lambda g: g if g == "all items" else
                             f"{g} ({dict(result.genres)[g]:.2f})")
        if within != "all items":
            result = state.text_search(name, query, k, genre=within)
        if result.matched:
            st.dataframe(table(result.items, result.similarity), hide_index=True,
                         column_config={"similarity": st.column_config.ProgressColumn(
                             "similarity", min_value=0.0, max_value=1.0, format="%.2f"),
                             "open": st.column_config.LinkColumn("open", display_text="Item page ↗")})
        else:
            st.warning(result.no_match_message(), icon=":material/search_off:")
    except RecsysError as e:
        state.show_error(e)

st.subheader("Similar items")
with_vectors = [m for m in built if state.get_trained(name, m).item_embeddings() is not None]
if not with_vectors:
    state.offer_build(name, ["bpr", "gpt", "bert"], "similar items", key="build-similar")
    st.stop()
titles = ds.items["title"].to_numpy()
popular = int(np.argmax(ds.item_popularity()))
a, b = st.columns(2)
labels = widgets.item_labels(name)
item = a.selectbox("Item", np.arange(ds.n_items), index=popular, key="items-item", bind="query-params",
                   filter_mode="contains", format_func=lambda i: labels[i])
models = b.multiselect("Find similar items with", with_vectors, default=[m for m in state.current_models()
                                                        if m in with_vectors] or with_vectors[:3],
                       format_func=state.model_label, key="items-models", bind="query-params")
genres = ds.genre_matrix()[1]
years = pd.to_numeric(ds.items["year"], errors="coerce").dropna()
c, d = st.columns(2)
genre = c.selectbox("Only this genre", ["any genre", *genres], key="items-genre", bind="query-params")
span = (int(years.min()), int(years.max())) if len(years) else None
chosen_years = d.slider("Released", *span, span, key="items-years") if span and span[0] < span[1] else None
allowed = ds.item_mask(genre=None if genre == "any genre" else genre,
                       years=None if chosen_years == span else chosen_years)
st.caption(f"{int(allowed.sum()):,} items pass the filters; the lists below are drawn from them only.")
columns = st.columns(max(1, len(models)))
for column, model in zip(columns, models):
    items, sims = index_of(model).similar_items(int(item), 10, allowed=allowed)
    with column:
        st.markdown(f"**{state.model_label(model)}**")
        st.dataframe(table(items, sims)[["title", "similarity"]], hide_index=True,
                     column_config={"similarity": st.column_config.NumberColumn(format="%.3f")})

with st.expander("Approximate-index check: how much would HNSW change these lists?"):
    st.caption("The app searches exactly up to 100k items and switches to HNSW above. This compares the "
               "similar-item lists of an HNSW index with exact search for 300 random items (overlap@10; "
               "1.0 = identical).")
    if st.button("Run the check", key="items-ann"):
        rows = [{"model": state.model_label(m),
                 "overlap@10, HNSW vs exact": approximate_overlap(
                     state.get_trained(name, m).item_embeddings(), 10, kind="hnsw", queries=300)}
                for m in with_vectors]
        st.dataframe(pd.DataFrame(rows), hide_index=True)
