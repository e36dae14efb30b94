"""Tests of linear_lens.spectral_fields: A*(x) over grids for a batch of networks, the 2 x 2 closed form of the
eigenvalues, spectral fields, and linear regions."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from linear_lens import affine, networks, spectral_fields as sf
from test_networks import SWEEP_ACTS, eq3_lists, random_batch

F64 = torch.float64


# --- A*(x) and b*(x) of a batch -----------------------------------------------------------------------------------


@pytest.mark.parametrize("convention", networks.CONVENTIONS)
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("n", [2, 3, 5])
def test_affine_field_matches_pointwise_affine_and_reproduces_f(generator, convention, bias, n):
    """The batch (several activations, bmm over networks) against pointwise_affine network by network, and
    A* x + b* against f from networks.forward (an independent evaluation)."""
    acts = SWEEP_ACTS + ["leaky_relu", "hardshrink", "elu"]
    W, B, net = random_batch(generator, acts, n=n, bias=bias, convention=convention)
    x = 3 * torch.randn(40, n, generator=generator, dtype=F64)
    for form in ("paper", "shifted"):
        A, b = sf.affine_field(net, x, form=form)
        assert A.shape == (len(acts), 40, n, n) and b.shape == (len(acts), 40, n)
        for m, act in enumerate(acts):
            Ws, Bs = eq3_lists(W, B, m, convention)
            A0, b0 = affine.pointwise_affine(Ws, Bs, act, x, form=form)
            assert torch.allclose(A[m], A0, rtol=1e-12, atol=1e-12), f"A* differs for {act} ({form})"
            assert torch.allclose(b[m], b0, rtol=1e-12, atol=1e-12), f"b* differs for {act} ({form})"
            f0 = networks.forward(Ws, Bs, act, x)
            recon = (A[m] @ x.unsqueeze(-1)).squeeze(-1) + b[m]
            size = (A[m].abs() @ x.abs().unsqueeze(-1)).squeeze(-1) + b[m].abs()
            assert bool(((recon - f0).abs() <= 1e-12 * (1 + size)).all()), f"A* x + b* != f for {act} ({form})"


def test_affine_field_of_rectangular_layers(generator):
    nets = [networks.random_network([2, 6, 2], bias=True, generator=generator) for _ in range(2)]
    net = networks.network_batch([torch.stack([w[l] for w, _ in nets]) for l in range(2)],
                                 [torch.stack([b[l] for _, b in nets]) for l in range(2)], "gelu")
    x = torch.randn(9, 2, generator=generator, dtype=F64)
    A, b = sf.affine_field(net, x)
    for m, (Wm, Bm) in enumerate(nets):
        A0, b0 = affine.pointwise_affine(Wm, Bm, "gelu", x)
        assert torch.allclose(A[m], A0, rtol=1e-13, atol=1e-14) and torch.allclose(b[m], b0, rtol=1e-13, atol=1e-14)


def test_affine_field_float32(generator):
    W, B, net64 = random_batch(generator, SWEEP_ACTS, depth=3, convention="authors")
    net32 = networks.network_batch(W.float(), B.float(), SWEEP_ACTS, convention="authors")
    x = 3 * torch.randn(50, 2, generator=generator, dtype=F64)
    A32, _ = sf.affine_field(net32, x.float())
    A64, _ = sf.affine_field(net64, x)
    assert A32.dtype == torch.float32 and torch.allclose(A32.double(), A64, rtol=1e-4, atol=1e-5)


# --- eigenvalues and spectral fields ------------------------------------------------------------------------------


@given(st.integers(0, 2**31 - 1), st.sampled_from([1e-200, 1e-8, 1.0, 1e8, 1e200]))
def test_closed_form_eigenvalues_match_lapack(seed, scale):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(64, 2, 2, generator=g, dtype=F64) * scale
    lam = sf.eigenvalues(A)
    ref = torch.linalg.eigvals(A)
    dist = (lam.unsqueeze(-1) - ref.unsqueeze(-2)).abs().amin(-1).amax(-1)
    assert bool((dist <= 1e-12 * A.abs().amax((-2, -1))).all()), "closed-form eigenvalues differ from LAPACK"
    assert bool(torch.isfinite(lam).all())


def test_eigenvalues_exact_cases():
    I = torch.eye(2, dtype=F64)
    assert torch.equal(sf.eigenvalues(3 * I), torch.tensor([3 + 0j, 3 + 0j], dtype=torch.complex128))
    T = torch.tensor([[1e-9, 1.0], [0.0, 2.0]], dtype=F64)  # triangular: the diagonal, the small one accurate
    lam = sf.eigenvalues(T)
    assert lam[0].real == 2.0 and abs(lam[1].real - 1e-9) <= 1e-24
    R = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=F64)
    assert torch.allclose(sf.eigenvalues(R), torch.tensor([1j, -1j], dtype=torch.complex128))
    assert sf.eigenvalues(torch.zeros(2, 2, dtype=F64)).abs().max() == 0
    lam32 = sf.eigenvalues(torch.tensor([[0.5, 0.2], [0.1, 0.3]], dtype=torch.float32))
    assert lam32.dtype == torch.complex64


@pytest.mark.parametrize("scale", [2.0**-1000, 1e-300, 1e200, 1e300])
def test_eigenvalues_neither_overflow_nor_underflow(scale):
    """Both eigenvalues, not only rho, against mpmath at 50 digits where squaring an entry would over/underflow."""
    import mpmath as mp

    for entries in ([[1.0, 2.0], [-3.0, 0.5]], [[3.0, 1e-5], [-1e5, 2.0]], [[-2.0, 0.5], [0.25, 1.0]],
                    [[1.0, 1.0], [0.0, 1.0]], [[2.0, 1.0], [1.0, 2.0]]):
        A = torch.tensor(entries, dtype=F64) * scale
        got = sorted(sf.eigenvalues(A).tolist(), key=lambda v: (v.real, v.imag))
        with mp.workdps(50):
            M = mp.matrix([[mp.mpf(float(v)) for v in row] for row in A.tolist()])
            exact = sorted((complex(e) for e in mp.eig(M)[0]), key=lambda v: (v.real, v.imag))
        size = max(abs(e) for e in exact)
        for g_, e in zip(got, exact):
            assert abs(g_ - e) <= 1e-14 * size + 1e-300 * (scale < 1e-290), (entries, scale, got, exact)


def test_one_closed_form_for_spectral_radius_and_eigenvalues(generator):
    """stability.spectral_radius and spectral_field's rho are the same closed form: equal, bit for bit."""
    from linear_lens import stability

    A = torch.randn(500, 2, 2, generator=generator, dtype=F64) * 10 ** torch.randint(-8, 8, (500, 1, 1)).double()
    assert torch.equal(stability.spectral_radius(A), sf.spectral_field(A).rho)
    assert torch.allclose(sf.eigenvalues(A).abs().amax(-1), sf.spectral_field(A).rho, rtol=4e-16, atol=0)


