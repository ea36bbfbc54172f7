"""Explanation quality per model and method on ml-100k: stability, faithfulness, deletion curves,
counterfactuals, time. Every figure is a share or mean over (user, item) cases, and the cases that fail
are listed by name in the JSON.

    .venv/bin/python bench/explain_quality.py [--models gpt,bert,...] [--users 200] [--methods default|all]

bench/explain_methods.py runs it with every method on 50 users (the comparison that chose the defaults).

For N seeded test users and each one's top-10 list (the model's history path, seen items excluded), per
(model, method):
- stability: share of cases whose top-3 credited items are identical across seeds 0, 1, 2
  (spearman: mean pairwise rank correlation of the credits)
- faithful_top3: share of cases whose most-credited item is among the 3 single removals that lower the
  score most
- deletion_auc / insertion_auc: area under rank₀/rankₖ as the k most-credited items are removed (added)
  for k = 0..10 (recsys.explain.quality); random_deletion_auc for a seeded random order,
  attention_deletion_auc for the attention-rollout order (GPT / BERT)
- counterfactual_found: share of cases with a verified set of ≤ 10 removals that takes the item out of
  the top 10; counterfactual_proved_none: share where the model's per-item terms prove that no such set
  exists (models that rank by a sum of terms, e.g. the content model), so found / (1 − proved_none) is
  the share found of the cases where one can exist; counterfactual_by_length: the found share per band
  of history length; beyond_found / beyond_median: of the cases not found, the share where a larger
  set (the most effective removals first) was found, and its median size; counterfactual_additive_none:
  share of the cases neither found nor proved where even the single removals' effects, added up, leave
  no set of ≤ 10 (`additive_set` has none: an estimate of the cases no search could find, not a proof)
- seconds_per_list: mean seconds of explain_items for the whole list (with counterfactuals);
  seconds_200: the same for the test user whose history is closest to 200 items
Models come from the artifact store (`make build` trains the defaults); missing ones are trained.
Writes bench/results/explain_quality.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from common import RESULTS, command_line, merge_results, print_table, write_results

from recsys.data import load_dataset
from recsys.explain import available_methods, default_method, explain_items
from recsys.explain.counterfactual import additive_set, excluded_mask, single_effects
from recsys.explain.history import bind_user
from recsys.explain.methods import attention_rollout, single_removals
from recsys.explain.quality import (credit_order, curve_auc, deletion_curves, insertion_curves,
                                    removal_check, single_removal_drops, stability)
from recsys.pipeline import DEFAULT_MODELS, build_model
from recsys.split import make_split

COLUMNS = ["model", "method", "cases", "stability", "spearman", "faithful_top3", "deletion_auc",
           "random_deletion_auc", "attention_deletion_auc", "insertion_auc", "counterfactual_found", "counterfactual_proved_none",
           "seconds_per_list", "seconds_200"]
SEEDS = (0, 1, 2)


def evaluate_model(model, split, users: np.ndarray, methods: list[str], k: int = 10) -> list[dict]:
    histories = split.test.histories
    rng = np.random.default_rng(0)
    rows = {m: {"cases": 0, "stable": [], "spearman": [], "faithful": [], "deletion": [],
                "insertion": [], "found": [], "proved": [], "seconds": [], "failing": [], "length": [],
                "beyond": [], "additive_none": []}
            for m in methods}
    random_auc, attention_auc = [], []
    for u in users:
        history = histories[u].astype(np.int64)
        if not len(history):
            continue
        user = int(split.test.users[u])
        # Lists and checks as the explanation scores: UserKNN as this user, MF through its fold-in.
        scorer = bind_user(model, user)
        items = model.recommend(history, k=k, users=None if model.per_user_parameters else [user])[0]
        # Every single removal scored once: the removal check's drops and the additive estimate read it.
        single = single_removals(scorer, history)
        drops = single_removal_drops(scorer, history, items, single)
        random_orders = [rng.permutation(len(history)) for _ in items]
        random_auc += [curve_auc(c) for c in deletion_curves(scorer, history, items, random_orders)]
        if hasattr(model, "attention"):
            order = credit_order(attention_rollout(model, history))
            attention_auc += [curve_auc(c) for c in deletion_curves(scorer, history, items,
                                                                    [order] * len(items))]
        for method in methods:
            r = rows[method]
            runs = []
            for seed in SEEDS:
                start = time.perf_counter()
                runs.append(explain_items(model, history, items, user=user, method=method, seed=seed,
                                          counterfactual=seed == SEEDS[0]))
                if seed == SEEDS[0]:
                    r["seconds"].append(time.perf_counter() - start)
            first = runs[0]
            orders = [credit_order(e.values) for e in first]
            r["deletion"] += [curve_auc(c) for c in deletion_curves(scorer, history, items, orders)]
            r["insertion"] += [curve_auc(c) for c in insertion_curves(scorer, history, items, orders)]
            for j, e in enumerate(first):
                same, rho = stability([run[j] for run in runs])
                faithful = removal_check(scorer, e, drops[:, j]).faithful_top3
                found = e.counterfactual.found
                r["proved"].append(e.counterfactual.proved_none)
                r["cases"] += 1
                r["stable"].append(same)
                r["spearman"].append(rho)
                r["faithful"].append(faithful)
                r["found"].append(found)
                r["length"].append(len(history))
                if not found:
                    r["beyond"].append(len(e.counterfactual.beyond))
                if not (found or e.counterfactual.proved_none):
                    r["additive_none"].append(additive_none(single, history, e.item, e.counterfactual))
                if not (same and faithful and found):
                    r["failing"].append({"user": user, "item": int(e.item),
                                         "stable": bool(same), "faithful_top3": bool(faithful),
                                         "counterfactual": "found" if found else
                                         "proved none" if e.counterfactual.proved_none else "not found"})
    out = []
    for method, r in rows.items():
        out.append({"model": model.name, "method": method, "cases": r["cases"],
                    "stability": float(np.mean(r["stable"])), "spearman": float(np.mean(r["spearman"])),
                    "faithful_top3": float(np.mean(r["faithful"])),
                    "deletion_auc": float(np.mean(r["deletion"])),
                    "random_deletion_auc": float(np.mean(random_auc)),
                    "attention_deletion_auc": float(np.mean(attention_auc)) if attention_auc else None,
                    "insertion_auc": float(np.mean(r["insertion"])),
                    "counterfactual_found": float(np.mean(r["found"])),
                    "counterfactual_proved_none": float(np.mean(r["proved"])),
                    "counterfactual_by_length": by_length(r["length"], r["found"]),
                    **beyond_summary(r["beyond"]),
                    "counterfactual_additive_none": float(np.sum(r["additive_none"]) / r["cases"]),
                    "seconds_per_list": float(np.mean(r["seconds"])),
                    "failing_cases": r["failing"][:50], "failing_total": len(r["failing"])})
    return out


LENGTHS = (0, 30, 60, 100, 200)


def by_length(lengths: list[int], found: list[bool]) -> list[dict]:
    """The counterfactual rate per band of history length (a model that reads every rating as evidence
    alike moves less, the more there are, when ten are taken away)."""
    lengths, found = np.asarray(lengths), np.asarray(found, bool)
    bands = []
    for lo, hi in zip(LENGTHS, LENGTHS[1:] + (None,)):
        inside = (lengths >= lo) & (lengths < (hi or np.inf))
        bands.append({"history": f"{lo}-{hi - 1}" if hi else f"{lo}+", "cases": int(inside.sum()),
                      "found": float(found[inside].mean()) if inside.any() else None})
    return bands


def additive_none(single: np.ndarray, history: np.ndarray, item: int, fact) -> bool:
    """Whether the single removals' effects on the item's lead (``single``: the scores of the history and
    of each single removal), added up, leave no set of up to max_removals that takes it out (then no
    search is likely to find one; effects do not add up exactly)."""
    lead, changes = single_effects(single, item, excluded_mask(single.shape[1], history))
    return additive_set(lead, changes, fact.cutoff, fact.max_removals) is None


def beyond_summary(sizes: list[int]) -> dict:
    """Of the cases without a counterfactual within 10 removals: the share where a larger set was found
    and the median size of those sets (how firmly the model holds what ten removals cannot move)."""
    sizes = np.asarray(sizes)
    larger = sizes[sizes > 0]
    return {"beyond_found": float(len(larger) / len(sizes)) if len(sizes) else None,
            "beyond_median": float(np.median(larger)) if len(larger) else None}


def seconds_200(model, split, method: str, k: int = 10) -> float:
    """explain_items for a whole list on the test history closest to 200 items (median of 3)."""
    rows = split.test.histories.rows()
    j = int(np.argmin([abs(len(h) - 200) for h in rows]))
    history, user = rows[j].astype(np.int64), int(split.test.users[j])
    items = model.recommend(history, k=k, users=None if model.per_user_parameters else [user])[0]
    times = []
    for _ in range(3):
        start = time.perf_counter()
        explain_items(model, history, items, user=user, method=method)
        times.append(time.perf_counter() - start)
    return sorted(times)[1]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(m for m in DEFAULT_MODELS),
                   help="comma-separated model names (default: the app's default models)")
    p.add_argument("--users", type=int, default=200, help="seeded sample of test users")
    p.add_argument("--methods", default="default", help="'default', 'all', or comma-separated names")
    p.add_argument("--out", default="explain_quality", help="results file name under bench/results")
    p.add_argument("--merge", action="store_true",
                   help="replace only these models' rows in an existing results file (same users)")
    args = p.parse_args(argv)
    split = make_split(load_dataset(), "loo")
    users = np.sort(np.random.default_rng(0).choice(len(split.test), min(args.users, len(split.test)),
                                                    replace=False))
    results = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        model = build_model(name, split, explanations=False).model
        if args.methods == "default":
            methods = [default_method(model)]
        elif args.methods == "all":
            methods = available_methods(model)
        else:
            methods = [m for m in args.methods.split(",") if m in available_methods(model)]
        start = time.perf_counter()
        rows = evaluate_model(model, split, users, methods)
        for row in rows:
            row["seconds_200"] = seconds_200(model, split, row["method"])
            row["default"] = row["method"] == default_method(model)
        results += rows
        print(f"{name}: {time.perf_counter() - start:.0f} s", flush=True)
        print_table(rows, COLUMNS)
        bands = [{"model": name, "method": r["method"], "beyond_found": r["beyond_found"],
                  "beyond_median": r["beyond_median"], "additive_none": r["counterfactual_additive_none"],
                  **{f"found, history {b['history']}": b["found"] for b in r["counterfactual_by_length"]}}
                 for r in rows]
        print_table(bands, list(bands[0]))
    print_table(results, COLUMNS)
    commands = [command_line()]
    if args.merge and (RESULTS / f"{args.out}.json").exists():
        old = json.loads((RESULTS / f"{args.out}.json").read_text())
        if old["users"] != len(users):
            sys.exit(f"--merge: {args.out}.json has {old['users']} users, this run {len(users)}")
        merged, commands = merge_results(args.out, {"results": results})
        order = {m: i for i, m in enumerate(DEFAULT_MODELS)}
        results = sorted(merged["results"], key=lambda r: order.get(r["model"], len(order)))
    write_results(args.out, {"users": len(users), "k": 10, "seeds": list(SEEDS), "results": results,
                             "commands": commands})


if __name__ == "__main__":
    main()
