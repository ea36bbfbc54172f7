"""What the GPT-style and BERT-style recommenders share: the transformer, batching, training, scoring.

Items are tokens: token 0 pads, token i + 1 is item i, and the token after the last item is [MASK] (used
by BERT). The transformer is GPT-2 style — learned positions, pre-LayerNorm blocks, GELU MLPs, dropout —
with the output layer tied to the item embeddings. Attention weights come out of the same code path used
for scoring, so what the Explanations page shows is what produced the score.

Training walks whole sequences: each user's time-ordered history is cut into windows of at most
``max_len`` items (from the end, so the latest window is full) and windows of similar length are batched
together, so a batch carries little padding. A batch holds at most ``batch_size`` windows (by default
128 for short histories, 512 otherwise: ``auto_batch_size``) and ``batch_tokens`` items. What matters
on short histories is the number of optimizer steps: batches of 512 short windows gave a quarter of the
steps per epoch and validation NDCG@10 0.0199 after 33 epochs on Beauty, where batches of ~128 reached
0.0305 by epoch 29; on ml-100k the extra steps overfit instead.

Past ``sampled_softmax_above`` items the loss is a sampled softmax over 4,096 shared negatives drawn by
popularity (with the log-Q correction) instead of the full catalogue: on Beauty's 54.5k items a full
softmax step took 18× as long as a sampled one (0.54 s against 0.03 s for 1,024 positions), and 4,096
negatives learned faster than 1,024 (validation NDCG@10 0.0184 against 0.0127 after four epochs,
each ~40% longer). Training stops early on validation NDCG@10 and keeps the best weights. Under torchrun each
process trains on its rows of every batch (``recsys.distributed``).

With ``transition_prior`` (the default of both) the scores add ``prior_weight_`` × the log-probability of
a Markov chain over the last items, its settings and weight chosen on validation after training
(``_fit_prior``).
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy import sparse
from scipy.sparse.linalg import ArpackNoConvergence, eigsh
from safetensors.torch import load_file
from safetensors.torch import save as save_safetensors

from recsys.checks import check_int, check_number
from recsys.data.dataset import Dataset
from recsys.distributed import agree, agree_max, data_parallel, loss_weight, shard
from recsys.errors import ArtifactError, ParameterError
from recsys.evaluate import ndcg_of_sums
from recsys.io import atomic_write_bytes
from recsys.models.base import LARGE_CATALOGUE, Recommender
from recsys.models.markov import fit_transitions, transition_scores
from recsys.models.torch_utils import (VALIDATION_USERS, ndcg_validation, optimizer_step, resolve_device,
                                       seed_everything, train_epochs)
from recsys.progress import Progress

WEIGHTS_FILE = "weights.safetensors"
# The transition prior's weights tried on validation (``transition_prior``); 0 is the transformer alone.
PRIOR_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0)
PRIOR_FLOOR = 1e-9  # the chain's probability below which the prior stops pushing an item down
# The chain behind the prior. Unlike the `markov` model's first-order counts, an item also counts toward
# the two after the next (weights 1, 0.7, 0.49), and the decay over the history's last items is picked
# on validation with the weight. Measured against the first-order chain (decay 0.8), GPT + prior, one
# seed each, test NDCG@10: Beauty 0.0349 → 0.0379 (decay 0.5), ml-100k 0.1177 → 0.1267 (decay 0.8); 3
# to 8 steps scored within 0.001 of each other on both validation sets. A saved model keeps its
# scoring settings (``prior_chain_``).
PRIOR_COUNTS = {"steps": 3, "step_decay": 0.7}
PRIOR_DECAYS = (0.5, 0.8)
PRIOR_CHAIN = {"window": 20, "decay": 0.8, "beta": 50.0}
FIRST_PRIOR_CHAIN = dict(PRIOR_CHAIN)  # what models saved before ``prior_chain_`` existed were scored with
PRIOR_STATE = ("prior_weight_", "prior_validation_", "prior_chain_", "transitions_", "out_degree_",
               "popularity_")


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, causal: bool, key_pad, need_weights: bool):
        B, L, D = x.shape
        q, k, v = self.qkv(x).view(B, L, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        mask = None if key_pad is None else ~key_pad[:, None, None, :]  # True = may attend
        if need_weights:
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(D // self.heads)
            if causal:
                scores = scores.masked_fill(~torch.ones(L, L, dtype=torch.bool, device=x.device).tril(),
                                            float("-inf"))
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))
            weights = scores.softmax(dim=-1)
            out = weights @ v
        else:
            # No dropout on the attention matrix: drawing an L × L mask per head costs a quarter of a
            # CPU epoch; the residual and embedding dropout regularise enough.
            weights = None
            if mask is None:
                out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
            else:
                if causal:
                    mask = mask & torch.ones(L, L, dtype=torch.bool, device=x.device).tril()
                out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.proj(out.transpose(1, 2).reshape(B, L, D)), weights


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x, causal, key_pad, need_weights):
        a, w = self.attn(self.ln1(x), causal, key_pad, need_weights)
        x = x + self.drop(a)
        return x + self.drop(self.mlp(self.ln2(x))), w


class SeqTransformer(nn.Module):
    def __init__(self, n_items: int, dim: int, layers: int, heads: int, max_len: int, dropout: float):
        super().__init__()
        self.n_items = n_items
        self.tok = nn.Embedding(n_items + 2, dim)  # pad, items, [MASK]
        self.pos = nn.Embedding(max_len, dim)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(dim, heads, dropout) for _ in range(layers))
        self.ln = nn.LayerNorm(dim)
        self.out_bias = nn.Parameter(torch.zeros(n_items))

    def init_weights(self, generator: torch.Generator) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02, generator=generator)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    def hidden(self, tokens, causal: bool, key_pad=None, need_weights: bool = False):
        return self.encode(self.tok(tokens), causal, key_pad, need_weights)

    def encode(self, token_vectors, causal: bool, key_pad=None, need_weights: bool = False):
        """``hidden`` from the token embeddings (B, L, dim) rather than ids: integrated gradients scale
        them."""
        L = token_vectors.shape[1]
        x = self.drop(token_vectors + self.pos(torch.arange(L, device=token_vectors.device))[None])
        weights = []
        for block in self.blocks:
            x, w = block(x, causal, key_pad, need_weights)
            weights.append(w)
        return self.ln(x), weights

    def item_logits(self, h, items=None):
        """Scores of all items, or of the 1-D ``items`` only, for hidden states ``h`` (..., dim)."""
        table = self.tok.weight[1:self.n_items + 1]
        if items is None:
            return h @ table.T + self.out_bias
        return h @ table[items].T + self.out_bias[items]

    def target_logits(self, h, targets):
        """The score of each row's own target item: (N,) for h (N, dim) and targets (N,)."""
        return (h * self.tok.weight[targets + 1]).sum(-1) + self.out_bias[targets]


