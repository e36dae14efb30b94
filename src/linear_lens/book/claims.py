r"""Claims as data: every checked claim of a chapter, with its source, its verdict and the numbers behind it.

A chapter checks what it says with :func:`claim` instead of a bare ``assert``::

    claims.begin("02", parameters={"seed": seed, "quick": quick}, seed=seed)
    claim("ch02.eq10-counterexample", bool(violations > 0),
          f"eq. (10) should fail for some pair, found {violations}",
          source="Drgoňa et al., eq. (10)", says="rho(AB) <= rho(A) rho(B)", verdict="refuted",
          erratum="E02.1", values={"violations": violations})
    ...
    claims.report()   # the chapter's last cell: a summary table, and the claims as data for the ledger

- In a normal run :func:`claim` raises ``AssertionError(message)`` when ``holds`` is false, exactly like ``assert``:
  a wrong result still fails the build.
- In *survey mode* (environment variable ``LINEAR_LENS_CLAIMS=survey``, set by ``python -m linear_lens survey``) it
  records the outcome and lets the chapter run on.

Each claim has a stable id ``chNN.slug`` (lower case, digits, ``-``, ``.``), unique across the book; ``verdict`` says
what the check establishes about the seed: ``confirmed`` (the seed's statement holds), ``refuted`` (it does not),
``corrected`` (the book's corrected statement holds), ``beyond`` (a result of the book's own). ``source`` names the seed
and the place ("Drgoňa et al., Theorem 6", "Anguita, eq. (3.49)"); ``says`` is a short phrase of what the seed says
(or, for ``beyond``, what the book adds); ``erratum`` the errata entry (``"E02.1"``, or a list of ids) where there is one.

:func:`report` displays the chapter's claims and embeds them, as JSON under the MIME type :data:`MIME_TYPE`, in the
executed notebook. The runner writes them next to the executed notebook (``<chapter>.claims.json``,
:func:`extract`), and the book's ledger page (``book/claims.md``) is generated from them at build time.
"""

from __future__ import annotations

import html
import inspect
import json
import math
import numbers
import os
import re
import time
from typing import Any, Mapping, Sequence

__all__ = [
    "VERDICTS",
    "MIME_TYPE",
    "ENV_MODE",
    "ENV_FILE",
    "begin",
    "claim",
    "records",
    "report",
    "survey_mode",
    "extract",
    "to_jsonable",
]

#: What a check can establish about a seed's statement.
VERDICTS = ("confirmed", "refuted", "corrected", "beyond")
#: MIME type under which :func:`report` embeds the claims in the executed notebook.
MIME_TYPE = "application/vnd.linear-lens.claims+json"
#: Environment variable selecting the mode: ``survey`` records failed claims instead of raising.
ENV_MODE = "LINEAR_LENS_CLAIMS"
#: Environment variable naming a file that every :func:`claim` rewrites with the claims so far (the runner sets it,
#: so that a chapter that stops early still leaves the claims it made).
ENV_FILE = "LINEAR_LENS_CLAIMS_FILE"

_ID = re.compile(r"^ch\d\d\.[a-z0-9][a-z0-9.\-]*$")
_STATE: dict[str, Any] = {"chapter": None, "parameters": {}, "seed": None, "records": {}, "where": {}, "overwritten": []}

#: Glued names that differ from run to run by design, the measured times: the reproducibility digest skips them.
#: A chapter glues a time it measures as ``chNN_run_time``, ``chNN_time_<what>``, ``chNN_<what>_seconds`` or, for a
#: ratio of measured times, ``chNN_speedup`` (``tests/test_claims.py`` checks the chapters keep to it).
UNREPRODUCIBLE_GLUE = re.compile(r"^ch\d\d_(run_time|time_[a-z0-9_]+|[a-z0-9_]+_seconds|speedup)$")


def survey_mode() -> bool:
    """Whether failed claims are recorded instead of raised (``LINEAR_LENS_CLAIMS=survey``)."""
    return os.environ.get(ENV_MODE, "").strip().lower() == "survey"


def begin(chapter: str, *, parameters: Mapping[str, Any] | None = None, seed: int | None = None) -> None:
    """Start a chapter's record: forget earlier claims, note the chapter number, its parameters and its seed.

    ``chapter``: two digits (``"02"``); ``parameters``: the values of the chapter's parameters cell; ``seed``: the
    seed of its random draws (``None`` if it draws nothing). Every claim id must then start with ``ch<chapter>.``.
    """
    if not (isinstance(chapter, str) and re.fullmatch(r"\d\d", chapter)):
        raise ValueError(f"chapter: expected two digits such as '02', got {chapter!r}")
    _STATE.update(chapter=chapter, parameters=to_jsonable(dict(parameters or {})), seed=seed, records={}, where={},
                  overwritten=[], started=time.perf_counter())


