"""The parameter ranges a conjecture is stated over (``--eta LO:HI`` …): parsed, halved for calibration, and the
test that a certified margin interval lies inside the ``--gamma`` range."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from eoscheck._errors import EoscheckError

from .strategies import margin_allowance


def geometric_mean(lo: float, hi: float) -> float:
    """√(lo·hi) without forming lo·hi (1e-200·1e-200 underflows to 0, 1e200·1e200 overflows), kept in [lo, hi]
    (√0.5·√0.5 rounds above 0.5)."""
    return min(max(math.sqrt(lo) * math.sqrt(hi), lo), hi)


@dataclass(frozen=True)
class Range:
    lo: float
    hi: float

    @classmethod
    def parse(cls, text: str, name: str, integer: bool = False) -> "Range":
        m = re.fullmatch(r"\s*([0-9.eE+-]+)\s*(?::\s*([0-9.eE+-]+)\s*)?", text or "")
        if not m:
            raise EoscheckError(f"--{name} must be LO:HI or a single value, e.g. --{name} 1:1000; got {text!r}")
        try:
            lo = float(m.group(1))
            hi = float(m.group(2)) if m.group(2) else lo
        except ValueError:
            raise EoscheckError(f"--{name}: not a number in {text!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo <= 0 or hi < lo:
            raise EoscheckError(f"--{name} needs 0 < LO ≤ HI, got {text!r}")
        if integer and lo < 1:
            raise EoscheckError(f"--{name} must be at least 1, got {text!r}")
        if name == "gamma" and hi > 1:   # the data are drawn with ‖x‖ ≤ 1 (Assumption 1A): γ* ≤ 1
            raise EoscheckError(f"--gamma {text!r}: a margin of data with ‖x‖ ≤ 1 is at most 1; give HI ≤ 1")
        if integer:   # the integers of [lo, hi] (250.5:251.9 is T = 251; it drew T = 250, outside)
            lo, hi = float(math.ceil(lo)), float(math.floor(hi))
            if lo > hi:
                raise EoscheckError(f"--{name} {text!r} holds no integer; give e.g. --{name} {lo:g}:{lo:g}")
        return cls(lo, hi)

    def inner(self, low_half: bool = True) -> "Range":
        """The lower (or upper) half in log scale: the calibration range."""
        mid = geometric_mean(self.lo, self.hi)
        return Range(self.lo, mid) if low_half else Range(mid, self.hi)


def gamma_inside(r: "Range", lo, hi, d) -> np.ndarray:
    """Whether certified intervals γ* ∈ [lo, hi] of d-dimensional data with ‖x‖ ≤ 1 lie inside the range ``r``, to a
    slack of twice the certificate's rounding allowance a (:func:`.strategies.margin_allowance`), by which its
    lower end sits below the margin the data were built at (a = 1.4e-14 for d ≤ 30: thm3(0.05) is certified
    [0.05 − 1.44e-14, 0.05 + 2e-15]): data built at a range's end stay in it, data 1e-13 outside do not."""
    slack = 2 * margin_allowance(d, 1.0)
    return (np.asarray(lo) >= r.lo - slack) & (np.asarray(hi) <= r.hi + slack)


#: Defaults sized for a CPU (override with the options).
DEFAULT_RANGES = {"eta": "0.25:1000", "n": "1:20", "d": "1:10", "gamma": "0.05:0.9", "t": "1:100000",
                  "T": "200:2000"}


def range_text(name, value) -> str:
    """A range given from Python as its CLI text: "LO:HI" or "V" as is, a number or a (lo, hi) pair
    converted; an unknown parameter name refused (a typo would silently leave the default range)."""
    if name not in DEFAULT_RANGES:
        raise EoscheckError(f"unknown range {name!r}; the ranges are {', '.join(DEFAULT_RANGES)}")
    if isinstance(value, str):
        return value
    vals = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(vals) in (1, 2) and all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                                   for v in vals):
        return ":".join(repr(float(v)) for v in vals)
    raise EoscheckError(f"range {name}: give \"LO:HI\", a number or a (lo, hi) pair, got {value!r}")