def windows(sequences: list[np.ndarray], length: int, step: int) -> list[np.ndarray]:
    """Cut each sequence into windows of ``length`` items taken from the end, moving back by ``step``."""
    out = []
    for seq in sequences:
        end = len(seq)
        while end > 0:
            start = max(0, end - length)
            if end - start >= 2:
                out.append(seq[start:end])
            if start == 0:
                break
            end -= step
    return out


SHORT_HISTORIES = 20  # median items per training sequence below which batches are small
LARGE_BUDGET_SECONDS = 420.0


def auto_time_budget(train: Dataset) -> float | None:
    """Seconds of training when ``max_seconds`` is None: none for a catalogue up to ``LARGE_CATALOGUE``
    items (ml-100k's GPT stops by itself, on validation, in ~3 minutes), else ``LARGE_BUDGET_SECONDS``.
    On Amazon Beauty (54.5k items, validation NDCG still rising after 40 minutes) an unbounded default
    would make `make build` run for hours; seven minutes each for GPT and BERT4Rec keep the whole default
    build within half an hour (19 minutes, measured 2026-12-05). Pass ``max_seconds`` for longer (the
    benchmarks do) or ``math.inf`` for none."""
    return LARGE_BUDGET_SECONDS if train.n_items > LARGE_CATALOGUE else None


