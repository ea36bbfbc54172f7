"""Evaluation: every built model's test metrics, segments by user activity and item popularity, and a
paired bootstrap comparison of two models."""
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from views import state, widgets
from recsys.compare import (activity_segment, disagreements, exposure_by_popularity, genre_segment,
                            paired_bootstrap, popularity_concentration, popularity_segment,
                            segment_means, wilcoxon)
from recsys.errors import RecsysError

name = state.current_dataset()
st.title("Evaluation")
try:
    split = state.get_split(name)
    built = state.built_models(name)
except RecsysError as e:
    state.show_error(e)
    st.stop()
widgets.protocol_badge(split, "10 and 20")
st.caption(f"{len(split.test):,} test users; every number on this page was measured this way.")
evaluations = {m: state.get_evaluation(name, m) for m in built}
evaluations = {m: e for m, e in evaluations.items() if e is not None}
if not evaluations:
    state.offer_build(name, state.missing_models(name) or ["pop"], "the evaluation")
    st.stop()

board = state.scoreboard(name)
board = board.loc[[i for i in board.index if i in evaluations]] if not board.empty else board
FIRST = ["ndcg@10", "hr@10", "mrr@10", "recall@10", "ndcg@20", "hr@20", "coverage@10", "novelty@10",
         "ild@10", "mean_pop@10", "gini@10", "rmse", "mae"]
metrics = [c for c in FIRST if c in board.columns] + sorted(
    c for c in board.columns if "@" in c and c not in FIRST)
if "ndcg@10" in board.columns:
    board = board.sort_values("ndcg@10", ascending=False)
st.dataframe(board[metrics + ["fit seconds"]].style.format(precision=4, na_rep="").highlight_max(
    subset=[c for c in metrics if not c.startswith(("gini", "mean_pop", "rmse", "mae"))],
    color="#e4e0fb"))
st.download_button("Download metrics (CSV)", board.to_csv().encode(), file_name=f"{name}-metrics.csv",
                   mime="text/csv")

# Per-user metrics that are defined here (diversity needs genres).
ranking = [c for c in metrics
           if not c.startswith(("rmse", "mae", "coverage", "gini")) and board[c].notna().any()]
metric = st.selectbox("Metric", ranking, index=ranking.index("ndcg@10") if "ndcg@10" in ranking else 0,
                      key="ev-metric")
labels = {m: state.model_label(m) for m in evaluations}
means = pd.DataFrame({"model": [labels[m] for m in evaluations],
                      metric: [float(np.nanmean(e[metric])) for e in evaluations.values()]})
fig = px.bar(means.sort_values(metric), x=metric, y="model", orientation="h",
             title=f"{metric} on the test split")
fig.update_layout(height=170 + 40 * len(means), yaxis_title="")
st.plotly_chart(fig)

st.subheader("Segments")
train = split.train
lengths = split.test.histories.lengths
first_target = split.test.targets.values[split.test.targets.indptr[:-1]]
values = {labels[m]: e[metric] for m, e in evaluations.items()}
left, right = st.columns(2)
for column, segment, title in (
        (left, activity_segment(lengths), "by user activity (history length)"),
        (right, popularity_segment(first_target, train.item_popularity()),
         "by the held-out item's popularity")):
    table = segment_means(values, segment)
    long = table.drop(columns="users").reset_index().melt(id_vars="segment", var_name="model",
                                                          value_name=metric)
    fig = px.bar(long, x="segment", y=metric, color="model", barmode="group", title=f"{metric} {title}")
    fig.update_xaxes(title="", ticktext=[f"{s}<br>{n:,} users" for s, n in table["users"].items()],
                     tickvals=list(table.index))
    column.plotly_chart(fig)

if split.train.has_genres:
    genre_table = segment_means(values, genre_segment(first_target, split.train.items["genres"]))
    genre_long = genre_table.drop(columns="users").reset_index().melt(id_vars="segment", var_name="model",
                                                                     value_name=metric)
    fig = px.bar(genre_long, x="segment", y=metric, color="model", barmode="group",
                 title=f"{metric} by the held-out item's first genre")
    fig.update_xaxes(title="", ticktext=[f"{g}<br>{n:,}" for g, n in genre_table["users"].items()],
                     tickvals=list(genre_table.index))
    st.plotly_chart(fig)
else:
    st.caption(f"No segments by genre: {name}'s items have no genres.")

