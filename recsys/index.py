"""FAISS indexes over item vectors: nearest items by cosine, exact for small catalogues, approximate above.

``ItemIndex(kind="auto")`` searches exactly (inner product on unit vectors) up to ``exact_limit`` items and
builds an HNSW graph above it; IVF and IVF-PQ (product-quantised codes of ``pq_m`` bytes per item
instead of 4 × dim) are available by name. ``metric="ip"`` searches raw inner products instead of cosine,
which is what retrieving a dot-product model's top items needs (see ``recsys.compress.linear_parts``).
Saves are FAISS's own binary format (no pickle) plus a JSON sidecar, each written atomically.
"""
from __future__ import annotations

import json
from pathlib import Path

import faiss
import numpy as np

from recsys.checks import check_int, check_positive_int
from recsys.errors import ArtifactError, DataError, NotFittedError, ParameterError
from recsys.io import atomic_write_bytes, atomic_write_json
from recsys.ranking import item_filter

KINDS = ("auto", "exact", "hnsw", "ivf", "ivfpq")
METRICS = ("cosine", "ip")
INDEX_FILE, META_FILE = "index.faiss", "index.json"


def _unit(vectors: np.ndarray) -> np.ndarray:
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return np.divide(v, norms, out=np.zeros_like(v), where=norms > 0)


