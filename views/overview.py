"""Overview: dataset statistics (size, sparsity, long tail, user activity) and the model scoreboard."""
import numpy as np
import plotly.express as px
import streamlit as st

from views import state, widgets
from recsys.errors import RecsysError

name = state.current_dataset()
st.title("Overview")
try:
    ds = state.get_dataset(name)
except RecsysError as e:
    state.show_error(e)
    st.stop()

stats = ds.stats()
cols = st.columns(4)
cols[0].metric("Users", f"{stats['users']:,}")
cols[1].metric("Items", f"{stats['items']:,}")
cols[2].metric("Interactions", f"{stats['interactions']:,}")
cols[3].metric("Sparsity", f"{stats['sparsity']:.2%}")
if ds.report:
    st.caption(" · ".join(ds.report.lines()[1:]) or "No rows were dropped while loading.")

left, right = st.columns(2)
popularity = np.sort(ds.item_popularity())[::-1]
share = np.cumsum(popularity) / popularity.sum()
head = int(np.searchsorted(share, 0.8)) + 1
fig = px.area(x=np.arange(1, len(popularity) + 1), y=popularity, log_y=True,
              labels={"x": "item rank by popularity", "y": "interactions"},
              title=f"Long tail: the top {head:,} items ({head / len(popularity):.0%}) "
                    "hold 80% of interactions")
fig.update_yaxes(dtick=1)  # label powers of ten only
left.plotly_chart(fig)
activity = ds.user_activity()
fig = px.histogram(x=activity, nbins=50, log_y=True, labels={"x": "interactions per user"},
                   title=f"User activity (median {np.median(activity):.0f})")
fig.update_yaxes(dtick=1)
right.plotly_chart(fig)

st.subheader("Model scoreboard")
widgets.protocol_badge(state.get_split(name), "10 and 20")
board = state.scoreboard(name)
unbuilt = state.unbuilt_models(name)
if unbuilt:  # above the table, so the build's progress shows without scrolling
    state.offer_build(name, unbuilt, "the scoreboard", key="build-missing")
if not board.empty:
    if "ndcg@10" in board.columns:
        board = board.sort_values("ndcg@10", ascending=False)
    shown = [c for c in ("hr@10", "ndcg@10", "mrr@10", "recall@20", "coverage@10", "gini@10",
                         "fit seconds") if c in board.columns]
    state.show_scoreboard(board, shown)
    st.download_button("Download metrics (CSV)", board.to_csv().encode(), file_name=f"{name}-metrics.csv",
                       mime="text/csv")

with st.expander("Add a dataset (CSV upload)", icon=":material/upload:"):
    st.caption(f"A CSV or TSV with columns `user` and `item`, optional `rating` and `timestamp` "
               f"(at most {state.UPLOAD_LIMIT_MB} MB). It is checked by the same loader as the CLI; a file "
               "that does not load is not kept.")
    upload = st.file_uploader("Interactions file", type=["csv", "tsv", "txt"], key="upload-file")
    new_name = st.text_input("Name", key="upload-name", placeholder="my-shop")
    if st.button("Add dataset", disabled=upload is None):
        try:
            added = state.add_uploaded_dataset(new_name.strip(), upload.getvalue(), upload.name)
        except RecsysError as e:
            state.show_error(e)
        else:
            st.success(f"Added {new_name}: {added.n_users:,} users, {added.n_items:,} items, "
                       f"{added.n_interactions:,} interactions. Choose it in the sidebar.")
