"""The robustness survey on Dask: a LocalCluster, a scheduler started on localhost, resuming, the table."""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from linear_lens.book import parameters, survey
from linear_lens.book.runner import chapters as survey_chapters

ROOT = Path(__file__).resolve().parents[1]
HEADER = (ROOT / "notebooks").glob("[0-9][0-9]_*.md").__next__().read_text().split("\n---\n", 1)[0] + "\n---\n\n"
# A chapter whose first claim holds for even seeds only and whose second always holds; odd seeds >= 3 crash after
# the first claim, so the survey must record a failed claim, a failed run with the claims it made, and go on.
CHAPTER = HEADER + """```{code-cell} ipython3
:tags: [parameters]
quick = False
seed = 0
scale = 1.0
```

```{code-cell} ipython3
from linear_lens.book import claims
from linear_lens.book.claims import claim
from linear_lens.book.parameters import check_range
check_range("scale", scale, 0.5, 2.0)
claims.begin("99", parameters={"seed": seed, "scale": scale}, seed=seed)
claim("ch99.even", seed % 2 == 0, f"seed {seed} is odd", source="Nobody, eq. (1)", says="every seed is even",
      verdict="refuted", values={"seed": seed, "scale": scale})
if seed % 2 and seed >= 3:
    raise RuntimeError("odd seed, broken on purpose")
claim("ch99.always", True, "never fails", source="this book", says="a claim that always holds", verdict="beyond")
```

```{code-cell} ipython3
claims.report()
```
"""


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("book") / "notebooks"
    folder.mkdir()
    (folder / "99_synthetic.md").write_text(CHAPTER)
    return folder


def test_plan_checks_the_parameters(notebooks):
    runs = survey.plan(["99"], range(3), quick=True, parameter_sets=[{"scale": 1.0}, {"scale": 2.0}],
                       notebooks_dir=notebooks)
    assert len(runs) == 6 and len({r.key for r in runs}) == 6
    with pytest.raises(parameters.ParameterError, match=r"parameter scale: expected a finite number in \[0.5, 2.0\]"):
        survey.plan(["99"], [0], parameter_sets=[{"scale": 9.0}], notebooks_dir=notebooks)
    with pytest.raises(parameters.ParameterError, match="parameter nope: not a parameter of chapter 99"):
        survey.plan(["99"], [0], parameter_sets=[{"nope": 1}], notebooks_dir=notebooks)
    with pytest.raises(ValueError, match="seeds: expected"):
        survey.parse_seeds("a:b")
    assert survey.parse_seeds("0:3") == [0, 1, 2] and survey.parse_seeds("4,7") == [4, 7]


def test_local_cluster_survey_records_failures_and_resumes(notebooks, tmp_path):
    runs = survey.plan(["99"], [0, 1, 3], quick=True, notebooks_dir=notebooks)
    meta = survey.run_survey(runs, tmp_path, workers=2, progress=False)
    assert meta["runs"] == 3 and meta["executed"] == 3 and meta["failed_runs"] == 1
    finished = [json.loads(p.read_text())["finished"] for p in (tmp_path / "runs").glob("*/*.json")]
    assert meta["computed"] == max(finished) <= meta["date"], "computed: when the last run finished"
    rows = survey.load(tmp_path)
    by = {(r["seed"], r["claim"]): r for r in rows}
    assert by[(0, "ch99.even")]["held"] is True and by[(1, "ch99.even")]["held"] is False
    assert by[(3, "ch99.even")]["status"] == "error" and "broken on purpose" in by[(3, "ch99.even")]["error"]
    assert (3, "ch99.always") not in by, "a crashed run keeps only the claims made before the crash"
    assert json.loads(by[(1, "ch99.even")]["values"]) == {"scale": 1.0, "seed": 1}
    s = survey.summary(rows)
    assert (s["ch99.even"]["held"], s["ch99.even"]["seeds"]) == (1, 3)
    assert (s["ch99.always"]["held"], s["ch99.always"]["seeds"]) == (2, 3)
    again = survey.run_survey(runs, tmp_path, workers=2, progress=False)
    assert again["executed"] == 0, "a re-run must skip what is already computed"
    assert again["computed"] == meta["computed"], "a re-run that executes nothing keeps the date of the computation"


def test_survey_against_a_scheduler_address(notebooks, tmp_path):
    scheduler_file = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--dashboard-address", ":0", "--scheduler-file", str(scheduler_file)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(300):
            if scheduler_file.exists() and scheduler_file.stat().st_size > 0:
                break
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                                       "--nworkers", "1", "--no-dashboard"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        runs = survey.plan(["99"], [0, 2], quick=True, notebooks_dir=notebooks)
        meta = survey.run_survey(runs, tmp_path / "out", scheduler=address, progress=False)
        assert meta["workers"] == f"scheduler {address}" and meta["failed_runs"] == 0
        assert all(r["held"] for r in survey.load(tmp_path / "out"))
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(timeout=30)


def test_summary_prefers_full_size_runs_of_a_chapter():
    def row(chapter, seed, quick, held):
        return {"chapter": chapter, "seed": seed, "quick": quick, "claim": f"ch{chapter}.c", "held": held,
                "verdict": "confirmed", "source": "s"}

    rows = [row("01", s, True, False) for s in range(3)] + [row("01", s, False, True) for s in range(2)]
    rows += [row("02", s, True, s > 0) for s in range(4)]
    s = survey.summary(rows)
    assert (s["ch01.c"]["held"], s["ch01.c"]["seeds"], s["ch01.c"]["quick"]) == (2, 2, False)
    assert (s["ch02.c"]["held"], s["ch02.c"]["seeds"], s["ch02.c"]["quick"]) == (3, 4, True)


@pytest.mark.chapter
def test_a_real_chapter_surveyed_over_two_seeds(tmp_path):
    """Chapter 01 in quick mode for seeds 0 and 1 on a LocalCluster of 2 workers: one row per seed and claim."""
    chapter = next(c for c in survey_chapters() if c.number == "01")
    runs = survey.plan(["01"], [0, 1], quick=True)
    meta = survey.run_survey(runs, tmp_path, workers=2, progress=False)
    assert meta["runs"] == 2 and meta["executed"] == 2 and meta["failed_runs"] == 0 and meta["modes"] == {"01": "quick"}
    rows = survey.load(tmp_path)
    ids = {r["claim"] for r in rows}
    literal = set(re.findall(r"""claim\(\s*["'](ch01\.[^"']+)["']""", chapter.path.read_text()))
    assert literal <= ids, f"claims of chapter 01 missing from the table: {sorted(literal - ids)}"
    for seed in (0, 1):
        mine = [r for r in rows if r["seed"] == seed]
        assert {r["claim"] for r in mine} == ids, f"seed {seed} recorded other claims than the other seed"
        assert all(r["quick"] and r["status"] == "ok" and r["source"] and r["verdict"] for r in mine)
    summary = survey.summary(rows)
    assert all(entry["seeds"] == 2 for entry in summary.values())
    assert sorted(summary) == sorted(ids)
