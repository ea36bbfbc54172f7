"""Evaluation: every built model's test metrics, segments by user activity and item popularity, exposure,
and every pair of models tested as one family (the matrix, then one pair user by user)."""
import numpy as np
import pandas as pd
import streamlit as st

from views import figures, panels, state, widgets
from views.report import Report
from recsys.compare import (activity_segment, cohort_values, exposure_by_popularity, genre_segment,
                            popularity_concentration, popularity_segment, segment_errors, segment_means)
from recsys.metrics import BEYOND_METRICS, RANKING_METRICS, RATING_METRICS, display_order, higher_is_better

name, ds, built = state.open_page("Evaluation")
split = state.get_split(name)
widgets.protocol_badge(split, "10 and 20")
st.caption(f"{len(split.test):,} test users; every number on this page was measured this way.")
evaluations = {m: e for m in built if (e := state.get_evaluation(name, m)) is not None}
if not evaluations:
    state.offer_build(name, state.missing_models(name) or ["pop"], "the evaluation")
    st.stop()

cohort = panels.cohort_picker(ds, split)
keep = cohort.mask(split.test.users, ds, split.test)
if not keep.any():
    st.warning(f"No test user is in this group ({cohort.describe()}): widen it under **Which test users**.")
    st.stop()

report = Report(f"RecLens: {name}, evaluation")
report.text(f"{len(split.test):,} test users, leave-one-out by time, full ranking, seen items excluded.")
board = state.scoreboard(name)
board = board.loc[[i for i in board.index if i in evaluations]] if not board.empty else board
metrics = display_order(board.columns)
# Two narrower tables at one K, not one of two dozen columns: that one scrolled sideways.
ks = sorted({int(c.split("@")[1]) for c in metrics if "@" in c})
k = st.segmented_control("Metrics at K", ks, default=ks[0], required=True, key="ev-k",
                         bind="query-params") if ks else None
at_k = [c for c in metrics if c.endswith(f"@{k}")]
if f"ndcg@{k}" in board.columns:
    board = board.sort_values(f"ndcg@{k}", ascending=False)
for title, columns in (("Accuracy", [c for c in at_k if c.split("@")[0] in RANKING_METRICS]
                        + [c for c in metrics if c in RATING_METRICS]),
                       ("Beyond accuracy, and cost", [c for c in at_k if c.split("@")[0] in BEYOND_METRICS]
                        + ["fit seconds"])):
    st.markdown(f"**{title}**")
    report.text(title)
    report.table(state.show_scoreboard(board, columns, highlight=[c for c in columns if c != "fit seconds"
                                                                   and higher_is_better(c)]))
st.download_button("Download metrics (CSV)", board.to_csv().encode(), file_name=f"{name}-metrics.csv",
                   mime="text/csv")

# The metrics measured per user (stored with each model): those can be averaged, segmented and paired.
group = (f"Below: all {len(keep):,} test users." if keep.all() else
         f"The tables: all test users. Below: the {int(keep.sum()):,} in this group: {cohort.describe()}.")
st.caption(group)
report.text(group)
if not keep.all():
    evaluations = {m: cohort_values(e, keep) for m, e in evaluations.items()}
per_user = [c for c in metrics if all(c in e for e in evaluations.values())]
metric = st.selectbox("Metric", per_user, index=per_user.index("ndcg@10") if "ndcg@10" in per_user else 0,
                      key="ev-metric", bind="query-params")
labels = {m: state.model_label(m) for m in evaluations}
means = {m: float(np.nanmean(e[metric])) for m, e in evaluations.items()}
report.chart(st, figures.metric_bars(
    pd.DataFrame({"model": list(labels.values()), metric: list(means.values())}), metric))

st.subheader("Segments")
# A dozen bars a group cannot be read: the charts below draw a few models, the sidebar's by default.
ranked = sorted(evaluations, key=lambda m: -means[m])
default = [m for m in state.current_models() if m in evaluations] or ranked[:4]
charted = st.multiselect("Models in the segment and exposure charts", ranked, default=default,
                         format_func=state.model_label, key="ev-charted", bind="query-params",
                         placeholder="choose models to draw")
popularity = split.train.item_popularity()
first_target = split.test.targets.values[split.test.targets.indptr[:-1]][keep]
values = {labels[m]: evaluations[m][metric] for m in charted}
st.caption("Error bars: 95% intervals of each mean (± 1.96 standard errors). A segment of a few users "
           "has wide bars: read its differences as noise.")


def segments(segment, title: str):
    return figures.segment_bars(segment_means(values, segment), metric, title, segment_errors(values, segment))


if charted:
    left, right = st.columns(2)
    report.chart(left, segments(activity_segment(split.test.histories.lengths[keep]),
                               "by user activity (history length)"))
    report.chart(right, segments(popularity_segment(first_target, popularity),
                                 "by the held-out item's popularity"))
    if split.train.has_genres:
        report.chart(st, segments(genre_segment(first_target, split.train.items["genres"]),
                                 "by the held-out item's first genre"))
    else:
        st.caption(f"No segments by genre: {name}'s items have no genres.")
else:
    st.info("Choose models above to draw the segment and exposure charts.")
panels.upload_recommendations(name)

st.subheader("Exposure")
lists = {labels[m]: e["lists"] for m, e in evaluations.items() if "lists" in e}
drawn = {labels[m] for m in charted} & set(lists)
if drawn:
    report.chart(st, figures.exposure_figure(
        pd.concat([exposure_by_popularity(lists[m], popularity).assign(model=m) for m in sorted(drawn)]),
        exposure_by_popularity(np.zeros((0, 10), np.int64), popularity)))
elif charted:
    st.caption("None of the charted models stored its test lists (build it again to see its exposure).")
else:
    st.caption("Choose models to chart under **Segments** to draw their exposure.")
concentrated = [m for m, top in lists.items() if popularity_concentration(top, popularity) > 0.9]
if concentrated:
    st.warning(f"Everyone gets the same popular items from: {', '.join(concentrated)} (of all built "
               "models, charted or not) — more than 90% "
               "of their top-10 slots go to the most popular 10% of items.", icon=":material/warning:")
panels.training_curves(name, list(evaluations))
if len(evaluations) > 1:
    panels.all_pairs(name, evaluations, metric, cohort, report)
    panels.two_models(name, evaluations, metric, cohort, report)
st.download_button("Download this comparison (HTML)", report.html().encode(), mime="text/html",
                   file_name=f"{name}-evaluation.html", icon=":material/download:",
                   help="One file: the tables, the charts (interactive, offline) and the verdicts")
