"""How often the counterfactual search misses a counterfactual that exists, measured against exhaustive
search on short histories.

    .venv/bin/python bench/counterfactual_recall.py [--models bpr,userknn,content] [--histories 8]

When RecLens says "no set of up to 10 history items found", an auditor needs to know whether none exists
or the search gave up. On a history of at most ``--max-history`` items (ml-100k users have 19 or more
after the held-out item) every subset of up to 10 removals can be scored, so each search result can be
compared with the truth. For the first ``--histories`` such test users of the seeded sample
bench/explain_quality.py uses, and their top-10 lists, per model:

- found: cases where the search found a set; exist: cases where some set of ≤ 10 removals exists
  (exhaustive); recall = found / exist (1.0: "none found" always meant "none exists")
- minimal: share of found sets that are as small as the smallest that exists; extra: mean number of
  removals more than the smallest
- subsets: histories scored by the exhaustive search per user

Slow by design (hundreds of thousands of histories per user): models whose scores are cheap only.
Writes bench/results/counterfactual_recall.json.
"""
from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

from common import command_line, print_table, write_results

from recsys.data import load_dataset
from recsys.explain import explain_items
from recsys.explain.counterfactual import excluded_mask, ranks_in
from recsys.explain.history import bind_user
from recsys.pipeline import build_model
from recsys.split import make_split

COLUMNS = ["model", "histories", "cases", "found", "exist", "recall", "minimal", "extra", "subsets",
           "seconds"]


def smallest_sets(scorer, history: np.ndarray, items: np.ndarray, limits: np.ndarray, upto: np.ndarray,
                  max_removals: int = 10, chunk: int = 4096) -> tuple[np.ndarray, int]:
    """Per item, the size of the smallest set of history positions whose removal ranks it below its
    limit (0: none of up to ``max_removals``), trying every subset of size ≤ ``upto[j]``; and how many
    histories were scored."""
    excluded = excluded_mask(scorer.n_items_, history)
    smallest = np.zeros(len(items), np.int64)
    scored = 0
    positions = np.arange(len(history))
    for size in range(1, min(max_removals, len(history) - 1) + 1):
        open_ = (smallest == 0) & (upto >= size)
        if not open_.any():
            break
        subsets = itertools.combinations(positions, size)
        while batch := list(itertools.islice(subsets, chunk)):
            keep = np.ones((len(batch), len(history)), bool)
            keep[np.repeat(np.arange(len(batch)), size), np.concatenate(batch)] = False
            scores = scorer.score([history[k] for k in keep])
            scored += len(batch)
            for j in np.flatnonzero(open_):
                ranks = ranks_in(scores, np.full(len(batch), items[j]), excluded)
                if (ranks > limits[j]).any():
                    smallest[j] = size
            open_ &= smallest == 0
            if not open_.any():
                break
    return smallest, scored


def evaluate_model(model, split, users: np.ndarray) -> dict:
    cases, found, exist, minimal, extra, subsets = 0, 0, 0, 0, [], []
    start = time.perf_counter()
    for u in users:
        history = split.test.histories[u].astype(np.int64)
        user = int(split.test.users[u])
        items = model.recommend(history, k=10, users=None if model.per_user_parameters else [user])[0]
        facts = [e.counterfactual for e in explain_items(model, history, items, user=user)]
        sizes = np.array([len(f.removed) if f.found else 0 for f in facts])
        limits = np.array([f.cutoff for f in facts])
        # A found set only needs smaller sets tried (is it minimal?); a miss needs every size.
        upto = np.where(sizes > 0, sizes - 1, 10)
        smallest, scored = smallest_sets(bind_user(model, user), history, items, limits, upto)
        smallest = np.where((sizes > 0) & (smallest == 0), sizes, smallest)
        cases += len(items)
        found += int((sizes > 0).sum())
        exist += int((smallest > 0).sum())
        minimal += int(((sizes > 0) & (sizes == smallest)).sum())
        extra += (sizes - smallest)[sizes > 0].tolist()
        subsets.append(scored)
        print(f"  {model.name} user {user} ({len(history)} items): found {(sizes > 0).sum()}, "
              f"exist {(smallest > 0).sum()}, {scored:,} subsets", flush=True)
    return {"model": model.name, "histories": len(users), "cases": cases, "found": found, "exist": exist,
            "recall": found / exist if exist else 1.0, "minimal": minimal / found if found else 1.0,
            "extra": float(np.mean(extra)) if extra else 0.0, "subsets": int(np.mean(subsets)),
            "seconds": time.perf_counter() - start}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="bpr,userknn,content", help="comma-separated model names")
    p.add_argument("--histories", type=int, default=8, help="short test histories per model")
    p.add_argument("--max-history", type=int, default=20, help="longest history searched exhaustively")
    args = p.parse_args(argv)
    split = make_split(load_dataset(), "loo")
    # The same seeded sample as bench/explain_quality.py, its short histories in sample order.
    sample = np.sort(np.random.default_rng(0).choice(len(split.test), min(200, len(split.test)),
                                                     replace=False))
    short = [u for u in sample if len(split.test.histories[u]) <= args.max_history][:args.histories]
    results = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        model = build_model(name, split, explanations=False).model
        results.append(evaluate_model(model, split, np.array(short)))
        print_table(results[-1:], COLUMNS)
    print_table(results, COLUMNS)
    write_results("counterfactual_recall", {"max_history": args.max_history, "results": results,
                                            "commands": [command_line()]})


if __name__ == "__main__":
    main()
