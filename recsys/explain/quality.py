"""How good is an explanation? Measures per case (one history, one recommended item), never only a mean.

- ``removal_check``: remove each history item alone and rank the drop caused by the most-credited one
  (1 = no single removal lowers the score more); ``faithful_top3`` is rank ≤ 3.
- ``deletion_curve`` / ``insertion_curve``: the item's rank as the most-credited items are removed from
  the history (or added, in their original order, to an empty one). The curve is rank₀ / rankₖ, so it
  starts at 1 and falls as the item sinks; ``curve_auc`` is the area under it over k = 0..steps
  (trapezoids, x scaled to [0, 1]). A lower deletion area means the credited items matter more; a higher
  insertion area means they suffice.
- ``stability``: do repeated runs (other seeds) name the same top 3, and how well do their credits agree
  in rank (Spearman)?
- ``check_cases``: the in-app check, one row per recommended item (what the Users and Explanations
  pages show), and ``check_summary`` its one-line verdict.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.explain.counterfactual import excluded_mask, ranks_per_row, removal_ranks
from recsys.explain.history import HistoryExplanation, bind_user
from recsys.explain.methods import credit_order, single_removals
from recsys.explain.text import counterfactual_sentence, natural_title
from recsys.models.base import Recommender


@dataclass
class RemovalCheck:
    """Does removing the most-credited history item lower the score the most?"""

    position: int              # history position with the largest credit
    drop: float                # score lost when that one item is removed
    rank: int                  # 1 = no other single removal lowers the score more
    drops: np.ndarray          # score lost by removing each position alone

    @property
    def faithful_top3(self) -> bool:
        return self.rank <= 3


def single_removal_drops(model: Recommender, history: np.ndarray, items,
                         single: np.ndarray | None = None) -> np.ndarray:
    """(positions, items): the score each item loses when one history position is removed. ``single``:
    ``single_removals(model, history)``, when the caller has it already."""
    items = np.atleast_1d(np.asarray(items, np.int64))
    single = single_removals(model, history) if single is None else single
    scores = single[:, items].astype(np.float64)
    return scores[0][None, :] - scores[1:]


def removal_check(model: Recommender, explanation: HistoryExplanation,
                  drops: np.ndarray | None = None) -> RemovalCheck:
    """Rank the drop of the most-credited position among all single removals (``drops``: this item's
    column of ``single_removal_drops``, computed when not given)."""
    if drops is None:
        drops = single_removal_drops(model, explanation.history, [explanation.item])[:, 0]
    top = int(np.argmax(explanation.values))
    rank = 1 + int((drops > drops[top] + 1e-9 * max(1.0, abs(drops[top]))).sum())
    return RemovalCheck(top, float(drops[top]), rank, drops)


def check_cases(model: Recommender, history: np.ndarray, explained: list[HistoryExplanation],
                titles: np.ndarray, user: int | None = None) -> list[dict]:
    """The explanation check, one row per explained item: the rank of the most-credited item's drop
    among all single removals, whether the counterfactual holds when re-scored now, and whether the
    model's terms prove that none can exist. ``user`` binds per-user models as the explanation did."""
    model = bind_user(model, user)
    h = np.asarray(history, np.int64)
    drops = single_removal_drops(model, h, [e.item for e in explained])
    # The set each sentence names, re-scored in one batch of model calls: the counterfactual, or where
    # none was found within max_removals the larger set found beyond.
    named = {e.item: e.counterfactual.removed if e.counterfactual.found else e.counterfactual.beyond
             for e in explained if e.counterfactual is not None
             and (e.counterfactual.found or len(e.counterfactual.beyond))}
    rescored = dict(zip(named, ranks_per_row(
        model, [np.delete(h, removed) for removed in named.values()],
        np.array(list(named), np.int64), excluded_mask(model.n_items_, h))[0].tolist()))
    rows = []
    for j, e in enumerate(explained):
        row = {"recommendation": natural_title(titles[e.item]), "method": e.method,
               "uncertainty": e.uncertainty, "counterfactual": counterfactual_sentence(e, titles)}
        if e.method == "none":
            rows.append({**row, "most-credited item": "—", "its removal drop ranks": "—",
                         "faithful (top 3)": None, "re-scored rank": None, "counterfactual holds": None,
                         "none can exist": None, "larger set holds": None})
            continue
        check = removal_check(model, e, drops[:, j])
        fact, rank = e.counterfactual, rescored.get(e.item)
        found = rank if fact is not None and fact.found else None
        larger = rank if fact is not None and not fact.found else None
        rows.append({**row, "most-credited item": natural_title(titles[h[check.position]]),
                     "its removal drop ranks": f"{check.rank} of {len(h)}",
                     "faithful (top 3)": check.faithful_top3, "re-scored rank": found,
                     "counterfactual holds": None if found is None else found > fact.cutoff,
                     # Unknown (blank) where no set was found and none was ruled out: "no" would say
                     # that one exists.
                     "none can exist": None if fact is None or not (fact.found or fact.proved_none)
                     else fact.proved_none,
                     "larger set holds": None if larger is None else larger > fact.cutoff})
    return rows


