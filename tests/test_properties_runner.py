"""The search finds and shrinks counterexamples, files them, and replay re-checks them; the CLI codes."""

import json

import numpy as np
import pytest

from eoscheck.cli import main
from eoscheck.properties.claims import Claim, Evaluation, REGISTRY, register
from eoscheck.properties.exact import theorem1_instances
from eoscheck.properties.instances import Instance
from eoscheck.properties.replay import replay
from eoscheck.properties.runner import run_claim


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


def test_usage_errors_exit_2(tmp_path):
    assert main(["check", "no.such.claim"]) == 2
    assert main(["replay", str(tmp_path / "missing.json")]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    assert main(["replay", str(bad)]) == 2
    assert main(["check", "--list"]) == 0