with st.expander("Evaluate your own recommendations (CSV upload)", icon=":material/upload:"):
    st.caption("A CSV with columns `user`, `item` and `rank` (1 = best) or `score` (higher = better), "
               "using this dataset's ids — e.g. the top-20 lists another tool made for the test users. "
               "It is evaluated with the protocol above and appears as “Your recommendations”.")
    recs_file = st.file_uploader("Recommendations file", type=["csv", "tsv", "txt"], key="proxy-file")
    if st.button("Evaluate it", disabled=recs_file is None, key="proxy-go"):
        try:
            built = state.add_recommendations_file(name, recs_file.getvalue(), recs_file.name)
        except RecsysError as e:
            state.show_error(e)
        else:
            model = built.model
            if model.unknown_users_ or model.unknown_items_:
                st.warning(f"Ignored rows naming {model.unknown_users_:,} unknown users and "
                           f"{model.unknown_items_:,} unknown items.")
            st.success(f"Evaluated {model.rows_:,} rows: NDCG@10 {built.manifest['metrics']['ndcg@10']:.4f}.")
            st.rerun()

st.subheader("Exposure")
popularity = train.item_popularity()
curves = pd.concat([exposure_by_popularity(e["lists"], popularity).assign(model=labels[m])
                    for m, e in evaluations.items() if "lists" in e])
fig = px.line(curves, x="decile", y="share of slots", color="model", markers=True,
              title="Share of top-10 slots by item popularity decile (1 = the most popular 10%)")
catalogue = exposure_by_popularity(np.zeros((0, 10), np.int64), popularity)
fig.add_scatter(x=catalogue["decile"], y=catalogue["share of interactions"], name="share of interactions",
                line={"dash": "dot", "color": "#999"})
fig.update_layout(height=420)
st.plotly_chart(fig)
concentrated = [labels[m] for m, e in evaluations.items()
                if "lists" in e and popularity_concentration(e["lists"], popularity) > 0.9]
if concentrated:
    st.warning(f"Everyone gets the same popular items from: {', '.join(concentrated)} — more than 90% "
               "of their top-10 slots go to the most popular 10% of items.", icon=":material/warning:")

st.subheader("Is one model really better?")
names = list(evaluations)
a, b = st.columns(2)
first = a.selectbox("Model A", names, index=names.index("gpt") if "gpt" in names else 0,
                    format_func=state.model_label, key="ev-a")
second = b.selectbox("Model B", names, index=names.index("bpr") if "bpr" in names else min(1, len(names) - 1),
                     format_func=state.model_label, key="ev-b")
if first == second:
    st.info("Choose two different models.")
    st.stop()
a_values, b_values = evaluations[first][metric], evaluations[second][metric]
result = paired_bootstrap(a_values, b_values)
(st.success if result.significant else st.warning)(result.verdict(labels[first], labels[second], metric))
test = wilcoxon(a_values, b_values)
st.caption(f"Paired bootstrap over test users (10,000 resamples, seed 0): each resample keeps a user's "
           f"two values together. Wilcoxon signed-rank test: p = {test.p_value:.2g} over the "
           f"{test.n_nonzero:,} users whose values differ.")

ds = state.get_dataset(name)
users = evaluations[first]["users"]
pairs = pd.DataFrame({"user": ds.user_ids[users].astype(str), labels[first]: a_values,
                      labels[second]: b_values})
left, right = st.columns([3, 2])
fig = px.scatter(pairs, x=labels[second], y=labels[first], hover_name="user", opacity=0.5,
                 title=f"Per-user {metric}: points above the diagonal favour {labels[first]}")
top = float(max(np.nanmax(a_values), np.nanmax(b_values), 1e-9))
fig.add_shape(type="line", x0=0, y0=0, x1=top, y1=top, line={"dash": "dot", "color": "#999"})
fig.update_layout(height=450)
left.plotly_chart(fig)
worst = disagreements(users, a_values, b_values, n=12)
# The dataset goes into the link too: without it the Users page opens the default dataset, where the
# same numeric id is another person.
pair = f"{first},{second}"
links = [{state.DATASET_KEY: name, state.USER_KEY: ds.user_ids[u], state.MODELS_KEY: pair}
         for u in worst["user"]]
worst.insert(0, "open", [f"/users?{urlencode(query)}" for query in links])
worst["user"] = ds.user_ids[worst["user"]].astype(str)
worst = worst.rename(columns={"a": labels[first], "b": labels[second]})
with right:
    st.markdown("**Where they disagree most** (click to open the user)")
    st.dataframe(worst, hide_index=True, column_config={
        "open": st.column_config.LinkColumn("open", display_text="Users page ↗", width="small"),
        "difference": st.column_config.NumberColumn(format="%+.3f")})