def check_summary(rows: list[dict]) -> str:
    """One line over ``check_cases`` rows (each row stays visible: a mean would hide the failures)."""
    judged = [r["faithful (top 3)"] for r in rows if r["faithful (top 3)"] is not None]
    holds = [r["counterfactual holds"] for r in rows if r["counterfactual holds"] is not None]
    proved = sum(bool(r["none can exist"]) for r in rows)
    larger = [r["larger set holds"] for r in rows if r.get("larger set holds") is not None]
    return (f"**Faithful in {sum(judged)} of {len(judged)} cases**; a counterfactual was found for "
            f"{len(holds)} of {len(rows)} and holds when re-scored in {sum(holds)}"
            + (f"; for {proved} the model's terms prove that none exists" if proved else "")
            + (f"; of the others, {len(larger)} name a larger set, which holds when re-scored in "
               f"{sum(larger)}" if larger else "") + ".")


def curve_auc(curve: np.ndarray) -> float:
    """Area under a curve sampled at evenly spaced points, x scaled to [0, 1]."""
    curve = np.asarray(curve, np.float64)
    if len(curve) < 2:
        return float(curve[0]) if len(curve) else float("nan")
    return float((curve[:-1] + curve[1:]).sum() / (2 * (len(curve) - 1)))


def deletion_curves(model: Recommender, history: np.ndarray, items, orders: list[np.ndarray],
                    steps: int = 10) -> np.ndarray:
    """(items, steps + 1) curves rank₀ / rankₖ, removing each item's ``orders`` positions one by one."""
    items = np.atleast_1d(np.asarray(items, np.int64))
    ranks = removal_ranks(model, history, items, orders, steps, excluded_mask(model.n_items_, history))
    return ranks[:, :1] / ranks


def insertion_curves(model: Recommender, history: np.ndarray, items, orders: list[np.ndarray],
                     steps: int = 10) -> np.ndarray:
    """(items, steps + 1) curves rank_full / rankₖ with only the first k of each order in the history
    (original order kept); k = 0 is the empty history."""
    items = np.atleast_1d(np.asarray(items, np.int64))
    steps = min(steps, len(history))
    excluded = excluded_mask(model.n_items_, history)
    histories, which = [], []
    for item, order in zip(items, orders):
        histories.append(history)
        which.append(item)
        for k in range(steps + 1):
            histories.append(history[np.sort(order[:k])])
            which.append(item)
    ranks = ranks_per_row(model, histories, np.asarray(which), excluded)[0].reshape(len(items), steps + 2)
    return ranks[:, :1] / ranks[:, 1:]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation of two credit vectors (1 when both are constant)."""
    ra = np.argsort(np.argsort(a, kind="stable"), kind="stable").astype(np.float64)
    rb = np.argsort(np.argsort(b, kind="stable"), kind="stable").astype(np.float64)
    if np.allclose(a, a[0]) and np.allclose(b, b[0]):
        return 1.0
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def stability(runs: list[HistoryExplanation], n: int = 3) -> tuple[bool, float]:
    """Across runs of one case (other seeds): is the top-``n`` set identical in all of them, and the
    mean pairwise Spearman correlation of their credits."""
    tops = [frozenset(credit_order(r.values)[:n].tolist()) for r in runs]
    same = all(t == tops[0] for t in tops)
    pairs = [spearman(runs[i].values, runs[j].values) for i in range(len(runs))
             for j in range(i + 1, len(runs))]
    return same, float(np.mean(pairs)) if pairs else 1.0
