"""The synthetic generator: sizes, heavy-tailed popularity, learnable sequences, determinism."""
import numpy as np
import pytest

from recsys.data.synthetic import synthetic_dataset, synthetic_frame
from recsys.errors import ParameterError


def test_sizes_and_order():
    frame = synthetic_frame(1000, 500, 20_000, seed=1)
    assert len(frame) == 20_000 and frame["user"].nunique() == 1000
    assert frame["item"].between(1, 500).all()
    assert (frame.groupby("user").size() >= 3).all()
    assert (frame.groupby("user")["timestamp"].diff().dropna() > 0).all()


def test_popularity_is_heavy_tailed_and_sequences_are_learnable():
    from recsys.evaluate import evaluate
    from recsys.models import get_model
    from recsys.split import leave_one_out

    ds = synthetic_dataset(2000, 1000, 60_000, seed=0)
    counts = np.sort(ds.item_popularity())[::-1]
    assert counts[: len(counts) // 10].sum() > 0.4 * counts.sum()  # top 10% of items: > 40% of use
    split = leave_one_out(ds)
    pop = evaluate(get_model("pop").fit(split.train), split.test, split.train, k=(10,))
    markov = evaluate(get_model("markov").fit(split.train), split.test, split.train, k=(10,))
    assert markov.metrics["ndcg@10"] > 2 * pop.metrics["ndcg@10"]


def test_seeded_and_checked():
    a, b = synthetic_frame(100, 50, 1000, seed=3), synthetic_frame(100, 50, 1000, seed=3)
    assert a.equals(b) and not a.equals(synthetic_frame(100, 50, 1000, seed=4))
    with pytest.raises(ParameterError):
        synthetic_frame(100, 50, 200)
    with pytest.raises(ParameterError):
        synthetic_frame(0, 50, 1000)
