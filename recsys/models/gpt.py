"""GPT-style recommender: a causal transformer over item sequences (in the spirit of SASRec, Kang &
McAuley 2018, with GPT-2 blocks).

Trained on whole sequences with next-item cross-entropy at every position over all items (a sampled
softmax past ``sampled_softmax_above`` items) — one forward pass per window, not one sample per prefix.
It recommends two ways: ``recommend`` scores every item as the next one, and ``generate`` writes a list
autoregressively (greedy, or beam search), each step conditioned on the items chosen before it.

Its item embeddings start from the co-occurrence spectral embedding of the training sequences
(``cooc_init``), not from the item texts (``content_init=False``): on ml-100k the co-occurrence start gave
test NDCG@10 0.1115 against 0.0983 from the MiniLM title vectors (3 seeds each; bench/results/gpt.json)
and 0.088 from random (one seed); validation agreed (best 0.116, mean of 3 seeds, against 0.113 for the
title start, one seed). A text start remains an option for catalogues where items nobody has interacted
with must be recommendable.

Its scores add a Markov chain's log-probability, weighted on validation (``transition_prior``, in
``SequentialRecommender._fit_prior``): a product of experts in which the chain carries the item-to-item
pairs a 64-wide embedding cannot hold (54.5k² of them on Amazon Beauty) and the transformer what the last
items' transitions miss. On Beauty (7-minute budget, one seed) the transformer alone reached test
NDCG@10 0.026 and the first-order chain 0.032, the two together 0.0349; with the chain counting 3 steps
ahead, 0.0371, and 0.0378 once epochs took 18 s instead of 35 (24 epochs in the budget instead of 10:
bench/results/catalogue-beauty.json). On ml-100k 0.1115 alone, 0.1238 with the prior. Training with
the prior inside the loss was tried and lost: the transformer then learnt to undo it (validation fell
after the first or second epoch; test 0.030 at best). Dropout follows the histories (``auto_dropout``):
0.5 for short ones like Beauty's.
"""
from __future__ import annotations

import numpy as np
import torch

from recsys.checks import check_positive_int
from recsys.models.registry import register
from recsys.models.sequential import SequentialRecommender, pad


@register("gpt")
class GPT(SequentialRecommender):
    causal = True

    def __init__(self, *, dim: int = 64, layers: int = 2, heads: int = 2, max_len: int = 200,
                 dropout: float | None = None, lr: float = 2e-3, lr_decay: bool = True, weight_decay: float = 0.0,
                 epochs: int = 40, batch_size: int | None = None, batch_tokens: int = 8192, patience: int = 15,
                 sampled_softmax_above: int = 50_000, negatives: int = 4096, content_init: bool = False,
                 cooc_init: bool = True, transition_prior: bool = True,
                 max_seconds: float | None = None, seed: int = 0,
                 device: str = "auto"):
        self.dim = dim
        self.layers = layers
        self.heads = heads
        self.max_len = max_len
        self.dropout = dropout
        self.lr = lr
        self.lr_decay = lr_decay
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        self.patience = patience
        self.sampled_softmax_above = sampled_softmax_above
        self.negatives = negatives
        self.content_init = content_init
        self.cooc_init = cooc_init
        self.transition_prior = transition_prior
        self.max_seconds = max_seconds
        self.seed = seed
        self.device = device

    def _window_shape(self) -> tuple[int, int]:
        # Windows of max_len + 1 items overlapping by one: every item is a target exactly once.
        return self.max_len + 1, self.max_len

    def _batch_arrays(self, seqs, rng):
        tokens = pad([s + 1 for s in seqs])
        return (tokens,), (tokens[:, 1:] > 0).sum(axis=1)  # one target per position after the first

    def _positions(self, module, tokens, *, device):
        tokens = torch.as_tensor(tokens, device=device)
        inputs, targets = tokens[:, :-1], tokens[:, 1:]
        # Right padding: a real position only ever attends to earlier, real positions.
        h, _ = module.hidden(inputs, causal=True)
        keep = targets > 0
        return h[keep], targets[keep] - 1

    def generate(self, history, k: int = 10, beam_width: int = 1, exclude_seen: bool = True
                 ) -> tuple[np.ndarray, np.ndarray]:
        """An autoregressive list of ``k`` items and each step's log-probability.

        Every step appends the chosen item to the sequence and predicts the next one; no item repeats,
        and history items are excluded when ``exclude_seen``. ``beam_width`` > 1 keeps that many partial
        lists and returns the one with the highest total log-probability.
        """
        self._check_fitted()
        check_positive_int("k", k)
        check_positive_int("beam_width", beam_width)
        history = self._check_histories([history])[0]
        banned = set(history.tolist()) if exclude_seen else set()
        k = min(int(k), self.n_items_ - len(banned))
        beams = [(0.0, [], [])]  # (total log-prob, items, step log-probs)
        for _ in range(k):
            seqs = [np.concatenate([history, np.array(items, dtype=np.int64)]) for _, items, _ in beams]
            logp = torch.log_softmax(torch.as_tensor(self._score(seqs, None)), dim=1).numpy()
            candidates = []
            for (total, items, steps), row in zip(beams, logp):
                row = row.copy()
                row[list(banned | set(items))] = -np.inf
                best = np.argpartition(-row, beam_width - 1)[:beam_width] if beam_width < len(row) \
                    else np.arange(len(row))
                for item in best[np.argsort(-row[best], kind="stable")]:
                    if np.isfinite(row[item]):
                        candidates.append((total + row[item], items + [int(item)], steps + [row[item]]))
            candidates.sort(key=lambda c: -c[0])
            beams = candidates[:beam_width]
        _, items, steps = beams[0]
        return np.array(items, dtype=np.int64), np.array(steps, dtype=np.float32)
