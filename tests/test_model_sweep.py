"""Tests of linear_lens.model_sweep: the configurations of Appendix D, the weights, and the sweep's table."""

import csv
import io
import math

import pytest
import torch

from linear_lens import attractors as at, model_sweep as ms
from linear_lens.activations import get

F64 = torch.float64


def test_appendix_d_counts():
    wcs = ms.weight_configs()
    assert len(wcs) == 23 and len(set(wcs)) == 23
    configs = ms.configurations()
    assert len(configs) == 23 * 3 * 6 * 2 == 828
    assert len({c.key for c in configs}) == 828
    assert {c.seed for c in configs} == {ms.AUTHORS_SEED}
    distinct = ms.configurations(distinct_seeds=True, seed=10)
    seeds = {(c.weights, c.depth): c.seed for c in distinct}
    assert len(set(seeds.values())) == 69 == len(seeds)
    # one seed per (weight configuration, depth), shared by activations and bias settings
    assert all(c.seed == seeds[(c.weights, c.depth)] for c in distinct)


def test_table1_models_are_in_the_sweep():
    keys = {c.key for c in ms.configurations()}
    assert len(ms.TABLE1) == 9 + 9 + 6
    for fig, c in ms.TABLE1:
        assert c.key in keys, fig


def test_configurations_refuse_bad_input():
    with pytest.raises(ValueError, match="depths"):
        ms.configurations(depths=[0])
    with pytest.raises(ValueError, match="activation"):
        ms.configurations(activations=["nonsense"])
    with pytest.raises(ValueError, match="seed"):
        ms.configurations(seed=-1)


@pytest.mark.parametrize("construction", ms.CONSTRUCTIONS)
def test_draws_are_reproducible_and_shaped(construction):
    for wc in ms.weight_configs():
        W, B = ms.draw_network(wc, 4, 2, torch.Generator().manual_seed(3), construction=construction)
        W2, B2 = ms.draw_network(wc, 4, 2, torch.Generator().manual_seed(3), construction=construction)
        assert W.shape == (5, 2, 2) and B.shape == (5, 2) and W.dtype == F64, wc.label
        assert torch.equal(W, W2) and torch.equal(B, B2)
        assert bool(torch.isfinite(W).all()) and float(B.abs().max()) <= 1 / math.sqrt(2)
    with pytest.raises(ValueError, match="construction"):
        ms.draw_network(ms.weight_configs()[0], 1, 2, torch.Generator(), construction="other")


def _weights(wc, count, g, n=2):
    """``count`` authors' weights of one configuration (the layers of one deep network)."""
    return ms.draw_network(wc, count - 1, n, g)[0]


def test_authors_gershgorin_weights_follow_slim():
    g = torch.Generator().manual_seed(0)
    for real in (True, False):
        for lo, hi in ms.RANGES:
            wc = ms.WeightConfig("gershgorin_real" if real else "gershgorin_complex", lo, hi)
            W = _weights(wc, 200, g, n=3)
            centre, r = (lo + hi) / 2, abs(hi - lo) / 2
            diag = torch.diagonal(W, dim1=-2, dim2=-1)
            off = W - torch.diag_embed(diag)
            assert bool(((diag - centre).abs() <= r / 2 + 1e-12).all())
            # one softmax over all off-diagonal entries: they sum to r/2 in modulus (with slim's negative sign)
            assert torch.allclose(off.sum((-2, -1)), torch.full((200,), -r / 2, dtype=F64), atol=1e-12)
            if real:
                assert torch.allclose(W, W.mT)
            lam = torch.linalg.eigvals(W)
            # Gershgorin: every eigenvalue within r/2 (diagonal) + r/2 (off-diagonal mass) of the centre
            assert bool(((lam - centre).abs() <= r + 1e-12).all()), "eigenvalues in the disc over (lo, hi)"


def test_authors_spectral_and_perron_frobenius_weights():
    g = torch.Generator().manual_seed(1)
    for lo, hi in ms.RANGES:
        W = _weights(ms.WeightConfig("spectral", lo, hi), 300, g)
        sv = torch.linalg.svdvals(W)
        a, b = sorted((abs(hi - (hi - lo) / (1 + math.exp(-1.0))), abs(hi - (hi - lo) / 2)))
        assert bool(((sv >= a - 1e-12) & (sv <= b + 1e-12)).all()), (lo, hi)
    P = _weights(ms.WeightConfig("perron_frobenius", 1.0, 1.0), 300, g)
    assert bool((P > 0).all())
    assert torch.allclose(P.sum(-2), torch.ones(300, 2, dtype=F64))  # column-stochastic (slim's x W, transposed)
    assert torch.allclose(torch.linalg.eigvals(P).abs().amax(-1), torch.ones(300, dtype=F64))


def test_grids():
    grid = ms.authors_grid()
    assert grid.shape == (576, 2) and float(grid.min()) == -6.0 and float(grid.max()) == 5.5
    assert torch.allclose(ms.authors_starts().norm(dim=-1), torch.full((8,), 4.0, dtype=F64))


def _subset():
    wcs = [ms.WeightConfig("gershgorin_complex", 0.0, 1.0), ms.WeightConfig("spectral", 0.99, 1.1)]
    return ms.configurations(depths=(1, 4), activations=("relu", "sigmoid", "tanh"), weights=wcs)


