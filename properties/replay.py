"""Self-contained counterexample files, and re-running them (``eoscheck replay FILE``).

A falsification writes one JSON file holding everything needed to re-check it
on another machine: the dataset arrays (exact float reprs), the loss, the
stepsizes, the number of steps, w₀, the claim (id and statement) or the
conjecture (its text, options and fitted constants), the constant and margin a
fitted claim was checked with, the violating point, and the package versions.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from eoscheck._errors import EoscheckError, TooBig
from eoscheck.outputs import atomic_write

from .claims import Claim, get_claim
from .fitted import claim_constant
from .hypotheses import assumption_conflicts, certificate_conflict, domain_conflicts
from .instances import Instance, single_thread
from .numerics import jsonable
from .search import seed_in_use

FORMAT = "eoscheck-counterexample/1"


def _meta(seed: int | None = None) -> dict[str, Any]:
    """Where, when and how a witness was written: versions, commit, machine, the command line and the seed the
    search ran under (:func:`~eoscheck.properties.search.seed_in_use`: 0 for None)."""
    from eoscheck import __version__
    from eoscheck.provenance import command_line, device_info, source, versions

    return {"eoscheck": __version__, "versions": versions(), "source": dict(source()),
            "machine": device_info("cpu"), "command": command_line(), "seed": seed_in_use(seed),
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


#: The keys of a witness file that say where and when it was written, not what it shows.
_META_KEYS = frozenset({"eoscheck", "versions", "source", "machine", "command", "seed", "created_utc"})   # _meta's


def _write(obj: dict, save_dir: str | Path, stem: str) -> Path:
    """Write a witness as ``stem-HASH.json``, HASH over everything it shows (statement, constant,
    margin, instance, point; not when or by which version it was written), so two witnesses never
    share a file — the instance alone did: two conjectures shrunk to one instance overwrote each
    other.  A file already there holds the same witness, and is kept."""
    d = Path(save_dir)
    d.mkdir(parents=True, exist_ok=True)
    shown = {k: v for k, v in jsonable(obj).items() if k not in _META_KEYS}
    h = hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()[:16]
    path = d / f"{stem}-{h}.json"
    if path.exists():
        return path
    return atomic_write(path, json.dumps(jsonable(obj), indent=1, sort_keys=True) + "\n")


def saved(write: Callable[[], Path], save_dir: str | Path) -> tuple[str | None, str]:
    """(the witness file ``write()`` wrote, "") or, where the folder cannot take it (a full disk, no permission),
    (None, why): a verdict is never lost to its witness file (the instance is in the verdict's message)."""
    try:
        return str(write()), ""
    except OSError as err:
        return None, (f"the witness could not be saved in {save_dir} ({err.strerror or err}): free space or choose "
                      "another folder, and run again to save it")


def save_counterexample(c: Claim, rep, save_dir: str | Path, seed: int | None = None) -> Path:
    """Write the counterexample of claim ``c`` found in report ``rep`` (by a search with ``seed``); its path."""
    margin = c.fit.margin if (c.fit is not None and c.kind == "asymptotic") else 0.0
    obj = {"format": FORMAT, "kind": "claim", "claim": c.summary(),
           "constant": rep.fitted_constant if rep.fitted_constant is not None else 1.0, "margin": margin,
           **({"constant_source": rep.constant_source} if rep.constant_source else {}),
           "instance": rep.counterexample["instance"], "point": rep.counterexample.get("point"),
           "profile": rep.profile, **_meta(seed)}
    return _write(obj, save_dir, c.id)


def save_conjecture_counterexample(conj, rep, save_dir: str | Path, seed: int | None = None) -> Path:
    """Write a falsified conjecture's counterexample (found by a search with ``seed``); its path."""
    obj = {"format": FORMAT, "kind": "conjecture", "conjecture": conj.summary(),
           "constant": 1.0, "margin": float(rep.margin),
           "instance": rep.counterexample["instance"], "point": rep.counterexample.get("point"), **_meta(seed)}
    return _write(obj, save_dir, "conjecture")


def load(path: str | Path) -> dict[str, Any]:
    """Read and validate a counterexample file."""
    p = Path(path)
    if p.is_dir():
        raise EoscheckError(f"{p} is a folder; give one counterexample file in it (a .json written by check or "
                            "conjecture)")
    if not p.is_file():
        raise EoscheckError(f"file not found: {p}")
    try:
        obj = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise EoscheckError(f"{p} is not a counterexample file (invalid JSON: {err})") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise EoscheckError(f"{p} is not an eoscheck counterexample file (format {FORMAT!r} expected)")
    for key in ("kind", "instance"):
        if key not in obj:
            raise EoscheckError(f"{p} lacks {key!r}; the file is incomplete")
    return obj


@dataclass
class ReplayResult:
    """The re-check of a counterexample: whether the violation reproduces, and where."""

    path: str
    kind: str
    subject: str
    reproduced: bool
    instance: str
    point: dict | None = None
    recorded_point: dict | None = None
    constant: float = 1.0
    margin: float = 0.0
    #: the statement's direction, "<=" or ">=" (what the point's measured value was compared with)
    direction: str = "<="
    #: a conjecture's fitted constants, inside EXPR (its ``constant`` is then 1)
    fitted: dict = field(default_factory=dict)
    versions_then: dict = field(default_factory=dict)
    #: the replayed measured value and bound equal the recorded ones bit for bit
    identical: bool = False

    def to_json(self) -> dict:
        from dataclasses import asdict

        return jsonable(asdict(self))


def replay(path: str | Path) -> ReplayResult:
    """Re-run the GD of a counterexample file and re-check its claim or conjecture."""
    obj = load(path)
    try:                       # the file's fields; a wrong one is the file's fault, named in one line
        try:
            inst = Instance.from_json(obj["instance"])
        except EoscheckError as err:     # the data or a field of the instance: about this file
            raise EoscheckError(f"{path} is not a valid counterexample file ({err}); save it again with eoscheck "
                                "check or conjecture") from None
        C = float(obj.get("constant", 1.0))
        margin = float(obj.get("margin", 0.0))
        kind = obj["kind"]
        if not isinstance(obj.get("point") or {}, dict):
            raise TypeError("its point is not a mapping of measured, bound and parameters")
        if not (math.isfinite(C) and C > 0 and math.isfinite(margin) and margin >= 0):
            raise EoscheckError(f"{path}: constant {C!r} and margin {margin!r} must be finite, the constant > 0 "
                                "and the margin ≥ 0; the file was edited or is corrupt")
        if kind == "claim":
            c = get_claim(obj["claim"]["id"])
            want = c.fit.margin if (c.fit is not None and c.kind == "asymptotic") else 0.0
            if margin != want or (c.fit is None and C != 1.0):
                raise EoscheckError(f"{path}: claim {c.id} is checked with " + ("constant 1 and " if c.fit is None
                                    else "") + f"margin {want:g}, not constant {C!r} and margin {margin!r}; the file "
                                    "was edited or is corrupt")
            if c.fit is not None:      # a fitted claim: the constant its check uses, not the file's word for it
                fitted, source = claim_constant(c)
                if C != fitted:
                    raise EoscheckError(f"{path}: claim {c.id} is checked with its fitted constant {fitted!r} "
                                        f"({source}), not {C!r} (the file's, from {obj.get('constant_source', '?')}); "
                                        "the file was edited, or the constants were refitted since it was saved "
                                        "(replay with the constants it names: EOSCHECK_FITTED_CONSTANTS=FILE)")
        elif kind == "conjecture":
            from .conjecture import Conjecture

            s = obj["conjecture"]
            ranges = {k: f"{v[0]!r}:{v[1]!r}" for k, v in s["ranges"].items()
                      if not (k == "eta" and s.get("eta_of_T"))}   # files written before it was left out
            conj = Conjecture.parse(s["text"], loss=s["loss"], ranges=ranges, eta_of_T=s.get("eta_of_T"),
                                    where=s.get("where_text") or [])
            conj.values = {k: float(v) for k, v in s["constants"].items()}
            if not all(math.isfinite(v) for v in conj.values.values()):
                raise EoscheckError(f"{path}: its fitted constants {conj.values} must be finite numbers; the file was "
                                    "edited or is corrupt")
            missing = [c for c in conj.constants if c not in conj.values]
            if missing:
                raise KeyError(f"constants.{missing[0]}")
            outside = conj.outside(inst)
            if outside:
                raise EoscheckError(f"{path} is not a witness of its conjecture: {outside}"
                                    + (" (the statement's ranges as the search ran them)" if "range" in outside
                                       else ""))
        else:
            raise EoscheckError(f"unknown counterexample kind {kind!r}")
    except EoscheckError:      # already one line about the file (an unknown claim, kind, loss): as it is
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as err:
        what = f"missing field {err}" if isinstance(err, KeyError) else f"{type(err).__name__}: {err}"
        raise EoscheckError(f"{path} is not a valid counterexample file ({what}); save it again with eoscheck "
                            "check or conjecture") from None
    try:
        why = certificate_conflict(inst.data)
        if why is None and kind == "claim":
            why = "; ".join(assumption_conflicts(c.assumptions, inst)) or (c.admits(inst) if c.admits else None)
        if why:
            raise EoscheckError(f"{path} is not a witness "
                                f"{'of claim ' + c.id if kind == 'claim' else 'of its conjecture'}: {why}")
        with single_thread():
            if kind == "claim":
                ev = c.evaluate(inst)
                subject = f"{c.id}: {c.title}"
                bad = ev.violations(C, margin)
                point = None
                if bad.any():
                    idx = np.flatnonzero(bad)
                    point = ev.point(int(idx[np.argmax(ev.scores(C)[idx])]))
                    # an exact claim is its bound's statement, domain included (a fitted one may relax it: cor2.rate)
                    off = domain_conflicts(c.bound, inst.loss, point) if c.kind == "exact" else []
                    if off:
                        raise EoscheckError(f"{path} is not a witness of claim {c.id}: its violating point lies outside "
                                            f"the bound's domain ({'; '.join(off)})")
            else:
                from .witness import confirm

                point = confirm(conj, inst, margin)  # the same 40-digit check that convicted
                subject = s["text"]
    except TooBig as err:      # the remedy is not an option here: the file fixes the run
        raise EoscheckError(f"{path}: {err.need}; the file asks for more than this machine holds (replay it on a "
                            "larger one)") from None
    except EoscheckError:
        raise
    except (KeyError, IndexError, TypeError, ValueError) as err:   # a field the evaluation reads (extra, meta)
        what = f"missing field {err}" if isinstance(err, KeyError) else f"{type(err).__name__}: {err}"
        raise EoscheckError(f"{path} is not a valid counterexample file ({what}); save it again with eoscheck "
                            "check or conjecture") from None
    rec = obj.get("point") or {}
    # compared as the file stores them: a non-finite value is the string "inf" there (numerics.jsonable)
    # and, for a value float64 lost (a loss 0, an F inf), the 40-digit values that convicted (a file edited there
    # replayed "bit for bit" on the float64 0 against 0)
    keys = ("measured", "bound") + (("measured_40", "bound_40", "limit_40") if point and "measured_40" in point else ())
    identical = bool(point is not None and all(jsonable(point.get(k)) == rec.get(k) for k in keys)
                     and rec.get("measured") is not None)
    return ReplayResult(path=str(path), kind=kind, subject=subject, reproduced=point is not None,
                        instance=inst.describe(), point=point, recorded_point=obj.get("point"), constant=C,
                        margin=margin, direction=(c if kind == "claim" else conj).direction,
                        fitted=dict(conj.values) if kind == "conjecture" else {},
                        versions_then=obj.get("versions", {}), identical=identical)
