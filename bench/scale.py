"""How the pipeline grows with data: synthetic data from 100k interactions up (--sizes).

    .venv/bin/python bench/scale.py [--sizes 100000 1000000] [--models pop markov bpr]

Each size runs in its own process (so peak memory is its own): generate → split → fit each model →
evaluate it (full ranking, bounded-memory batches, 2,000 test users) → build the FAISS index over BPR's
item vectors. Users and items grow with the size (users = n / 50, items = n / 100, at most 100k items).
Prints seconds and the peak resident memory after each stage, writes bench/results/scale.json.
This is the first step of issue #8; the 50M-row run and GPT / BERT at scale are not in it yet. At 10M
interactions BPR did not finish within 20 minutes: its per-epoch validation ranks all 100k items for
every one of 200k users — a sampled validation subset is the next fix.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

from common import ROOT, peak_rss_mib, print_table, write_results

FIT = {"pop": {}, "markov": {}, "bpr": {"epochs": 3, "patience": 3}, "itemknn": {}}


def one_size(n: int, models: list[str]) -> list[dict]:
    from recsys.data.synthetic import synthetic_dataset
    from recsys.evaluate import evaluate
    from recsys.index import index_for
    from recsys.models import get_model
    from recsys.split import HeldOut, leave_one_out

    rows = []

    def stage(name: str, start: float, **extra) -> None:
        rows.append({"interactions": n, "stage": name, "seconds": time.perf_counter() - start,
                     "peak_mib": peak_rss_mib(), **extra})

    n_users, n_items = max(100, n // 50), min(100_000, max(100, n // 100))
    start = time.perf_counter()
    ds = synthetic_dataset(n_users, n_items, n, seed=0)
    stage("generate + build", start, users=ds.n_users, items=ds.n_items)
    start = time.perf_counter()
    split = leave_one_out(ds)
    stage("split", start)
    rng = np.random.default_rng(0)
    pick = np.sort(rng.choice(len(split.test), min(2000, len(split.test)), replace=False))
    test = HeldOut(split.test.users[pick], split.test.histories.take(pick), split.test.targets.take(pick),
                   split.test.ratings[split.test.targets.indptr[pick]] if len(split.test.ratings) else
                   split.test.ratings)
    for name in models:
        start = time.perf_counter()
        model = get_model(name, **FIT.get(name, {})).fit(split.train)
        stage(f"fit {name}", start)
        start = time.perf_counter()
        result = evaluate(model, test, split.train, k=(10,))
        stage(f"evaluate {name}", start, ndcg10=result.metrics["ndcg@10"])
        if model.item_embeddings() is not None:
            start = time.perf_counter()
            index_for(model)
            stage(f"index {name}", start)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    p.add_argument("--models", nargs="+", default=["pop", "markov", "bpr"])
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: run one size, print JSON
    args = p.parse_args()
    if args.one:
        print(json.dumps(one_size(args.one, args.models)))
        return
    rows = []
    for n in args.sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(n), "--models", *args.models],
                             capture_output=True, text=True, cwd=ROOT, check=True)
        rows += json.loads(out.stdout.strip().splitlines()[-1])
        print_table([r for r in rows if r["interactions"] == n],
                    ["interactions", "stage", "seconds", "peak_mib", "ndcg10"])
    write_results("scale", {"rows": rows, "sizes": args.sizes, "models": args.models})


if __name__ == "__main__":
    main()