def auto_batch_size(train: Dataset) -> int:
    """Windows per batch when ``batch_size`` is None: 128 for short histories (median below
    ``SHORT_HISTORIES``), else 512. Measured both ways: Amazon Beauty (median 4 items, 54.5k items)
    needs the steps (validation NDCG@10 0.0305 by epoch 29 with ~128 windows a batch, 0.0199 after 33
    epochs with 512), while ml-100k (median 41) overfits with them (test NDCG@10 0.0931 at 128 against
    0.1021 at 512, one seed each)."""
    return 128 if short_histories(train) else 512


def auto_dropout(train: Dataset) -> float:
    """Dropout when ``dropout`` is None: 0.5 for short histories (median below ``SHORT_HISTORIES``),
    else 0.2 — as SASRec chose for the sparse Amazon catalogues and MovieLens. Measured on Amazon
    Beauty (7-minute budget, one seed): test NDCG@10 0.0262 at 0.5 against 0.0235 at 0.2, validation
    still rising at 0.5 where 0.2 had flattened. On ml-100k (title start) 0.5 gave 0.091 and 0.3 gave
    0.094 (seed 0), against 0.098 at 0.2 (3 seeds)."""
    return 0.5 if short_histories(train) else 0.2


def short_histories(train: Dataset) -> bool:
    """Whether the median training history is shorter than ``SHORT_HISTORIES`` items."""
    lengths = train.user_activity()
    lengths = lengths[lengths > 0]
    return bool(len(lengths)) and bool(np.median(lengths) < SHORT_HISTORIES)


def length_batches(lengths: np.ndarray, batch_tokens: int, max_batch: int,
                   rng: np.random.Generator) -> list[np.ndarray]:
    """Index batches of similar-length sequences, each within a token budget; random order."""
    order = np.lexsort((rng.random(len(lengths)), lengths))  # by length, ties shuffled
    batches, start, n = [], 0, len(order)
    while start < n:
        end = start + 1
        while (end < n and end - start < max_batch
               and (end - start + 1) * lengths[order[end]] <= batch_tokens):
            end += 1
        batches.append(order[start:end])
        start = end
    rng.shuffle(batches)
    return batches


def cooccurrence_vectors(train: Dataset, dim: int, lags: int = 3, seed: int = 0) -> np.ndarray:
    """Item vectors (n_items, dim) from the order of the training sequences: the leading eigenvectors
    of the item graph that links items bought within ``lags`` steps of each other, normalised
    by degree (a spectral embedding). Items that follow each other get nearby vectors, which is what a
    next-item model has to learn first. Items with no neighbour get zeros."""
    seqs = train.sequences()
    rows, values = seqs.row_ids(), seqs.values.astype(np.int64)
    pairs = [(values[:-lag][same], values[lag:][same])
             for lag in range(1, lags + 1) if len(values) > lag
             for same in [rows[:-lag] == rows[lag:]]]
    n = train.n_items
    first = np.concatenate([a for a, _ in pairs]) if pairs else np.zeros(0, np.int64)
    second = np.concatenate([b for _, b in pairs]) if pairs else np.zeros(0, np.int64)
    graph = sparse.csr_matrix((np.ones(len(first), np.float64), (first, second)), shape=(n, n))
    graph = graph + graph.T
    degree = np.asarray(graph.sum(axis=1)).ravel()
    scale = sparse.diags(1.0 / np.sqrt(degree + 1.0))
    graph = (scale @ graph @ scale).tocsr()
    k = min(dim, n - 2)
    if k < 1 or graph.nnz == 0:
        return np.zeros((n, dim))
    # The largest eigenvalues, not the largest in magnitude (an SVD): strongly negative ones belong to
    # vectors that alternate between neighbours, the opposite of what a start should encode.
    if n <= max(300, 3 * dim):  # small catalogues: the dense decomposition is exact and instant
        values, vectors = np.linalg.eigh(graph.toarray())
        values, vectors = values[::-1][:k], vectors[:, ::-1][:, :k]
    else:
        start = np.random.default_rng(seed).standard_normal(n)
        try:
            values, vectors = eigsh(graph, k=k, which="LA", v0=start)
        except ArpackNoConvergence:  # a start is a help, not a requirement: keep the random one
            return np.zeros((n, dim))
    out = np.zeros((n, dim))
    out[:, :k] = vectors * np.sqrt(np.clip(values, 0.0, None))
    out[degree == 0] = 0.0
    return out


