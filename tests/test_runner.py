"""The chapter runner: finding chapters, running them with parameters, clear errors, student versions, digests."""

import re

import pytest

from linear_lens.book import parameters, runner

FIRST = runner.chapters()[0]


def test_find_chapter_by_number_slug_and_stem():
    for key in (FIRST.number, str(int(FIRST.number)), FIRST.slug, FIRST.stem, FIRST.stem + ".md"):
        assert runner.find_chapter(key) == FIRST


def test_unknown_chapter_lists_the_available_ones():
    with pytest.raises(parameters.ParameterError, match="chapter: unknown chapter '99'; available: 01"):
        runner.find_chapter("99")


def test_unknown_parameter_is_rejected_before_running(tmp_path):
    with pytest.raises(parameters.ParameterError, match="parameter nope: not a parameter of chapter 01; allowed: quick"):
        runner.run_chapter("01", raw_parameters=[("nope", "1")], output_dir=tmp_path)


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


@pytest.mark.parametrize("name, raw, message", [
    ("seed", "-1", r"parameter seed: expected an integer in \[0, inf\]; got -1"),
    ("depth", "99", r"parameter depth: expected an integer in \[1, 32\]; got 99"),
])
def test_out_of_range_values_are_refused_before_a_kernel_starts(name, raw, message, tmp_path, monkeypatch):
    import papermill

    def no_kernel(*args, **kwargs):
        raise AssertionError("a kernel was started for a value the runner can refuse itself")

    monkeypatch.setattr(papermill, "execute_notebook", no_kernel)
    with pytest.raises(parameters.ParameterError, match=message):
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
