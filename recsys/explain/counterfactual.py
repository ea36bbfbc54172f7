"""Counterfactual explanations: the smallest set of history items found whose removal takes a recommended
item out of the top of the list, verified by re-scoring ("without A and B, Wag the Dog drops from #1 to
#37"), as PRINCE (Ghazimatin et al. 2020) and ACCENT (Tran et al. 2021) do for recommenders.

Ranks here are those of the list the user sees: every item of the *original* history stays excluded, so a
removal changes what the model believes, not which items are allowed.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from recsys.errors import ParameterError
from recsys.explain.methods import credit_order, single_removals
from recsys.models.base import Recommender


@dataclass
class Counterfactual:
    removed: np.ndarray        # history positions whose removal pushes the item out, in the order found
    found: bool                # False: no set of up to max_removals items found
    rank_before: int           # the item's rank with the whole history
    rank_after: int            # its rank without ``removed`` (re-scored), or after the best attempt
    cutoff: int                # "out of the top cutoff"
    max_removals: int
    checked: int               # histories scored in the search
    proved_none: bool = False  # not found, and the model's terms prove no set of max_removals would do
    # Not found: the fewest positions found, more than max_removals, whose removal does take the item out
    # (the ones that lower it most alone first; re-scored), and its rank then. Empty when none was.
    beyond: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    rank_beyond: int = 0


def excluded_mask(n_items: int, history: np.ndarray) -> np.ndarray:
    """Items that never rank: the original history."""
    mask = np.zeros(n_items, bool)
    mask[history] = True
    return mask


def ranks_per_row(model: Recommender, histories: list[np.ndarray], items: np.ndarray,
                  excluded: np.ndarray, batch: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Rank and score of ``items[r]`` for ``histories[r]`` (one item per history): two 1-D arrays."""
    items = np.asarray(items, np.int64)
    ranks = np.empty(len(histories), np.int64)
    scores = np.empty(len(histories), np.float64)
    for lo in range(0, len(histories), batch):
        s = model.score(histories[lo:lo + batch])
        ranks[lo:lo + batch] = ranks_in(s, items[lo:lo + batch], excluded)
        scores[lo:lo + batch] = s[np.arange(len(s)), items[lo:lo + batch]]
    return ranks, scores


def removal_ranks(model: Recommender, history: np.ndarray, items: np.ndarray, orders: list[np.ndarray],
                  steps: int, excluded: np.ndarray) -> np.ndarray:
    """(items, steps + 1) ranks of each item after removing the first 0..steps positions of its order
    (column 0 is the whole history): the deletion curve and the counterfactual's first search."""
    steps = min(steps, len(history))
    histories, which, counts = [], [], []
    for j, order in enumerate(orders):
        counts.append(min(steps, len(order)) + 1)          # a shorter order ends early
        for k in range(counts[-1]):
            histories.append(np.delete(history, order[:k]))
            which.append(items[j])
    ranks, _ = ranks_per_row(model, histories, np.asarray(which, np.int64), excluded)
    out = np.empty((len(orders), steps + 1), np.int64)
    for j, part in enumerate(np.split(ranks, np.cumsum(counts)[:-1])):
        out[j, :len(part)] = part
        out[j, len(part):] = part[-1]                       # nothing more to remove
    return out


