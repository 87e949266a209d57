"""Argument types and checks shared by the commands: numbers are validated when parsed.

Each type raises :class:`argparse.ArgumentTypeError`, which the command line prints as one line
(``eoscheck CMD: error: argument --n: …``) with exit code 2, before anything is computed.
"""

from __future__ import annotations

import argparse
import math
import re

from .._errors import EoscheckError

_POWER = re.compile(r"^\s*([-+]?)([0-9.]+(?:e[-+]?\d+)?)\s*\^\s*([-+]?[0-9.]+)\s*$", re.IGNORECASE)


def number(text: str, what: str = "value") -> float:
    """A finite float from ``text``; ``B^E`` is a power (``2^-3``), a sign before it applying to the power
    (``-2^2`` is −4, as in Python's ``-2**2``). One-line error otherwise."""
    m = _POWER.match(text)
    try:
        if m:
            base, exp = float(m.group(2)), float(m.group(3))
            value = (-1.0 if m.group(1) == "-" else 1.0) * base ** exp
            if isinstance(value, complex):
                raise ValueError
        else:
            value = float(text)
    except OverflowError:
        raise EoscheckError(f"{what} {text!r} overflows float64 (largest ≈ 1.8e308); give a smaller value") from None
    except (ValueError, ZeroDivisionError):
        raise EoscheckError(f"{what} {text!r} is not a number; write e.g. 0.25, 1e-3 or 2^-2") from None
    if not math.isfinite(value):
        raise EoscheckError(f"{what} {text!r} is not finite; give a finite number")
    return value


def _typed(check):
    def parse(text: str):
        try:
            return check(text)
        except EoscheckError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    parse.__name__ = check.__name__
    return parse


_DIGITS = re.compile(r"^\s*[-+]?\d+\s*$")


def count_at_least(lo: int):
    """An argparse type: an integer ≥ ``lo``; ``1e6`` and ``2^20`` are accepted when integral.  Digits are read
    exactly (a seed 9007199254740993 stays itself); a float form beyond 2⁵³, where float64 no longer holds
    every whole number, is refused."""
    def count(text: str) -> int:
        if _DIGITS.match(text):
            value = int(text)
        else:
            try:
                f = number(text)
            except EoscheckError as err:
                if "is not a number" not in str(err):
                    raise
                raise EoscheckError(f"{text!r} is not a whole number; write e.g. 0, 42, 1e6 or 2^20") from None
            if f != int(f):
                raise EoscheckError(f"{text!r} is not a whole number")
            if abs(f) > 2**53:
                raise EoscheckError(f"{text!r} is beyond 2^53 ≈ 9.0e15, where float64 skips whole numbers; "
                                    "write its digits")
            value = int(f)
        if value < lo:
            raise EoscheckError(f"must be at least {lo}, got {text.strip()}")
        return value
    return _typed(count)


def finite_float(text: str) -> float:
    """An argparse type: a finite float (``nan``/``inf`` and overflowing values are refused)."""
    return _typed(number)(text)


def positive_float(text: str) -> float:
    """An argparse type: a finite float > 0."""
    def positive(t: str) -> float:
        value = number(t)
        if value <= 0:
            raise EoscheckError(f"{t} must be positive")
        return value
    return _typed(positive)(text)


def parse_floats(text: str, what: str = "--eta") -> list[float]:
    """Comma-separated positive finite numbers, each once; ``2^k`` is a power of two (e.g. ``2^-2,1,2^3``)."""
    out: list[float] = []
    seen: set[float] = set()
    for item in filter(None, (s.strip() for s in text.split(","))):
        value = number(item, what)
        if value <= 0:
            raise EoscheckError(f"stepsizes must be positive and finite, got {value:g}")
        if value in seen:      # the same run twice, with no word (1,1,1 ran three identical rows)
            raise EoscheckError(f"{what}: the stepsize {item} is given twice (as {value:g}); drop the repeat")
        seen.add(value)
        out.append(value)
    if not out:
        raise EoscheckError(f"{what} needs at least one value; write e.g. {what} 0.25,1,4 or 2^-2,2^3")
    return out


_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?)$")


def check_device(device: str) -> str:
    """``cpu``, ``cuda`` or ``cuda:N``, and present on this machine."""
    if not _DEVICE.match(device or ""):
        raise EoscheckError(f"--device {device!r} is not a device; use cpu, cuda or cuda:N")
    if device.startswith("cuda"):
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= count:
            raise EoscheckError(f"--device {device}: torch sees {count} CUDA device(s); use --device cpu "
                                "or install a CUDA build of torch")
    return device
