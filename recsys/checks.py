"""Hyper-parameter checks, run at the start of ``fit`` (``__init__`` only stores what it is given)."""
from __future__ import annotations

import numbers

from recsys.errors import ParameterError


def check_int(name: str, value, minimum: int = 1) -> None:
    """An integer (not a bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {value!r}")


def check_positive_int(name: str, value) -> None:
    """A positive integer (not a bool): for k, beam widths and the like."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ParameterError(f"{name} must be a positive integer, got {value!r}")


def check_number(name: str, value, minimum: float = 0.0, *, strict: bool = False,
                 maximum: float | None = None, optional: bool = False) -> None:
    """A real number (not a bool) >= ``minimum`` (> when ``strict``), and <= ``maximum`` if given; with
    ``optional``, None too (the parameter's "off")."""
    if optional and value is None:
        return
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and value == value
    ok = ok and (value > minimum if strict else value >= minimum)
    ok = ok and (maximum is None or value <= maximum)
    if not ok:
        bound = f"{'>' if strict else '>='} {minimum}" + (f" and <= {maximum}" if maximum is not None
                                                           else "")
        raise ParameterError(f"{name} must be a number {bound}, got {value!r}")
