"""The authors' 2020 activations and their Fig. 1 script (linear_lens.authors_activations)."""

import math

import pytest
import torch

from linear_lens import activation_stability as S
from linear_lens import activations as A
from linear_lens import authors_activations as AA


def test_library_has_the_24_footnote_activations():
    lib = AA.library_2020(generator=0)
    assert sorted(lib) == sorted(n for n in A.names() if n not in ("silu", "identity"))


def test_the_library_differs_from_the_registry_where_the_docstring_says():
    lib = AA.library_2020(generator=0)
    z = torch.linspace(-6, 6, 1201)
    for name in ("soft_exponential", "blu"):
        torch.testing.assert_close(lib[name](z), z, msg=f"{name} at its initial value is the identity")
    torch.testing.assert_close(lib["prelu"](z), torch.clamp(z, max=0.0))
    neg = z[z < 0]
    torch.testing.assert_close(lib["pelu"](neg), torch.expm1(-neg), msg="e^(-z) - 1: the flipped exponent")
    torch.testing.assert_close(A.get("pelu")(neg.double()).float(), torch.expm1(neg), msg="Trottier's e^(z)")
    for name in ("relu", "tanh", "selu", "hardswish", "softplus", "logsigmoid"):
        torch.testing.assert_close(lib[name](z), A.get(name)(z.double()).float(), atol=2e-6, rtol=1e-6)


def test_script_groups_reproduce_the_footnotes():
    """Footnote 1 is the script's "stable" group, footnote 3 its "BIBO" group, footnote 2 the flagged ones: for the
    23 deterministic activations on every draw; APLU's group between "BIBO" and "unstable" depends on its draw."""
    for seed in range(5):
        groups = {n: v.group for n, v in AA.authors_fig1_groups(generator=seed).items()}
        for name, group in groups.items():
            fn = S.paper_footnotes(name)
            if name == "aplu":
                assert group in ("BIBO", "unstable") and fn == (2,)
            elif 1 in fn:
                assert group == "stable", name
            elif 3 in fn:
                assert group == "BIBO", name
            else:
                assert group == "unstable" and fn == (2,), name


def test_hardswish_is_flagged_by_float32_rounding_and_pelu_by_its_sign():
    res = AA.authors_fig1_groups(generator=0)
    hs = res["hardswish"]
    assert hs.group == "unstable" and hs.points_above_one > 0
    assert 0 < hs.max_ratio - 1 <= 2 * torch.finfo(torch.float32).eps, "one or two units of roundoff above 1"
    assert S.classify("hardswish").max_ratio == 1.0
    assert res["pelu"].group == "unstable" and math.isclose(res["pelu"].ends[0], math.expm1(6.0), rel_tol=1e-6)


def test_aplu_draws_follow_the_generator():
    a = AA.library_2020(generator=3)["aplu"](torch.tensor([-1.0, 0.3]))
    b = AA.library_2020(generator=torch.Generator().manual_seed(3))["aplu"](torch.tensor([-1.0, 0.3]))
    assert torch.equal(a, b)


def test_bad_library():
    with pytest.raises(ValueError, match="^library:"):
        AA.authors_fig1_groups({})
    with pytest.raises(ValueError, match="^library:"):
        AA.authors_fig1_groups({"x": 3})
    with pytest.raises(ValueError, match="^generator:"):
        AA.library_2020(generator=1.5)
