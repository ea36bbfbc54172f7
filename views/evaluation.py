"""Evaluation: every built model's test metrics, segments by user activity and item popularity, and a
paired bootstrap comparison of two models."""
import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from views import state
from recsys.compare import activity_segment, paired_bootstrap, popularity_segment, segment_means
from recsys.errors import RecsysError

name = state.current_dataset()
st.title("Evaluation")
try:
    split = state.get_split(name)
    built = state.built_models(name)
except RecsysError as e:
    state.show_error(e)
    st.stop()
st.caption(f"Protocol: {split.description} · full ranking over all items · seen items excluded · "
           f"{len(split.test):,} test users.")
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
st.dataframe(board[metrics + ["fit seconds"]].style.format(precision=4).highlight_max(
    subset=[c for c in metrics if not c.startswith(("gini", "mean_pop", "rmse", "mae"))],
    color="#e4e0fb"))
st.download_button("Download metrics (CSV)", board.to_csv().encode(), file_name=f"{name}-metrics.csv",
                   mime="text/csv")

ranking = [c for c in metrics if not c.startswith(("rmse", "mae", "coverage", "gini"))]
metric = st.selectbox("Metric", ranking, index=ranking.index("ndcg@10") if "ndcg@10" in ranking else 0,
                      key="ev-metric")
labels = {m: state.model_label(m) for m in evaluations}
means = pd.DataFrame({"model": [labels[m] for m in evaluations],
                      metric: [float(np.nanmean(e[metric])) for e in evaluations.values()]})
fig = px.bar(means.sort_values(metric), x=metric, y="model", orientation="h",
             title=f"{metric} on the test split")
fig.update_layout(height=140 + 32 * len(means), yaxis_title="")
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

st.subheader("Is one model really better?")
names = list(evaluations)
a, b = st.columns(2)
first = a.selectbox("Model A", names, index=names.index("gpt") if "gpt" in names else 0,
                    format_func=state.model_label, key="ev-a")
second = b.selectbox("Model B", names, index=names.index("bpr") if "bpr" in names else min(1, len(names) - 1),
                     format_func=state.model_label, key="ev-b")
if first == second:
    st.info("Choose two different models.")
else:
    result = paired_bootstrap(evaluations[first][metric], evaluations[second][metric])
    verdict = result.verdict(labels[first], labels[second], metric.upper().replace("@", "@"))
    (st.success if result.significant else st.warning)(verdict)
    st.caption("Paired bootstrap over test users (10,000 resamples, seed 0): each resample keeps a user's "
               "two values together, so the interval reflects per-user differences, not the spread of "
               "each model alone.")
