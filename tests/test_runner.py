"""The chapter runner: finding chapters, reading and converting parameters, clear errors."""

import pytest

from linear_lens import runner

FIRST = runner.chapters()[0]


def test_find_chapter_by_number_slug_and_stem():
    for key in (FIRST.number, str(int(FIRST.number)), FIRST.slug, FIRST.stem, FIRST.stem + ".md"):
        assert runner.find_chapter(key) == FIRST


def test_unknown_chapter_lists_the_available_ones():
    with pytest.raises(runner.ParameterError, match="chapter: unknown chapter '99'; available: 01"):
        runner.find_chapter("99")


def test_parameters_cell_starts_with_quick():
    params = runner.read_parameters(FIRST)
    assert list(params)[0] == "quick" and params["quick"] is False


@pytest.mark.parametrize(
    "raw, default, expected",
    [("True", False, True), ("false", True, False), ("1", False, True), ("8", 4, 8), ("-3", 0, -3),
     ("0.25", 1.0, 0.25), ("2", 1.0, 2.0), ("gelu", "tanh", "gelu"), ("1,2,3", [4], [1, 2, 3]),
     ("[0.5, 1]", [1.0], [0.5, 1]), ("a, b", ["x"], ["a", "b"])],
)
def test_coerce_follows_the_type_of_the_default(raw, default, expected):
    assert runner.coerce("p", raw, default) == expected


@pytest.mark.parametrize(
    "raw, default, message",
    [("maybe", False, "parameter p: expected True or False, got 'maybe'"),
     ("8.5", 4, "parameter p: expected an integer, got '8.5'"),
     ("abc", 1.0, "parameter p: expected a number, got 'abc'"),
     ("a,b", [1], "parameter p: expected a comma-separated list of ints")],
)
def test_coerce_rejects_bad_values(raw, default, message):
    with pytest.raises(runner.ParameterError, match=message):
        runner.coerce("p", raw, default)


def test_unknown_parameter_is_rejected_before_running(tmp_path):
    with pytest.raises(runner.ParameterError, match="parameter nope: not a parameter of chapter 01; allowed: quick"):
        runner.run_chapter("01", raw_parameters=[("nope", "1")], output_dir=tmp_path)


def test_check_helpers():
    assert runner.check_choice("activation", "relu", ["relu", "tanh"]) == "relu"
    with pytest.raises(runner.ParameterError, match="parameter activation: expected one of relu, tanh; got 'x'"):
        runner.check_choice("activation", "x", ["relu", "tanh"])
    assert runner.check_range("depth", 3, 1, 8, integer=True) == 3
    for bad in (0, 9, 2.5, True, "3"):
        with pytest.raises(runner.ParameterError, match=r"parameter depth: expected an integer in \[1, 8\]"):
            runner.check_range("depth", bad, 1, 8, integer=True)


def test_cli_reports_bad_parameters_in_one_line(capsys):
    status = runner.main(["run", "01", "-p", "depth", "many"])
    err = capsys.readouterr().err
    assert status == 2 and err.strip() == "error: parameter depth: expected an integer, got 'many'"


def test_cli_reports_a_value_the_chapter_rejects(capsys, tmp_path):
    status = runner.main(["run", "01", "-p", "activation", "swishy", "-o", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "parameter activation: expected one of" in err and "swishy" in err and "Traceback" not in err


def test_cli_list(capsys):
    assert runner.main(["list"]) == 0
    assert FIRST.slug in capsys.readouterr().out
