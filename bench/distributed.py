"""Distributed training on one machine: MF-BPR, GPT and BERT4Rec on ml-100k, 1 process vs 2 under torchrun.

    .venv/bin/python bench/distributed.py [--models bpr gpt bert] [--processes 2]

Each run is the CLI (`python -m recsys train`, under `torchrun --standalone --nproc_per_node N` for N > 1)
into its own temporary artifact store, with a fixed number of epochs and dropout off so that the runs
can be compared weight for weight. Reports fit seconds (from the manifest), the epoch early stopping kept,
test NDCG@10 and the largest difference between the item vectors of the N-process and the 1-process
model (float rounding differs, so two near-equal validation scores can keep different epochs); writes
bench/results/distributed.json. On 2 cores, 2 processes of 1 thread each compete with 1 process of 2
threads: the point of the table is that the result is the same; the speed-up needs more cores or nodes.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from common import ROOT, print_table, write_results

from recsys.artifacts import ArtifactStore
from recsys.data import load_dataset
from recsys.models import get_model
from recsys.split import leave_one_out

PARAMS = {"bpr": {"epochs": 20, "patience": 20},
          "gpt": {"epochs": 10, "patience": 10, "dropout": 0.0},
          "bert": {"epochs": 10, "patience": 10, "dropout": 0.0}}


def train(name: str, processes: int, store: Path) -> None:
    params = [f"--param={k}={json.dumps(v)}" for k, v in PARAMS[name].items()]
    cli = ["-m", "recsys", "train", "--model", name, "--artifacts", str(store), "--quiet", *params]
    if processes > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={processes}", *cli]
    else:
        cmd = [sys.executable, *cli]
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // processes))}
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(PARAMS))
    p.add_argument("--processes", type=int, default=2)
    args = p.parse_args()
    split = leave_one_out(load_dataset())
    rows = []
    for name in args.models:
        key_params = get_model(name, **PARAMS[name]).get_params()
        vectors = {}
        for n in (1, args.processes):
            with tempfile.TemporaryDirectory() as tmp:
                train(name, n, Path(tmp))
                store = ArtifactStore(tmp)
                key = store.key(name, key_params, split.train)
                manifest = store.manifest(key)
                model = store.load(key)
                vectors[n] = model.item_embeddings()
                diff = None if n == 1 else float(np.abs(vectors[n] - vectors[1]).max())
                rows.append({"model": name, "processes": n, "fit_s": manifest["fit_seconds"],
                             "epochs": len(model.history_), "best_epoch": model.best_epoch_, "ndcg10": manifest["metrics"]["ndcg@10"],
                             "max_abs_diff": diff, "max_abs_vector": float(np.abs(vectors[1]).max())})
                print(f"  {name} × {n}: {manifest['fit_seconds']:.1f} s", flush=True)
    print_table(rows, ["model", "processes", "fit_s", "epochs", "best_epoch", "ndcg10", "max_abs_diff",
                       "max_abs_vector"])
    write_results("distributed", {"dataset": "ml-100k", "params": PARAMS, "rows": rows})


if __name__ == "__main__":
    main()