def pad(seqs: list[np.ndarray], value: int = 0) -> np.ndarray:
    out = np.full((len(seqs), max(len(s) for s in seqs)), value, dtype=np.int64)
    for j, s in enumerate(seqs):
        out[j, :len(s)] = s
    return out


class SequentialRecommender(Recommender):
    """Base of GPT and BERT: subclasses set ``causal`` and define ``_window_shape``, ``_batch_arrays``
    and ``_positions`` (the hidden states and true items where the loss is taken; and ``_inputs`` when
    scoring feeds more than the history)."""

    causal: bool = True
    revision = 1  # 1: the transition prior's chain counts 3 steps ahead and its decay is chosen (2026-12-04)

    def _check_params(self) -> None:
        for name in ("dim", "layers", "heads", "max_len", "epochs", "batch_tokens", "patience"):
            check_int(name, getattr(self, name))
        check_number("max_seconds", self.max_seconds, strict=True, optional=True)
        if self.dim % self.heads:
            raise ParameterError(f"dim ({self.dim}) must be a multiple of heads ({self.heads})")
        if self.batch_size is not None:
            check_int("batch_size", self.batch_size)
        check_number("dropout", self.dropout, maximum=0.9, optional=True)
        check_number("lr", self.lr, strict=True)
        check_number("weight_decay", self.weight_decay)
        check_int("sampled_softmax_above", self.sampled_softmax_above)
        check_int("negatives", self.negatives)

    # -- training ---------------------------------------------------------------------------------------
    def fit(self, train: Dataset, *, valid=None, progress: Progress | None = None,
            init_from: "SequentialRecommender | str | Path | None" = None,
            teacher: "SequentialRecommender | str | Path | None" = None) -> "SequentialRecommender":
        """Train on ``train``'s sequences. ``init_from`` (a fitted model of the same kind, or the folder
        of a saved one) starts from its weights instead of random ones: pre-train, then fine-tune.
        ``teacher`` (students only, ``recsys.models.distill``): a fitted model whose softened next-item
        distribution the student learns beside the true next item."""
        self._check_params()
        for key in PRIOR_STATE:  # a refit validates the transformer alone and keeps no stale chain
            self.__dict__.pop(key, None)
        teacher_module = self._teacher_module(teacher, train)
        device = resolve_device(self.device)
        gen = seed_everything(self.seed)
        rng = np.random.default_rng(self.seed)
        self.n_items_ = train.n_items
        self.time_budget_ = self.max_seconds if self.max_seconds is not None else auto_time_budget(train)
        start = time.perf_counter()  # the budget counts the item-vector start too (an eigensolve)
        self.dropout_ = self.dropout if self.dropout is not None else auto_dropout(train)
        module = SeqTransformer(train.n_items, self.dim, self.layers, self.heads, self.max_len,
                                self.dropout_)
        module.init_weights(gen)
        if init_from is not None:
            module.load_state_dict(_weights_of(init_from, type(self), train.n_items))
            self.item_init_ = "warm start"
        else:
            self._init_item_embeddings(module, train)
        self.module_ = module.to(device)
        opt = torch.optim.AdamW(module.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        # The sampled softmax's proposal: kept on the module (not a parameter, not saved), so the loss
        # functions reach it the same way in one process and under DDP.
        weights = (np.bincount(train.item, minlength=train.n_items) + 1.0) ** 0.75
        module.negative_probs = torch.as_tensor(weights / weights.sum())
        seqs = windows(train.sequences().rows(), *self._window_shape())
        lengths = np.array([len(s) for s in seqs])
        self.batch_size_ = self.batch_size or auto_batch_size(train)
        if teacher_module is not None:
            self._teacher = teacher_module.to(device).eval()  # read by _arrays_loss; dropped after fit
        trainer = data_parallel(module, self._arrays_loss, device)

        def run_epoch(epoch: int) -> dict:
            module.train()
            total, count, out_of_time = 0.0, 0, False
            batches = length_batches(lengths, self.batch_tokens, self.batch_size_, rng)
            for step, idx in enumerate(batches):
                if self.lr_decay:
                    self._decay(opt, (epoch + step / len(batches)) / self.epochs, time.perf_counter() - start)
                # The whole batch is prepared (masks drawn) in every process, so the random streams and
                # the batch match a single-process run; each process then trains on its own rows.
                arrays, counts = self._batch_arrays([seqs[i] for i in idx], rng)
                rows = shard(np.arange(len(idx)))
                n = int(counts[rows].sum())
                weight = loss_weight(n, int(counts.sum()))
                loss = trainer(*(a[rows] for a in arrays), device=device, gen=gen, weight=weight)
                total += optimizer_step(opt, loss) / weight * n
                count += n
                if self.time_budget_ is not None and agree(time.perf_counter() - start > self.time_budget_):
                    out_of_time = True  # the budget ends training mid-epoch (huge data)
                    break
            return {"loss": total / max(count, 1), "targets": count, "out_of_time": out_of_time}

        train_epochs(self, run_epoch, start=start, progress=progress,
                     validate=ndcg_validation(self, valid, train),
                     snapshot=lambda: {k: v.detach().clone() for k, v in module.state_dict().items()},
                     restore=module.load_state_dict)
        module.eval()
        self.__dict__.pop("_teacher", None)
        self._fit_prior(train, valid)
        return self

    def _fit_prior(self, train: Dataset, valid) -> None:
        """With ``transition_prior``: fit a Markov chain (``recsys.models.markov``, with ``PRIOR_COUNTS``)
        and add ``prior_weight_`` × its log-probability to the transformer's scores — a product of
        experts. The chain's history decay (``PRIOR_DECAYS``) and the weight (``PRIOR_WEIGHTS``) are the
        pair with the best validation NDCG@10 (weight 0 when the chain does not help, or without a
        validation part); ``prior_validation_`` keeps each pair's score as [decay, weight, NDCG@10]."""
        self.prior_weight_ = 0.0
        if not self.transition_prior or valid is None or not len(valid):
            return
        self.transitions_, self.out_degree_, _ = fit_transitions(train, **PRIOR_COUNTS)
        # Add-one popularity, unlike the chain's own: an item no training sequence holds (a cold item a
        # text start makes recommendable) gets the rarest items' prior, not log(PRIOR_FLOOR).
        counts = train.item_popularity() + 1.0
        self.popularity_ = (counts / counts.sum()).astype(np.float32)
        chains = [{**PRIOR_CHAIN, "decay": decay} for decay in PRIOR_DECAYS]
        # The transformer scores the validation sample once; each chain and weight re-ranks its logits.
        sample = valid.sample(VALIDATION_USERS, seed=0)
        ndcgs = ndcg_of_sums(
            lambda h: (self._transformer_scores(h), [self._log_prior(h, chain) for chain in chains]),
            sample, PRIOR_WEIGHTS, n_items=self.n_items_)
        self.prior_validation_ = [[chain["decay"], w, float(score)] for chain, row in zip(chains, ndcgs)
                                  for w, score in zip(PRIOR_WEIGHTS, row)]
        # The best pair; on a tie the first, so the smaller weight (and weight 0 before any chain).
        decay, self.prior_weight_, _ = max(sorted(self.prior_validation_, key=lambda r: r[1]),
                                           key=lambda r: r[2])
        self.prior_chain_ = {**PRIOR_CHAIN, "decay": decay}
        if not self.prior_weight_:  # nothing of the chain is kept, or saved
            del self.transitions_, self.out_degree_, self.popularity_, self.prior_chain_

    def _teacher_module(self, teacher, train: Dataset):
        """Only students (``recsys.models.distill``) learn from a teacher."""
        if teacher is not None:
            raise ParameterError(f"{self.name} is not a student; distil into gpt-student or bert-student")
        return None

    def _arrays_loss(self, module, *arrays, device, gen, weight: float = 1.0):
        """The batch's loss: cross-entropy of the true items at the training positions (``_positions``
        of the subclass), mixed with the distillation loss while a teacher is attached."""
        h, targets = self._positions(module, *arrays, device=device)
        loss = self._loss_on(module, h, targets, device, gen)
        teacher = self.__dict__.get("_teacher")
        if teacher is not None:
            with torch.no_grad():
                taught, _ = self._positions(teacher, *arrays, device=device)
            loss = ((1 - self.distill_weight) * loss
                    + self.distill_weight * self._distill_loss(module, teacher, h, taught, gen))
        return loss * weight

    def _distill_loss(self, module, teacher, h, taught, gen) -> torch.Tensor:
        """KL divergence from the teacher's next-item distribution to the student's, both softened by
        ``temperature`` and scaled by its square (Hinton et al., 2015), over all items — or over the
        batch's sampled negatives where the softmax is sampled."""
        items = None
        if module.n_items > self.sampled_softmax_above:
            items = torch.multinomial(module.negative_probs, self.negatives, replacement=True,
                                      generator=gen).to(h.device)
        t = self.temperature
        student = F.log_softmax(module.item_logits(h, items) / t, dim=-1)
        with torch.no_grad():
            target = F.log_softmax(teacher.item_logits(taught, items) / t, dim=-1)
        return F.kl_div(student, target, log_target=True, reduction="batchmean") * t * t

    def _decay(self, opt, epoch_share: float, seconds: float) -> None:
        """Cosine decay of the learning rate to zero (``lr_decay``), step by step, over the epochs or the
        time budget (``time_budget_``), whichever ends first: a run cut by the budget still ends with
        small, steady steps instead of stopping at full rate."""
        share = (epoch_share if self.time_budget_ is None
                 else max(epoch_share, agree_max(seconds) / self.time_budget_))
        for group in opt.param_groups:
            group["lr"] = self.lr * 0.5 * (1 + math.cos(math.pi * min(share, 1.0)))

    def _init_item_embeddings(self, module: SeqTransformer, train: Dataset) -> None:
        """Where the item embeddings start (``item_init_``). Content fusion (``content_init``): from the
        item-text vectors, reduced to ``dim`` by PCA; items nobody interacted with then sit near similar
        items, which makes them recommendable (cold start). A catalogue without item text (bare ids)
        never gets text vectors: encoding "item 1234" would give every item a near-identical,
        meaningless vector. Otherwise (``cooc_init``) from the co-occurrence spectral embedding of the
        training sequences: on Amazon Beauty that took validation NDCG@10 from 0.007 to 0.018 after
        one epoch and to 0.034 after eight minutes (0.031 from random). Both are scaled like the
        random start."""
        self.content_init_used_ = bool(self.content_init and train.has_item_text)
        if self.content_init_used_:
            from recsys.models.content import item_text_vectors

            vectors = item_text_vectors(train).astype(np.float64)
            vectors -= vectors.mean(axis=0)
            _, _, components = np.linalg.svd(vectors, full_matrices=False)
            reduced = np.zeros((len(vectors), self.dim))
            width = min(self.dim, components.shape[0])
            reduced[:, :width] = vectors @ components[:width].T
            self.item_init_ = "text"
        elif self.cooc_init:
            reduced = cooccurrence_vectors(train, self.dim, seed=self.seed)
            self.item_init_ = "co-occurrence"
        else:
            self.item_init_ = "random"
            return
        known = np.abs(reduced).sum(axis=1) > 0  # items without a vector keep their random start
        filled = np.abs(reduced).sum(axis=0) > 0  # columns past the rank of a tiny catalogue stay 0
        reduced *= 0.02 / max(reduced[known][:, filled].std() if known.any() else 0.0, 1e-12)
        with torch.no_grad():
            module.tok.weight[1:train.n_items + 1][torch.as_tensor(known)] = torch.as_tensor(
                reduced[known], dtype=torch.float32)

    def _loss_on(self, module: SeqTransformer, h, targets, device, gen) -> torch.Tensor:
        """Cross-entropy of the target items (item ids) from hidden states h (N, dim)."""
        if module.n_items <= self.sampled_softmax_above:
            return F.cross_entropy(module.item_logits(h), targets)
        # Sampled softmax with negatives shared by the batch (one (N, negatives) product, not N × negatives
        # gathered vectors). Negatives are drawn in proportion to popularity^0.75, so the popular items —
        # the ones a target must beat at ranking time — are the ones pushed down; every logit is corrected
        # by log(expected draws) so the loss still estimates the full softmax (Jean et al., 2015). Uniform
        # negatives (1% of a 100k catalogue) left GPT below popularity at 10M interactions.
        q = module.negative_probs
        negatives = torch.multinomial(q, self.negatives, replacement=True, generator=gen).to(device)
        log_draws = torch.log(q * self.negatives).to(device)
        negative_logits = module.item_logits(h, negatives) - log_draws[negatives]
        negative_logits = negative_logits.masked_fill(negatives[None, :] == targets[:, None], float("-inf"))
        target_logits = module.target_logits(h, targets) - log_draws[targets]
        logits = torch.cat([target_logits[:, None], negative_logits], dim=1)
        return F.cross_entropy(logits, torch.zeros(len(targets), dtype=torch.long, device=device))

    # -- scoring ------------------------------------------------------------------------------------------
    def _inputs(self, history: np.ndarray) -> np.ndarray:
        """The token sequence fed to score a history (subclasses append [MASK] or not)."""
        return history[-self.max_len:] + 1

    @torch.no_grad()
    def _final_states(self, histories: list[np.ndarray], need_weights: bool = False):
        module = self.module_
        module.eval()
        device = next(module.parameters()).device
        order = np.argsort([len(h) for h in histories], kind="stable")
        states = torch.zeros(len(histories), self.dim)
        for lo in range(0, len(order), 256):
            idx = order[lo:lo + 256]
            seqs = [self._inputs(histories[j]) for j in idx]
            tokens = torch.as_tensor(pad(seqs), device=device)
            key_pad = None if self.causal else tokens == 0
            h, _ = module.hidden(tokens, self.causal, key_pad)
            last = torch.as_tensor([len(s) - 1 for s in seqs], device=device)
            states[torch.as_tensor(idx)] = h[torch.arange(len(idx)), last].cpu()
        return states

    def _score(self, histories, users):
        out = self._transformer_scores(histories)
        if getattr(self, "prior_weight_", 0.0):
            out += self.prior_weight_ * self._log_prior(histories)
        return out

    def _log_prior(self, histories, chain: dict | None = None) -> np.ndarray:
        """The transition prior before its weight: log P_chain(item | each history's last items), scored
        with the settings ``chain`` (by default the model's own, ``prior_chain_``)."""
        probs = transition_scores(self.transitions_, self.out_degree_, self.popularity_, histories,
                                  **(chain or self.prior_chain_))
        return np.log(probs + PRIOR_FLOOR)

    def _transformer_scores(self, histories) -> np.ndarray:
        """The transformer's logits, without the prior."""
        empty = np.array([len(h) == 0 for h in histories])
        if empty.any():
            # No history to read: fall back to the learned item prior (the output bias).
            fallback = self.module_.out_bias.detach().cpu().numpy()
        filled = [h for h in histories if len(h)]
        out = np.empty((len(histories), self.n_items_), np.float32)
        if filled:
            states = self._final_states(filled).to(next(self.module_.parameters()).device)
            with torch.no_grad():
                out[~empty] = self.module_.item_logits(states).cpu().numpy()
        if empty.any():
            out[empty] = fallback
        return out

    @torch.no_grad()
    def attention(self, history) -> np.ndarray:
        """Attention weights (layers, heads, positions, positions) over the scored input sequence.

        Rows are query positions and sum to one; the positions are the last ``max_len`` history items
        (and, for BERT, the appended [MASK] last)."""
        self._check_fitted()
        history = self._check_histories([history])[0]
        if not len(history):
            raise ParameterError("attention needs a non-empty history")
        tokens = torch.as_tensor(self._inputs(history)[None], device=next(self.module_.parameters()).device)
        self.module_.eval()
        _, weights = self.module_.hidden(tokens, self.causal, None, need_weights=True)
        return torch.stack([w[0] for w in weights]).cpu().numpy()

    def integrated_gradients(self, history, items, steps: int = 32) -> np.ndarray:
        """Integrated gradients (Sundararajan et al. 2017) of each item's score with respect to the
        history's item embeddings: every history token's embedding is scaled from 0 to its value
        (positions and BERT's [MASK] kept), and gradient × embedding is summed over the dimensions.
        Returns (len(history), len(items)); positions the model does not read get 0."""
        self._check_fitted()
        history = self._check_histories([history])[0]
        items = np.atleast_1d(np.asarray(items, np.int64))
        out = np.zeros((len(history), len(items)))
        if not len(history):
            return out
        module = self.module_
        module.eval()
        device = next(module.parameters()).device
        tokens = torch.as_tensor(self._inputs(history), device=device)
        is_item = (tokens <= self.n_items_)[None, :, None]
        with torch.no_grad():
            vectors = module.tok(tokens)                                       # (L, dim)
        alphas = (torch.arange(steps, dtype=vectors.dtype, device=device) + 0.5) / steps
        scaled = torch.where(is_item, alphas[:, None, None] * vectors[None], vectors[None])
        scaled.requires_grad_(True)
        h, _ = module.encode(scaled, self.causal)
        logits = module.item_logits(h[:, -1], torch.as_tensor(items, device=device))  # (steps, items)
        read = int(is_item.sum())
        for j in range(len(items)):
            grad, = torch.autograd.grad(logits[:, j].sum(), scaled, retain_graph=j < len(items) - 1)
            credit = (grad.mean(dim=0) * vectors).sum(dim=-1)[:read]
            out[len(history) - read:, j] = credit.detach().cpu().numpy()
        return out

    def item_embeddings(self) -> np.ndarray:
        self._check_fitted()
        return self.module_.tok.weight[1:self.n_items_ + 1].detach().cpu().numpy().copy()

    def user_embedding(self, history) -> np.ndarray:
        self._check_fitted()
        history = self._check_histories([history])[0]
        if not len(history):
            return np.zeros(self.dim, np.float32)
        return self._final_states([history])[0].numpy()

    # -- persistence ----------------------------------------------------------------------------------------
    def _save_extra(self, key: str, value, path: Path) -> bool:
        if key != "module_":
            return False
        atomic_write_bytes(path / WEIGHTS_FILE, save_safetensors(
            {k: v.detach().cpu().contiguous() for k, v in value.state_dict().items()}))
        return True

    def _load_extra(self, path: Path) -> None:
        module = SeqTransformer(self.n_items_, self.dim, self.layers, self.heads, self.max_len,
                                getattr(self, "dropout_", self.dropout) or 0.0)  # scoring runs in eval mode
        try:
            state = load_file(str(path / WEIGHTS_FILE))
            module.load_state_dict(state)
        except Exception as e:  # safetensors and torch raise several types for a bad file
            raise ArtifactError(f"{path / WEIGHTS_FILE}: unusable weights ({e})") from None
        module.eval()
        self.module_ = module.to(resolve_device(self.device))
        if getattr(self, "prior_weight_", 0.0) and not hasattr(self, "prior_chain_"):
            self.prior_chain_ = dict(FIRST_PRIOR_CHAIN)  # saved before the chain's settings were kept


def _weights_of(source, cls, n_items: int) -> dict:
    """The transformer weights of a fitted model or a saved model folder, for warm starts."""
    if isinstance(source, (str, Path)):
        from recsys.models.registry import load_model

        source = load_model(source)
    if not isinstance(source, cls) or not source.is_fitted:
        raise ParameterError(f"init_from must be a fitted {cls.__name__} (or its folder)")
    if source.n_items_ != n_items:
        raise ParameterError(f"init_from has {source.n_items_:,} items, this data {n_items:,}: "
                             "the item ids must be the same")
    return {k: v.detach().clone() for k, v in source.module_.state_dict().items()}