def test_spectral_field_norm_and_radius(generator):
    for n in (2, 3):
        A = torch.randn(200, n, n, generator=generator, dtype=F64)
        field = sf.spectral_field(A)
        assert torch.allclose(field.norm, torch.linalg.matrix_norm(A, 2), rtol=1e-13)
        assert torch.allclose(field.rho, torch.linalg.eigvals(A).abs().amax(-1), rtol=1e-12)
        assert bool((field.rho <= field.norm * (1 + 1e-12)).all())


# --- regions ------------------------------------------------------------------------------------------------------


def test_region_bound_known_values():
    assert sf.region_bound([3], 2) == 1 + 3 + 3  # Zaslavsky: 3 lines in general position cut the plane in 7
    assert sf.region_bound([2], 2) == 4
    assert sf.region_bound([2, 2], 2) == 11
    assert sf.region_bound([1, 5], 1) <= 2 * 6
    assert sf.region_bound([], 2) == 1


def test_activation_pattern_and_region_count():
    # f = relu(x1) and relu(x2) patterns: four quadrants
    W = torch.eye(2, dtype=F64).expand(1, 2, 2, 2).clone()
    net = networks.network_batch(W, None, "relu")
    axis = torch.linspace(-1, 1, 41, dtype=F64) + 1e-3
    x1, x2 = torch.meshgrid(axis, axis, indexing="xy")
    codes = sf.activation_pattern(net, torch.stack([x1, x2], -1).reshape(-1, 2))[0].reshape(41, 41)
    assert sorted(torch.unique(codes).tolist()) == [0, 1, 2, 3]
    assert sf.count_regions(codes) == 4
    stripes = torch.tensor([[0, 1, 0, 1]] * 3)
    assert sf.count_regions(stripes) == 4  # equal labels in separate stripes count separately
    diagonal = torch.eye(4, dtype=torch.int64)
    assert sf.count_regions(diagonal, connectivity=4) == 4 + 2  # the diagonal cells and the two triangles
    assert sf.count_regions(diagonal) == 2  # with corners, the diagonal and the triangles are each connected
    assert sf.count_regions(diagonal, min_cells=5) == 1
    batch = torch.stack([stripes, torch.zeros(3, 4, dtype=torch.int64)]).unsqueeze(0)
    assert torch.equal(sf.count_regions(batch), torch.tensor([[4, 1]])), "a batch: one count per grid"
    assert sf.count_sectors(torch.tensor([0, 0, 1, 1, 2, 0])) == 2 + 0 + 1 and sf.count_sectors(torch.ones(5)) == 1
    with pytest.raises(ValueError, match="codes"):
        sf.count_regions(torch.zeros(3, 3))


