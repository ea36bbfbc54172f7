"""How long a build's explanation stage takes, model by model: the test users' lists explained and
counterfactuals searched as `python -m recsys build` stores them for the Users page.

    .venv/bin/python bench/build_explain.py [--dataset PATH] [--models itemknn,bpr,gpt] [--users 2000]

The models are read from the artifact store (build them first: `make build DATASET=PATH`); nothing is
trained. Each row also gives the stage's seconds recorded when the model was built, so a change to the
explainer is measured against the build that ran before it. Run alone: two processes on 2 cores double
every time. Writes bench/results/build-explain-<dataset>.json.
"""
from __future__ import annotations

import argparse
import time

from common import print_table, write_results

from recsys.artifacts import ArtifactStore
from recsys.data import EMBEDDED, load_dataset
from recsys.errors import ArtifactError
from recsys.explain.store import precompute, users_to_explain
from recsys.models import get_model
from recsys.pipeline import default_models
from recsys.split import make_split


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default=EMBEDDED, help="the dataset the models were built on")
    p.add_argument("--models", default=",".join(default_models()))
    p.add_argument("--users", type=int, default=None, help="test users to explain (default: as the build)")
    args = p.parse_args()
    dataset = load_dataset(args.dataset)
    users = users_to_explain(dataset.n_items) if args.users is None else args.users
    split = make_split(dataset, "loo")
    store = ArtifactStore()
    rows = []
    for name in [m for m in args.models.split(",") if m]:
        key = store.key(name, get_model(name).get_params(), split.train)
        try:
            model = store.load(key)
        except ArtifactError:  # the build skips a model that does not apply to the dataset (EASE, content)
            rows.append({"model": name, "note": "not in the store: skipped by the build, or not built yet"})
            continue
        start = time.perf_counter()
        arrays = precompute(model, split.test, max_users=users)
        seconds = time.perf_counter() - start
        listed = arrays["items"] >= 0
        rows.append({"model": name, "lists": int(listed.any(axis=1).sum()), "explain_s": round(seconds, 1),
                     "ms_per_list": round(1000 * seconds / max(1, len(arrays["users"])), 1),
                     "at_build_s": store.manifest(key).get("explain_seconds"),
                     "counterfactual_found": round(float(arrays["found"][listed].mean()), 3)
                     if listed.any() else None, "note": ""})
        print_table(rows[-1:], list(rows[-1]))
    print(f"\n{dataset.name}: {users:,} test users' top-10 lists explained per model")
    print_table(rows, ["model", "lists", "explain_s", "ms_per_list", "at_build_s", "counterfactual_found",
                       "note"])
    total = sum(r.get("explain_s", 0) for r in rows)
    print(f"explanation stage, all models: {total:,.0f} s")
    write_results(f"build-explain-{dataset.name.lower()}", {"dataset": dataset.name, "users": users,
                                                             "rows": rows, "total_s": round(total, 1)})


if __name__ == "__main__":
    main()
