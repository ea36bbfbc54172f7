"""Pick hyper-parameters on the validation split (never the test split): a small grid per model.

    .venv/bin/python bench/tune.py [--model itemknn ...]

Prints each model's grid sorted by validation NDCG@10 and writes bench/results/tune.json (``--merge``:
only this run's models replaced). The defaults in recsys/models/ are the winners on ml-100k
(leave-one-out by time). Parameters that act only when scoring a history (MF-BPR's fold-in) are tuned
on one fitted model, each user scored from their history alone (``evaluate(known_users=False)``).
"""
from __future__ import annotations

import argparse
import itertools
import json
import time

from common import RESULTS, print_table, write_results

from recsys.data import load_dataset
from recsys.evaluate import evaluate
from recsys.models import get_model
from recsys.split import leave_one_out

GRIDS = {
    "itemknn": {"neighbors": [10, 20, 50, 100], "shrink": [0.0, 10.0]},
    "userknn": {"neighbors": [10, 20, 50], "shrink": [0.0, 10.0], "recency_half_life": [None, 3.0, 5.0, 10.0]},
    "content": {"recency_half_life": [None, 0.25, 0.5, 1.0, 2.0, 5.0]},
    "hybridcf": {"alpha": [0.3, 0.5, 0.7], "item_neighbors": [10], "user_neighbors": [20],
                 "shrink": [0.0]},
    "ease": {"l2": [50.0, 100.0, 250.0, 500.0]},
    "markov": {"window": [1, 5, 10, 20, 50], "decay": [0.5, 0.8, 0.9], "beta": [10.0, 50.0]},
    "bpr": {"recency_half_life": [None, 10.0, 20.0], "l2": [1e-3, 1e-2], "item_bias": [True, False]},
}
SCORING_GRIDS = {  # tried on the default model, fitted once
    "bpr-fold-in": ("bpr", {"fold_in_l2": [0.3, 1.0, 3.0, 10.0],
                                "fold_in_half_life": [None, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0]}),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = list(GRIDS) + list(SCORING_GRIDS)
    p.add_argument("--model", nargs="+", default=names, choices=names)
    p.add_argument("--merge", action="store_true", help="keep the other models' rows of tune.json")
    args = p.parse_args()
    split = leave_one_out(load_dataset())
    out = {}
    for name in args.model:
        rows = scoring_grid(name, split) if name in SCORING_GRIDS else fit_grid(name, split)
        rows.sort(key=lambda r: -r["valid_ndcg@10"])
        print_table([{**r, "params": str(r["params"])} for r in rows],
                    ["model", "params", "valid_ndcg@10", "fit_s"])
        out[name] = rows
    path = RESULTS / "tune.json"
    if args.merge and path.exists():
        out = {**json.loads(path.read_text())["results"], **out}
    write_results("tune", {"results": out})


def fit_grid(name: str, split) -> list[dict]:
    """One model fitted per point of the grid."""
    grid, rows = GRIDS[name], []
    for values in itertools.product(*grid.values()):
        params = dict(zip(grid, values))
        start = time.perf_counter()
        model = get_model(name, **params).fit(split.train, valid=split.valid)
        seconds = time.perf_counter() - start
        valid = evaluate(model, split.valid, split.train, k=(10,)).metrics["ndcg@10"]
        rows.append({"model": name, "params": params, "valid_ndcg@10": valid, "fit_s": seconds})
    return rows


def scoring_grid(name: str, split) -> list[dict]:
    """The default model fitted once, each point of the grid set on it and scored from histories."""
    model_name, grid = SCORING_GRIDS[name]
    start = time.perf_counter()
    model = get_model(model_name).fit(split.train, valid=split.valid)
    seconds = time.perf_counter() - start
    rows = []
    for values in itertools.product(*grid.values()):
        params = dict(zip(grid, values))
        model.set_params(**params)
        valid = evaluate(model, split.valid, split.train, k=(10,), known_users=False).metrics["ndcg@10"]
        rows.append({"model": name, "params": params, "valid_ndcg@10": valid, "fit_s": seconds})
    return rows


if __name__ == "__main__":
    main()
