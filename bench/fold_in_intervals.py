"""Whether the rating intervals the Users page shows hold what they say: Bayesian MF's predictions for
the held-out next item, from the user's rated history folded in (the same computation as the list).

    .venv/bin/python bench/fold_in_intervals.py [--seeds 3]

bench/models.py measures the intervals of the stored posterior draws on a random 80/20 split; the Users
page instead folds the user's test history in with the ratings they gave (``rating_summary(items,
user=, history=)``), with the latest ratings weighing most (``fold_in_half_life``). For every test user
of ml-100k's leave-one-out split and their held-out item: RMSE, the share of true ratings inside the
50 / 80 / 90% intervals (the 90% one also per band of history length: the weights bunch a long
history's evidence on its latest ratings), and the 90% interval's mean width, for the default half-life and for every
rating alike (one fit per seed serves both; the half-life acts only on the fold-in). Writes
bench/results/fold_in_intervals.json.
"""
from __future__ import annotations

import argparse

import numpy as np

from common import print_table, write_results

from recsys.data import load_dataset
from recsys.models import get_model
from recsys.split import make_split

LEVELS = (0.5, 0.8, 0.9)
BANDS = ((0, 30), (30, 100), (100, 200), (200, None))
COLUMNS = ["model", "fold_in_half_life", "runs", "rmse", "coverage_50", "coverage_80", "coverage_90",
           "width_90"] + [f"coverage_90_history_{lo}-{'' if hi is None else hi - 1}" for lo, hi in BANDS]


def measure(model, heldout) -> dict[str, float]:
    """Errors and interval coverage of the fold-in predictions for each held-out user's target."""
    errors, inside, width = [], {level: [] for level in LEVELS}, []
    lengths = np.array([len(h) for h in heldout.histories.rows()])
    for j in range(len(heldout)):
        user, history = int(heldout.users[j]), heldout.histories[j].astype(np.int64)
        target, rating = int(heldout.targets[j][0]), float(heldout.ratings[j])
        for level in LEVELS:
            s = model.rating_summary([target], user=user, history=history, level=level)
            inside[level].append(s["low"][0] <= rating <= s["high"][0])
            if level == 0.9:
                errors.append(float(s["predicted"][0]) - rating)
                width.append(float(s["high"][0] - s["low"][0]))
    inside_90 = np.array(inside[0.9])
    bands = {f"coverage_90_history_{lo}-{'' if hi is None else hi - 1}":
             float(inside_90[(lengths >= lo) & (lengths < (hi or np.inf))].mean()) for lo, hi in BANDS}
    return {"rmse": float(np.sqrt(np.mean(np.square(errors)))),
            **{f"coverage_{round(level * 100)}": float(np.mean(v)) for level, v in inside.items()},
            "width_90": float(np.mean(width)), **bands}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    args = p.parse_args(argv)
    split = make_split(load_dataset(), "loo")
    default = get_model("bpmf").fold_in_half_life
    runs = {default: [], None: []}
    for seed in range(args.seeds):
        model = get_model("bpmf", seed=seed).fit(split.train, valid=split.valid)
        for half_life in runs:
            runs[half_life].append(measure(model.set_params(fold_in_half_life=half_life), split.test))
            print(f"seed {seed}, half-life {half_life}: {runs[half_life][-1]}", flush=True)
    rows = [{"model": "bpmf", "fold_in_half_life": half_life, "runs": len(r),
             **{k: float(np.mean([x[k] for x in r])) for k in r[0]}, "per_run": r}
            for half_life, r in runs.items()]
    print_table(rows, COLUMNS)
    write_results("fold_in_intervals", {"split": "leave-one-out by time, test users", "results": rows})


if __name__ == "__main__":
    main()
