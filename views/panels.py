"""Page sections: a heading's worth of widgets and charts that a page composes (not a page).

Each panel reads the app state through ``views.state`` and the cached lists and explanations through
``views.widgets``, draws with ``views.figures``, and computes nothing itself: the numbers come from
``recsys``. A page script is then its layout: which panels, in what order, with what shared choices.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from views import figures, state, widgets
from views.report import Report
from recsys.compare import Cohort, disagreements, edited_history, find_pair, pairs_matrix, rank_changes
from recsys.errors import RecsysError
from recsys.explain import (attention_frame, attention_matrix, available_methods, because_you_watched,
                            counterfactual_sentence, feature_shap, natural_title)
from recsys.explain.counterfactual import can_decide
from recsys.explain.methods import LABELS, NOTES
from recsys.explain.quality import check_summary


# -- one recommendation explained ---------------------------------------------------------------------------
def why_this_item(name: str, ctx: state.UserContext, built: list[str], titles: pd.Series):
    """Model, recommendation and method pickers, the explanation's sentences, its bars and either the
    waterfall (additive methods) or the per-case check. Returns the chosen item and the model's list."""
    st.subheader(f"Why this item, for user {ctx.raw_id}?")
    chosen = [m for m in state.current_models() if m in built] or built
    a, b, c = st.columns([1, 2, 1])
    model_name = a.selectbox("Model", built, index=built.index(chosen[0]), format_func=state.model_label,
                             key="ex-model", bind="query-params")
    history = tuple(ctx.history.tolist())
    recs = widgets.recommendation_frame(name, model_name, history, ctx.index, 10)
    item = int(b.selectbox("Recommendation", recs["item"].to_numpy(), key="ex-item", bind="query-params",
                           format_func=lambda i: f"#{int(np.flatnonzero(recs['item'] == i)[0]) + 1} "
                                                 f"{natural_title(titles.iloc[i])}"))
    methods = available_methods(state.get_trained(name, model_name))
    method = c.selectbox("Method", methods, key="ex-method", bind="query-params",
                         format_func=lambda m: LABELS.get(m, m),
                         help="The first is this model's default, chosen by measurement (README, "
                              "“Explanations”); the others are there to compare")
    # The default method reads the very object the Users page shows; another method is computed here.
    explanation = widgets.explanations(name, model_name, history, ctx.index, (item,),
                                       None if method == methods[0] else method)[0]
    reason = because_you_watched(explanation, titles.to_numpy(), ratings=state.history_ratings(name, ctx))
    st.markdown(f"**{reason}.**")
    st.markdown(counterfactual_sentence(explanation, titles.to_numpy()))
    fact = explanation.counterfactual
    if fact is not None and len(fact.beyond):
        # The sentence gives only their number: an auditor re-checking it needs the titles.
        named = titles.to_numpy()[explanation.history[fact.beyond]]
        with st.expander(f"The {len(fact.beyond)} history items whose removal takes it to "
                         f"#{fact.rank_beyond:,} (the most effective alone first)"):
            st.markdown(" · ".join(natural_title(t) for t in named))
    if fact is not None and not (fact.found or fact.proved_none) and \
            can_decide(state.get_trained(name, model_name)):
        # Settled now: the caption below reads the answer (the sentence above keeps what the search said).
        explanation = settle(name, model_name, ctx, explanation, titles)
    settings = ", ".join(f"{k} {v}" for k, v in explanation.settings.items()
                         if k != "reason" and not (k == "path" and v == "history"))
    st.caption(f"{state.model_label(model_name)} · {LABELS.get(explanation.method, explanation.method)}"
               f" · {explanation.uncertainty}{' · ' + settings if settings else ''}. "
               + NOTES.get(explanation.method, ""))
    if explanation.method != "none":
        left, right = st.columns(2)
        left.plotly_chart(figures.contribution_bars(explanation, titles))
        if explanation.additive:
            right.plotly_chart(figures.explanation_waterfall(explanation, titles))
        else:
            right.markdown("**This case, checked**")
            row = readable(pd.DataFrame(widgets.check_rows(name, model_name, history, ctx.index, (item,)))
                           .drop(columns=["model", "recommendation"])).iloc[0]
            # One case reads as a list of checks; "—" where it has nothing to report (no set to re-score).
            # A static table wraps the long cells (the counterfactual's sentence) that a data grid cuts off.
            right.table(pd.DataFrame({"check": row.index, "result": row.replace("", "—").to_numpy()}),
                        hide_index=True)
    return item, recs


