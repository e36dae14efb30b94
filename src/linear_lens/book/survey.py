r"""The robustness survey: run chapters once per seed in survey mode, in parallel on Dask, and tabulate their claims.

``python -m linear_lens survey 02 09 --seeds 0:20 [--quick] [--workers K] [--scheduler ADDRESS] [-p name value]``

Each run executes a chapter through :func:`linear_lens.book.runner.run_chapter` with its ``seed`` parameter set, in
*survey mode* (:mod:`linear_lens.book.claims`): a claim that fails is recorded and the chapter runs on. Runs are Dask
tasks: on a ``LocalCluster`` of ``K`` single-threaded worker processes by default, or on an existing cluster given by
its scheduler address (its workers need the package installed and the repository's ``notebooks/`` at the path the
package finds, see :func:`linear_lens.book.runner.chapters`). Results come back to this process, which writes

- ``<output>/runs/NN/<seed>-<hash>.json``: one run (parameters, status, error, seconds, claims) — a re-run skips the
  runs already there, so an interrupted survey resumes;
- ``<output>/survey.csv``: one row per (run, claim): chapter, seed, parameters, quick, claim id, held, verdict,
  source, values, and the run's status and error (a run that failed before its first claim gets one row with an
  empty claim id);
- ``<output>/meta.json``: when the runs were computed (``computed``: when the last of them finished; a re-run that
  executes nothing keeps it) and when the table was written (``date``), with which package version, how many runs,
  workers and wall time (``wall_seconds`` of the last call, ``total_wall_seconds`` over the calls that executed
  runs, ``run_seconds`` summed over the runs).

The table and the meta data cover every run in the folder: surveys of different chapters, or of quick and full
mode, made into one folder add up.

:func:`summary` gives, per claim, the fraction of seeds where it held; :func:`load` reads a survey back.
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

__all__ = ["Run", "plan", "run_survey", "summary", "load", "parse_seeds", "FIELDS"]

#: Columns of ``survey.csv``.
FIELDS = ("chapter", "seed", "parameters", "quick", "claim", "held", "verdict", "source", "values", "status", "error")


@dataclass(frozen=True)
class Run:
    """One execution of a chapter: its number, seed and parameters (``quick`` among them)."""

    chapter: str
    seed: int
    parameters: tuple[tuple[str, Any], ...]
    notebooks_dir: str | None = None

    @property
    def key(self) -> str:
        digest = hashlib.sha256(json.dumps([self.chapter, self.seed, list(self.parameters)]).encode()).hexdigest()
        return f"{self.seed}-{digest[:10]}"

    def path(self, output: Path) -> Path:
        return Path(output) / "runs" / self.chapter / f"{self.key}.json"


def parse_seeds(text: str) -> list[int]:
    """Seeds from ``"0:20"`` (a range, end excluded), ``"3"`` or ``"1,4,9"``; raises ``ValueError`` otherwise."""
    try:
        if ":" in text:
            lo, hi = (int(t) for t in text.split(":"))
            seeds = list(range(lo, hi))
        else:
            seeds = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ValueError(f"seeds: expected 'a:b', 'n' or 'n1,n2,...' with integers, got {text!r}") from None
    if not seeds or min(seeds) < 0:
        raise ValueError(f"seeds: expected at least one nonnegative seed, got {text!r}")
    return seeds


def plan(
    chapters: Sequence[str],
    seeds: Iterable[int],
    *,
    quick: bool = False,
    parameter_sets: Sequence[Mapping[str, Any]] = ({},),
    notebooks_dir: Path | str | None = None,
) -> list[Run]:
    """The runs of a survey: every chapter x parameter set x seed, checked against each chapter's parameters.

    ``chapters``: numbers or slugs; a chapter without a ``seed`` parameter, or a parameter a chapter does not have
    (or whose value it refuses, when that can be seen without running it), raises
    :class:`linear_lens.book.parameters.ParameterError`. ``notebooks_dir``: where the chapters are (default: the
    repository's ``notebooks/``); workers of a remote cluster must see it at the same path.
    """
    from linear_lens.book import parameters, runner

    seeds = list(seeds)
    runs = []
    for key in chapters:
        ch = runner.find_chapter(key, Path(notebooks_dir) if notebooks_dir is not None else None)
        defaults = parameters.read_parameters(ch)
        if "seed" not in defaults:
            raise parameters.ParameterError(f"chapter: {ch.number} has no seed parameter, so a survey over seeds is empty")
        checks = parameters.read_checks(ch)
        for params in parameter_sets:
            for name, value in params.items():
                if name not in defaults or name in ("seed", "quick"):
                    raise parameters.ParameterError(
                        f"parameter {name}: not a parameter of chapter {ch.number} that a survey can set")
                if name in checks and checks[name]["kind"] == "range":
                    c = checks[name]
                    parameters.check_range(name, value, c["low"], c["high"], integer=c["integer"])
            for seed in seeds:
                parameters.check_range("seed", seed, 0, integer=True)
                values = {**dict(params), "quick": bool(quick)}
                runs.append(Run(ch.number, int(seed), tuple(sorted(values.items())),
                                None if notebooks_dir is None else str(notebooks_dir)))
    return runs


def run_survey(
    runs: Sequence[Run],
    output: Path | str,
    *,
    workers: int = 2,
    scheduler: str | None = None,
    threads_per_run: int = 1,
    progress: bool = True,
) -> dict[str, Any]:
    """Execute ``runs`` on Dask (skipping those already in ``output``), write the table, return the meta data.

    ``workers``: processes of the ``LocalCluster`` (ignored with ``scheduler``); ``scheduler``: the address of an
    existing Dask scheduler (``tcp://host:8786``); ``threads_per_run``: torch/BLAS threads in each chapter's kernel.
    A run that fails is recorded with its error and does not stop the others.
    """
    from dask.distributed import Client, LocalCluster, as_completed

    from linear_lens import __version__
    from linear_lens._checks import check_positive_int
    from linear_lens.progress import progress as bar

    output = Path(output)
    workers = check_positive_int(workers, "workers")
    threads_per_run = check_positive_int(threads_per_run, "threads_per_run")
    todo = [r for r in runs if not r.path(output).exists()]
    start = time.perf_counter()
    if todo:
        cluster = None
        if scheduler is None:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=40)
            client = Client(cluster)
        else:
            client = Client(scheduler, timeout="30s")
        try:
            futures = client.map(_execute, todo, range(len(todo)), [threads_per_run] * len(todo), pure=False)
            for future in bar(as_completed(futures), desc="survey runs", total=len(futures), disable=not progress):
                result = future.result()
                path = todo[result["index"]].path(output)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(result, indent=1))
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    # The table holds every run in the folder, so that surveys of different chapters (or of quick and full mode)
    # made into one folder add up.
    paths = sorted((output / "runs").glob("*/*.json"))
    results = [json.loads(p.read_text()) for p in paths]
    finished = [r.get("finished") or _mtime(p) for r, p in zip(results, paths)]  # runs recorded before "finished": mtime
    _write_table(results, output / "survey.csv")
    previous = json.loads((output / "meta.json").read_text()) if (output / "meta.json").exists() else {}
    wall = round(time.perf_counter() - start, 1)
    meta = {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "computed": max(finished) if finished else None,
        "version": __version__,
        "runs": len(results),
        "executed": len(todo),
        "workers": workers if scheduler is None else f"scheduler {scheduler}",
        "wall_seconds": wall,
        "total_wall_seconds": round(previous.get("total_wall_seconds", 0.0) + wall, 1) if todo else
        previous.get("total_wall_seconds", wall),
        "run_seconds": round(sum(r.get("seconds", 0.0) for r in results), 1),
        "chapters": sorted({r["chapter"] for r in results}),
        "seeds": sorted({r["seed"] for r in results}),
        "failed_runs": sum(r["status"] != "ok" for r in results),
        # per chapter, the mode whose runs the summary uses (full size where the chapter was run at full size)
        "modes": {ch: "full" if any(not r["parameters"].get("quick", False) for r in results if r["chapter"] == ch)
                  else "quick" for ch in sorted({r["chapter"] for r in results})},
    }
    (output / "meta.json").write_text(json.dumps(meta, indent=1))
    return meta


def load(path: Path | str) -> list[dict[str, Any]]:
    """Read ``survey.csv`` (a file, or the folder holding it) into a list of rows with typed values."""
    path = Path(path)
    if path.is_dir():
        path = path / "survey.csv"
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["seed"] = int(row["seed"])
        row["quick"] = row["quick"] == "True"
        row["held"] = {"True": True, "False": False}.get(row["held"])
    return rows


def summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per claim id: ``{"held": k, "seeds": n, "fraction": k/n, "verdict", "source", "chapter", "quick"}``.

    A run that failed before reaching a claim counts as a seed where that claim did not hold: ``seeds`` is the
    number of runs of the claim's chapter (with the same ``quick``), not the number of times the claim was reached.
    Where a chapter was surveyed in both modes, the full-size runs speak for it and its quick runs are left out.
    """
    runs: dict[tuple[str, bool], set[int]] = {}
    for row in rows:
        runs.setdefault((row["chapter"], row["quick"]), set()).add(row["seed"])
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        if not row["claim"] or (row["quick"] and (row["chapter"], False) in runs):
            continue
        entry = out.setdefault(row["claim"], {"held": 0, "seeds": len(runs[(row["chapter"], row["quick"])]),
                                              "verdict": row["verdict"], "source": row["source"],
                                              "chapter": row["chapter"], "quick": row["quick"]})
        entry["held"] += bool(row["held"])
    for entry in out.values():
        entry["fraction"] = entry["held"] / entry["seeds"] if entry["seeds"] else float("nan")
    return out


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _execute(run: Run, index: int, threads: int) -> dict[str, Any]:
    """Run one chapter in survey mode (on a Dask worker) and return its record; never raises for a chapter error."""
    from linear_lens.book import claims, runner

    params = dict(run.parameters)
    started = time.perf_counter()
    status, error, data = "ok", None, None
    with tempfile.TemporaryDirectory(prefix=f"survey-{run.chapter}-") as tmp:
        live = Path(tmp) / "claims.live.json"
        env = {claims.ENV_MODE: "survey", claims.ENV_FILE: str(live),
               "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        try:
            notebook, _ = runner.run_chapter(run.chapter, parameters={**params, "seed": run.seed},
                                             output_dir=Path(tmp), progress=False, env=env,
                                             notebooks_dir=Path(run.notebooks_dir) if run.notebooks_dir else None)
            data = claims.extract(notebook)
        except runner.ChapterError as err:
            status, error = "error", f"{err.ename}: {err.evalue} (cell {err.cell})"
        except Exception as err:  # noqa: BLE001 - a survey records every failure and goes on
            status, error = "error", f"{type(err).__name__}: {err}"
        if data is None and live.exists():  # the chapter stopped early: keep the claims it made
            data = json.loads(live.read_text())
    return {
        "index": index,
        "chapter": run.chapter,
        "seed": run.seed,
        "parameters": params,
        "status": status,
        "error": error,
        "seconds": round(time.perf_counter() - started, 2),
        "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "claims": (data or {}).get("claims", []),
        "host": os.uname().nodename,
    }


def _mtime(path: Path) -> str:
    """When a run's file was written, as an ISO date in UTC."""
    stamp = _dt.datetime.fromtimestamp(path.stat().st_mtime, _dt.timezone.utc)
    return stamp.isoformat(timespec="seconds")


def _write_table(results: Sequence[Mapping[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        for r in sorted(results, key=lambda r: (r["chapter"], r["seed"], json.dumps(r["parameters"], sort_keys=True))):
            params = {k: v for k, v in r["parameters"].items() if k != "quick"}
            base = {"chapter": r["chapter"], "seed": r["seed"], "parameters": json.dumps(params, sort_keys=True),
                    "quick": bool(r["parameters"].get("quick", False)), "status": r["status"], "error": r["error"] or ""}
            if not r["claims"]:
                writer.writerow({**base, "claim": "", "held": "", "verdict": "", "source": "", "values": ""})
            for c in r["claims"]:
                writer.writerow({**base, "claim": c["id"], "held": bool(c["holds"]), "verdict": c["verdict"],
                                 "source": c["source"], "values": json.dumps(c.get("values", {}), sort_keys=True)})
