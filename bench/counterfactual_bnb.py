"""What the counterfactual search's misses are, for a model that bounds what removals can do (Bayesian MF):
a branch and bound decides each one — a set exists (and is returned), none exists, or undecided.

    .venv/bin/python bench/counterfactual_bnb.py [--model bpmf] [--users 200] [--first 20] [--nodes 3000]

The model is built with every rating of its fold-in alike (``fold_in_half_life=None``): the bound holds
for that fold-in only (Bayesian MF's default weighs the latest ratings more, and a removal then moves
the others' weights).

For the first ``--first`` of the seeded test users bench/explain_quality.py samples, and their top-10
lists, every case where `explain_items` neither found a counterfactual nor proved that none exists is
given to `recsys.explain.counterfactual.branch_and_bound` with ``--nodes`` nodes (tens of milliseconds
each). On short histories bench/counterfactual_recall.py compares the search with exhaustive search;
this answers the same question on the long histories where the misses are, and where no exhaustive
search can run.

- cases / found / proved_none: the list items and what `explain_items` said of them
- misses: neither found nor proved; bnb_found / bnb_none / bnb_open: what the branch and bound decided
- nodes_median, seconds_per_miss: its effort on the misses
Writes bench/results/counterfactual_bnb.json, with each miss by user, title and outcome.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from common import command_line, print_table, write_results

from recsys.data import load_dataset
from recsys.explain import explain_items
from recsys.explain.counterfactual import branch_and_bound, can_decide, excluded_mask
from recsys.explain.history import bind_user
from recsys.explain.text import natural_title
from recsys.models import model_class
from recsys.pipeline import build_model
from recsys.split import make_split

COLUMNS = ["model", "users", "cases", "found", "proved_none", "misses", "bnb_found", "bnb_none", "bnb_open",
           "nodes_median", "seconds_per_miss"]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="bpmf", help="a model with lead_terms (Bayesian MF)")
    p.add_argument("--users", type=int, default=200, help="the seeded sample of bench/explain_quality.py")
    p.add_argument("--first", type=int, default=20, help="how many of the sample's users to examine")
    p.add_argument("--nodes", type=int, default=3000, help="branch-and-bound nodes per miss")
    args = p.parse_args(argv)
    ds = load_dataset()
    split = make_split(ds, "loo")
    titles = ds.items["title"].to_numpy()
    users = np.sort(np.random.default_rng(0).choice(len(split.test), min(args.users, len(split.test)),
                                                    replace=False))[:args.first]
    params = {"fold_in_half_life": None} if "fold_in_half_life" in model_class(args.model).param_names() else {}
    model = build_model(args.model, split, params=params, explanations=False).model
    if not can_decide(model):
        raise SystemExit(f"{args.model} bounds nothing (lead_terms): the branch and bound needs its bound")
    cases, found, proved, misses = 0, 0, 0, []
    for u in users:
        history, user = split.test.histories[u].astype(np.int64), int(split.test.users[u])
        items = model.recommend(history, k=10, users=[user])[0]
        scorer, excluded = bind_user(model, user), excluded_mask(model.n_items_, history)
        for item, e in zip(items, explain_items(model, history, items, user=user)):
            fact = e.counterfactual
            cases += 1
            found += fact.found
            proved += fact.proved_none
            if fact.found or fact.proved_none:
                continue
            start = time.perf_counter()
            status, removed, nodes = branch_and_bound(scorer, history, int(item), fact.cutoff,
                                                      max_removals=fact.max_removals, excluded=excluded,
                                                      max_nodes=args.nodes)
            seconds = time.perf_counter() - start
            misses.append({"user": str(ds.user_ids[user]), "item": natural_title(titles[item]),
                           "history": len(history), "rank": fact.rank_before, "outcome": status,
                           "removed": [natural_title(t) for t in titles[history[removed]]], "nodes": nodes,
                           "seconds": round(seconds, 2)})
            print(f"user {misses[-1]['user']} ({len(history)} items), #{fact.rank_before} "
                  f"{misses[-1]['item']}: {status} after {nodes} nodes, {seconds:.1f} s", flush=True)
    outcome = [m["outcome"] for m in misses]
    row = {"model": args.model, "users": len(users), "cases": cases, "found": found, "proved_none": proved,
           "misses": len(misses), "bnb_found": outcome.count("found"), "bnb_none": outcome.count("none"),
           "bnb_open": outcome.count("open"),
           "nodes_median": float(np.median([m["nodes"] for m in misses])) if misses else None,
           "seconds_per_miss": float(np.mean([m["seconds"] for m in misses])) if misses else None}
    print_table([row], COLUMNS)
    write_results("counterfactual_bnb", {"nodes": args.nodes, "params": params, "results": [row], "misses": misses,
                                         "commands": [command_line()]})


if __name__ == "__main__":
    main()