def claim(
    id: str,
    holds,
    message: str,
    *,
    source: str,
    says: str,
    verdict: str,
    erratum: str | Sequence[str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> bool:
    """Check a claim: raise ``AssertionError(message)`` if ``holds`` is false (record it instead in survey mode).

    ``id``: ``chNN.slug``, unique in the book; ``holds``: a truth value (Python, NumPy or a one-element tensor);
    ``message``: what failed, with the numbers; ``source``, ``says``, ``verdict`` (one of :data:`VERDICTS`),
    ``erratum``, ``values`` (numbers behind the verdict: floats, ints, bools, strings, short lists): see the module
    docstring; ``source``, ``says`` and ``verdict`` are required. Returns ``bool(holds)``.

    Raises ``ValueError`` for a malformed id, an id of another chapter than :func:`begin` named, an id recorded
    twice in one run of a cell, an unknown verdict, an empty ``source``, ``says`` or ``message``, or a ``corrected``
    verdict whose source is "this book" (a corrected statement names the seed's place it corrects). An id that
    another cell recorded before is listed under ``overwritten`` by :func:`report` (the test suite refuses it).
    """
    if not isinstance(id, str) or not _ID.match(id):
        raise ValueError(f"id: expected 'chNN.slug' (lower case, digits, '-', '.'), got {id!r}")
    chapter = _STATE["chapter"]
    if chapter is not None and not id.startswith(f"ch{chapter}."):
        raise ValueError(f"id: {id!r} does not belong to chapter {chapter} (expected the prefix 'ch{chapter}.')")
    if verdict not in VERDICTS:
        raise ValueError(f"verdict: expected one of {', '.join(VERDICTS)}, got {verdict!r}")
    for name, text in (("source", source), ("says", says)):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{name}: claim {id} needs a non-empty string")
    if verdict == "corrected" and source.strip().lower() == "this book":
        raise ValueError(f"source: claim {id} is a corrected statement of a seed's; name the seed's place it corrects")
    if not isinstance(message, str) or not message:
        raise ValueError("message: expected a non-empty string saying what failed")
    errata = [erratum] if isinstance(erratum, str) else list(erratum or [])
    if not all(isinstance(e, str) and re.fullmatch(r"E\d\d\.\d+", e) for e in errata):
        raise ValueError(f"erratum: expected an id such as 'E02.1' or a list of them, got {erratum!r}")
    ok = _truth(holds, id)
    where = _caller()
    previous = _STATE["where"].get(id)
    # Re-running a cell in an interactive session re-records its claims; one run of one cell must not record an id
    # twice (a loop whose ids do not name the loop variable), and outside IPython neither may two lines.
    if previous is not None and (previous[2] == where[2] if where[2] is not None else previous[:2] != where[:2]):
        raise ValueError(f"id: {id!r} was recorded twice in one run; claim ids must be unique (name the loop variable)")
    if previous is not None and where[2] is not None and previous[0] != where[0] and id not in _STATE["overwritten"]:
        _STATE["overwritten"].append(id)  # another cell (or an edited one) recorded this id: listed by report()
    _STATE["where"][id] = where
    _STATE["records"][id] = {
        "id": id,
        "holds": ok,
        "message": message,
        "source": source,
        "says": says,
        "verdict": verdict,
        "erratum": errata[0] if len(errata) == 1 else (errata or None),
        "values": to_jsonable(dict(values or {})),
        "cell": where[2],
    }
    live = os.environ.get(ENV_FILE)
    if live:
        with open(live, "w", encoding="utf-8") as fh:
            json.dump(_data(), fh)
    if not ok and not survey_mode():
        raise AssertionError(message)
    return ok


def records() -> list[dict[str, Any]]:
    """The claims recorded since :func:`begin`, in the order they were first made."""
    return [dict(r) for r in _STATE["records"].values()]


def report(display: bool = True) -> dict[str, Any]:
    """Summarise the chapter's claims; display a table and embed the claims as JSON (:data:`MIME_TYPE`).

    With ``display``, also glue the chapter's run time since :func:`begin` and its mode, as ``chNN_run_time``
    (e.g. ``"41 s"``, ``"3.2 min"``) and ``chNN_run_mode`` (``"quick"`` or ``"full"``), for its overview box; the
    reproducibility digest leaves them out (:data:`UNREPRODUCIBLE_GLUE`).

    Returns ``{"chapter", "parameters", "seed", "survey", "claims"}``. In a normal run every claim held (else the
    chapter stopped at the first that did not); in survey mode the table shows which did not.
    """
    data = _data()
    if display:
        _glue_run_time()
        from IPython.display import display as _display

        _display({MIME_TYPE: data, "text/html": _html(data), "text/plain": _plain(data)}, raw=True)
    return data


def extract(notebook) -> dict[str, Any] | None:
    """Return the claims a chapter's :func:`report` embedded in an executed notebook (a path or an nbformat node).

    ``None`` if the notebook holds no report (a chapter that stopped before its last cell).
    """
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4) if not hasattr(notebook, "cells") else notebook
    for cell in reversed(nb.cells):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if MIME_TYPE in data:
                value = data[MIME_TYPE]
                return json.loads(value) if isinstance(value, str) else dict(value)
    return None


def to_jsonable(value: Any) -> Any:
    """Convert numbers, tensors and arrays (small ones) to JSON-friendly Python values; non-finite floats to strings."""
    try:
        import torch

        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().tolist()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        v = float(value)
        return v if math.isfinite(v) else repr(v)
    return str(value)


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _data() -> dict[str, Any]:
    return {
        "chapter": _STATE["chapter"],
        "parameters": _STATE["parameters"],
        "seed": _STATE["seed"],
        "survey": survey_mode(),
        "claims": records(),
        # ids recorded by more than one cell: in a run from top to bottom, two claims sharing an id (the later one
        # replaced the earlier); in an interactive session also a cell edited and run again
        "overwritten": list(_STATE.get("overwritten", [])),
    }


def _truth(holds, id: str) -> bool:
    size = holds.numel() if hasattr(holds, "numel") else getattr(holds, "size", 1)
    if isinstance(size, int) and size != 1:
        raise ValueError(f"holds: claim {id} got an array of {size} elements; reduce it (.all(), .any())")
    try:
        return bool(holds)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"holds: claim {id} needs a truth value, got {type(holds).__name__}") from err


