"""Every docstring of the package is clean text: no control characters, no line broken by an escape.

A docstring written without the ``r`` prefix turns ``\\a``, ``\\t``, ``\\r``, ``\\b``, ``\\f``, ``\\v`` of TeX commands
(``\\approx``, ``\\tfrac``, ``\\rVert``, ...) into control characters, and an editor may turn a carriage return into a
line break. The first shows up as a control character in ``__doc__``; the second as a continuation line of a function's
docstring that starts in column 0, where every other line of the docstring is indented.
"""

import importlib
import inspect
import pkgutil

import pytest

import linear_lens

MODULES = sorted(m.name for m in pkgutil.iter_modules(linear_lens.__path__))


def _documented(module):
    """(qualified name, object, is the module itself) for the module and its own functions, classes and methods."""
    yield module.__name__, module, True
    for name, obj in vars(module).items():
        if not (inspect.isfunction(obj) or inspect.isclass(obj)) or getattr(obj, "__module__", None) != module.__name__:
            continue
        yield f"{module.__name__}.{name}", obj, False
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                target = member.__func__ if isinstance(member, (staticmethod, classmethod)) else member
                if isinstance(target, property):
                    yield f"{module.__name__}.{name}.{attr}", target, False
                elif inspect.isfunction(target) and target.__module__ == module.__name__:
                    yield f"{module.__name__}.{name}.{attr}", target, False


def _control(text: str) -> list[str]:
    return sorted({f"U+{ord(c):04X}" for c in text if (ord(c) < 32 and c != "\n") or ord(c) == 127})


@pytest.mark.parametrize("module_name", MODULES)
def test_docstrings_have_no_control_characters(module_name):
    module = importlib.import_module(f"linear_lens.{module_name}")
    bad = {name: _control(obj.__doc__) for name, obj, _ in _documented(module) if obj.__doc__ and _control(obj.__doc__)}
    assert not bad, f"control characters in docstrings (use r-strings): {bad}"


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_lines_are_not_broken(module_name):
    module = importlib.import_module(f"linear_lens.{module_name}")
    broken = {}
    for name, obj, is_module in _documented(module):
        doc = obj.__doc__
        if is_module or not doc or "\n" not in doc.strip():
            continue
        lines = doc.split("\n")[1:]
        unindented = [line for line in lines if line and not line[0].isspace()]
        if unindented:
            broken[name] = unindented[:2]
    assert not broken, f"docstring lines starting in column 0 (an escape turned into a line break?): {broken}"


@pytest.mark.parametrize("module_name", MODULES)
def test_source_files_have_no_control_bytes(module_name):
    module = importlib.import_module(f"linear_lens.{module_name}")
    text = inspect.getsource(module)
    bad = [(i, _control(line)) for i, line in enumerate(text.split("\n"), 1) if _control(line)]
    assert not bad, f"control characters in the source of {module.__name__} (line, characters): {bad[:5]}"