def best_scores(scores: np.ndarray, excluded: np.ndarray, count: int) -> np.ndarray:
    """Each row's ``count`` best scores among the items not ``excluded``, best first.

    Only the scores above a floor are sorted: the ``count``-th best of the row's block maxima is at most
    the ``count``-th best score. On a 54k-item catalogue a partition of whole rows was most of the search's
    time (10 ms a row where scores tie a lot, as a neighbourhood model's zeros do).
    """
    s = np.array(scores, np.float64)
    s[:, excluded] = -np.inf
    rows, n = s.shape
    count = min(count, n)
    block = min(64, n // (4 * max(count, 1)))                  # at least 4 × count blocks
    if block < 2:                                              # small catalogues: sort whole rows
        return -np.sort(-s, axis=1)[:, :count]
    whole = n - n % block
    maxima = s[:, :whole].reshape(rows, -1, block).max(axis=2)
    if whole < n:
        maxima = np.concatenate([maxima, s[:, whole:].max(axis=1, keepdims=True)], axis=1)
    floor = -np.partition(-maxima, count - 1, axis=1)[:, count - 1]
    out = np.empty((rows, count))
    for r in range(rows):
        above = s[r][s[r] > floor[r]]
        if len(above) > count:
            above = np.partition(above, len(above) - count)[len(above) - count:]
        out[r, :len(above)] = np.sort(above)[::-1]
        out[r, len(above):] = floor[r]                         # at least count scores reach the floor
    return out


def margins(scores: np.ndarray, items: np.ndarray, excluded: np.ndarray, limits: np.ndarray,
            best: np.ndarray | None = None) -> np.ndarray:
    """How far each row's item is above the ``limit``-th best other candidate: negative once it has
    left the top ``limit``. ``scores``: (rows, n_items) model scores; one item and limit per row.
    ``best``: ``best_scores`` of these rows (at least max(limits) + 1 of them), when already known."""
    limits = np.asarray(limits, np.int64)
    rows = np.arange(len(scores))
    own = scores[rows, items].astype(np.float64)
    if best is None:
        best = best_scores(scores, excluded, int(limits.max(initial=0)) + 1)
    best = np.concatenate([best, np.full((len(best), 1), -np.inf)], axis=1)
    # Among the best, the item itself (when it competes) takes one place: the limit-th other is one on.
    competes = ~excluded[items] & (own >= best[rows, np.clip(limits - 1, 0, best.shape[1] - 1)])
    at = np.minimum(limits - 1 + competes, best.shape[1] - 1)
    return own - best[rows, at]


def counterfactuals(model: Recommender, history: np.ndarray, items: np.ndarray, values: np.ndarray, *,
                    cutoff: int = 10, max_removals: int = 10, excluded: np.ndarray | None = None,
                    single: np.ndarray | None = None, pool: int = 30) -> list[Counterfactual]:
    """For each item, the smallest set found of history positions whose removal ranks it below
    ``cutoff`` (or below its own rank, when that is lower already).

    The search works on the item's *margin* over the best item outside the top (a removal can lower
    the rank while raising the score, when other items rise more). 1. Remove positions in three orders
    and keep the shortest prefix that works: by how much each alone lowers the margin, by the
    explanation's credit, and the most recent first (sequence models read the latest items together:
    removing the last two can change everything while each alone changes little). 2. Failing all
    three, a greedy search: at each step remove, of the ``pool`` most margin-lowering positions, the one
    that leaves the lowest margin. 3. Failing that too, an integer program (``additive_set``): the
    smallest set that would take the item out if the single removals' effects on its lead over every
    other item added up — the greedy steps miss sets whose members each help little, or help against
    different items. 4. Shrink the set found: drop any member it does not need. Every reported rank
    comes from re-scoring that history. Where none is found and the model bounds how far a
    few removals can move its scores (``lead_floors``), the bound decides whether any set could work
    (``proved_none``).
    ``single``: the model's scores for the history and for each single removal ((n + 1, n_items),
    row 0 the whole history), when the caller has them already.
    """
    items = np.asarray(items, np.int64)
    excluded = excluded_mask(model.n_items_, history) if excluded is None else excluded
    n = len(history)
    if not n:
        return [Counterfactual(np.zeros(0, np.int64), False, 0, 0, cutoff, max_removals, 0) for _ in items]
    if single is None:
        single = single_removals(model, history)
    full = single[:1].repeat(len(items), axis=0)
    before = ranks_in(full, items, excluded)
    limits = np.maximum(cutoff, before)
    margin0 = margins(full, items, excluded, limits)
    orders, pools = [], []
    recent = np.arange(n)[::-1]
    # Every item's single-removal margins read the same rows' best scores: partition them once.
    best = best_scores(single[1:], excluded, int(limits.max()) + 1)
    for j, item in enumerate(items):
        with np.errstate(invalid="ignore"):  # ∞ − ∞: fewer other candidates than the limit, no drop
            drop = margin0[j] - margins(single[1:], np.full(n, item), excluded, np.full(n, limits[j]), best)
        drop[np.isnan(drop)] = 0
        by_margin = np.lexsort((-np.arange(n), -drop))
        by_credit = credit_order(values[:, j])
        orders.append((by_margin, by_credit[values[by_credit, j] > 0], recent))
        pools.append(list(by_margin[:pool]))
    # Every stage scores the trials of all items in one batch: the model's calls are the cost.
    search = _Search(model, history, items, limits, excluded)
    removed, ranks = search.shortest_prefix(orders, max_removals)
    search.greedy(removed, ranks, pools, max_removals)
    search.program(removed, ranks, single, max_removals)
    search.shrink(removed, ranks)
    found = ranks > limits
    missed = np.flatnonzero(~found)
    beyond, rank_beyond = search.beyond(missed, [o[0] for o in orders], max_removals)
    proved = np.zeros(len(items), bool)
    floors = lead_floors(model, history, items[missed], max_removals) if len(missed) and n > max_removals \
        else None
    if floors is not None:
        for j, floor in zip(missed, floors):
            proved[j] = not could_leave(floor, items[j], excluded, limits[j])
    return [Counterfactual(np.asarray(removed[j], np.int64), bool(found[j]), int(before[j]),
                           int(ranks[j]), int(limits[j]), max_removals, int(search.checked[j] + n + 1),
                           bool(proved[j]), np.asarray(beyond[j], np.int64), int(rank_beyond[j]))
            for j in range(len(items))]


def single_effects(single: np.ndarray, item: int, excluded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The item's lead over each other candidate, (others,), and what removing each history position
    alone does to it, (others, positions): ``additive_set``'s input, from ``single`` (the scores of the
    whole history, row 0, and of each single removal)."""
    others = ~excluded
    others[item] = False
    lead = single[0, item].astype(np.float64) - single[0, others]
    return lead, (single[1:, item, None].astype(np.float64) - single[1:, others]).T - lead[:, None]


def additive_set(lead: np.ndarray, changes: np.ndarray, limit: int, max_removals: int, *,
                 node_limit: int = 500, most_others: int = 30,
                 most_positions: int = 40) -> np.ndarray | None:
    """The smallest set of at most ``max_removals`` positions that would make at least ``limit`` items
    pass the item if each removal's effect on its lead simply added up, or None when none would.

    ``lead``: (others,) the item's lead over each other candidate now; ``changes``: (others, positions)
    what removing each position alone does to that lead (exact, from re-scoring single removals). An
    integer program (HiGHS, through scipy's ``milp``): binary x_p (remove p) and y_c (c passes), at most
    ``max_removals`` x, at least ``limit`` y, and lead_c + Σ_p changes[c, p] x_p < 0 wherever y_c. Only
    a re-scored history shows whether the set really works (effects do not add up exactly). None is an
    estimate, not a proof: as far as the single effects add up
    (or none found within ``node_limit`` nodes of the program's branch and bound).
    The program is kept small enough for the 2 s a list: the ``most_others`` items nearest to passing
    (by their lowest lead alone) and the ``most_positions`` positions that lower those leads most (a
    200-item history's GPT case took 5 s a program in full, and found no set that held)."""
    lead, changes = np.asarray(lead, np.float64), np.asarray(changes, np.float64)
    floor = lowest_lead(lead, changes, max_removals)
    could = np.flatnonzero(floor < 0)                                # each can pass on its own
    if len(could) < limit or not changes.shape[1]:
        return None
    could = could[np.argsort(floor[could], kind="stable")[:max(most_others, limit)]]
    lead, changes = lead[could], changes[could]
    positions = np.argsort(np.clip(changes, None, 0).sum(axis=0), kind="stable")[:most_positions]
    changes = changes[:, positions]
    others, n = changes.shape
    tol = 1e-9 * max(1.0, float(np.abs(lead).max()))
    # Big enough that y_c = 0 switches c's row off whatever x is: its lead can rise by the positive changes.
    big = np.maximum(lead + np.clip(changes, 0, None).sum(axis=1) + tol, 0) + 1
    pick = lambda xs, ys: sparse.csr_matrix(np.concatenate([xs, ys])[None])  # noqa: E731
    constraints = [LinearConstraint(pick(np.ones(n), np.zeros(others)), 0, max_removals),
                   LinearConstraint(pick(np.zeros(n), np.ones(others)), limit, np.inf),
                   LinearConstraint(sparse.hstack([sparse.csr_matrix(changes), sparse.diags(big)]),
                                    -np.inf, big - tol - lead)]
    found = milp(np.concatenate([np.ones(n), np.zeros(others)]), constraints=constraints,
                 integrality=np.ones(n + others), bounds=Bounds(0, 1), options={"node_limit": node_limit})
    if found.x is None:
        return None
    return np.sort(positions[found.x[:n] > 0.5])


def lowest_lead(lead: np.ndarray, changes: np.ndarray, max_removals: int) -> np.ndarray:
    """The least ``lead`` (…, others) can become when up to ``max_removals`` positions are removed, given
    a lower bound on each position's change to it (``changes``: (…, others, positions)) that sums over
    any set: the lead plus the most negative ones."""
    k = min(max_removals, changes.shape[-1])
    if not k:
        return lead
    return lead + np.clip(np.partition(changes, k - 1, axis=-1)[..., :k], None, 0).sum(axis=-1)


def lead_floors(model: Recommender, history: np.ndarray, items: np.ndarray, max_removals: int
                ) -> np.ndarray | None:
    """(len(items), n_items) lower bounds on each item's lead over every other item after removing any
    set of up to ``max_removals`` history positions, or None when the model offers none: from its own
    ``lead_terms`` (Bayesian MF), or from ``history_terms`` for a model that ranks by their sum.

    Removing positions S lowers the item's lead over another item c by the sum over S of
    terms[p, item] − terms[p, c] (what p gives the item more than c), exactly.
    """
    if hasattr(model, "lead_terms"):
        parts = model.lead_terms(history, items, max_removals)
        return None if parts is None else lowest_lead(*parts, max_removals)
    terms = model.history_terms(history) if hasattr(model, "history_terms") else None
    if terms is None:
        return None
    floors = []
    for item in items:
        favours = terms[:, item:item + 1].astype(np.float64) - terms     # (positions, n_items)
        floors.append(lowest_lead(favours.sum(axis=0), -favours.T, max_removals))
    return np.array(floors)


def branch_and_bound(model: Recommender, history: np.ndarray, item: int, limit: int, *,
                     max_removals: int = 10, excluded: np.ndarray | None = None, max_nodes: int = 2000
                     ) -> tuple[str, np.ndarray, int]:
    """Decide whether some set of up to ``max_removals`` history positions takes ``item`` below the top
    ``limit``, for a model with ``lead_terms`` (Bayesian MF): ("found", the
    set, nodes), ("none", empty, nodes) when the bound rules out every set, or ("open", empty, nodes)
    after ``max_nodes`` without either.

    Each node fixes some positions as removed and some as kept; the bound over what the remaining
    removals can do prunes it, or it branches on the position whose removal the bound says could lower
    the item's lead most over the items that might still pass it (removing first: a depth-first dive
    is a greedy search on the bound). The greedy search on re-scored margins misses sets whose members
    help little one at a time; this finds them, at tens of milliseconds a node.
    """
    history = np.asarray(history, np.int64)
    excluded = excluded_mask(model.n_items_, history) if excluded is None else excluded
    empty = np.zeros(0, np.int64)
    others = np.flatnonzero(~excluded)
    others = others[others != item]
    # (removed, kept) positions and the items that may still pass: a node's sets are among its
    # parent's, so an item its parent's bound rules out stays ruled out below it.
    stack: list[tuple[tuple[int, ...], tuple[int, ...], np.ndarray]] = [((), (), others)]
    nodes = 0
    while stack:
        if nodes == max_nodes:
            return "open", empty, nodes
        removed, kept, others = stack.pop()
        nodes += 1
        left = np.delete(history, removed)
        if ranks_in(model.score([left]), np.array([item]), excluded)[0] > limit:
            return "found", np.array(removed, np.int64), nodes
        budget = max_removals - len(removed)
        positions = np.delete(np.arange(len(history)), removed)             # where left's rows came from
        removable = ~np.isin(positions, kept)
        if not budget or not removable.any():
            continue
        parts = model.lead_terms(left, [item], budget, removable=removable, others=others)
        if parts is None:
            raise ParameterError("this model bounds nothing a removal can do (see can_decide)")
        lead, terms = parts[0][0], parts[1][0]
        passing = lowest_lead(lead, terms, budget) < 1e-9
        if passing.sum() < limit:                                            # (could_leave on others)
            continue
        gain = np.clip(terms[passing], None, 0).sum(axis=0)                 # per removable position
        branch = int(positions[removable][np.argmin(gain)])
        stack.append((removed, kept + (branch,), others[passing]))
        stack.append((tuple(sorted(removed + (branch,))), kept, others[passing]))
    return "none", empty, nodes


def can_decide(model) -> bool:
    """Whether ``decide`` can settle this model's open cases: its bound comes in per-position pieces
    (``lead_terms``), and it gives one (Bayesian MF with Thompson sampling ranks by a random draw)."""
    terms = getattr(model, "lead_terms", None)
    return callable(terms) and terms(np.zeros(0, np.int64), [0], 0) is not None


def decide(model: Recommender, history: np.ndarray, item: int, fact: Counterfactual, *,
           max_nodes: int = 3000, excluded: np.ndarray | None = None) -> tuple[str, Counterfactual]:
    """Settle a case the search left open (``fact``: neither found nor proved) with ``branch_and_bound``:
    ("found", the counterfactual with the set shrunk until every member is needed and its rank
    re-scored), ("none", ``fact`` marked proved), or ("open", ``fact``) after ``max_nodes`` nodes.
    ``checked`` counts the nodes on top of the search's histories."""
    if fact.found or fact.proved_none:                  # settled already
        return ("found" if fact.found else "none"), fact
    history = np.asarray(history, np.int64)
    excluded = excluded_mask(model.n_items_, history) if excluded is None else excluded
    status, removed, nodes = branch_and_bound(model, history, item, fact.cutoff,
                                              max_removals=fact.max_removals, excluded=excluded,
                                              max_nodes=max_nodes)
    checked = fact.checked + nodes
    if status != "found":
        return status, replace(fact, checked=checked, proved_none=status == "none")
    search = _Search(model, history, np.array([item]), np.array([fact.cutoff]), excluded)
    sets, ranks = [list(removed)], search.evaluate([(0, list(removed))])[0]
    search.shrink(sets, ranks)
    return status, replace(fact, removed=np.asarray(sets[0], np.int64), found=True, rank_after=int(ranks[0]),
                           checked=checked + int(search.checked[0]), beyond=np.zeros(0, np.int64),
                           rank_beyond=0)


def could_leave(floor: np.ndarray, item: int, excluded: np.ndarray, limit: int) -> bool:
    """False when ``floor`` (the item's least lead over each item, ``lead_floors``) shows that fewer than
    ``limit`` other items can pass it: the item then cannot leave the top ``limit``."""
    can_pass = floor < 1e-9                  # a lead of zero is a tie, but float error could hide one
    can_pass[excluded] = False
    can_pass[item] = False
    return int(can_pass.sum()) >= limit


def ranks_in(scores: np.ndarray, items: np.ndarray, excluded: np.ndarray) -> np.ndarray:
    """Rank (1 = top) of ``items[r]`` in score row r, among the items not ``excluded``."""
    s = scores.astype(np.float64, copy=True)
    own = s[np.arange(len(s)), items].copy()
    s[:, excluded] = -np.inf
    return 1 + (s > own[:, None]).sum(axis=1)


class _Search:
    """The counterfactual search's stages, each one batch of model calls over all items."""

    def __init__(self, model, history, items, limits, excluded):
        self.model, self.history, self.items, self.limits, self.excluded = \
            model, history, items, limits, excluded
        self.checked = np.zeros(len(items), np.int64)

    def evaluate(self, trials: list[tuple[int, list[int]]]) -> tuple[np.ndarray, np.ndarray]:
        """Rank and margin of item j after removing ``positions``, for each (j, positions)."""
        if not trials:
            return np.zeros(0, np.int64), np.zeros(0)
        owner = np.array([j for j, _ in trials])
        # Orders shared by every item (the most recent first) ask for the same histories: score each once.
        keys = [tuple(sorted(r)) for _, r in trials]
        unique = list(dict.fromkeys(keys))
        row = {key: i for i, key in enumerate(unique)}
        scores = self.model.score([np.delete(self.history, list(key)) for key in unique])
        scores = scores[[row[key] for key in keys]]
        np.add.at(self.checked, owner, 1)
        items = self.items[owner]
        return (ranks_in(scores, items, self.excluded),
                margins(scores, items, self.excluded, self.limits[owner]))

    def shortest_prefix(self, orders, max_removals):
        """Remove 1, 2, … of each order's first positions, one round per size, until the item leaves
        the top: most items need one or two removals, so later rounds score few histories."""
        removed = [[] for _ in self.items]
        best = np.zeros(len(self.items), np.int64)
        active = list(range(len(self.items)))
        for k in range(1, max_removals + 1):
            trials = sorted({(j, tuple(o[:k])) for j in active for o in orders[j] if len(o) >= k})
            if not trials:
                break
            ranks, _ = self.evaluate(trials)
            for (j, r), rank in zip(trials, ranks):
                best[j] = max(best[j], rank) if not removed[j] else best[j]
                if not removed[j] and rank > self.limits[j]:
                    removed[j], best[j] = list(r), rank
            active = [j for j in active if not removed[j]]
        return removed, best

    def greedy(self, removed, ranks, pools, max_removals):
        """For the items the prefixes did not move: at each step remove, of the item's pool, the
        position that leaves the lowest margin."""
        active = [j for j in range(len(self.items)) if ranks[j] <= self.limits[j] and pools[j]]
        for j in active:
            removed[j] = []
        for _ in range(max_removals):
            trials = [(j, removed[j] + [p]) for j in active for p in pools[j] if p not in removed[j]]
            if not trials:
                break
            rank, margin = self.evaluate(trials)
            owner = np.array([j for j, _ in trials])
            for j in active:
                rows = np.flatnonzero(owner == j)
                pick = rows[np.argmin(margin[rows])]
                removed[j], ranks[j] = trials[pick][1], int(rank[pick])
            active = [j for j in active if ranks[j] <= self.limits[j]]

    def program(self, removed, ranks, single, max_removals):
        """For the items still in the top: ``additive_set`` over the single removals' effects
        (``single``: the scores of the whole history and of each single removal), re-scored. One set
        each: where effects add up it holds (Bayesian MF with every rating alike on the 200 bench users: all 17 sets of the program
        over every item and position held; 15 are found within the sizes ``additive_set`` keeps); where
        they do not, solving again without the set that failed found a few more, in 3–10 tries (UserKNN 3
        of 95 misses, Hybrid CF 3 of 71), at several times the cost."""
        trials = []
        for j in range(len(self.items)):
            if ranks[j] <= self.limits[j]:
                found = additive_set(*single_effects(single, self.items[j], self.excluded),
                                     int(self.limits[j]), max_removals)
                if found is not None:
                    trials.append((j, found.tolist()))
        rank, _ = self.evaluate(trials)
        for (j, found), r in zip(trials, rank):
            if r > self.limits[j]:
                removed[j], ranks[j] = found, int(r)

    def beyond(self, missed, orders, max_removals) -> tuple[list[list[int]], np.ndarray]:
        """For the ``missed`` items (no set of up to ``max_removals`` found): how many of the first
        positions of their order (the most effective alone first) it takes to move each out, by doubling
        the count from ``max_removals`` and then halving the gap, every count re-scored; the whole
        history is never removed (some models cannot score an empty one). An auditor's answer to "then
        how firmly is it held?"; with no monotone order guaranteed, the fewest *found*."""
        sets, ranks = [[] for _ in self.items], np.zeros(len(self.items), np.int64)
        last = {j: len(orders[j]) - 1 for j in missed}                                 # most allowed
        low = {j: max_removals for j in missed if last[j] > max_removals}              # known to fail
        high: dict[int, tuple[int, int]] = {}                                         # count, rank

        def next_count(j: int) -> int | None:
            if j not in high:                                  # still doubling
                return min(2 * low[j], last[j]) if low[j] < last[j] else None
            return (low[j] + high[j][0]) // 2 if high[j][0] - low[j] > 1 else None  # halving the gap

        trying = {j: count for j in low if (count := next_count(j)) is not None}
        while trying:
            rank, _ = self.evaluate([(j, list(orders[j][:count])) for j, count in trying.items()])
            for (j, count), r in zip(trying.items(), rank):
                if r > self.limits[j]:
                    high[j] = (count, int(r))
                else:
                    low[j] = count
            trying = {j: count for j in trying if (count := next_count(j)) is not None}
        for j, (count, r) in high.items():
            sets[j], ranks[j] = list(orders[j][:count]), r
        return sets, ranks

    def shrink(self, removed, ranks):
        """Drop, while any remains, a member the set does not need."""
        active = [j for j in range(len(self.items)) if ranks[j] > self.limits[j] and len(removed[j]) > 1]
        while active:
            trials = [(j, [p for p in removed[j] if p != q]) for j in active for q in removed[j]]
            rank, _ = self.evaluate(trials)
            owner = np.array([j for j, _ in trials])
            still = []
            for j in active:
                rows = np.flatnonzero(owner == j)
                ok = rows[rank[rows] > self.limits[j]]
                if len(ok):
                    pick = ok[np.argmax(rank[ok])]
                    removed[j], ranks[j] = trials[pick][1], int(rank[pick])
                    if len(removed[j]) > 1:
                        still.append(j)
            active = still
