"""environment.yml (conda, Binder) and pyproject.toml (pip) list the same dependencies."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_environment_yml_matches_pyproject():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda_deps = sorted(d for d in pip_section if not d.startswith("-e"))
    assert sorted(deps) == conda_deps, (
        "pyproject.toml and environment.yml disagree: "
        f"only in pyproject {sorted(set(deps) - set(conda_deps))}, only in environment.yml "
        f"{sorted(set(conda_deps) - set(deps))}"
    )


def test_torch_is_pinned_to_the_cpu_wheel_version():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "torch==2.13.0" in deps, "an unpinned torch downloads gigabytes of CUDA packages"


def test_bibliography_parses_and_has_no_duplicate_keys():
    import re

    from pybtex.database import parse_file

    text = (ROOT / "book" / "references.bib").read_text()
    keys = re.findall(r"^@\w+\{([^,]+),", text, flags=re.M)
    assert len(keys) == len(set(keys)), f"duplicate keys: {sorted(k for k in set(keys) if keys.count(k) > 1)}"
    assert len(parse_file(str(ROOT / "book" / "references.bib")).entries) == len(keys)