class ItemIndex:
    """Cosine nearest neighbours over one vector per item (row i = item i)."""

    def __init__(self, *, kind: str = "auto", exact_limit: int = 100_000, hnsw_m: int = 32,
                 ef_search: int = 128, nlist: int | None = None, nprobe: int = 16, pq_m: int | None = None,
                 pq_bits: int = 8, metric: str = "cosine", seed: int = 0):
        self.kind = kind
        self.metric = metric
        self.pq_m = pq_m
        self.pq_bits = pq_bits
        self.exact_limit = exact_limit
        self.hnsw_m = hnsw_m
        self.ef_search = ef_search
        self.nlist = nlist
        self.nprobe = nprobe
        self.seed = seed

    def build(self, vectors: np.ndarray) -> "ItemIndex":
        if self.kind not in KINDS:
            raise ParameterError(f"unknown index kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        if self.metric not in METRICS:
            raise ParameterError(f"unknown metric {self.metric!r}; choose one of {', '.join(METRICS)}")
        for name in ("exact_limit", "hnsw_m", "ef_search", "nprobe", "pq_bits"):
            check_int(name, getattr(self, name))
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or len(vectors) == 0:
            raise DataError(f"expected a non-empty (n_items, dim) array, got shape {vectors.shape}")
        if not np.isfinite(vectors).all():
            raise DataError("item vectors contain NaN or infinite values")
        unit = self._prepare(vectors)
        n, dim = unit.shape
        kind = self.kind if self.kind != "auto" else ("exact" if n <= self.exact_limit else "hnsw")
        if kind == "exact":
            index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efSearch = self.ef_search
        else:
            nlist = self.nlist or max(1, min(int(4 * np.sqrt(n)), n // 39))
            check_int("nlist", nlist)
            if kind == "ivf":
                index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
            else:
                index = faiss.IndexIVFPQ(faiss.IndexFlatIP(dim), dim, nlist, self._pq_m(n, dim),
                                         self.pq_bits, faiss.METRIC_INNER_PRODUCT)
            sample = np.random.default_rng(self.seed).permutation(n)[: max(nlist * 64, 10_000)]
            index.train(unit[np.sort(sample)])
            index.nprobe = self.nprobe
        index.add(unit)
        if kind in ("ivf", "ivfpq"):
            index.make_direct_map()  # lets similar_items read an item's vector back (reconstruct)
        self.index_, self.kind_, self.dim_ = index, kind, dim
        return self

    def _prepare(self, vectors: np.ndarray) -> np.ndarray:
        """Unit rows for cosine; the vectors as they are for inner product."""
        if self.metric == "cosine":
            return _unit(vectors)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _pq_m(self, n: int, dim: int) -> int:
        """Sub-quantisers (bytes per item at 8 bits): ``pq_m``, or the largest divisor of dim ≤ dim / 4."""
        m = self.pq_m or max(d for d in range(1, dim // 4 + 1) if dim % d == 0)
        check_int("pq_m", m)
        if dim % m:
            raise ParameterError(f"pq_m ({m}) must divide the vector dimension ({dim})")
        if n < 2 ** self.pq_bits:
            raise ParameterError(f"an IVF-PQ index with {self.pq_bits}-bit codes needs at least "
                                 f"{2 ** self.pq_bits} items to train on; this catalogue has {n}")
        return m

    @property
    def size_bytes(self) -> int:
        """The serialised size of the index (what ``save`` writes)."""
        self._check_built()
        return int(faiss.serialize_index(self.index_).nbytes)

    def _check_built(self) -> None:
        if not hasattr(self, "index_"):
            raise NotFittedError("the index is not built: call build(vectors) first")

    @property
    def n_items(self) -> int:
        self._check_built()
        return self.index_.ntotal

    def search(self, queries: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest items (ids, cosine) for each query row; 1-D in, 1-D out."""
        self._check_built()
        check_positive_int("k", k)
        q = np.asarray(queries, dtype=np.float32)
        single = q.ndim == 1
        q = np.atleast_2d(q)
        if q.shape[1] != self.dim_:
            raise DataError(f"queries have {q.shape[1]} dimensions, the index {self.dim_}")
        scores, ids = self.index_.search(self._prepare(q), int(min(k, self.n_items)))
        return (ids[0], scores[0]) if single else (ids, scores)

    def similar_items(self, item: int, k: int = 10, *, exclude=None, allowed=None
                      ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items closest to ``item``, the item itself left out; ``exclude`` and ``allowed``
        filter as in ``Recommender.recommend``."""
        self._check_built()
        check_positive_int("k", k)
        if not 0 <= int(item) < self.n_items:
            raise DataError(f"unknown item index {item}: the index holds items 0..{self.n_items - 1}")
        keep = item_filter(self.n_items, exclude, allowed)
        if keep is None:
            keep = np.ones(self.n_items, bool)
        keep[int(item)] = False
        vector = self.index_.reconstruct(int(item))
        # Ask for more neighbours until enough pass the filter (or the whole catalogue was seen).
        wanted = int(k) + 1
        while True:
            ids, scores = self.search(vector, wanted)
            ok = (ids >= 0) & keep[np.maximum(ids, 0)]
            if ok.sum() >= k or wanted >= self.n_items:
                return ids[ok][:k], scores[ok][:k]
            wanted = min(self.n_items, wanted * 4)

    def save(self, path: str | Path) -> Path:
        self._check_built()
        path = Path(path)
        atomic_write_bytes(path / INDEX_FILE, faiss.serialize_index(self.index_).tobytes())
        atomic_write_json(path / META_FILE, {"params": {k: getattr(self, k) for k in (
            "kind", "exact_limit", "hnsw_m", "ef_search", "nlist", "nprobe", "pq_m", "pq_bits", "metric",
            "seed")},
            "kind_": self.kind_, "dim_": self.dim_})
        return path

    @classmethod
    def load(cls, path: str | Path) -> "ItemIndex":
        path = Path(path)
        try:
            meta = json.loads((path / META_FILE).read_text())
            data = np.frombuffer((path / INDEX_FILE).read_bytes(), dtype=np.uint8)
            index = faiss.deserialize_index(data)
        except Exception as e:  # missing file, bad JSON, or FAISS refusing the bytes
            raise ArtifactError(f"{path}: unusable index ({e})") from None
        out = cls(**meta["params"])
        out.index_, out.kind_, out.dim_ = index, meta["kind_"], meta["dim_"]
        if hasattr(index, "hnsw"):
            index.hnsw.efSearch = out.ef_search
        if hasattr(index, "nprobe"):
            index.nprobe = out.nprobe
            index.make_direct_map()
        return out


def index_for(model, **params) -> ItemIndex:
    """An index over a fitted model's item embeddings (DataError for models that have none)."""
    vectors = model.item_embeddings()
    if vectors is None:
        raise DataError(f"{model.name} has no item embeddings to index; "
                        "use a model such as bpr, gpt, bert or content")
    return ItemIndex(**params).build(vectors)


def approximate_overlap(vectors: np.ndarray, k: int = 10, *, kind: str = "hnsw", queries: int = 500,
                        seed: int = 0, **params) -> float:
    """Mean overlap@k between an approximate index (``kind`` "hnsw" or "ivf") and exact search, over
    the similar items of ``queries`` random items: how much an approximate index changes the lists."""
    check_positive_int("k", k)
    vectors = np.asarray(vectors, np.float32)
    exact = ItemIndex(kind="exact").build(vectors)
    approx = ItemIndex(kind=kind, **params).build(vectors)
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(vectors), min(queries, len(vectors)), replace=False)
    overlaps = []
    for item in picks:
        a, _ = exact.similar_items(int(item), k)
        b, _ = approx.similar_items(int(item), k)
        overlaps.append(len(set(a.tolist()) & set(b.tolist())) / max(1, len(a)))
    return float(np.mean(overlaps))
