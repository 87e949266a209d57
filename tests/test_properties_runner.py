"""The search finds and shrinks counterexamples, files them, and replay re-checks them; the CLI codes."""

import contextlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from eoscheck import toy
from eoscheck.cli import main
from eoscheck.properties.claims import Claim, Evaluation, REGISTRY, register
from eoscheck.properties.exact_engine import theorem1_instances
from eoscheck.properties.instances import Instance
from eoscheck.properties.observe import Arrays
from eoscheck.properties.replay import replay
from eoscheck.properties.runner import run_claim
from eoscheck.properties.strategies import with_certificate


def _loss_cap(inst: Instance) -> Evaluation:
    """A false statement: L(w_t) ≤ 0.6 for all t — but L(w₀) = ln 2 ≈ 0.693 at w₀ = 0."""
    L = inst.trajectory().records["loss"]
    return Evaluation(L.ravel(), 0.6, 0.0, "<=", {"t": np.broadcast_to(inst.trajectory().step, L.shape).ravel()})


FALSE = Claim(id="test.loss_cap", title="L(w_t) ≤ 0.6", source="a test", row=None, kind="exact",
              quantity="L(w_t)", direction="<=", strategy=theorem1_instances, evaluate=_loss_cap, examples=3)


@pytest.fixture(scope="module")
def false_claim():
    if FALSE.id not in REGISTRY:
        register(FALSE)
    return FALSE


def test_false_claim_is_falsified_shrunk_saved_and_replayed(false_claim, tmp_path):
    rep = run_claim(false_claim, "ci", save_dir=str(tmp_path))
    assert rep.verdict == "FALSIFIED"
    assert rep.counterexample["point"]["measured"] > 0.6  # the worst violating point of the shrunk instance
    saved = json.loads(open(rep.counterexample_file).read())
    assert saved["claim"]["id"] == "test.loss_cap" and "X" in saved["instance"]["data"]
    assert "versions" in saved and saved["format"].startswith("eoscheck-counterexample")
    assert saved["seed"] == 0      # the seed the search ran under (none given: 0), not null
    res = replay(rep.counterexample_file)
    assert res.reproduced
    assert res.point["measured"] == rep.counterexample["point"]["measured"]  # bit-identical re-run
    assert main(["replay", rep.counterexample_file]) == 1


