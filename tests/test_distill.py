"""Distillation: a student learns its teacher's next-item distribution, through the same training loop,
and is built like any model (the pipeline builds its teacher first)."""
from __future__ import annotations

import numpy as np
import pytest

from recsys.artifacts import ArtifactStore
from recsys.data.synthetic import synthetic_dataset
from recsys.errors import ParameterError
from recsys.models import get_model, load_model
from recsys.pipeline import build_model
from recsys.split import leave_one_out

FAST = {"epochs": 6, "layers": 1, "max_len": 20, "seed": 0}


@pytest.fixture(scope="module")
def split():
    return leave_one_out(synthetic_dataset(300, 120, 6000, p_sequential=0.8, seed=3))


@pytest.fixture(scope="module")
def teacher(split):
    return get_model("gpt", dim=64, **FAST).fit(split.train)


def transformer_parameters(model) -> int:
    return sum(p.numel() for p in model.module_.blocks.parameters())


def test_a_student_is_a_quarter_of_its_teacher_and_saves_like_any_model(split, teacher, tmp_path):
    student = get_model("gpt-student", **FAST).fit(split.train, teacher=teacher)
    assert student.dim == 30 and student.teacher == "gpt"
    assert transformer_parameters(student) <= transformer_parameters(teacher) / 4
    loaded = load_model(student.save(tmp_path / "student"))
    histories = split.test.histories.take(np.arange(5))
    assert np.array_equal(loaded.score(histories), student.score(histories))
    assert loaded.get_params() == student.get_params()


def test_the_teacher_pulls_the_student_toward_its_distribution(split, teacher):
    """Learning only from the teacher's distribution (distill_weight=1), the student's next-item
    distribution is closer to the teacher's (KL divergence) than the same student's trained on the data
    alone, for most test users (the ones where it is not are named)."""
    from scipy.special import log_softmax

    taught = get_model("gpt-student", distill_weight=1.0, **FAST).fit(split.train, teacher=teacher)
    alone = get_model("gpt-student", distill_weight=0.0, **FAST).fit(split.train)
    users = np.arange(60)
    histories = split.test.histories.take(users)
    target = log_softmax(teacher.score(histories), axis=1)
    kl = {name: (np.exp(target) * (target - log_softmax(m.score(histories), axis=1))).sum(axis=1)
          for name, m in (("taught", taught), ("alone", alone))}
    closer = kl["taught"] < kl["alone"]
    assert closer.mean() > 0.65, [int(u) for u in users[~closer]]
    assert kl["taught"].mean() < kl["alone"].mean()


def test_wrong_teachers_are_refused(split, teacher):
    bert = get_model("bert", epochs=1, layers=1, max_len=20).fit(split.train)
    with pytest.raises(ParameterError, match="fitted gpt"):
        get_model("gpt-student", **FAST).fit(split.train, teacher=bert)
    with pytest.raises(ParameterError, match="max_len"):
        get_model("gpt-student", **{**FAST, "max_len": 50}).fit(split.train, teacher=teacher)
    with pytest.raises(ParameterError, match="not a student"):
        get_model("gpt", **FAST).fit(split.train, teacher=teacher)
    with pytest.raises(ParameterError, match="learns from a trained 'gpt'"):
        get_model("gpt-student", **FAST).fit(split.train)
    other = leave_one_out(synthetic_dataset(300, 150, 6000, seed=4))
    with pytest.raises(ParameterError, match="items"):
        get_model("gpt-student", **FAST).fit(other.train, teacher=teacher)


def test_the_pipeline_builds_the_teacher_first(split, tmp_path):
    store = ArtifactStore(tmp_path / "artifacts")
    built = build_model("gpt-student", split, params={**FAST}, store=store, explanations=False)
    assert built.model.teacher == "gpt" and not built.loaded
    teacher_key = store.key("gpt", get_model("gpt").get_params(), split.train)
    assert store.load(teacher_key).is_fitted  # stored, so the app can show and reuse it
    again = build_model("gpt-student", split, params={**FAST}, store=store, explanations=False)
    assert again.loaded
