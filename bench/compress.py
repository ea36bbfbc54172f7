"""Compression side by side on ml-100k: int8 linear layers, fp16 embeddings, an IVF-PQ index.

    .venv/bin/python bench/compress.py [--models bpr gpt bert] [--repeats 5]

Models are the default ones of the artifact store (data/artifacts; trained first if missing, as
`make build` would). For each model and variant: bytes of learned state, ms to score a batch of 256
test users and one user (median of ``--repeats``), and NDCG@10 with full ranking on the test split.
Retrieval rows put each model's query vectors and items (bias folded in, ``compress.linear_parts``) in an
exact inner-product index and in IVF-PQ, and recommend through the index: index bytes, ms per query,
NDCG@10 and overlap@10 with the exact top 10. Writes bench/results/compress.json.
"""
from __future__ import annotations

import argparse
import copy

import numpy as np

from common import print_table, timed, write_results

from recsys import compress
from recsys.data import load_dataset
from recsys.evaluate import evaluate
from recsys.index import ItemIndex
from recsys.pipeline import build_model
from recsys.split import leave_one_out


def timed_ms(fn, repeats: int) -> float:
    return timed(fn, repeats) * 1000


def variants(model):
    yield "fp32", model
    yield "fp16 embeddings", compress.half_embeddings(model)
    if model.name in ("gpt", "bert"):
        int8 = compress.quantize_int8(model)
        yield "int8 linear", int8
        yield "int8 linear + fp16 embeddings", compress.half_embeddings(int8)


def retrieve(index: ItemIndex, queries: np.ndarray, histories: list[np.ndarray], k: int = 10) -> np.ndarray:
    """Top-k items per query through the index, history items left out."""
    out = np.full((len(queries), k), -1, np.int64)
    for j, (q, h) in enumerate(zip(queries, histories)):
        ids, _ = index.search(q, k + len(h))
        ids = ids[(ids >= 0) & ~np.isin(ids, h)]
        out[j, :min(k, len(ids))] = ids[:k]
    return out


def ndcg_at(lists: np.ndarray, targets: np.ndarray) -> float:
    hit = lists == targets[:, None]
    gains = (hit / np.log2(np.arange(2, lists.shape[1] + 2))[None, :]).sum(axis=1)
    return float(gains.mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["bpr", "gpt", "bert"])
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    split = leave_one_out(load_dataset())
    test = split.test
    batch = test.histories.rows(0, 256)
    batch_users = test.users[:256]
    rows, retrieval = [], []
    for name in args.models:
        model = build_model(name, split, explanations=False).model
        base = None
        for label, variant in variants(model):
            ndcg = evaluate(variant, test, split.train, k=(10,)).metrics["ndcg@10"]
            base = ndcg if base is None else base
            rows.append({"model": name, "variant": label, "state_kib": compress.state_bytes(variant) / 1024,
                         "batch256_ms": timed_ms(lambda: variant.score(batch, batch_users), args.repeats),
                         "one_user_ms": timed_ms(lambda: variant.score(batch[:1], batch_users[:1]),
                                                 args.repeats),
                         "ndcg10": ndcg, "delta_ndcg10": ndcg - base})
            print(f"  {name} {label}: NDCG@10 {ndcg:.4f}", flush=True)
        histories = test.histories.rows()
        note = None
        if getattr(model, "prior_weight_", 0.0):
            # An inner-product index serves the transformer's dot product; the transition prior would
            # re-rank what it retrieves. These rows measure the dot product alone.
            model = copy.copy(model)
            model.prior_weight_, note = 0.0, "dot product, without the prior"
        queries, items = compress.linear_parts(model, histories, test.users)
        targets = np.array([t[0] for t in test.targets.rows()])
        exact = None
        for kind in ("exact", "ivfpq"):
            index = ItemIndex(kind=kind, metric="ip", nprobe=8).build(items)
            lists = retrieve(index, queries, histories)
            exact = lists if exact is None else exact
            overlap = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(lists, exact)]))
            retrieval.append({"model": name, "note": note, "index": kind, "index_kib": index.size_bytes / 1024,
                              "query_ms": timed_ms(lambda: index.search(queries[:1], 10), 50),
                              "ndcg10": ndcg_at(lists, targets), "overlap@10": overlap})
    print_table(rows, ["model", "variant", "state_kib", "batch256_ms", "one_user_ms", "ndcg10",
                       "delta_ndcg10"])
    print_table(retrieval, ["model", "index", "index_kib", "query_ms", "ndcg10", "overlap@10"])
    write_results("compress", {"dataset": "ml-100k", "protocol": "leave-one-out, full ranking",
                               "models": rows, "retrieval": retrieval})


if __name__ == "__main__":
    main()