def test_activation_pattern_of_a_wider_hidden_layer():
    """Three ReLU units on the plane (rectangular layer): three lines through the origin, six cones."""
    A0 = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=F64)
    net = networks.network_batch([A0, torch.ones(2, 3, dtype=F64)], None, "relu")
    theta = torch.linspace(0, 6.283, 3601, dtype=F64)[:-1]
    circle = torch.stack([torch.cos(theta), torch.sin(theta)], -1)
    assert sf.count_sectors(sf.activation_pattern(net, circle)[0]) == 6


def test_max_jump_detects_discontinuities():
    for n in (101, 201):
        t = torch.linspace(-1, 1, n, dtype=F64)
        X, Y = torch.meshgrid(t, t, indexing="xy")
        smooth, step = torch.sin(X + Y), (X > 0.0123).to(F64)
        assert sf.max_jump(smooth) <= 2 * 2 / (n - 1) + 1e-12
        assert sf.max_jump(step) == 1.0


def _bad_calls():
    net = networks.network_batch(torch.zeros(1, 2, 2, 2, dtype=F64))
    return [
        (lambda: sf.count_regions(torch.zeros(3, 3, dtype=torch.int64), connectivity=6), "connectivity"),
        (lambda: sf.count_regions(torch.zeros(3, 3, dtype=torch.int64), min_cells=0), "min_cells"),
        (lambda: sf.count_sectors(torch.zeros(0)), "codes"),
        (lambda: sf.region_bound([2, 0], 2), "widths"),
        (lambda: sf.region_bound([2], 0), "n_in"),
        (lambda: sf.max_jump(torch.zeros(5)), "field"),
        (lambda: sf.eigenvalues(torch.zeros(2, 3)), "A"),
        (lambda: sf.eigenvalues(torch.full((2, 2), float("nan"))), "A"),
        (lambda: sf.spectral_field(torch.zeros(2, 3)), "A"),
        (lambda: sf.activation_pattern(networks.network_batch(torch.zeros(1, 33, 2, 2)), torch.zeros(3, 2)), "62"),
        (lambda: sf.affine_field(net, torch.zeros(5, 2, dtype=F64), form="other"), "form"),
        (lambda: sf.affine_field(net, torch.zeros(5, 3, dtype=F64)), "x"),
    ]


@pytest.mark.parametrize("case", range(12))
def test_bad_input_gives_a_clear_error(case):
    call, match = _bad_calls()[case]
    with pytest.raises(ValueError, match=match):
        call()


def test_dominant_eigenvector(generator):
    A = torch.randn(50, 3, 3, generator=generator, dtype=F64)
    v = sf.dominant_eigenvector(A)
    lam = torch.linalg.eigvals(A)
    top = lam.gather(-1, lam.abs().argmax(-1, keepdim=True))[..., 0]
    Ac = A.to(torch.complex128)
    torch.testing.assert_close((Ac @ v.unsqueeze(-1)).squeeze(-1), top.unsqueeze(-1) * v, atol=1e-12, rtol=0)
    torch.testing.assert_close(v.abs().pow(2).sum(-1), torch.ones(50, dtype=F64), atol=1e-14, rtol=0)
    diag = torch.diag(torch.tensor([0.5, -3.0], dtype=F64))
    assert torch.allclose(sf.dominant_eigenvector(diag).abs(), torch.tensor([0.0, 1.0], dtype=F64))
    with pytest.raises(ValueError, match="^A:"):
        sf.dominant_eigenvector(torch.zeros(2, 3))
