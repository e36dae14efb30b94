"""The chapter runner: finding chapters, reading and converting parameters, clear errors."""

import re

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
    """A value only the running chapter can refuse is reported in one line, with where the partial notebook is."""
    status = runner.main(["run", "01", "-p", "activation", "swishy", "-o", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "parameter activation: expected one of" in err and "swishy" in err and "Traceback" not in err


def test_cli_list(capsys):
    assert runner.main(["list"]) == 0
    assert FIRST.slug in capsys.readouterr().out


def test_check_range_refuses_nan_and_infinity():
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(runner.ParameterError, match="parameter t_max: expected a finite number"):
            runner.check_range("t_max", bad)


def test_check_choice_folds_case_and_separators():
    assert runner.check_choice("activation", "GELU", ["relu", "gelu"]) == "gelu"
    assert runner.check_choice("activation", "Leaky-ReLU", ["leaky_relu"]) == "leaky_relu"


def test_read_checks_finds_the_chapters_checks_without_running():
    checks = runner.read_checks(FIRST)
    assert checks["seed"] == {"kind": "range", "low": 0, "high": None, "integer": True}
    for ch in runner.chapters():
        for name, check in runner.read_checks(ch).items():
            assert name in runner.read_parameters(ch), f"{ch.stem}: checks {name}, which is not a parameter"
            assert runner.describe_check(check)


@pytest.mark.parametrize("name, raw, message", [
    ("seed", "-1", r"parameter seed: expected an integer in \[0, inf\]; got -1"),
    ("depth", "99", r"parameter depth: expected an integer in \[1, 32\]; got 99"),
])
def test_out_of_range_values_are_refused_before_a_kernel_starts(name, raw, message, tmp_path, monkeypatch):
    import papermill

    def no_kernel(*args, **kwargs):
        raise AssertionError("a kernel was started for a value the runner can refuse itself")

    monkeypatch.setattr(papermill, "execute_notebook", no_kernel)
    with pytest.raises(runner.ParameterError, match=message):
        runner.run_chapter("01", raw_parameters=[(name, raw)], output_dir=tmp_path)


def test_output_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("x")
    status = runner.main(["run", "01", "-o", str(target), "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2 and err.strip() == f"error: output: {target} is a file; give a folder (it is created if missing)"


def test_cli_list_shows_what_each_parameter_allows(capsys):
    assert runner.main(["list", "01"]) == 0
    out = capsys.readouterr().out
    assert "depth = 4: an integer in [1, 32]" in out and "True or False" in out


def test_a_failed_run_says_where_the_partly_executed_notebook_is(tmp_path):
    book = tmp_path / "notebooks"
    book.mkdir()
    (book / "99_fails.md").write_text(
        FIRST.path.read_text().split("\n---\n", 1)[0] + "\n---\n\n"
        "```{code-cell} ipython3\n:tags: [parameters]\nquick = False\n```\n\n"
        "```{code-cell} ipython3\nraise ValueError('x: broken on purpose')\n```\n"
    )
    with pytest.raises(runner.ChapterError, match="ValueError: x: broken on purpose") as info:
        runner.run_chapter("99", notebooks_dir=book, output_dir=tmp_path / "out", progress=False)
    assert "partly executed notebook" in str(info.value) and info.value.notebook.exists()


def test_a_chapter_run_twice_glues_the_same_values(tmp_path):
    """Reproducibility: the digest of the glued values is the same for two runs of a chapter (quick mode)."""
    chapter = runner.find_chapter("08")
    digests, counts = [], []
    for run in ("first", "second"):
        notebook, _ = runner.run_chapter(chapter.number, parameters={"quick": True}, output_dir=tmp_path / run,
                                         progress=False)
        counts.append(len(runner.glued_values(notebook)))
        digests.append(runner.glue_digest(notebook))
    assert counts[0] > 5, f"chapter 08 glued only {counts[0]} values"
    assert digests[0] == digests[1], f"two runs glued different values: {digests}"
    values = runner.glued_values(notebook)
    assert values.get("ch08_run_mode") == "'quick'" and re.fullmatch(r"'\d+ s'|'\d+\.\d min'", values["ch08_run_time"])


def test_environment_names_the_versions():
    env = runner.environment()
    assert env["torch"].startswith("2.13.0") and env["python"].startswith("3.")


@pytest.mark.parametrize("chapter", runner.chapters(), ids=[c.stem for c in runner.chapters()])
def test_student_version_drops_solutions_and_keeps_exercises_and_code(chapter):
    import jupytext

    student = runner.student_notebook(chapter.number)
    original = jupytext.read(chapter.path)
    text = "\n".join(c.source for c in student.cells if c.cell_type == "markdown")
    assert "solution-start" not in text and "solution-end" not in text
    labels = re.findall(r":label: (ex-[\w-]+)", chapter.path.read_text())
    assert labels, f"{chapter.stem} has no exercises"
    assert all(f":label: {lab}" in text for lab in labels), "an exercise was dropped"
    solutions_with_code = re.findall(r"\{solution-start\}.*?\{solution-end\}", chapter.path.read_text(), re.S)
    n_code_in_solutions = sum(s.count("{code-cell}") for s in solutions_with_code)
    code = [c.source for c in student.cells if c.cell_type == "code"]
    assert len(code) == sum(c.cell_type == "code" for c in original.cells) - n_code_in_solutions