def settle(name: str, model_name: str, ctx: state.UserContext, explanation, titles: pd.Series):
    """An open case (no set found, none ruled out) settled on request by the branch and bound: the
    search's greedy steps miss sets whose members help little alone. Once settled, every page of the
    session reads the settled answer (``widgets.explanations``). Returns the explanation as it now
    stands: settled, or as it was (not asked, or still open)."""
    if not st.button(f"Settle it: try every set of removals the bound cannot rule out (up to "
                     f"{widgets.DECIDE_NODES:,} steps, under a minute)", key="ex-decide"):
        return explanation
    status, fact = widgets.decided(name, model_name, tuple(ctx.history.tolist()), ctx.index,
                                   explanation.item)
    settled = explanation.settled(fact)
    if status == "open":
        st.markdown(f"Still open after {widgets.DECIDE_NODES:,} steps: no set found, and the bound could "
                    "not rule out every other set.")
        settled = explanation
    else:
        st.markdown("**Settled:** " + counterfactual_sentence(settled, titles.to_numpy()))
    st.caption(f"Branch and bound over sets of up to {fact.max_removals} removals: each step fixes one "
               "more history item as removed or kept, and the bound on what the rest could do prunes "
               f"it; {fact.checked:,} histories and bounds checked in all, every rank re-scored.")
    return settled


def posterior(name: str, ctx: state.UserContext, item: int, titles: pd.Series) -> None:
    """Bayesian MF's predicted rating of ``item`` as the user's ratings are folded in, with history
    items left out on request: how the posterior, and its certainty, follow the evidence."""
    st.subheader("How sure? Bayesian MF's posterior for this item")
    if not state.is_built(name, "bpmf"):
        state.offer_build(name, ["bpmf"], "prediction intervals", key="build-bpmf")
        return
    bayes, ratings = state.get_trained(name, "bpmf"), state.history_ratings(name, ctx)
    left_out = widgets.item_picker(st, name, "Leave these history items out", ctx.history[::-1],
                                   "ex-bpmf-out", placeholder="Most recent first…")
    variants = {"all rated items": ctx.history}
    if left_out:
        variants[f"without {len(left_out)} item(s)"] = ctx.history[~np.isin(ctx.history, left_out)]
    paths = {label: bayes.posterior_path(h, [ratings[int(i)] for i in h], item)
             for label, h in variants.items()}
    st.plotly_chart(figures.posterior_figure(paths, f"{natural_title(titles.iloc[item])}: predicted "
                                                    f"rating for user {ctx.raw_id}"))
    ends = [f"{label}: {p['predicted'][-1]:.2f}★ (90% {p['low'][-1]:.1f}–{p['high'][-1]:.1f}, "
            f"model's own spread ±{p['model_sd'][-1]:.2f})" for label, p in paths.items()]
    recent = (", the latest of them weighing most, as for the list"
              if bayes.fold_in_half_life is not None else "")
    st.caption("Each point folds the user's ratings so far into the posterior of their taste (one "
               f"Gaussian per kept Gibbs draw{recent}); the band is the 90% predictive interval, rating "
               "noise included. " + " · ".join(ends))


def attention(name: str, ctx: state.UserContext, built: list[str], titles: pd.Series) -> None:
    """A transformer's attention over the user's history: layer, head and window chosen here."""
    st.subheader("Attention")
    transformers = [m for m in built if hasattr(state.get_trained(name, m), "attention")]
    if not transformers:
        state.offer_build(name, ["gpt", "bert"], "attention maps", key="build-attn")
        return
    a, b, c, d = st.columns(4)
    model_name = a.selectbox("Transformer", transformers, format_func=state.model_label, key="ex-tf")
    frame = attention_frame(state.get_trained(name, model_name), ctx.history, titles)
    layer = b.selectbox("Layer", sorted(frame["layer"].unique()), index=int(frame["layer"].max()),
                        key="ex-layer")
    head = c.selectbox("Head", ["mean of heads", *sorted(frame["head"].unique())], key="ex-head")
    positions = int(frame["query"].max()) + 1
    last = d.slider("Last positions", 5, positions, min(30, positions), key="ex-last")
    matrix = attention_matrix(frame, int(layer), None if head == "mean of heads" else int(head))
    heads = head if isinstance(head, str) else f"head {head}"
    st.plotly_chart(figures.attention_figure(matrix.iloc[-last:, -last:],
                                             f"{state.model_label(model_name)}, layer {layer}, {heads}"))
    caption = ("Rows are the positions the model reads (oldest first); each row sums to 1 over the "
               "whole history. GPT's last row and BERT's [MASK] row make the recommendation.")
    prior = getattr(state.get_trained(name, model_name), "prior_weight_", 0.0)
    if prior:  # the attention covers only the transformer's part of each score
        caption += (f" Its scores also add {prior:g} × the log-probability of a Markov chain over the last "
                    "items (the transition prior), which attention does not show, nor do integrated "
                    "gradients; occlusion, Shapley values and the counterfactual above remove items and "
                    "re-score, so they include it.")
    st.caption(caption)


