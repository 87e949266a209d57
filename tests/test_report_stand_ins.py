"""The report says at its top when a section ran on stand-in data (Fig. 1 (c)–(d) without Fashion-MNIST)."""

from __future__ import annotations

import eoscheck.datasets as datasets
from eoscheck.report.cache import RunCache
from eoscheck.report.context import Context
from eoscheck.report.document import render_index
from eoscheck.report.figure1 import FIG1_DIGITS_PAIR, fig1_data

HEADER = {"command": "eoscheck report", "profile": "ci", "seed": 0, "device": "cpu", "time_utc": "t",
          "wall_s": 1.0, "config_hash": "h"}


def test_digits_fallback_is_named_as_a_stand_in(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "FASHION_MNIST_DIR", tmp_path / "not-installed")
    ctx = Context(out=tmp_path, cfg={}, profile="ci", cache=RunCache(tmp_path / "cache"))
    data, mode, described = fig1_data({}, ctx)
    fig1_data({}, ctx)                                    # a second call names it once
    a, b = FIG1_DIGITS_PAIR
    assert mode == "rescaled" and f"\"{a}\" (+1) vs \"{b}\"" in described
    (note,) = ctx.extras["stand_ins"]
    assert "not Fashion-MNIST" in note and f"\"{a}\"/\"{b}\"" in note
    top = render_index([], dict(HEADER, stand_ins=[note]))
    assert f"**Data stand-ins on this machine:** {note}." in top


def test_no_stand_in_line_without_a_stand_in(tmp_path):
    ctx = Context(out=tmp_path, cfg={}, profile="ci", cache=RunCache(tmp_path / "cache"))
    fig1_data({"data": "digits08:n_per_class=20"}, ctx)   # the test profile's subset is a choice, not a stand-in
    assert "stand_ins" not in ctx.extras
    assert "stand-ins" not in render_index([], HEADER)