def _caller() -> tuple[str, int, int | None]:
    """(file, line) of the chapter code calling :func:`claim`, and the IPython execution count if any."""
    frame = inspect.currentframe()
    outer = frame.f_back.f_back if frame is not None and frame.f_back is not None else None
    where = (outer.f_code.co_filename, outer.f_lineno) if outer is not None else ("?", 0)
    count = None
    try:
        from IPython import get_ipython

        shell = get_ipython()
        count = shell.execution_count if shell is not None else None
    except ImportError:  # pragma: no cover
        pass
    return where[0], where[1], count


def _plain(data: Mapping[str, Any]) -> str:
    claims = data["claims"]
    held = sum(c["holds"] for c in claims)
    counts = {v: sum(c["verdict"] == v for c in claims) for v in VERDICTS}
    parts = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    text = f"{len(claims)} claims checked, {held} held" + (f" ({parts})" if parts else "")
    if data.get("overwritten"):
        text += f"; ids recorded by more than one cell: {', '.join(data['overwritten'])}"
    return text


def _html(data: Mapping[str, Any]) -> str:
    rows = []
    for c in data["claims"]:
        mark = "held" if c["holds"] else "<strong>failed</strong>"
        rows.append(
            "<tr>" + "".join(f"<td>{x}</td>" for x in (
                f"<code>{html.escape(c['id'])}</code>",
                html.escape(c["source"] or ""),
                html.escape(c["verdict"]),
                mark,
            )) + "</tr>"
        )
    head = "<tr><th>claim</th><th>source</th><th>verdict</th><th>outcome</th></tr>"
    return (f"<p>{html.escape(_plain(data))}.</p>"
            f"<table class='claims-summary'><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>")


def _glue_run_time() -> None:
    started, chapter = _STATE.get("started"), _STATE["chapter"]
    if started is None or chapter is None:
        return
    try:
        from myst_nb import glue
    except ImportError:  # outside a notebook build
        return
    seconds = time.perf_counter() - started
    text = f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"
    glue(f"ch{chapter}_run_time", text, display=False)
    glue(f"ch{chapter}_run_mode", "quick" if _STATE["parameters"].get("quick") else "full", display=False)
