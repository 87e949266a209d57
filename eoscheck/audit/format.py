"""Numbers and results as text and JSON: the audit report's formatting helpers (public)."""

from __future__ import annotations

import math
from typing import Any, Mapping

import mpmath
import numpy as np
import sympy as sp

from ..expr import real_number


def yn(v: bool | None) -> str:
    return "holds" if v else "fails" if v is False else "undetermined"


def witness_text(x: float) -> str:
    """A witness z as :func:`fmt` shows it where that is z itself, else in full (the shortest repr that reads back
    as z): a failure's witness must replay, and z = 0.9999999999990 shown as "1" pointed at g/ℓ = 0/0."""
    shown = fmt(x)
    try:
        same = float(shown) == x
    except ValueError:              # ∞, −∞, —
        same = True
    return shown if same else repr(float(x))


def fmt(x: float | None) -> str:
    if x is None:
        return "—"
    if isinstance(x, str):
        return x
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == 0:
        return "0"
    if 1e-4 <= abs(x) < 1e6:
        return f"{x:.6g}"
    return f"{x:.4e}"


def short(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def json_float(x):
    """A float for JSON: NaN → None, ±inf → "inf"/"-inf" (strings and None unchanged)."""
    if x is None or isinstance(x, str):
        return x
    x = float(x)
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def jsonable(obj):
    """``obj`` made JSON-ready: str keys, lists, floats with ±inf as "inf"/"-inf" and NaN as None, sympy as text."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (bool, str)) or obj is None:
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return json_float(float(obj))
    if isinstance(obj, sp.Basic):
        return sp.sstr(obj)
    return str(obj)



def side_inf(side: str) -> float:
    """−∞ for side "-", +∞ for "+"."""
    return -math.inf if side == "-" else math.inf


def sym_float(v) -> float | None:
    """A sympy limit as a float (±inf for ±oo only), None when it is not a real number or is a finite number
    beyond float64 ((e^800 − 801)/800, flat_exp's quadratic ratio, is not ∞)."""
    if v is None:
        return None
    if v == sp.oo:
        return math.inf
    if v == -sp.oo:
        return -math.inf
    f = real_number(v)  # plain float arithmetic: never sympy's unbounded evalf
    if f is None or math.isinf(f):
        return None
    if isinstance(v, sp.Basic) and not v.is_Rational and v.is_number:
        # plain floats cancel: (10⁸ − (10⁸ − 1)e^{10⁻⁸})e^{−10⁻⁸}, flat_exp's C_β for a = 10⁻⁸, read 1.49e-8 for 5e-9;
        # the compiler's mpmath evaluation raises its precision until no sum loses digits (bounded)
        from ..compiler import mp_evaluation

        out = mp_evaluation(v)
        if out is not None and not out[1]:
            # its digits never settled, so the plain float is rounding: sympy's limit −log(2·10⁵⁰)/1000 + log(2)/1000 +
            # log(10)/20, exactly 0, read 2.6e-17 and failed A.vanishes_at_infinity ("lim ℓ ≠ 0", a reviewer's run)
            return None
        exact = out[0] if out is not None else None
        if isinstance(exact, mpmath.mpf) and mpmath.isfinite(exact):
            f = float(exact)
            return None if f == 0.0 and exact != 0 else f   # e^{−800} is not 0: a finite number beyond float64
    if f == 0.0 and isinstance(v, sp.Basic) and v.is_zero is False:
        return None
    return f



def compare(a, b) -> int | None:
    """The sign of a − b for two of sympy's exact answers (limits, values): 0 where sympy makes the difference 0,
    else the sign sympy's assumptions give (log(1 + e^{−5000}) > 0, beyond mpmath's 1500 digits), else the sign of
    its value in mpmath with the precision raised until no digit is lost (:func:`~eoscheck.compiler.mp_value`); None
    where that is not reliable, either is not a finite real number, or the difference reads 0 or below 2⁻¹⁵⁰ of the
    operands: functions computed at a fixed precision (erfc at 192 bits) leave a
    residue there that no precision raises (erf(1) + erfc(1) − 1 read 1.35e-59, "a jump" of a C¹ loss).  Compared
    as floats, log(1 + e^{−5000}) and 0, or −1 − 1e-13 and −1, were one number."""
    if a is None or b is None:
        return None
    try:
        d = sp.sympify(a - b)
    except (TypeError, ValueError, sp.SympifyError):
        return None
    if d == 0:
        return 0
    if not (d.is_number and d.is_finite) or d.has(sp.zoo, sp.nan):
        return None
    if d.is_positive:
        return 1
    if d.is_negative:
        return -1
    from ..compiler import mp_number

    v, va, vb = (mp_number(e) for e in (d, a, b))
    if v is None or va is None or vb is None:
        return None
    if v == 0 or abs(v) <= mpmath.ldexp(max(abs(va), abs(vb)), -150):
        # not even an exact cancellation decides: 2 − tanh(3000) is 1 at 1500 digits, which took a jump of
        # 2.4e-2606 for none, "equal (exactly)" (a reviewer's run); only sympy's 0 is 0
        return None
    return 1 if v > 0 else -1


def differ(a, b) -> bool | None:
    """Whether two of sympy's exact answers are different numbers (:func:`compare`); None where that is unknown."""
    c = compare(a, b)
    return None if c is None else c != 0


def to_float(v) -> float:
    """An mpmath value as a float (NaN when it has none)."""
    try:
        return float(v)
    except (OverflowError, TypeError, ValueError):
        return math.nan



def promises_lines(p: Mapping[str, Any]) -> list[str]:
    lines = ["What the theory then promises (paper §5):"]
    r = p.get("rho", {})
    if r.get("degenerate"):
        lines.append(f"  ρ: {r['why']}")
    elif r.get("error"):
        lines.append(f"  ρ: could not be computed ({r['error']})")
    elif r.get("defined"):
        cl = r["class"]
        lines.append(f"  ρ(λ) = min_z λℓ(z) + z²: {cl['theta']} ({cl['tail']} tail); ψ = λ/ρ: {cl['psi']}")
        lines.append("    ρ at λ = " + ", ".join(f"{k}: {v:.6g}" for k, v in r["values"].items()))
        lines.append(f"    ρ computed by {short(r['method'], 110)}")
        if "bound_D" in r:
            lines.append(f"    ρ ≤ {r['bound_D']['formula']}: {'holds' if r['bound_D']['holds'] else 'VIOLATED'}")
    else:
        lines.append(f"  ρ: not defined — {r.get('why', '')}")
    lines.append("  Results that apply:")
    for a in p.get("applies", []):
        mark = {True: "yes", False: "no", None: "?"}[a["applies"]]
        lines.append(f"    [{mark:>3}] {a['result']} (needs {a['needs']})")
    t1 = p.get("table1", {})
    if t1.get("applies"):
        cs, best = t1["constant_stepsize"], t1["best"]
        lines.append(f"  Table 1 ({t1['tail']} tail): η = {cs['eta']} gives L(w_T) = {cs['loss']}; "
                     f"best η = {best['eta']} gives L(w_T) = {best['loss']}")
    else:
        lines.append(f"  Table 1: {t1.get('why', 'not applicable')}")
    inst = p.get("instantiated")
    if inst:
        pr = inst["params"]
        lines.append("  At " + ", ".join(f"{k}={v:g}" for k, v in pr.items() if v is not None) + ":"
                     + (f" {inst['why']}" if inst.get("why") else ""))
        for k, v in inst.items():
            if isinstance(v, dict) and "formula" in v:
                val = "—" if v.get("value") is None else f"{v['value']:.6g}"
                lines.append(f"    {k}: {val}" + (f"  ({v['why']})" if v.get("why") else ""))
        if "tau" in inst:
            lines.append(f"    τ (explicit, Lemmas 33/34) = {inst['tau']:.6g}")
    return lines



def ratio_text(v) -> str:
    return "—" if v is None else f"{v:.3g}"


def join_methods(*ms: str) -> str:
    """The union of methods such as "symbolic", "numeric+symbolic", in a fixed order."""
    parts = set()
    for m in ms:
        parts.update(m.split("+"))
    return "+".join(x for x in ("symbolic", "numeric") if x in parts)
