"""Explanation latency: every model, the test user whose history is closest to 200 items.

    .venv/bin/python bench/explain.py [--repeats 5]

For each model: seconds per history explanation (exact, or shap permutation at its default budget),
attention extraction for GPT / BERT, and feature SHAP, after shap's one-off numba compilation (timed
separately as "warm-up"). Models are trained briefly — their architecture, not their accuracy, sets the
time. Writes bench/results/explain.json. Target: <= 2 s per explanation on 2 cores.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from common import print_table, timed, write_results

from recsys.data import load_dataset
from recsys.explain import attention_frame, feature_shap, shap_history, warm_up
from recsys.models import get_model, model_names
from recsys.split import leave_one_out

QUICK = {"bpr": {"epochs": 3}, "ratingmf": {"epochs": 3}, "features": {"epochs": 3},
         "gpt": {"epochs": 1}, "bert": {"epochs": 1}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    start = time.perf_counter()
    warm_up()
    warm = time.perf_counter() - start
    ds = load_dataset()
    split = leave_one_out(ds)
    rows = split.test.histories.rows()
    j = int(np.argmin([abs(len(h) - 200) for h in rows]))
    history, user = rows[j], int(split.test.users[j])
    titles = ds.items["title"]
    results = []
    for name in model_names():
        model = get_model(name, **QUICK.get(name, {})).fit(split.train)
        item = int(model.recommend(history, k=1)[0][0])
        row = {"model": name, "history": len(history)}
        method = shap_history(model, history, item).method
        row["history_s"] = timed(lambda: shap_history(model, history, item), args.repeats)
        row["method"] = method
        if hasattr(model, "attention"):
            row["attention_s"] = timed(lambda: attention_frame(model, history, titles), args.repeats)
        if name == "features":
            row["feature_shap_s"] = timed(lambda: feature_shap(model, user, item), args.repeats)
        results.append(row)
    print(f"shap warm-up (numba compilation, once per process): {warm:.1f} s")
    print_table(results, ["model", "history", "method", "history_s", "attention_s", "feature_shap_s"])
    write_results("explain", {"warm_up_s": warm, "results": results})


if __name__ == "__main__":
    main()
