"""The argparse type the twin's command lines (`python -m twin`, `python -m twin.bench`) share."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TypeVar

N = TypeVar("N", int, float)


def positive(kind: type[N], unit: str) -> Callable[[str], N]:
    """A positive, finite `kind` (int or float) of `unit`s; anything else is refused with the text it was given."""

    def parse(text: str) -> N:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not (math.isfinite(value) and value > 0):
            number = "whole number" if kind is int else "finite number"
            raise argparse.ArgumentTypeError(f"{text!r} is not a positive {number} of {unit}")
        return value

    return parse
