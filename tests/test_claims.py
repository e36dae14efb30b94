"""Claims as data: raising and recording, validation, and ids unique across the book."""

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from linear_lens.book import claims
from linear_lens.book.claims import claim

ROOT = Path(__file__).resolve().parents[1]
META = {"source": "Drgona et al., eq. (10)", "says": "rho(AB) <= rho(A) rho(B)", "verdict": "refuted"}


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.delenv(claims.ENV_MODE, raising=False)
    claims.begin("02", parameters={"seed": 0}, seed=0)


def test_a_failed_claim_raises_like_assert():
    with pytest.raises(AssertionError, match="eq. 10 should fail"):
        claim("ch02.x", False, "eq. 10 should fail", **META)
    assert claims.records()[0]["holds"] is False


def test_survey_mode_records_and_goes_on(monkeypatch):
    monkeypatch.setenv(claims.ENV_MODE, "survey")
    assert claim("ch02.x", torch.tensor(False), "fails", **META) is False
    assert claim("ch02.y", np.bool_(True), "holds", values={"v": torch.tensor([1.0, float("inf")])}, **META)
    data = claims.report(display=False)
    assert data["survey"] and [c["holds"] for c in data["claims"]] == [False, True]
    assert data["claims"][1]["values"] == {"v": [1.0, "inf"]}
    assert data["parameters"] == {"seed": 0} and data["chapter"] == "02"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"id": "02.x"}, "id: expected 'chNN.slug'"),
        ({"id": "ch03.x"}, "does not belong to chapter 02"),
        ({"verdict": "true"}, "verdict: expected one of"),
        ({"source": ""}, "source: claim"),
        ({"says": None}, "says: claim"),
        ({"holds": torch.tensor([True, False])}, "holds: .* 2 elements"),
        ({"holds": "yes please", "message": ""}, "message: expected"),
    ],
)
def test_bad_claims_are_refused(kwargs, match):
    args = {"id": "ch02.x", "holds": True, "message": "m", **META, **kwargs}
    with pytest.raises(ValueError, match=match):
        claim(args.pop("id"), args.pop("holds"), args.pop("message"), **args)


def test_begin_validates_the_chapter():
    with pytest.raises(ValueError, match="chapter: expected two digits"):
        claims.begin("2")


def test_literal_claim_ids_are_unique_across_the_book():
    pattern = re.compile(r"""claim\(\s*["'](ch\d\d\.[^"']+)["']""")
    ids = [m for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md")) for m in pattern.findall(path.read_text())]
    dupes = [i for i, n in Counter(ids).items() if n > 1]
    assert not dupes, f"claim ids used more than once: {dupes}"
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md")):
        prefix = f"ch{path.name[:2]}."
        wrong = [i for i in pattern.findall(path.read_text()) if not i.startswith(prefix)]
        assert not wrong, f"{path.name}: claim ids of another chapter: {wrong}"


def test_erratum_takes_one_id_or_several():
    claim("ch02.one", True, "m", erratum="E02.1", **META)
    claim("ch02.two", True, "m", erratum=["E09.1", "E09.3"], **META)
    got = {c["id"]: c["erratum"] for c in claims.records()}
    assert got == {"ch02.one": "E02.1", "ch02.two": ["E09.1", "E09.3"]}
    with pytest.raises(ValueError, match="erratum: expected an id"):
        claim("ch02.bad", True, "m", erratum="errata 2.1", **META)


def test_errata_cited_by_claims_exist_on_the_errata_page():
    errata = (ROOT / "book" / "errata.md").read_text()
    listed = set(re.findall(r"^\| (E\d\d\.\d+) \|", errata, flags=re.M))
    cited = set()
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md")):
        for group in re.findall(r"erratum=(\[[^\]]*\]|\"[^\"]*\"|'[^']*')", path.read_text()):
            cited |= set(re.findall(r"E\d\d\.\d+", group))
    assert not cited - listed, f"claims cite errata that book/errata.md does not list: {sorted(cited - listed)}"


def test_errata_rows_have_five_cells():
    """A '|' inside maths splits a Markdown table cell: write absolute values as \\lvert x\\rvert in tables."""
    bad = []
    for i, line in enumerate((ROOT / "book" / "errata.md").read_text().splitlines(), 1):
        if line.startswith("| E"):
            pipes = len(re.findall(r"(?<!\\)\|", line))
            if pipes != 6:
                bad.append(f"line {i}: {pipes - 1} cells: {line[:60]}")
    assert not bad, "errata rows with a '|' in a cell:\n" + "\n".join(bad)


# Glued names that look like times but are not measured: parameters and ratios of computed quantities.
NOT_MEASURED = {"ch09_train_time", "ch10_flow_speedup", "ch12_n_times", "ch16_speed_ratio"}


def test_measured_times_are_glued_under_names_the_digest_skips():
    """A measured time differs from run to run: glued under another name it would change the chapter's
    reproducibility digest on every build. Every glued name (a literal, or a literal joined to the chapter's prefix)
    that speaks of time, seconds or speed is either skipped by the digest or known not to be measured."""
    word = re.compile(r"""["']((?:ch\d\d_)?[a-z0-9_]*(?:time|seconds|speed)[a-z0-9_]*)["']""")
    offending = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md")):
        prefix = f"ch{path.name[:2]}_"
        text = path.read_text()
        uses_clock = "perf_counter" in text or "time.time(" in text or ".timings" in text or ".seconds" in text
        for token in set(word.findall(text)):
            name = token if token.startswith(prefix) else prefix + token
            if not (name in NOT_MEASURED or claims.UNREPRODUCIBLE_GLUE.match(name)):
                if token.startswith(prefix) or uses_clock and f'("{token}"' in text:
                    offending.append(name)
    assert not offending, f"glued names that may hold measured times but enter the digest: {sorted(offending)}"
    assert claims.UNREPRODUCIBLE_GLUE.match("ch07_time_total") and claims.UNREPRODUCIBLE_GLUE.match("ch17_sweep_seconds")
    assert not claims.UNREPRODUCIBLE_GLUE.match("ch16_speed_ratio")


def test_a_corrected_claim_names_the_seed_it_corrects():
    with pytest.raises(ValueError, match="source: claim ch02.fixed is a corrected statement"):
        claim("ch02.fixed", True, "m", source="this book", says="the corrected bound", verdict="corrected")
    claim("ch02.fixed", True, "m", source="Drgoňa et al., Theorem 6 (corrected)", says="the bound", verdict="corrected")
    claim("ch02.own", True, "m", source="this book", says="a result of the book", verdict="beyond")


def test_an_id_recorded_by_another_cell_is_reported(monkeypatch):
    """Re-running one cell re-records its ids; a second cell recording an id again is listed, not silently merged."""
    cells = iter([("/tmp/ipykernel_1/aaa.py", 3, 1), ("/tmp/ipykernel_1/aaa.py", 3, 2),   # one cell, run twice
                  ("/tmp/ipykernel_1/bbb.py", 7, 3)])                                       # another cell, same id
    monkeypatch.setattr(claims, "_caller", lambda: next(cells))
    claim("ch02.shared", True, "m", **META)
    claim("ch02.shared", True, "m", **META)
    assert claims.report(display=False)["overwritten"] == []
    claim("ch02.shared", True, "m", **META)
    data = claims.report(display=False)
    assert data["overwritten"] == ["ch02.shared"] and "recorded by more than one cell: ch02.shared" in claims._plain(data)
