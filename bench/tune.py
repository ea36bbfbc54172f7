"""Pick hyper-parameters on the validation split (never the test split): a small grid per model.

    .venv/bin/python bench/tune.py [--model itemknn ...]

Prints each model's grid sorted by validation NDCG@10 and writes bench/results/tune.json (``--merge``:
only this run's models replaced). The defaults in recsys/models/ are the winners on ml-100k
(leave-one-out by time). Parameters that act only when scoring a history (the fold-ins of MF-BPR and
the two rating models) are tuned on the default model fitted once per seed: MF-BPR's with each user
scored from their history alone (``evaluate(known_users=False)``), the rating models' with the ratings
the user gave (their lists fold in known users too).
"""
from __future__ import annotations

import argparse
import itertools
import json
import time

import numpy as np

from common import RESULTS, command_line, print_table, write_results

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
# Tried on the default model, fitted once per seed (the mean over seeds is the row's figure). MF-BPR's
# fold-in serves histories without a known user; rating MF's ranks known users too (their ratings).
SCORING_GRIDS = {
    "bpr-fold-in": ("bpr", {"fold_in_l2": [0.3, 1.0, 3.0, 10.0],
                            "fold_in_half_life": [None, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0]},
                    {"known_users": False, "seeds": (0,)}),
    "ratingmf-fold-in": ("ratingmf", {"fold_in_half_life": [None, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0]},
                         {"known_users": True, "seeds": (0, 1, 2)}),
    "bpmf-fold-in": ("bpmf", {"fold_in_half_life": [None, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0]},
                     {"known_users": True, "seeds": (0, 1, 2)}),
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
    commands = [command_line()]
    if args.merge and path.exists():
        old = json.loads(path.read_text())
        out = {**old["results"], **out}
        commands = (old.get("commands") or [old["command"]]) + commands
    write_results("tune", {"results": out, "commands": commands})


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
    """The default model fitted once per seed, each point of the grid set on it and scored."""
    model_name, grid, options = SCORING_GRIDS[name]
    points = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    ndcg, seconds = np.zeros((len(options["seeds"]), len(points))), 0.0
    for s, seed in enumerate(options["seeds"]):
        start = time.perf_counter()
        model = get_model(model_name, seed=seed).fit(split.train, valid=split.valid)
        seconds += time.perf_counter() - start
        for j, params in enumerate(points):
            model.set_params(**params)
            ndcg[s, j] = evaluate(model, split.valid, split.train, k=(10,),
                                  known_users=options["known_users"]).metrics["ndcg@10"]
    return [{"model": name, "params": params, "valid_ndcg@10": float(ndcg[:, j].mean()),
             "valid_ndcg@10_seeds": ndcg[:, j].round(4).tolist(), "fit_s": seconds / len(ndcg)}
            for j, params in enumerate(points)]


if __name__ == "__main__":
    main()
