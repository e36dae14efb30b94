"""Every chapter executes under papermill in quick mode; its own asserts are part of the test."""

import json

import pytest

from linear_lens.book import parameters, runner

CHAPTERS = runner.chapters()


def test_there_are_chapters():
    assert CHAPTERS, "no chapters found in notebooks/"


# Each chapter runs twice: with the CPU's own instruction set and with MKL restricted to AVX2, which rounds
# differently on AVX-512 machines. A claim that holds under one and fails under the other depends on the last bit.
# One BLAS/OpenMP thread per kernel: the chapters' tensors are small, and on a loaded 2-core machine two threads make
# small LAPACK calls many times slower.
INSTRUCTION_SETS = {"native": {"OMP_NUM_THREADS": "1"},
                    "avx2": {"OMP_NUM_THREADS": "1", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}}


@pytest.mark.chapter
@pytest.mark.parametrize("isa", INSTRUCTION_SETS)
@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_chapter_runs_in_quick_mode(chapter, isa, tmp_path):
    try:
        notebook, figures = runner.run_chapter(
            chapter.number, parameters={"quick": True}, output_dir=tmp_path, progress=False,
            env=INSTRUCTION_SETS[isa],
        )
    except runner.ChapterError as err:
        pytest.fail(str(err), pytrace=False)
    assert notebook.exists()
    assert figures, f"chapter {chapter.number} produced no figure in quick mode"
    recorded = json.loads(notebook.with_suffix(".claims.json").read_text())
    assert recorded["claims"], f"chapter {chapter.number} recorded no claim"
    assert not recorded["overwritten"], (
        f"chapter {chapter.number}: claim ids recorded by more than one cell: {recorded['overwritten']}")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_chapter_parameters_cell(chapter):
    params = parameters.read_parameters(chapter)
    assert list(params)[0] == "quick" and params["quick"] is False


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_no_backticks_in_directive_titles(chapter):
    """A backtick fence cannot carry a backtick in its info string: such a directive renders as raw text.

    Use a colon fence (:::{prf:theorem} Title with {cite:t}`key` ... :::) instead.
    """
    bad = [
        (i, line) for i, line in enumerate(chapter.path.read_text().splitlines(), 1)
        if line.startswith("```{") and "`" in line[3:]
    ]
    assert not bad, f"{chapter.path.name}: directive titles with backticks at lines {[i for i, _ in bad]}"