def features(name: str, user: int, recs: pd.DataFrame, titles: pd.Series) -> None:
    """Exact Shapley values of the feature model's rating for one of the listed items."""
    st.subheader("Feature SHAP")
    if not state.is_built(name, "features"):
        state.offer_build(name, ["features"], "feature SHAP", key="build-feat")
        return
    item = int(st.selectbox("Item", recs["item"].to_numpy(), key="ex-fitem", bind="query-params",
                            format_func=lambda i: natural_title(titles.iloc[i])))
    with st.spinner("Feature SHAP (the first one in a server compiles shap's kernels, about 9 s)…"):
        fx = feature_shap(state.get_trained(name, "features"), user, item)
    table = fx.frame()
    labels = [f"{f} = {v}" for f, v in zip(table["feature"], table["value"])]
    title = f"Predicted rating {fx.prediction:.2f} for {natural_title(titles.iloc[item])}"
    st.plotly_chart(figures.waterfall(fx.base_value, labels, table["shap"].to_numpy(), fx.prediction, title))
    st.caption("The feature model predicts a rating from user age, gender, occupation and item genres, "
               "year and popularity only; exact Shapley values against 100 random (user, item) pairs.")
    st.dataframe(pd.DataFrame(table), hide_index=True)


# -- lists --------------------------------------------------------------------------------------------------
def model_list(name: str, model: str, frame: pd.DataFrame, note: str | None, user: int,
               n_items: int) -> None:
    """One model's column on the Users page: its test result for this user, the list, intervals."""
    st.markdown(f"#### {state.model_label(model)}")
    evaluation = state.get_evaluation(name, model)
    j = np.flatnonzero(evaluation["users"] == user) if evaluation is not None else []
    if len(j):
        st.caption(f"Test evaluation: held-out item ranked {int(evaluation['rank'][j[0]]):,} of "
                   f"{n_items:,}, NDCG@10 {evaluation['ndcg@10'][j[0]]:.3f} for this user")
    if note:
        st.info(note, icon=":material/info:")
    widgets.show_list(frame, name)
    if "low" in frame and len(frame):
        st.plotly_chart(figures.interval_figure(frame, "Predicted ratings, 90% intervals"),
                        key=f"intervals-{model}")


def what_if(name: str, ctx: state.UserContext, models: list[str], knobs: tuple[int, float, float]) -> None:
    """Edit the history (remove, move to the end, add) and see each model's list move."""
    st.subheader("What if…")
    st.caption("Edit the history and every chosen model re-scores it (per-user models fold the edited "
               "history in). Ranks compare against the same models on the unedited history.")
    a, b, c = st.columns(3)
    removed = widgets.item_picker(a, name, "Remove from the history", ctx.history[::-1], "whatif-remove",
                                  placeholder="Most recent first…")
    moved = widgets.item_picker(b, name, "Move to the most recent end (in this order)", ctx.history[::-1],
                                "whatif-move", help="Reorders the history: the sequence models and the "
                                                    "models that weigh the latest items most read the order")
    labels = widgets.item_labels(name)
    added = widgets.item_picker(c, name, "Add as the latest items", np.arange(len(labels)), "whatif-add",
                                placeholder="Type a title…")
    if not (removed or moved or added):
        return
    edited = tuple(edited_history(ctx.history, removed, moved, added).tolist())
    for column, model in zip(st.columns(len(models)), models):
        # A per-user model's list above comes from its learned user vector, which no edit can move: both
        # sides here fold a history in, so the change is the edit's alone. Other models rank as above.
        folds_in = state.get_trained(name, model).per_user_parameters
        user = None if folds_in else ctx.index
        before = widgets.recommendation_frame(name, model, tuple(ctx.history.tolist()), user, *knobs)
        after = widgets.recommendation_frame(name, model, edited, user, *knobs)
        moves = rank_changes(before["item"], after["item"])
        column.markdown(f"**{state.model_label(model)}**")
        if folds_in:
            column.caption("Before: the unedited history folded in (the list above uses the user vector "
                           "learned in training).")
        column.dataframe(pd.DataFrame({
            "title": labels[moves["item"]],
            "before": moves["before"].map(lambda r: "new" if pd.isna(r) else f"#{int(r)}"),
            "after": moves["after"].map(lambda r: "out" if pd.isna(r) else f"#{int(r)}"),
            "moved": moves["change"].map(lambda c: "" if pd.isna(c) or c == 0 else f"{int(c):+d}")}),
            hide_index=True, height=38 + 35 * len(moves))  # every row in view: the ones that fell out last