def test_sweep_spectra_match_the_per_point_reference():
    configs = _subset()
    res = ms.sweep(configs, classify=False, show_progress=False)
    assert len(res.rows) == len(configs)
    grid = ms.authors_grid()
    for c, row in zip(configs, res.rows):
        assert (row["factorisation"], row["range"], row["depth"], row["activation"], row["bias"]) == c.key
        W, B = ms.draw_network(c.weights, c.depth, 2, torch.Generator().manual_seed(c.seed))
        rho = ms.per_point_reference(list(W), list(B) if c.bias else None, c.activation, grid)
        assert math.isclose(row["rho_max"], float(rho.max()), rel_tol=1e-10), c
        assert math.isclose(row["rho_mean"], float(rho.mean()), rel_tol=1e-10), c
        assert row["frac_rho_gt1"] == float((rho > 1).double().mean())
        if get(c.activation).sigma0 == 0:
            assert row["rho_max_shifted"] == row["rho_max"] and not row["forms_differ"]
        else:
            shifted = ms.per_point_reference(list(W), list(B) if c.bias else None, c.activation, grid, form="shifted")
            assert math.isclose(row["rho_max_shifted"], float(shifted.max()), rel_tol=1e-10) and row["forms_differ"]
        assert row["rho_max"] <= row["norm_max"] * (1 + 1e-12)
        assert row["rho_weights_max"] <= row["norm_weights_prod"] ** (1 / (c.depth + 1)) * 1e6  # finite, sane


def test_weights_are_shared_across_activations_and_bias():
    configs = _subset()
    res = ms.sweep(configs, classify=False, show_progress=False)
    by = {}
    for c, row in zip(configs, res.rows):
        by.setdefault((c.weights, c.depth), set()).add((row["rho_weights_max"], row["norm_weights_prod"]))
    assert all(len(v) == 1 for v in by.values()), "one set of weights per (weight configuration, depth)"


def test_sweep_classifies_and_writes_csv():
    configs = _subset()[:12]
    res = ms.sweep(configs, show_progress=False, classify_options={"steps": 300, "lyapunov_steps": 128})
    kinds = {r["kind"] for r in res.rows}
    assert kinds <= set(at.KINDS)
    text = res.to_csv()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 12 and rows[0]["kind"] == res.rows[0]["kind"]
    assert res.find(configs[3]) is res.rows[3]
    tab = ms.crosstab(res.rows, "activation")
    assert sum(v["total"] for v in tab.values()) == 12
    assert all(sum(n for k, n in v.items() if k != "total") == v["total"] for v in tab.values())
    with pytest.raises(ValueError, match="column"):
        ms.crosstab(res.rows, "activation", "nonsense")


def test_sweep_refuses_bad_options():
    with pytest.raises(ValueError, match="convention"):
        ms.sweep(_subset()[:1], convention="x", show_progress=False)
    with pytest.raises(ValueError, match="construction"):
        ms.sweep(_subset()[:1], construction="x", show_progress=False)
    with pytest.raises(ValueError, match="configs"):
        ms.sweep([], show_progress=False)


def test_network_draws_summary_and_html():
    c = dict(ms.TABLE1)["Fig. 3 (ReLU)"]
    net = ms.network_draws(c, [1, 2, 3])
    assert net.size == 3 and net.convention == "authors" and net.depth == 4 and not bool(net.has_bias.any())
    one = ms.network_draws(c, [2])
    assert torch.equal(one.stacked()[0], net.stacked()[1])
    with pytest.raises(ValueError, match="seeds"):
        ms.network_draws(c, [-1])
    rows = [{"activation": "relu", "kind": "single point", "rho_max": 0.5, "rho_max_shifted": 0.5},
            {"activation": "relu", "kind": "unstable", "rho_max": 2.0, "rho_max_shifted": 2.0},
            {"activation": "tanh", "kind": "single point", "rho_max": 1.5, "rho_max_shifted": 0.5}]
    summ = ms.summary(rows, "activation", ["single point", "unstable"])
    assert summ[0] == {"activation": "relu", "models": 2, "single point": 1, "unstable": 1, "rho > 1": 1,
                       "rho > 1 (shifted)": 1}


def test_find_attractor_returns_a_network_of_the_kind():
    c = dict(ms.TABLE1)["Fig. 3 (ReLU)"]
    starts = ms.authors_starts()
    options = dict(steps=200, tail=64, lyapunov_steps=64, blocks=4)
    hit = ms.find_attractor(c, "single point", starts, 2, **options)
    assert hit is not None
    (model, seed), origin = hit
    again = at.classify_attractor(ms.network_draws(model, [seed]), starts, **options)[0]
    assert ms.shows(again, "single point") and "step" in origin
    with pytest.raises(ValueError, match="^kind:"):
        ms.find_attractor(c, "spiral", starts, 2)
    with pytest.raises(ValueError, match="^search_seeds:"):
        ms.find_attractor(c, "single point", starts, 0)


def test_reference_check_agrees_with_the_batched_sweep():
    cs = _subset()[:2]
    res = ms.sweep(cs, classify=False, show_progress=False)
    seconds, gap = ms.reference_check(res, cs)
    assert seconds > 0 and gap <= 1e-10
    with pytest.raises(ValueError, match="^configs:"):
        ms.reference_check(res, [])
