"""Students: smaller GPT and BERT4Rec models distilled from a trained teacher of the same kind.

A student is the teacher's architecture under a quarter of its transformer parameters (64 → 30 wide: a
block's weights scale with the width squared, 12·d² + 13·d, so 30 wide is 22.4%; 32 wide would be 25.4%
because of the biases and LayerNorms) trained on a mix of the true next item (cross-entropy, as
the teacher was) and the teacher's softened next-item distribution at the same positions (Hinton et
al., 2015): ``(1 - distill_weight) · CE + distill_weight · T² · KL(teacher_T ‖ student_T)``. It is
registered like any model (``gpt-student``, ``bert-student``), so it is built, evaluated, explained and
served the same way. ``teacher`` names the teacher: the pipeline builds (or loads) that model on the same
split first and hands it to ``fit(train, teacher=...)``; ``fit`` also takes a fitted model or the folder
of a saved one. A student trained without a teacher (``distill_weight=0``) is the baseline it must beat.
"""
from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from recsys.checks import check_number
from recsys.data.dataset import Dataset
from recsys.errors import ParameterError
from recsys.models.bert import BERT4Rec
from recsys.models.gpt import GPT
from recsys.models.registry import register

STUDENT_DEFAULTS = {"dim": 30}  # divisible by the 2 heads


class _Student:
    """The student's own hyper-parameters, then every one of its teacher's kind (narrower by default)."""

    kind: ClassVar[type]

    def __init__(self, *, teacher: str = "", distill_weight: float = 0.5, temperature: float = 2.0,
                 **params):
        self.kind.check_param_names(params)
        self.kind.__init__(self, **{**STUDENT_DEFAULTS, **params})
        self.teacher = teacher or self.kind.name
        self.distill_weight = distill_weight
        self.temperature = temperature

    @classmethod
    def param_names(cls) -> list[str]:
        return ["teacher", "distill_weight", "temperature", *cls.kind.param_names()]

    def _check_params(self) -> None:
        super()._check_params()
        check_number("distill_weight", self.distill_weight, maximum=1.0)
        check_number("temperature", self.temperature, strict=True)

    def _teacher_module(self, teacher, train: Dataset):
        if not self.distill_weight:
            return None  # the same student trained from the data alone
        if teacher is None:
            if not Path(str(self.teacher)).is_dir():
                raise ParameterError(f"{self.name} learns from a trained {self.teacher!r}: pass "
                                     f"fit(train, teacher=model_or_folder), or build it with `make build` "
                                     f"(which builds the teacher first)")
            teacher = self.teacher
        if isinstance(teacher, (str, Path)):
            from recsys.models.registry import load_model

            teacher = load_model(teacher)
        if not isinstance(teacher, self.kind) or isinstance(teacher, _Student) or not teacher.is_fitted:
            raise ParameterError(f"{self.name}'s teacher must be a fitted {self.kind.name} model, "
                                 f"got {type(teacher).__name__}")
        if teacher.n_items_ != train.n_items:
            raise ParameterError(f"the teacher knows {teacher.n_items_:,} items, this dataset has "
                                 f"{train.n_items:,}: train both on the same data")
        if teacher.max_len < self.max_len:
            raise ParameterError(f"the student's max_len ({self.max_len}) exceeds the teacher's "
                                 f"({teacher.max_len})")
        return teacher.module_


@register("gpt-student")
class GPTStudent(_Student, GPT):
    """GPT at under a quarter of the teacher's transformer parameters, distilled from a trained GPT."""

    kind = GPT


@register("bert-student")
class BERTStudent(_Student, BERT4Rec):
    """BERT4Rec at under a quarter of the teacher's transformer parameters, distilled from a trained BERT4Rec."""

    kind = BERT4Rec
