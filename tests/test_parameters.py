"""A chapter's parameters: reading the parameters cell, converting command-line values, and the checks."""

import pytest

from linear_lens.book import parameters, runner

FIRST = runner.chapters()[0]


def test_parameters_cell_starts_with_quick():
    params = parameters.read_parameters(FIRST)
    assert list(params)[0] == "quick" and params["quick"] is False


@pytest.mark.parametrize(
    "raw, default, expected",
    [("True", False, True), ("false", True, False), ("1", False, True), ("8", 4, 8), ("-3", 0, -3),
     ("0.25", 1.0, 0.25), ("2", 1.0, 2.0), ("gelu", "tanh", "gelu"), ("1,2,3", [4], [1, 2, 3]),
     ("[0.5, 1]", [1.0], [0.5, 1]), ("a, b", ["x"], ["a", "b"])],
)
def test_coerce_follows_the_type_of_the_default(raw, default, expected):
    assert parameters.coerce("p", raw, default) == expected


@pytest.mark.parametrize(
    "raw, default, message",
    [("maybe", False, "parameter p: expected True or False, got 'maybe'"),
     ("8.5", 4, "parameter p: expected an integer, got '8.5'"),
     ("abc", 1.0, "parameter p: expected a number, got 'abc'"),
     ("a,b", [1], "parameter p: expected a comma-separated list of ints")],
)
def test_coerce_rejects_bad_values(raw, default, message):
    with pytest.raises(parameters.ParameterError, match=message):
        parameters.coerce("p", raw, default)


def test_check_helpers():
    assert parameters.check_choice("activation", "relu", ["relu", "tanh"]) == "relu"
    with pytest.raises(parameters.ParameterError, match="parameter activation: expected one of relu, tanh; got 'x'"):
        parameters.check_choice("activation", "x", ["relu", "tanh"])
    assert parameters.check_range("depth", 3, 1, 8, integer=True) == 3
    for bad in (0, 9, 2.5, True, "3"):
        with pytest.raises(parameters.ParameterError, match=r"parameter depth: expected an integer in \[1, 8\]"):
            parameters.check_range("depth", bad, 1, 8, integer=True)


def test_check_range_refuses_nan_and_infinity():
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(parameters.ParameterError, match="parameter t_max: expected a finite number"):
            parameters.check_range("t_max", bad)


def test_check_choice_folds_case_and_separators():
    assert parameters.check_choice("activation", "GELU", ["relu", "gelu"]) == "gelu"
    assert parameters.check_choice("activation", "Leaky-ReLU", ["leaky_relu"]) == "leaky_relu"


def test_read_checks_finds_the_chapters_checks_without_running():
    checks = parameters.read_checks(FIRST)
    assert checks["seed"] == {"kind": "range", "low": 0, "high": None, "integer": True}
    for ch in runner.chapters():
        for name, check in parameters.read_checks(ch).items():
            assert name in parameters.read_parameters(ch), f"{ch.stem}: checks {name}, which is not a parameter"
            assert parameters.describe_check(check)
