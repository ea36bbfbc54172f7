"""Users: pick a user, see their history, and compare the chosen models' lists side by side."""
import numpy as np
import streamlit as st

from views import figures, panels, state, widgets
from recsys.compare import overlap_matrix
from recsys.explain import natural_title
from recsys.rerank import reorders

name, ds, built, ctx = state.open_user_page("Users")
split = state.get_split(name)

# Picking a user: the sidebar's id box, or these shortcuts (callbacks, so the sidebar follows).
users, lengths = state.held_out_users(name), split.test.histories.lengths
a, b, c, _ = st.columns([1, 1, 1, 3])
a.button("Random user", on_click=state.set_user, args=(ds.user_ids[np.random.default_rng().choice(users)],),
         icon=":material/casino:")
b.button("Most active", on_click=state.set_user, args=(ds.user_ids[users[np.argmax(lengths)]],))
c.button("Least active", on_click=state.set_user, args=(ds.user_ids[users[np.argmin(lengths)]],))

held_out = ", ".join(natural_title(t) for t in ds.items["title"].to_numpy()[ctx.target])
# how the user rated it: a held-out 1★ film is a "hit" no one should aim for
rated = "".join(f" ({r:g}★)" for r in ctx.timeline.loc[ctx.timeline["part"] == "held out (test)", "rating"]
                ) if ds.has_ratings else ""
cols = st.columns([1, 1, 2])
cols[0].metric("User", ctx.raw_id)
cols[1].metric("History", f"{len(ctx.history):,} items")
cols[2].metric("Held-out test item", held_out[:34] + ("…" if len(held_out) > 34 else "") + rated,
               help=held_out + rated)
if ds.users is not None and len(ds.users.columns):
    st.caption("Profile: " + " · ".join(f"{k} {v}" for k, v in ds.users.iloc[ctx.index].items()))
st.plotly_chart(figures.timeline_figure(ctx.timeline, "rating" if ds.has_ratings else "part"))

models = state.chosen_models(name, built, "the side-by-side lists")

st.subheader("Recommendations")
knobs = widgets.rerank_knobs("users", name)
widgets.protocol_badge(split, knobs[0])
st.caption("Each list ranks every item the user has not seen (the same protocol as the scoreboard). "
           "“Because you watched” names the history items whose removal lowers the item's score most "
           "(the per-model method is on the Explanations page), with the user's rating; the line below "
           "it is a counterfactual, checked by re-scoring.")
history, frames, ratings = tuple(ctx.history.tolist()), {}, state.history_ratings(name, ctx)
for column, model in zip(st.columns(len(models)), models):
    with st.spinner(f"{state.model_label(model)}: ranking and explaining…"):
        frame = widgets.recommendation_frame(name, model, history, ctx.index, *knobs,
                                             target=tuple(ctx.target.tolist()))
        note, frames[model] = widgets.explained_frame(name, model, frame, history, ctx.index, ratings,
                                                      reranked=reorders(knobs[1], knobs[2]))
    with column:
        panels.model_list(name, model, frames[model], note, ctx.index, ds.n_items)

if len(frames) > 1:
    measure = st.radio("Overlap", ["Jaccard", "RBO"], horizontal=True, key="users-overlap", bind="query-params",
                       help="Jaccard compares the sets; rank-biased overlap (p = 0.9) weighs agreement "
                            "at the top of the lists most")
    lists = {state.model_label(m): f["item"].to_numpy() for m, f in frames.items()}
    st.plotly_chart(figures.overlap_heatmap(overlap_matrix(lists, measure.lower()),
                                            f"List overlap ({measure})"))

table = widgets.lists_table(frames).assign(user=ctx.raw_id)
with st.expander("All lists as a table"):
    st.dataframe(table, hide_index=True, column_config={"item": None})
st.download_button("Download these recommendations (CSV)", table.to_csv(index=False).encode(),
                   file_name=f"{name}-user-{ctx.raw_id}-recommendations.csv", mime="text/csv")
panels.what_if(name, ctx, models, knobs)
panels.check(name, ctx, frames)