def test_true_claim_holds_and_check_cli_writes_json(tmp_path):
    out = tmp_path / "c.json"
    assert main(["check", "thm1.w_norm", "lemma14.first_step", "--profile", "ci", "-o", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [c["id"] for c in data["claims"]] == ["thm1.w_norm", "lemma14.first_step"]
    assert all(c["verdict"] == "holds" and c["examples"] > 0 for c in data["claims"])
    assert 0 < data["claims"][0]["worst_ratio"] < 1
    prov = data["provenance"]         # what the results came from: command, code, versions, machine
    assert prov["command"] == ["eoscheck", "check", "thm1.w_norm", "lemma14.first_step", "--profile", "ci",
                               "-o", str(out)]
    assert prov["versions"]["hypothesis"] and prov["machine"]["cpu_count"] >= 1
    assert set(prov["source"]) >= {"version", "commit", "dirty"}
    # the seed the searches ran under, not null: no --seed means seed 0 (properties.search.UNSEEDED)
    assert data["seed"] == 0 and prov["seed"] == 0


def test_usage_errors_exit_2(tmp_path):
    assert main(["check", "no.such.claim"]) == 2
    assert main(["replay", str(tmp_path / "missing.json")]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    assert main(["replay", str(bad)]) == 2
    assert main(["check", "--list"]) == 0


@pytest.mark.parametrize("corrupt, says", [
    (lambda o: o["instance"]["data"].update(X="abc"), "could not convert string to float"),
    (lambda o: o.update(kind="conjecture"), "missing field 'conjecture'"),
    (lambda o: o.update(constant="x"), "could not convert string to float: 'x'"),
    (lambda o: o["instance"].update(etas=None), "etas must be a list of positive numbers, got None"),
])
def test_a_corrupted_counterexample_file_is_one_line_exit_2(false_claim, tmp_path, capsys, corrupt, says):
    """A wrong field gave a traceback with exit 1, which replay uses for "REPRODUCED"."""
    rep = run_claim(false_claim, "ci", save_dir=str(tmp_path))
    obj = json.loads(open(rep.counterexample_file).read())
    corrupt(obj)
    bad = tmp_path / "corrupt.json"
    bad.write_text(json.dumps(obj))
    capsys.readouterr()
    assert main(["replay", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is not a valid counterexample file" in err and says in err, err
    assert main(["replay", str(tmp_path)]) == 2 and "is a folder" in capsys.readouterr().err


def test_a_witness_of_an_unknown_claim_says_so_without_a_second_wrapping(false_claim, tmp_path, capsys):
    rep = run_claim(false_claim, "ci", save_dir=str(tmp_path))
    obj = json.loads(open(rep.counterexample_file).read())
    obj["claim"]["id"] = "thm1.renamed"
    bad = tmp_path / "renamed.json"
    bad.write_text(json.dumps(obj))
    capsys.readouterr()
    assert main(["replay", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "unknown claim 'thm1.renamed'" in err and "not a valid counterexample file" not in err, err


@pytest.mark.parametrize("argv", [["check", "thm1.w_norm", "--profile", "ci", "-o", "{dir}"],
                                  ["conjecture", "final_loss <= 0.01", "--effort", "smoke", "-o", "{dir}"],
                                  ["conjecture", "final_loss <= 0.01", "--effort", "smoke", "--save", "{file}"],
                                  ["fit", "cor2.rate", "-o", "{dir}"],
                                  ["run", "--data", "toy", "--steps", "5", "--out", "/proc/eoscheck-out"]])
def test_an_output_path_that_cannot_be_written_is_refused_before_the_work(argv, tmp_path, capsys):
    """-o naming a folder raised IsADirectoryError after the whole check (exit 1, results lost); --save
    naming a file raised FileExistsError and lost the witness; /proc passed os.access for root."""
    (tmp_path / "afile").write_text("keep me")
    argv = [a.format(dir=tmp_path, file=tmp_path / "afile") for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"eoscheck {argv[0]}: error:"), err
    assert (tmp_path / "afile").read_text() == "keep me"


def test_unknown_profile_is_refused_not_reported_as_an_error_verdict():
    """run_claim("thm1.tau", profile="fast") returned verdict "error" with "KeyError: 'fast'"."""
    from eoscheck import EoscheckError

    with pytest.raises(EoscheckError, match="'fast' is not a profile; use one of ci, dev, thorough"):
        run_claim("thm1.tau", profile="fast")


def test_dev_profile_without_seed_is_reproducible():
    # issue 13: same commit, profile and seed (none: properties.search.UNSEEDED) → the same verdict and counts;
    # lemma14.first_step is one of the cheapest claims (≈ 6 s per run under dev on an idle core)
    a, b = (run_claim("lemma14.first_step", "dev") for _ in range(2))
    ja, jb = a.to_json(), b.to_json()
    for key in ("seconds", "cache"):
        ja.pop(key, None), jb.pop(key, None)
    assert ja["examples"] > 10 and ja == jb


class _Fake:
    """An instance of one integer x, for searches over st.integers (what search() asks of an Instance)."""

    def __init__(self, x):
        self.x, self.extra = x, {}

    def key(self):
        return str(self.x)

    def describe(self):
        return f"x={self.x}"


def _search_integers(evaluate, **kw):
    """search() over x ∈ [0, 10⁶] as :class:`_Fake` instances, derandomized, 200 examples."""
    from hypothesis import HealthCheck, settings, strategies as st

    from eoscheck.properties.search import search

    return search(st.integers(0, 10**6).map(_Fake), evaluate,
                  settings(max_examples=200, derandomize=True, database=None, deadline=None,
                           suppress_health_check=list(HealthCheck)), **kw)


def test_shrink_budget_counts_evaluations_not_seconds():
    # a violation at every x ≥ 5: after the first failing example, at most shrink_attempts new
    # instances are evaluated (Hypothesis would try many more shrinks), whatever the wall-clock time
    calls = []

    def evaluate(inst):
        calls.append(inst.x)
        return Evaluation(np.array([float(inst.x)]), np.array([5.0 - 0.5]))

    for attempts in (0, 3):
        calls.clear()
        res = _search_integers(evaluate, shrink_attempts=attempts)
        first = next(i for i, x in enumerate(calls) if x >= 5)
        assert res.counterexample is not None and res.counterexample.x >= 5
        assert len(calls) - first - 1 <= attempts


def test_the_counterexample_does_not_depend_on_the_wall_clock_spent_shrinking(monkeypatch):
    """Hypothesis stops shrinking after 300 wall-clock seconds: on a machine where evaluations take over 3 s the
    reported counterexample was less shrunk than on a fast one.  Here the 300 s are spent at once (the limit set
    to 0): the search still shrinks within its count of evaluations to the same counterexample."""
    from hypothesis.internal.conjecture import engine

    def found() -> int:
        return _search_integers(lambda i: Evaluation(np.array([float(i.x)]), np.array([4.5]))).counterexample.x

    fast = found()
    monkeypatch.setattr(engine, "MAX_SHRINKING_SECONDS", 0)
    assert found() == fast == 5


def test_a_search_without_a_seed_draws_what_seed_0_draws_not_what_its_source_text_would():
    """A derandomized Hypothesis search seeds itself from the source text of the function it runs (search's inner
    run_example): adding an argument to one call there redrew every claim's examples.  A search given no seed now
    runs with UNSEEDED (0), so its draws are those of seed 0, whatever that text."""
    from eoscheck.properties.search import UNSEEDED

    def draws(**kw) -> list[int]:
        seen: list[int] = []
        _search_integers(lambda i: (seen.append(i.x), Evaluation(np.array([0.0]), np.array([1.0])))[1], **kw)
        return seen

    unseeded = draws()
    assert len(unseeded) == 200 and unseeded == draws(seed=UNSEEDED) and unseeded != draws(seed=1)


_DRAWS = r'''
import importlib.util, json, sys
from hypothesis import given, settings, strategies as st
from eoscheck.properties.search import no_local_constants

def draws(pinned):
    seen = []

    @settings(derandomize=True, max_examples=2000, database=None, deadline=None)
    @given(st.integers(0, 10**12))
    def t(x):
        seen.append(x)

    if pinned:
        with no_local_constants():
            t()
    else:
        t()
    return seen

before = draws(True)
spec = importlib.util.spec_from_file_location("eoscheck_probe_constants", sys.argv[1])
sys.modules[spec.name] = module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps({"before": before, "after": draws(True), "unpinned": draws(False)}))
'''


@pytest.mark.long
def test_the_search_draws_nothing_from_the_local_modules_loaded(tmp_path):
    """Hypothesis also draws numbers written in the source of "local" modules (not under site-packages):
    eoscheck's own when installed editable, the user's in their project.  Inside the search's
    ``no_local_constants`` the examples are the same whatever is loaded; without it they are not
    (the control; in a subprocess, so this process's Hypothesis keeps no trace of the probe module)."""
    import subprocess
    import sys

    probe = tmp_path / "probe.py"
    probe.write_text("MAGIC = 987654321\nOTHER = 123456789\n")
    out = subprocess.run([sys.executable, "-c", _DRAWS, str(probe)], capture_output=True, text=True, check=True,
                         timeout=300)
    d = json.loads(out.stdout.strip().splitlines()[-1])
    assert d["after"] == d["before"] and not {987654321, 123456789} & set(d["before"])
    assert d["unpinned"] != d["after"]


def test_notes_alike_but_for_their_details_are_said_once_with_a_count():
    """Theorem 6's undecided claims repeated one note per run, differing only in the width figures."""
    from eoscheck.properties.search import summarize_notes

    notes = [f"no run meets Theorem 6's width condition (m={m}, needs up to 10^{e}): see the .trend claims"
             for m, e in ((16, 17.9), (16, 24.1), (256, 20.4))] + ["NTK features not separable (m=8)", "a", "b"]
    out = summarize_notes(notes)
    assert out == [notes[0] + " [and 2 more like it]", notes[3], "a"]


def test_a_violation_outside_the_theorems_hypotheses_is_a_warning_not_a_falsification(tmp_path):
    """thm6.tau_exp (checked far below Theorem 6's width) was FALSIFIED, exit 1, under --seed 1: a witness outside
    the theorem's hypotheses convicted the theorem.  The same false statement flagged outside_hypotheses warns."""
    import dataclasses

    outside = dataclasses.replace(FALSE, id="test.loss_cap_outside", outside_hypotheses="outside a test's hypotheses")
    rep = run_claim(outside, "ci", save_dir=str(tmp_path))
    assert rep.verdict == "warning" and rep.shown_verdict == "warning"
    assert "not a falsification of the theorem" in rep.message and rep.counterexample is not None
    assert run_claim(FALSE, "ci").verdict == "FALSIFIED"   # the same statement, inside: convicted


def test_the_progress_line_shows_the_verdict_the_table_shows(capsys):
    """A claim holding outside its theorem's hypotheses printed "holds" on its progress line (stderr) and
    "trend only" in the table below it."""
    assert main(["check", "table1.poly_rate", "--profile", "ci"]) == 0
    err = capsys.readouterr().err
    line = next(ln for ln in err.splitlines() if ln.strip().startswith("table1.poly_rate"))
    assert line.split()[1:3] == ["trend", "only"]


def test_the_summary_counts_every_claim(capsys):
    """"35 of 47 claims hold, 7 trend only, 0 falsified/errored, 0 TREND" left 5 claims (undecided, unavailable)
    uncounted."""
    assert main(["check", "thm6.lazy", "thm35.tau_poly_tail", "lemma14.first_step", "--profile", "ci"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("1 of 3 claims hold, 0 falsified/errored, 0 TREND, 1 unavailable, 1 undecided;"), last


@pytest.mark.long
def test_the_table_shows_how_many_points_could_fail(capsys):
    """A "holds" says nothing about points that could not have contradicted the claim: the table shows, of the points
    decided, those that could (thm35.tau_exp_tail holds at ci with 1 of its 86 points unable to fail), "–" where
    none was decided (thm6.lazy: no run meets the width condition), and the points left undecided (thm35.tau_explicit:
    stepsizes whose ⌈τ⌉ is beyond :func:`~eoscheck.properties.exact_engine.hit_cap` and that did not meet (15) within
    T)."""
    ids = ["thm6.lazy", "thm35.tau_exp_tail", "thm35.tau_explicit"]
    assert main(["check", *ids, "--profile", "ci", "--json"]) == 0
    reps = {r["id"]: r for r in json.loads(capsys.readouterr().out)["claims"]}
    assert main(["check", *ids, "--profile", "ci"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "points that could fail" in lines[0]
    rows = {ln.split()[0]: " ".join(ln.split()) for ln in lines[2:5]}
    r = reps["thm35.tau_exp_tail"]
    assert 0 < r["unfalsifiable"] < r["points"] and r["inconclusive"] == 0
    assert f" {r['points'] - r['unfalsifiable']}/{r['points']} " in rows["thm35.tau_exp_tail"]
    assert reps["thm6.lazy"]["points"] == 0 and " – " in rows["thm6.lazy"]
    r = reps["thm35.tau_explicit"]
    assert r["inconclusive"] > 0
    assert f" {r['points'] - r['unfalsifiable']}/{r['points']} (+{r['inconclusive']} undecided) " in \
        rows["thm35.tau_explicit"]


def test_list_lists_the_named_claims(capsys):
    """`check --list thm1.tau` listed all 47 claims, ignoring the id."""
    assert main(["check", "--list", "thm1.tau", "--json"]) == 0
    assert [c["id"] for c in json.loads(capsys.readouterr().out)] == ["thm1.tau"]
    assert main(["check", "--list", "no.such.claim"]) == 2


@pytest.mark.parametrize("extra", [["-o", "listed.json"], ["--seed", "3"], ["--strict"], ["--profile", "thorough"]])
def test_check_list_refuses_options_it_would_ignore(extra, tmp_path, capsys, monkeypatch):
    """`check --list -o listed.json` exited 0 and wrote nothing; --seed, --strict and --profile were ignored too."""
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--list", *extra]) == 2
    assert "does not apply with --list" in capsys.readouterr().err
    assert not (tmp_path / "listed.json").exists()


def test_no_search_generates_on_a_wall_clock_window_after_a_failure(monkeypatch):
    """Hypothesis's report_multiple_bugs (on by default) keeps generating for 10 wall-clock seconds after the first
    failure: which examples ran, the worst point and the counterexample depended on the machine's speed and load.
    Every claim's settings and the conjecture search's turn it off."""
    from eoscheck.properties import decide, search as search_mod
    from eoscheck.properties.claims import all_claims
    from eoscheck.properties.conjecture import Conjecture
    from eoscheck.properties.profiles import PROFILE_NAMES, claim_settings

    c = all_claims()[0]
    assert all(claim_settings(c, p).report_multiple_bugs is False for p in PROFILE_NAMES)
    seen = []

    def spy(strategy, evaluate, hyp_settings, **kw):
        seen.append(hyp_settings.report_multiple_bugs)
        return search_mod.SearchResult()

    monkeypatch.setattr(search_mod, "search", spy)
    decide.check_conjecture(Conjecture.parse("loss(t) <= 1"), "smoke")
    assert seen and not any(seen)


def _met_at_once_tau_beyond_every_T(inst: Instance) -> Evaluation:
    """"some s ≤ 10⁹ has L(w_s) ≤ ln 2": met at s = 0 (L(w₀) = ln 2), and no run reaches 10⁹ steps."""
    from eoscheck.properties.exact_engine import hitting
    from eoscheck.properties.observe import Arrays

    A = Arrays.of(inst.trajectory())
    return hitting(inst, A.eta[:, 0], A.first(A.logL <= np.log(np.log(2.0))), np.full(A.K, 1e9), "s with L ≤ ln 2")


def test_a_claim_none_of_whose_points_could_fail_is_undecided_not_holds():
    """thm35.tau_explicit read "holds" at the ci budget while every run had T < ⌈τ⌉: a run met its condition by
    s ≤ T (agreeing) or ended undecided, so no outcome could have contradicted the claim."""
    c = Claim(id="test.tau_unreachable", title="some s ≤ 10⁹ has L ≤ ln 2", source="a test", row=None,
              kind="exact", quantity="first s", direction="<=", strategy=theorem1_instances,
              evaluate=_met_at_once_tau_beyond_every_T, examples=2)
    if c.id not in REGISTRY:
        register(c)
    rep = run_claim(c, "ci")
    assert rep.verdict == "undecided" and rep.points > 0 and rep.unfalsifiable == rep.points
    assert rep.message.startswith(f"none of its {rep.points} point(s) could contradict it")


def _first_times(limit_over_T: float, censored: bool):
    def evaluate(inst: Instance) -> Evaluation:
        """A time seen at s = 1 and, with ``censored``, one never seen by T (measured T + 1), both against the limit
        ``limit_over_T``·T, looked for up to T."""
        T = inst.steps
        meas = [1.0, T + 1.0] if censored else [1.0]
        return Evaluation(np.array(meas), limit_over_T * T, 0.0, "<=",
                          {"censored": np.array([0.0, 1.0][:len(meas)]), "_horizon": T})
    return evaluate


@pytest.mark.parametrize("limit_over_T, censored, verdict", [(10.0, True, "undecided"), (0.5, True, "FALSIFIED"),
                                                             (0.5, False, "holds")])
def test_a_first_time_looked_for_up_to_T_below_a_limit_beyond_T_could_not_fail(limit_over_T, censored, verdict):
    """A first time looked for up to a horizon T counts one never seen as T + 1 (thm35.tau_exp_tail and thm6.tau_exp
    look up to :func:`~eoscheck.properties.exact_engine.hit_cap` and 2¹⁴ steps).  Where the
    limit is ≥ T + 1, the point passes whatever the time is, seen or not: it could not fail (a claim with only such
    points is undecided).  A time not seen by T > limit is a witness; seen times below a limit < T could have
    failed, so they hold as tested points."""
    c = Claim(id=f"test.first_times_{limit_over_T}_{censored}", title="s* ≤ limit", source="a test", row=None,
              kind="exact", quantity="first s", direction="<=", strategy=theorem1_instances,
              evaluate=_first_times(limit_over_T, censored), examples=2)
    rep = run_claim(c, "ci")
    assert rep.verdict == verdict
    assert rep.unfalsifiable == (rep.points if verdict == "undecided" else 0)


@pytest.mark.parametrize("cid", ["thm1.tau", "lemma12.proof_strength", "thm35.tau_explicit"])
def test_the_hitting_time_claims_check_stepsizes_whose_run_reaches_tau(cid):
    """Their runs (T = 600 at ci) ended before ⌈τ⌉ at every stepsize, so they could not fail; the instances that
    reach τ (:func:`~eoscheck.properties.exact_engine.reaching_instances`) give them stepsizes that can."""
    rep = run_claim(cid, "ci")
    assert rep.verdict == "holds" and rep.points - rep.unfalsifiable >= 10, (rep.points, rep.unfalsifiable)


def test_crawshaw_liu_tau_2d_runs_reach_their_tau():
    """Its instances run T = 800 steps against τ = 2 + 4n/γ + 280 ln(2/γ²)/γ² (≈ 300–56,000): at seed 1 every one of
    its 92 points met L ≤ 1/(8η) before a ⌈τ⌉ beyond T, so none could fail and the claim was undecided.  A first
    hitting time is now looked for up to ⌈τ⌉ (≤ :func:`~eoscheck.properties.exact_engine.hit_cap` steps; the runs
    stop at the first hits), and every point can fail."""
    rep = run_claim("crawshaw_liu.tau_2d", "ci", seed=1)
    assert rep.verdict == "holds" and rep.points >= 50 and rep.unfalsifiable == 0, (rep.points, rep.unfalsifiable)


def test_the_tau_claims_also_check_runs_through_an_eos_phase_that_reach_tau():
    """The instances that reach τ draw η ≤ 8: every run that could fail was monotone, while Theorem 1 is about GD
    that leaves an EoS phase.  The canonical EoS example (the normalized toy set, η ∈ {20, 24, 32}) reaches τ with
    a rising loss first; a point met at s = 0 (L(0) = ln 2 ≤ 1/η) could not fail and is not counted as a test."""
    from eoscheck.properties.claims import get_claim
    from eoscheck.properties.exact_engine import HEAD_STEPS
    from eoscheck.properties.profiles import budget
    from eoscheck.properties.theorem1 import tau_canonical
    from eoscheck.properties.theorem35 import _tau_explicit_canonical

    eos = tau_canonical(budget("ci"))[-1]
    assert (eos.with_(steps=HEAD_STEPS).trajectory().stats["last_increase"] > 0).all() and eos.steps >= 100_000
    for cid in ("thm1.tau", "lemma12.proof_strength"):
        ev = get_claim(cid).evaluate(eos)
        assert ev.size == 3 and ev.vacuous() == 0 and ev.holds()
    met_at_0 = get_claim("thm1.tau").evaluate(Instance(eos.data, "logistic", (1.0,), 10))
    assert met_at_0.measured.tolist() == [0.0] and met_at_0.vacuous() == 1
    # thm35.tau_explicit's τ on the same runs is 4.4–6.4 million steps: they meet (15) at s ≈ 2,250, so the run to
    # ⌈τ⌉ stops there, and every stepsize could have failed
    eos35 = _tau_explicit_canonical(budget("ci"))[-1]
    assert eos35.data.X.tobytes() == eos.data.X.tobytes() and eos35.etas == eos.etas and eos35.steps >= 4_000_000
    ev = get_claim("thm35.tau_explicit").evaluate(eos35)
    assert ev.size == 3 and ev.vacuous() == 0 and ev.holds() and (ev.measured > 2000).all()


@contextlib.contextmanager
def _spied(asked: list):
    """Instance.trajectory and Instance.first_steps noting each run they are asked for, ("run" or "stream", steps)."""
    run, stream = Instance.trajectory, Instance.first_steps
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Instance, "trajectory",
                   lambda self, *a, **kw: asked.append(("run", self.steps)) or run(self, *a, **kw))
        mp.setattr(Instance, "first_steps",
                   lambda self, c, steps, *a, **kw: asked.append(("stream", steps)) or stream(self, c, steps, *a, **kw))
        yield


def _toy_first_hits(steps, cond, tau, head, cap=2**18):
    """first_hits on the toy set at η = 1, with every run it asks for noted."""
    from eoscheck.properties.exact_engine import first_hits

    inst, asked = Instance(with_certificate(toy()), "logistic", (1.0,), steps), []
    with _spied(asked):
        ev = first_hits(inst, cond, lambda _, etas: np.full(len(etas), float(tau)), "s", head=head, cap=cap)
    return ev, asked


def test_a_hitting_time_met_in_the_head_run_decides_the_whole_run():
    """L(w_s) ≤ 0.55 (met at s = 13 on the toy set at η = 1) within τ = 100 ≤ T = 300: the 20-step head decides, as
    a falsifiable point (T reaches τ), with the s of the whole run."""
    cond = (lambda _, A: A.logL <= np.log(0.55))
    ev, asked = _toy_first_hits(300, cond, 100, head=20)
    full = Instance(with_certificate(toy()), "logistic", (1.0,), 300)
    s_full = Arrays.of(full.trajectory()).first(cond(full, Arrays.of(full.trajectory())))
    assert asked == [("run", 20)] and ev.measured.tolist() == s_full.astype(float).tolist() and 0 < s_full[0] <= 20
    assert ev.vacuous() == 0 and ev.holds()


@pytest.mark.parametrize("threshold, tau, asked", [(0.55, 1, [("run", 20)]),
                                                  (1e-300, 100, [("run", 20), ("stream", 300)])])
def test_a_hitting_time_late_or_missing_in_the_head_run_is_a_violation(threshold, tau, asked):
    """Met within the head but after ⌈τ⌉ (s = 13 > 1): a violation the head run decides; never met: the run goes on to
    T (one run, a chunk at a time), and T + 1 > ⌈τ⌉ is one.  Either way the witness is the instance itself, whose
    replay runs T steps."""
    ev, seen = _toy_first_hits(300, lambda _, A: A.logL <= np.log(threshold), tau, head=20)
    assert seen == asked and not ev.holds() and ev.vacuous() == 0
    assert ev.measured.tolist() == ([13.0] if threshold == 0.55 else [301.0])


def _toy_first_times(etas, steps, threshold, reach, wanted=None):
    """first_times on the toy set for L ≤ ``threshold``, with every run it asks for noted; and the last step seen."""
    from eoscheck.properties.exact_engine import first_times

    inst, asked = Instance(with_certificate(toy()), "logistic", etas, steps), []
    with _spied(asked):
        _, s, ran, _ = first_times(inst, lambda _, A: A.logL <= np.log(threshold), reach, wanted)
    return s, asked, ran


def test_first_times_runs_on_while_a_stepsize_has_not_met_the_condition():
    """L ≤ 0.55 on the toy set: η = 1 meets it at s = 13, within T = 20; η = 0.05 does not, and the batch runs on
    towards the reach, a chunk at a time, and stops once it is met — at the step a single run of 320 steps finds, and
    η = 1 at the same s as in T = 20 steps."""
    s, asked, ran = _toy_first_times((1.0, 0.05), 20, 0.55, reach=100_000)
    assert asked == [("run", 20), ("stream", 100_000)]
    one = Instance(with_certificate(toy()), "logistic", (1.0, 0.05), 320)
    A = Arrays.of(one.trajectory())
    assert s.tolist() == A.first(A.logL <= np.log(0.55)).astype(float).tolist() and s[0] == 13 and 80 < s[1] <= 320
    assert ran == s[1]                                 # stopped: the answer covers the steps up to the last one met
    # only the wanted stepsizes send the batch on
    s, asked, _ = _toy_first_times((1.0, 0.05), 20, 0.55, reach=1000, wanted=[True, False])
    assert asked == [("run", 20)] and s.tolist() == [13.0, -1.0]


@pytest.mark.parametrize("steps, reach, asked", [(20, 100, [("run", 20), ("stream", 100)]),
                                                 (0, 10, [("run", 0), ("stream", 10)]), (50, 10, [("run", 50)])])
def test_first_times_stops_at_its_reach(steps, reach, asked):
    """A condition never met (L ≤ 10⁻³⁰⁰) is looked for up to the reach, no further, and reads −1; a reach below T
    is T."""
    s, seen, ran = _toy_first_times((1.0,), steps, 1e-300, reach=reach)
    assert seen == asked and s.tolist() == [-1.0] and ran == max(steps, reach)


def test_thm35_tau_exp_tail_looks_for_its_first_time_beyond_T():
    """It looked for (15) up to T only and counted a time not seen as T + 1, so a point whose limit C₂·shape·(1 +
    margin) was ≥ T + 1 could not fail: 80 of its 86 points at ci.  The normalized toy set meets (15) at s ≈ 2,200–
    2,400, after T = 300: the time is now found (the steps of one run of 4800 steps), and the points whose limit
    is below the reach + 1 can fail: with a reach of 2¹⁸ steps the two with shape max{η, n}/γ² = 404 (η = 64's,
    6464, stayed out of reach); with :func:`~eoscheck.properties.exact_engine.hit_cap`'s, all three."""
    from eoscheck.losses import get_loss
    from eoscheck.properties.claims import get_claim
    from eoscheck.properties.exact_engine import hit_cap
    from eoscheck.properties.fitted import fitted_constant
    # the oracle sits beside this file (pytest runs with --import-mode=importlib: tests/ is not on sys.path)
    spec = importlib.util.spec_from_file_location("oracle_formulas", Path(__file__).with_name("oracle_formulas.py"))
    oracle = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(oracle)

    c = get_claim("thm35.tau_exp_tail")
    inst = Instance(with_certificate(toy(normalized=True)), "logistic", (1.0, 4.0, 64.0), 300)
    ev = c.evaluate(inst)
    A = Arrays.of(inst.with_(steps=4800).trajectory())
    s_long = A.first(A.logL <= np.log(oracle.thm35_threshold(get_loss("logistic"), A.eta[:, 0], 4))[:, None])
    assert (s_long > 300).all() and ev.measured.tolist() == s_long.astype(float).tolist()
    reach = hit_cap(inst)
    assert (np.asarray(ev.params["_horizon"]) == reach).all() and reach > 2**25
    C = fitted_constant(c.id)
    assert (C * (1 + c.fit.margin) * ev.bound < 2**18 + 1).tolist() == [True, True, False]
    assert (C * (1 + c.fit.margin) * ev.bound < reach + 1).all()
    assert ev.vacuous(C, c.fit.margin) == 0 and ev.holds(C, c.fit.margin)


def test_the_run_cache_keeps_the_last_runs_but_not_a_run_read_once():
    """Least recently used out first; ``keep=False`` (first_times' longer runs) neither reads nor fills it."""
    from eoscheck.properties.instances import RunCache

    cache, calls = RunCache(2), []

    def run(key, keep=True):
        return cache.run(key, lambda: calls.append(key) or key.upper(), keep=keep)

    assert [run("a"), run("b"), run("a"), run("c"), run("b")] == ["A", "B", "A", "C", "B"]
    assert [run("x", keep=False), run("x", keep=False)] == ["X", "X"]
    assert calls == ["a", "b", "c", "b", "x", "x"] and list(cache.runs) == ["c", "b"]
    assert (cache.hits, cache.misses) == (1, 6)


@pytest.mark.parametrize("threshold, tau, cap, asked, measured, verdict", [
    (0.3, 100, 2**18, [("run", 20), ("stream", 100)], 71.0, "holds"),
    (0.1, 100, 2**18, [("run", 20), ("stream", 100)], 101.0, "violated"),
    (0.3, 100, 50, [("run", 20)], None, "undecided")])
def test_a_run_shorter_than_tau_is_run_on_to_tau(threshold, tau, cap, asked, measured, verdict):
    """T = 20 < ⌈τ⌉ = 100 left a hitting time undecided (not met by T) or untested (met by T < ⌈τ⌉: it could not fail).
    The batch now runs on up to ⌈τ⌉ (at most ``cap`` steps): L ≤ 0.3 is met at s = 71 ≤ 100
    (a point that could fail, and holds); L ≤ 0.1 is not met by 100 (s = 271): a violation, counted 101.  A ⌈τ⌉
    beyond the cap is not run for, and stays undecided."""
    ev, seen = _toy_first_hits(20, lambda _, A: A.logL <= np.log(threshold), tau, head=20, cap=cap)
    assert seen == asked
    if verdict == "undecided":
        assert ev.size == 0 and ev.inconclusive == 1
    else:
        assert ev.measured.tolist() == [measured] and ev.vacuous() == 0 and ev.holds() == (verdict == "holds")


def test_equal_counted_notes_are_summed_not_dropped():
    """Two runs each with "2 stepsize(s) …" made one "2 stepsize(s) …": the message undercounted."""
    from eoscheck.properties.search import add_note

    notes: list[str] = []
    for n in ("2 stepsize(s) met it", "2 stepsize(s) met it", "3 stepsize(s) met it", "a note", "a note"):
        add_note(notes, n)
    assert notes == ["7 stepsize(s) met it", "a note"]


def test_a_stepsize_without_tau_is_left_out_not_counted_undecided_or_vacuous():
    """hitting() counted a stepsize whose τ is NaN as undecided (not met) or as met before a ⌈τ⌉ beyond the horizon
    (met): it has no claim, so it is neither; its point was already left out of the comparison."""
    from eoscheck.properties.exact_engine import hitting

    inst = Instance(data=toy(), etas=(1.0, 2.0, 3.0, 4.0), steps=10)
    ev = hitting(inst, np.array(inst.etas), np.array([3.0, -1.0, 4.0, -1.0]), np.array([np.nan, np.nan, 5.0, 20.0]),
                 "s with L ≤ 1")
    assert ev.inconclusive == 1                          # η = 4: not met by T = 10 < ⌈τ⌉ = 20; η = 2 has no τ
    assert list(ev.bound) == [5.0]                       # the one decided point: η = 3, met at s = 4 ≤ 5
    assert not any("before a ⌈τ⌉ beyond" in n for n in ev.notes)   # η = 1 (met, no τ) is not vacuous
    assert "2 stepsize(s) with no τ (NaN): left out" in ev.notes


@pytest.mark.parametrize("steps, tau", [(100, 50.0), (5, 5000.0)])
def test_a_run_that_diverged_before_its_hitting_time_stops_the_check_and_convicts_nothing(steps, tau):
    """The exponential loss at η = 10⁴ on the normalized toy set diverges within a few steps: its run never meets
    L ≤ 10⁻³⁰⁰, and a hitting time looked for up to τ read it as "not met by τ" (τ + 1 > τ: FALSIFIED, with the
    instance as its witness) — a numerics failure taken for the theorem's.  Its point is now NaN: the check stops
    with verdict error, in the run of T steps (τ ≤ T) and in the stream beyond it (τ > T); the stepsize that does
    not diverge still reads τ + 1 where τ ≤ T."""
    from eoscheck.properties.claims import NaNPoint
    from eoscheck.properties.exact_engine import censored_first_times, first_hits

    inst = Instance(with_certificate(toy(normalized=True)), "exponential", (0.5, 1e4), steps)
    never = (lambda _, A: A.logL <= np.log(1e-300))
    assert Arrays.of(inst.with_(steps=100).trajectory()).diverged.tolist() == [False, True]
    with pytest.raises(NaNPoint, match="NaN measurement .*eta = 10000"):
        first_hits(inst, never, lambda _, etas: np.full(len(etas), tau), "s")
    _, meas, censored, reach, _ = censored_first_times(inst, never, int(tau), "s")
    assert np.isnan(meas[1]) and not censored[1] and meas[0] == reach + 1 and censored[0]

    def evaluate(i: Instance) -> Evaluation:
        return first_hits(i, never, lambda _, etas: np.full(len(etas), tau), "s")

    from hypothesis import strategies as st

    c = Claim(id=f"test.diverged_first_time_{steps}", title="s* ≤ τ", source="a test", row=None, kind="exact",
              quantity="first s", direction="<=", strategy=lambda _: st.just(inst), evaluate=evaluate, examples=1)
    rep = run_claim(c, "ci")
    assert rep.verdict == "error" and "NaN measurement" in rep.message and not rep.falsified
