"""A drawn dataset is rebuilt from its printed meta, and a certificate is only trusted for the data it was made
for (eoscheck.properties.strategies: rebuild, certificate)."""

from __future__ import annotations

import numpy as np
import pytest

from eoscheck import Dataset, EoscheckError
from eoscheck.properties import build_separable, certificate, rebuild


def test_a_drawn_dataset_is_rebuilt_bit_for_bit_from_its_meta():
    data = build_separable(7, 3, 0.07, 12345, adversarial=[(0.0, 0.5, True), (0.3, 1.0, False)])
    again = rebuild(dict(data.meta))
    assert np.array_equal(again.X, data.X) and np.array_equal(again.y, data.y) and again.name == data.name
    with pytest.raises(EoscheckError, match="rebuild takes the meta of a drawn dataset"):
        rebuild({"source": "canonical: toy"})


def test_a_drawn_canonical_case_is_rebuilt_from_its_meta_too():
    """separable_datasets() draws the canonical cases (toy-normalized, Theorem 3's set, …) as well; rebuild of such
    a draw's meta raised "rebuild takes the meta of a drawn dataset", though the README says a falsifying
    example's meta rebuilds its dataset."""
    from hypothesis import find

    from eoscheck.properties import separable_datasets

    drawn = find(separable_datasets(), lambda data: data.name == "toy-normalized")
    again = rebuild(dict(drawn.meta))
    assert np.array_equal(again.X, drawn.X) and np.array_equal(again.y, drawn.y)
    assert certificate(again).gamma == certificate(drawn).gamma
    with pytest.raises(EoscheckError, match="no canonical case is named 'toy'"):
        rebuild({"canonical": "toy"})


def test_a_certificate_is_not_trusted_for_other_points():
    """The repr prints 8 digits: data typed back from it kept the original's certified γ*, a margin the rounded
    points need not have."""
    data = build_separable(6, 3, 0.05, 7)
    assert certificate(data).gamma == data.meta["gamma_certified"]            # its own data: taken as attached
    rounded = Dataset(np.round(data.X, 3), data.y, name=data.name, meta=dict(data.meta))
    cert = certificate(rounded)
    assert cert.gamma != data.meta["gamma_certified"]                         # recomputed for these points
    Z = rounded.Z
    # the certified lower end holds on the rounded points (w* unit within d ulps; the allowance covers it)
    assert (Z @ (cert.w_star / np.linalg.norm(cert.w_star))).min() >= cert.gamma