def readable(checks: pd.DataFrame) -> pd.DataFrame:
    """A check table as a person reads it: yes / no, and a blank where a case has nothing to report (no
    counterfactual to re-score) — the grid would print "None" and "True"."""
    def cell(value) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return ""
        if isinstance(value, (bool, np.bool_)):
            return "yes" if value else "no"
        if isinstance(value, float) and value.is_integer():    # a rank in a column with blanks
            return str(int(value))
        return str(value)

    return checks.map(cell)


def check(name: str, ctx: state.UserContext, lists: dict[str, pd.DataFrame]) -> None:
    """The explanation check for every listed item of every model, one row per case."""
    with st.expander("Check the explanations, item by item"):
        st.caption("For every item of each list: remove each history item alone and re-score; the "
                   "most-credited item's drop should be among the 3 largest. The counterfactual is "
                   "re-scored again here. Each row is one case: a mean would hide the ones that fail.")
        if st.button("Run the check", key="whatif-check"):
            rows = [row for model, frame in lists.items()
                    for row in widgets.check_rows(name, model, tuple(ctx.history.tolist()), ctx.index,
                                                  tuple(frame["item"].tolist()))]
            st.markdown(check_summary(rows))
            st.dataframe(readable(pd.DataFrame(rows).drop(columns="none can exist")), hide_index=True)


# -- evaluation ---------------------------------------------------------------------------------------------
def upload_recommendations(name: str) -> None:
    """Evaluate another tool's lists (a CSV) with this page's protocol."""
    with st.expander("Evaluate your own recommendations (CSV upload)", icon=":material/upload:"):
        st.caption("A CSV with columns `user`, `item` and `rank` (1 = best) or `score` (higher = better), "
                   "using this dataset's ids — e.g. the top-20 lists another tool made for the test users. "
                   "It is evaluated with the protocol above and appears as “Your recommendations”.")
        recs_file = st.file_uploader("Recommendations file", type=["csv", "tsv", "txt"], key="proxy-file")
        if not st.button("Evaluate it", disabled=recs_file is None, key="proxy-go"):
            return
        try:
            built = state.add_recommendations_file(name, recs_file.getvalue(), recs_file.name)
        except RecsysError as e:
            state.show_error(e)
            return
        model = built.model
        if model.unknown_users_ or model.unknown_items_:
            st.warning(f"Ignored rows naming {model.unknown_users_:,} unknown users and "
                       f"{model.unknown_items_:,} unknown items.")
        st.success(f"Evaluated {model.rows_:,} rows: NDCG@10 {built.manifest['metrics']['ndcg@10']:.4f}.")
        st.rerun()


def all_pairs(name: str, evaluations: dict[str, dict], metric: str, cohort: Cohort, report: Report) -> None:
    """Every pair of built models, tested as one family: the matrix the two-model verdict belongs to."""
    st.subheader("Which models are really better?")
    tests = state.model_tests(name, metric, list(evaluations), cohort)
    labels = {m: state.model_label(m) for m in evaluations}
    report.chart(st, figures.pairs_heatmap(pairs_matrix(tests, labels), metric))
    note = (f"Each cell: the row's mean {metric} minus the column's over the same {tests[0].n_users:,} test "
            f"users. Coloured only where the row really beats (or loses to) the column: a paired bootstrap "
            f"(10,000 resamples of users, seed 0) with Holm's correction over all {len(tests)} pairs, "
            f"so the chance of any false verdict on this page stays under 5%.")
    st.caption(note)
    report.text(note)


