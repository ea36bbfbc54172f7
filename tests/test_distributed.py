"""Distributed training: GPT, BERT and MF-BPR trained by 2 local processes under torchrun (gloo, CPU)
match a single-process run on the same data."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from recsys import distributed
from recsys.artifacts import ArtifactStore
from recsys.data import load_dataset
from recsys.data.synthetic import synthetic_frame
from recsys.evaluate import evaluate
from recsys.models import get_model
from recsys.split import leave_one_out

SEQUENTIAL = {"epochs": 3, "dim": 32, "max_len": 30, "batch_tokens": 2048, "dropout": 0.0,
              "content_init": False}
# Dropout off: each process would draw its own dropout masks, so only the dropout-free runs can match
# step for step. The batch order, BERT's masks and the sampled negatives are the same in every process.
PARAMS = {"bpr": {"epochs": 4, "patience": 4, "batch_size": 512},
          "gpt": SEQUENTIAL,
          "bert": SEQUENTIAL,
          "gpt-sampled": {**SEQUENTIAL, "sampled_softmax_above": 50, "negatives": 64}}


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ddp") / "interactions.csv"
    synthetic_frame(300, 200, 9000, seed=1).to_csv(path, index=False)
    return path


def torchrun(data_file, artifacts, model: str, params: dict, processes: int = 2):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
           "-m", "recsys", "train", "--dataset", str(data_file), "--model", model, "--quiet",
           "--artifacts", str(artifacts), *(f"--param={k}={json.dumps(v)}" for k, v in params.items())]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)


@pytest.mark.parametrize("case", ["bpr", "gpt", "bert", "gpt-sampled"])
def test_two_processes_match_one(case, data_file, tmp_path):
    name, params = case.split("-")[0], PARAMS[case]
    out = torchrun(data_file, tmp_path, name, params)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "on 2 processes" in out.stdout and out.stdout.count(f"{name}: trained") == 1  # rank 0 prints

    split = leave_one_out(load_dataset(str(data_file)))
    single = get_model(name, **params).fit(split.train, valid=split.valid)
    store = ArtifactStore(tmp_path)
    both = store.load(store.key(name, single.get_params(), split.train))
    assert [r["epoch"] for r in both.history_] == [r["epoch"] for r in single.history_]
    a, b = both.item_embeddings(), single.item_embeddings()
    assert np.abs(a - b).max() < 1e-3 * np.abs(b).max()  # equal up to float rounding
    ndcg = [evaluate(m, split.test, split.train, k=(10,)).metrics["ndcg@10"] for m in (both, single)]
    assert ndcg[0] == pytest.approx(ndcg[1], abs=0.005)
    # And training did move the weights (a run that learnt nothing would also "match").
    assert both.history_[-1]["loss"] < both.history_[0]["loss"]


def test_only_train_runs_under_torchrun(monkeypatch, capsys):
    from recsys.cli import main

    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(SystemExit) as e:
        main(["info"])
    assert e.value.code == 2 and "only 'train'" in capsys.readouterr().err


def test_single_process_helpers_are_no_ops():
    rows = np.arange(7)
    assert distributed.world_size() == 1 and distributed.is_main() and not distributed.launched()
    assert distributed.shard(rows) is rows and distributed.loss_weight(3, 7) == 1.0
    assert distributed.agree(True) and not distributed.agree(False)
