"""Pick hyper-parameters on the validation split (never the test split): a small grid per model.

    .venv/bin/python bench/tune.py [--model itemknn ...]

Prints each model's grid sorted by validation NDCG@10 and writes bench/results/tune.json. The defaults in
recsys/models/ are the winners on ml-100k (leave-one-out by time).
"""
from __future__ import annotations

import argparse
import itertools
import time

from common import print_table, write_results

from recsys.data import load_dataset
from recsys.evaluate import evaluate
from recsys.models import get_model
from recsys.split import leave_one_out

GRIDS = {
    "itemknn": {"neighbors": [10, 20, 50, 100], "shrink": [0.0, 10.0]},
    "userknn": {"neighbors": [20, 50, 100], "shrink": [0.0, 10.0]},
    "hybridcf": {"alpha": [0.3, 0.5, 0.7], "item_neighbors": [10], "user_neighbors": [20],
                 "shrink": [0.0]},
    "ease": {"l2": [50.0, 100.0, 250.0, 500.0]},
    "markov": {"window": [1, 5, 10, 20, 50], "decay": [0.5, 0.8, 0.9], "beta": [10.0, 50.0]},
    "bpr": {"recency_half_life": [None, 10.0, 20.0], "l2": [1e-3, 1e-2]},
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", nargs="+", default=list(GRIDS), choices=list(GRIDS))
    args = p.parse_args()
    split = leave_one_out(load_dataset())
    out = {}
    for name in args.model:
        grid = GRIDS[name]
        rows = []
        for values in itertools.product(*grid.values()):
            params = dict(zip(grid, values))
            start = time.perf_counter()
            model = get_model(name, **params).fit(split.train, valid=split.valid)
            seconds = time.perf_counter() - start
            valid = evaluate(model, split.valid, split.train, k=(10,)).metrics["ndcg@10"]
            rows.append({"model": name, "params": params, "valid_ndcg@10": valid, "fit_s": seconds})
        rows.sort(key=lambda r: -r["valid_ndcg@10"])
        print_table([{**r, "params": str(r["params"])} for r in rows],
                    ["model", "params", "valid_ndcg@10", "fit_s"])
        out[name] = rows
    write_results("tune", {"results": out})


if __name__ == "__main__":
    main()