def cohort_picker(ds, split) -> Cohort:
    """Which test users the page compares models on: relevance that needs a rating, profile, activity,
    taste (a genre's share of the history)."""
    with st.expander("Which test users", icon=":material/group:"):
        a, b = st.columns(2)
        min_rating = None
        if ds.has_ratings:
            choice = a.select_slider("Count the held-out item as relevant only if rated at least",
                                     ["any rating", "2★", "3★", "4★", "5★"], key="ev-rated",
                                     bind="query-params",
                                     help="A held-out 1★ film is not a hit worth aiming for: users whose "
                                          "held-out item is rated lower are left out")
            min_rating = None if choice == "any rating" else float(choice[0])
        lengths = split.test.histories.lengths
        low, high = int(lengths.min()), int(lengths.max())
        activity = b.slider("History length (interactions)", low, high, (low, high), key="ev-activity",
                            bind="query-params") if low < high else (low, high)
        profile = ds.users if ds.users is not None else pd.DataFrame()
        c, d, e = st.columns(3)
        ages = genders = occupations = None
        if "age" in profile:
            years = pd.to_numeric(profile["age"], errors="coerce").dropna()
            span = (int(years.min()), int(years.max()))
            ages = c.slider("Age", *span, span, key="ev-age", bind="query-params")
            ages = None if ages == span else ages
        if "gender" in profile:
            genders = d.multiselect("Gender", sorted(profile["gender"].astype(str).unique()), key="ev-gender",
                                    placeholder="any", bind="query-params")
        if "occupation" in profile:
            occupations = e.multiselect("Occupation", sorted(profile["occupation"].astype(str).unique()),
                                        key="ev-occupation", placeholder="any", bind="query-params")
        taste = None
        if ds.has_genres:
            f, g = st.columns(2)
            genre = f.selectbox("Taste: a genre", ["any", *ds.genre_matrix()[1]], key="ev-taste",
                                bind="query-params")
            share = g.slider("…making up at least this share of their history", 0.0, 1.0, 0.2, 0.05,
                             key="ev-taste-share", bind="query-params", disabled=genre == "any")
            taste = None if genre == "any" else (genre, float(share))
    return Cohort(min_rating=min_rating, ages=ages, genders=tuple(genders or ()),
                  occupations=tuple(occupations or ()),
                  activity=None if tuple(activity) == (low, high) else tuple(activity), taste=taste)


def training_curves(name: str, models: list[str]) -> None:
    """Each trained model's per-epoch record: its loss and validation score."""
    st.subheader("Training curves")
    curves = state.training_curves(name, models)
    if curves.empty:
        st.caption("None of these models records epochs (they are fitted in closed form).")
        return
    quantities = sorted(curves["quantity"].unique(), key=lambda q: (not q.startswith("valid_"), q))
    quantity = st.radio("Show", quantities, horizontal=True, key="ev-curve", bind="query-params")
    st.plotly_chart(figures.training_curve(curves, quantity))
    without = [state.model_label(m) for m in models
               if state.model_label(m) not in set(curves.loc[curves["quantity"] == quantity, "model"])]
    if without:
        st.caption(f"Not recorded for {', '.join(without)}.")
    cut = state.stopped_by_budget(name, models)
    if cut:
        st.caption(f"Stopped by their time budget, not by validation: {', '.join(cut)} (a longer budget "
                   "may still help them: `max_seconds`).")


def two_models(name: str, evaluations: dict[str, dict], metric: str, cohort: Cohort, report: Report) -> None:
    """One pair from the family above: its verdict, the per-user scatter, and the users where the two
    disagree most (each a link to the Users page)."""
    st.subheader("Two models, user by user")
    names = list(evaluations)
    a, b = st.columns(2)
    first = a.selectbox("Model A", names, index=names.index("gpt") if "gpt" in names else 0,
                        format_func=state.model_label, key="ev-a", bind="query-params")
    second = b.selectbox("Model B", names, format_func=state.model_label, key="ev-b", bind="query-params",
                         index=names.index("bpr") if "bpr" in names else min(1, len(names) - 1))
    if first == second:
        st.info("Choose two different models.")
        return
    la, lb = state.model_label(first), state.model_label(second)
    a_values, b_values = evaluations[first][metric], evaluations[second][metric]
    result = find_pair(state.model_tests(name, metric, names, cohort), first, second)
    (st.success if result.significant else st.warning)(result.verdict(la, lb, metric))
    report.text(result.verdict(la, lb, metric))
    ids, users = state.get_dataset(name).user_ids, evaluations[first]["users"]
    left, right = st.columns([3, 2])
    report.chart(left, figures.pairs_scatter(
        pd.DataFrame({"user": ids[users].astype(str), la: a_values, lb: b_values}), la, lb, metric))
    worst = disagreements(users, a_values, b_values, n=12)
    worst.insert(0, "open", [state.user_url(name, ids[u], [first, second]) for u in worst["user"]])
    worst["user"] = ids[worst["user"]].astype(str)
    right.markdown("**Where they disagree most** (click to open the user)")
    right.dataframe(worst.rename(columns={"a": la, "b": lb}), hide_index=True, column_config={
        "open": st.column_config.LinkColumn("open", display_text="Users page ↗", width="small"),
        "difference": st.column_config.NumberColumn(format="%+.3f")})
