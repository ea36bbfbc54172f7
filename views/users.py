"""Users: pick a user, see their history, and compare the chosen models' lists side by side."""
import numpy as np
import pandas as pd
import streamlit as st

from views import state, widgets
from recsys.compare import overlap_matrix, rank_changes
from recsys.errors import RecsysError
from recsys.explain import natural_title

name = state.current_dataset()
st.title("Users")
try:
    ds, split = state.get_dataset(name), state.get_split(name)
    user = state.current_user()
    if user is None:
        st.info("This dataset has no test users.")
        st.stop()
    ctx = state.user_context(name, user)
except RecsysError as e:
    state.show_error(e)
    st.stop()

# Picking a user: the sidebar's id box, or these shortcuts (callbacks, so the sidebar follows).
users = state.held_out_users(name)
lengths = split.test.histories.lengths
rng = np.random.default_rng()
a, b, c, _ = st.columns([1, 1, 1, 3])
a.button("Random user", on_click=state.set_user, args=(ds.user_ids[rng.choice(users)],),
         icon=":material/casino:")
b.button("Most active", on_click=state.set_user, args=(ds.user_ids[users[np.argmax(lengths)]],))
c.button("Least active", on_click=state.set_user, args=(ds.user_ids[users[np.argmin(lengths)]],))

held_out = ", ".join(natural_title(t) for t in ds.items["title"].to_numpy()[ctx.target])
cols = st.columns([1, 1, 2])
cols[0].metric("User", ctx.raw_id)
cols[1].metric("History", f"{len(ctx.history):,} items")
cols[2].metric("Held-out test item", held_out[:40] + ("…" if len(held_out) > 40 else ""),
               help=held_out)
if ds.users is not None and len(ds.users.columns):
    profile = ds.users.iloc[user]
    st.caption("Profile: " + " · ".join(f"{k} {v}" for k, v in profile.items()))

timeline = ctx.timeline
st.plotly_chart(widgets.timeline_figure(timeline, "rating" if ds.has_ratings else "part"))

models = state.current_models()
if not models:
    missing = [m for m in state.PREFERRED if m not in state.built_models(name)]
    state.offer_build(name, missing or list(state.PREFERRED), "the side-by-side lists")
    st.stop()

st.subheader("Recommendations")
k, lam, penalty = widgets.rerank_knobs("users", name)
widgets.protocol_badge(split, k)
st.caption("Each list ranks every item the user has not seen (the same protocol as the scoreboard). "
           "“Because you watched” names the history items whose removal lowers the item's score most "
           "(the per-model method is on the Explanations page), with the user's rating; the line below "
           "it is a counterfactual, checked by re-scoring. MF is explained through its folded-in history.")
frames = {}
columns = st.columns(len(models))
ratings = state.history_ratings(name, ctx)
for column, model in zip(columns, models):
    with st.spinner(f"{state.model_label(model)}: ranking and explaining…"):
        frame = widgets.recommendation_frame(name, model, tuple(ctx.history.tolist()), user, k, lam,
                                             penalty, target=tuple(ctx.target.tolist()))
        note, frame = widgets.explained_frame(name, model, frame, tuple(ctx.history.tolist()), user,
                                              ratings)
    frames[model] = frame
    evaluation = state.get_evaluation(name, model)
    with column:
        st.markdown(f"#### {state.model_label(model)}")
        if evaluation is not None:
            j = np.flatnonzero(evaluation["users"] == user)
            if len(j):
                st.caption(f"Test evaluation: held-out item ranked {int(evaluation['rank'][j[0]]):,} of "
                           f"{ds.n_items:,}, NDCG@10 {evaluation['ndcg@10'][j[0]]:.3f} for this user")
        if note:
            st.info(note, icon=":material/info:")
        widgets.show_list(frame)
        if "low" in frame and len(frame):
            st.plotly_chart(widgets.interval_figure(frame, "Predicted ratings, 90% intervals"),
                            key=f"intervals-{model}")

if len(frames) > 1:
    lists = {state.model_label(m): f["item"].to_numpy() for m, f in frames.items()}
    measure = st.radio("Overlap", ["Jaccard", "RBO"], horizontal=True, key="users-overlap",
                       help="Jaccard compares the sets; rank-biased overlap (p = 0.9) weighs agreement "
                            "at the top of the lists most")
    st.plotly_chart(widgets.overlap_heatmap(overlap_matrix(lists, measure.lower()),
                                            f"List overlap ({measure})"))

table = widgets.lists_table(frames).assign(user=ctx.raw_id)
with st.expander("All lists as a table"):
    st.dataframe(table, hide_index=True, column_config={"item": None})
st.download_button("Download these recommendations (CSV)", table.to_csv(index=False).encode(),
                   file_name=f"{name}-user-{ctx.raw_id}-recommendations.csv", mime="text/csv")

st.subheader("What if…")
st.caption("Edit the history and every chosen model re-scores it (per-user models fold the edited history "
           "in). Ranks compare against the same models on the unedited history.")
titles = ds.items["title"].to_numpy()
a, b, c = st.columns(3)
removed = a.multiselect("Remove from the history", ctx.history[::-1], key="whatif-remove",
                        format_func=lambda i: str(titles[i]), placeholder="Most recent first…")
moved = b.multiselect("Move to the most recent end (in this order)", ctx.history[::-1],
                      key="whatif-move", format_func=lambda i: str(titles[i]),
                      help="Reorders the history: sequence models read the order")
added = c.multiselect("Add as the latest items", np.arange(ds.n_items), key="whatif-add",
                      format_func=lambda i: str(titles[i]), placeholder="Type a title…")
if removed or moved or added:
    gone = {int(i) for i in removed} | {int(i) for i in moved}
    edited = ([int(i) for i in ctx.history if int(i) not in gone]
              + [int(i) for i in moved if int(i) not in {int(r) for r in removed}] + [int(i) for i in added])
    columns = st.columns(len(models))
    for column, model in zip(columns, models):
        before = widgets.recommendation_frame(name, model, tuple(ctx.history.tolist()), None, k, lam,
                                              penalty)
        after = widgets.recommendation_frame(name, model, tuple(edited), None, k, lam, penalty)
        moves = rank_changes(before["item"], after["item"])
        moves.insert(1, "title", titles[moves["item"]])
        with column:
            st.markdown(f"**{state.model_label(model)}**")
            st.dataframe(moves, hide_index=True, column_config={
                "item": None, "before": st.column_config.NumberColumn("before", format="%d"),
                "after": st.column_config.NumberColumn("after", format="%d"),
                "change": st.column_config.NumberColumn("moved", format="%+d")})

with st.expander("Check the explanations, item by item"):
    st.caption("For every item of each list: remove each history item alone and re-score; the most-credited "
               "item's drop should be among the 3 largest. The counterfactual is re-scored again here. "
               "Each row is one case: a mean would hide the ones that fail.")
    if st.button("Run the check", key="whatif-check"):
        rows = []
        for model in models:
            rows += widgets.check_rows(name, model, tuple(ctx.history.tolist()), user,
                                       tuple(frames[model]["item"].tolist()))
        table = pd.DataFrame(rows)
        judged, holds = table["faithful (top 3)"].dropna(), table["counterfactual holds"].dropna()
        proved = int(table.pop("none can exist").fillna(False).sum())
        st.markdown(f"**Faithful in {int(judged.sum())} of {len(judged)} cases**; a counterfactual was found "
                    f"for {len(holds)} of {len(table)} and holds when re-scored in {int(holds.sum())}"
                    + (f"; for {proved} the model's terms prove that none exists." if proved else "."))
        st.dataframe(table, hide_index=True)
