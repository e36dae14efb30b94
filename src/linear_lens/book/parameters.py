"""A chapter's parameters: reading its ``parameters`` cell, converting command-line values, and checking them.

Every chapter ``notebooks/NN_slug.md`` has one code cell tagged ``parameters`` whose first line is ``quick = False``;
its other lines are simple assignments ``name = literal`` (:func:`read_parameters`). A value given on the command line
is converted to the type of its default (:func:`coerce`). Right after that cell a chapter checks its values with
:func:`check_choice` and :func:`check_range`, which refuse a bad value with one line naming the parameter and what is
allowed; :func:`read_checks` reads those checks from the source without running it, so that the runner
(:mod:`linear_lens.book.runner`) and the survey (:mod:`linear_lens.book.survey`) refuse a bad value before a kernel starts.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, Sequence

__all__ = [
    "ParameterError",
    "read_parameters",
    "read_checks",
    "describe_check",
    "describe_default",
    "coerce",
    "check_choice",
    "check_range",
]


class ParameterError(ValueError):
    """A parameter name or value that a chapter does not accept."""


def read_parameters(chapter) -> dict[str, Any]:
    """Return the defaults of the chapter's ``parameters`` cell, in order, as Python values.

    ``chapter``: a :class:`linear_lens.book.runner.Chapter` or the path of a chapter's source (``notebooks/NN_slug.md``).
    Raises ``ValueError`` if the chapter has no such cell, more than one, a first line other than
    ``quick = False`` (or ``quick = True``, in the quick copy the test suite builds), or a line that is not
    ``name = literal``.
    """
    import jupytext

    path = Path(getattr(chapter, "path", chapter))
    nb = jupytext.read(path)
    cells = [c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"{path.name}: expected exactly one cell tagged 'parameters', found {len(cells)}")
    source = cells[0].source
    lines = [ln for ln in source.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    if not lines or lines[0].split("#")[0].replace(" ", "") not in ("quick=False", "quick=True"):
        raise ValueError(f"{path.name}: the parameters cell must start with 'quick = False'")
    values: dict[str, Any] = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            raise ValueError(f"{path.name}: the parameters cell may only hold 'name = literal' lines")
        try:
            values[node.targets[0].id] = ast.literal_eval(node.value)
        except ValueError as err:
            raise ValueError(f"{path.name}: parameter {node.targets[0].id} must be a literal") from err
    return values


def read_checks(chapter) -> dict[str, dict[str, Any]]:
    """Return the value checks a chapter makes on its parameters, read from its source without running it.

    ``chapter`` as in :func:`read_parameters`.
    Finds the calls ``check_range("name", name, low, high, integer=...)`` and ``check_choice("name", name, choices)``
    whose arguments are literals (or, for choices, a call such as ``activations.names()`` of the package), and
    returns ``{name: {"kind": "range", "low", "high", "integer"}}`` or ``{name: {"kind": "choice", "choices"}}``.
    The runner checks values against them before it starts a kernel; the chapter checks them again when it runs.
    """
    import jupytext

    path = Path(getattr(chapter, "path", chapter))
    found: dict[str, dict[str, Any]] = {}
    for cell in jupytext.read(path).cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            check = _static_check(node)
            if check is not None:
                found.setdefault(check.pop("name"), check)
    return found


def describe_check(check: dict[str, Any]) -> str:
    """One phrase saying what a check of :func:`read_checks` allows: ``an integer in [1, 32]``, ``one of a, b``."""
    if check["kind"] == "choice":
        return "one of " + ", ".join(map(str, check["choices"]))
    low = "-inf" if check["low"] is None else check["low"]
    high = "inf" if check["high"] is None else check["high"]
    return f"{'an integer' if check['integer'] else 'a number'} in [{low}, {high}]"


def coerce(name: str, raw: str, default: Any) -> Any:
    """Convert the command-line string ``raw`` for parameter ``name`` to the type of its ``default``.

    Raises :class:`ParameterError` naming the parameter and the expected type.
    """
    text = raw.strip()
    try:
        if isinstance(default, bool):
            lowered = text.lower()
            if lowered in ("true", "1", "yes", "on"):
                return True
            if lowered in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, str):
            return text
        if isinstance(default, (list, tuple)):
            if text.startswith(("[", "(")):
                value = ast.literal_eval(text)
            else:
                value = [ast.literal_eval(t.strip()) if _is_literal(t) else t.strip() for t in text.split(",") if t]
            if default and not all(isinstance(v, type(default[0])) or _numeric_match(v, default[0]) for v in value):
                raise ValueError
            return type(default)(value)
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        kind = _describe_type(default)
        raise ParameterError(f"parameter {name}: expected {kind}, got {raw!r}") from None


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> Any:
    """Return the choice ``value`` names, else raise :class:`ParameterError` listing ``choices``.

    Strings match ignoring case, ``-`` and ``_`` (``"GELU"``, ``"leaky-relu"``), as the package's own lookups do;
    the canonical spelling from ``choices`` is returned.
    """
    for choice in choices:
        if value == choice or (isinstance(value, str) and isinstance(choice, str) and _fold(value) == _fold(choice)):
            return choice
    raise ParameterError(f"parameter {name}: expected one of {', '.join(map(str, choices))}; got {value!r}")


def check_range(name: str, value: Any, low: float | None = None, high: float | None = None, integer: bool = False):
    """Return ``value`` if it is a finite number (an integer if ``integer``) in ``[low, high]``, else raise.

    NaN and infinities are refused whatever the bounds.
    """
    import math
    import numbers

    kind = "an integer" if integer else "a finite number"
    ok = isinstance(value, numbers.Integral if integer else numbers.Real) and not isinstance(value, bool)
    if ok and not math.isfinite(value):
        ok = False
    if ok and low is not None and value < low:
        ok = False
    if ok and high is not None and value > high:
        ok = False
    if not ok:
        bounds = f" in [{'-inf' if low is None else low}, {'inf' if high is None else high}]"
        raise ParameterError(f"parameter {name}: expected {kind}{bounds}; got {value!r}")
    return value


def describe_default(default: Any) -> str:
    """What a parameter with this default accepts on the command line, when the chapter checks nothing more."""
    if isinstance(default, bool):
        return "True or False (also yes/no, on/off, 1/0)"
    return _describe_type(default)


# ---------------------------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------------------------


def _fold(text: str) -> str:
    return text.lower().replace("-", "").replace("_", "")


def _static_check(node: ast.AST) -> dict[str, Any] | None:
    """The check a ``check_range``/``check_choice`` call makes, if its arguments can be read without running."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        return None
    if node.func.id not in ("check_range", "check_choice") or len(node.args) < 2:
        return None
    first, second = node.args[0], node.args[1]
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
        return None
    if not (isinstance(second, ast.Name) and second.id == first.value):  # checks a derived value, e.g. len(lams)
        return None
    try:
        if node.func.id == "check_choice":
            return {"name": first.value, "kind": "choice", "choices": list(_static_value(node.args[2]))}
        args = [_static_value(a) for a in node.args[2:4]]
        kw = {k.arg: _static_value(k.value) for k in node.keywords}
        low = args[0] if len(args) > 0 else kw.get("low")
        high = args[1] if len(args) > 1 else kw.get("high")
        return {"name": first.value, "kind": "range", "low": low, "high": high, "integer": bool(kw.get("integer", False))}
    except (ValueError, IndexError, ImportError, AttributeError, TypeError):
        return None


def _static_value(node: ast.AST) -> Any:
    """A literal, or the result of a call ``module.function()`` of :mod:`linear_lens` without arguments."""
    try:
        return ast.literal_eval(node)
    except ValueError:
        pass
    if (isinstance(node, ast.Call) and not node.args and not node.keywords and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)):
        import importlib

        module = importlib.import_module(f"linear_lens.{node.func.value.id}")
        return getattr(module, node.func.attr)()
    raise ValueError("not a static value")


def _is_literal(text: str) -> bool:
    try:
        ast.literal_eval(text.strip())
        return True
    except (ValueError, SyntaxError):
        return False


def _numeric_match(value: Any, example: Any) -> bool:
    return isinstance(example, float) and isinstance(value, int) and not isinstance(value, bool)


def _describe_type(default: Any) -> str:
    if isinstance(default, bool):
        return "True or False"
    if isinstance(default, int):
        return "an integer"
    if isinstance(default, float):
        return "a number"
    if isinstance(default, (list, tuple)):
        inner = type(default[0]).__name__ if default else "value"
        return f"a comma-separated list of {inner}s"
    return f"a Python literal like {default!r}"
