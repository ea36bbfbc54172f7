"""Every ranking model on a real catalogue given by path, beside the published numbers on the same file.

    .venv/bin/python bench/catalogue.py --dataset ../shared/datasets/amazon-beauty/beauty.txt \
        [--models pop,markov,itemknn,bpr,gpt,bert] [--seeds 1] [--gpt-minutes 20] \
        [--params bert='{"mask_prob": 0.6}']

The file is read as any dataset is (a headerless `user item` file like SASRec's Beauty.txt is recognised
without flags); the protocol is the papers': leave-one-out by time (the last item is the test item, the
one before it the validation item), full ranking over every item, seen items excluded, HR@10 and NDCG@10
over all users. Models that cannot fit the catalogue say so in their row (EASE's dense inverse above its
``max_items``; the content model without item text). The transformers get a wall-clock budget.
Writes bench/results/catalogue-<dataset name>.json; the README's table is built from it.
"""
from __future__ import annotations

import argparse
import json
import time

from common import command_line, merge_results, print_table, write_results
from models import METRICS, VARIANTS, run_ranking

from recsys.data import load_dataset
from recsys.errors import RecsysError
from recsys.memory import reuse_freed_memory
from recsys.models import get_model
from recsys.split import leave_one_out

# Published results on exactly these files and this protocol (the dataset folder's README cites them).
PUBLISHED = {
    "beauty": {"source": "Klenitskiy & Vasilev, RecSys 2023 (GPU), table for Amazon Beauty",
               "rows": [{"model": "SASRec+ (cross-entropy over all items)", "hr@10": 0.0533, "ndcg@10": 0.0327,
                         "fit_s": 332},
                        {"model": "SASRec+ 3000 sampled negatives", "hr@10": 0.0490, "ndcg@10": 0.0295,
                         "fit_s": 296},
                        {"model": "BERT4Rec", "hr@10": 0.0338, "ndcg@10": 0.0187, "fit_s": 2325},
                        {"model": "SASRec (BCE, one negative)", "hr@10": 0.0246, "ndcg@10": 0.0126,
                         "fit_s": 521}]},
}
DEFAULT_MODELS = "pop,markov,markov-3,itemknn,userknn,ease,bpr,content,gpt,bert"


def main() -> None:
    reuse_freed_memory()  # as `python -m recsys build` trains: the same speed
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", required=True, help="path to the catalogue (file or folder)")
    p.add_argument("--models", default=DEFAULT_MODELS)
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--gpt-minutes", type=float, default=20.0, help="GPT's wall-clock budget")
    p.add_argument("--bert-minutes", type=float, default=40.0, help="BERT4Rec's wall-clock budget")
    p.add_argument("--params", action="append", default=[], metavar="MODEL=JSON",
                   help="hyper-parameters for one model, e.g. bert='{\"mask_prob\": 0.6}' (repeatable)")
    p.add_argument("--merge", action="store_true",
                   help="replace only these models' rows in an existing results file of the same dataset")
    args = p.parse_args()
    variants = {"markov-3": VARIANTS["markov-3"],
                "gpt": ("gpt", {"max_seconds": 60 * args.gpt_minutes}),
                "bert": ("bert", {"max_seconds": 60 * args.bert_minutes})}
    chosen = [m for m in args.models.split(",") if m]
    for given in args.params:  # checked before anything trains: a typo should not cost an hour
        model, _, params = given.partition("=")
        try:
            params = json.loads(params)
        except json.JSONDecodeError as e:
            p.error(f"--params {given!r}: not JSON after '=' ({e})")
        if model not in chosen or not isinstance(params, dict):
            p.error(f"--params {given!r}: give MODEL={{...}} for a model in --models ({','.join(chosen)})")
        registered, base = variants.get(model, (model, {}))
        variants[model] = (registered, {**base, **params})
        try:
            get_model(registered, **variants[model][1])  # an unknown name fails here, not mid-run
        except RecsysError as e:
            p.error(f"--params {given!r}: {e}")
    start = time.perf_counter()
    dataset = load_dataset(args.dataset)
    split = leave_one_out(dataset)
    print(f"{dataset}: loaded and split in {time.perf_counter() - start:.1f} s", flush=True)
    rows = run_ranking(chosen, args.seeds, split=split, variants=variants)
    for r in rows:
        r.pop("per_run", None) if r.get("runs", 0) > 1 else None
    columns = ["model", "runs", *METRICS, "fit_s", "epochs", "s_per_epoch", "skipped"]
    print(f"\n{dataset.name}: leave-one-out by time, full ranking over {split.train.n_items:,} items, "
          f"seen items excluded, {len(split.test):,} test users")
    print_table(rows, columns)
    published = PUBLISHED.get(dataset.name.lower())
    if published:
        print(f"\nPublished ({published['source']}):")
        print_table(published["rows"], ["model", "hr@10", "ndcg@10", "fit_s"])
    name = f"catalogue-{dataset.name.lower()}"
    commands = [command_line()]
    if args.merge:
        fields, commands = merge_results(name, {"ranking": rows})
        rows = fields["ranking"]
    write_results(name, {
        "dataset": dataset.name, "stats": dataset.stats(), "test_users": len(split.test),
        "protocol": "leave-one-out by time, full ranking, seen items excluded", "ranking": rows,
        "published": published, "commands": commands})


if __name__ == "__main__":
    main()
