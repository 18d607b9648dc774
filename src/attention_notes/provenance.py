"""Which code a published result came from: the source of the functions that produced it, hashed.

A benchmark or a training run is a measurement of some code. When that code
changes, the result describes code the package no longer ships. The programs
that write ``results/*.json`` record :func:`source_record` of the functions
they ran (the timed functions of a benchmark, the training entry point of the
experiment), and ``tests/test_results_fresh.py`` recomputes it: a difference
names the result file to measure again.

What is hashed is the code, not its layout: each source is parsed and written
back without its docstrings and comments (``ast.unparse``), so that a comment
or a docstring edited does not make a result stale, and any change to what
runs does. The record covers each given function and every function or class
of this package it reaches, followed through the names its code uses (globals, and
attributes of the package's modules), recursively. Functions of other
libraries (torch) are not followed: their version is recorded separately.
"""

import ast
import hashlib
import inspect
import subprocess
import sys
import textwrap
import types
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["reachable_sources", "source_record"]

_PACKAGE = "attention_notes"


def _module(obj: object) -> str:
    """The module ``obj`` was defined in, by its real name also when it runs as a script (``python -m``)."""
    module = getattr(obj, "__module__", None) or ""
    if module == "__main__":
        spec = getattr(sys.modules["__main__"], "__spec__", None)
        module = spec.name if spec is not None else module
    return module


def _ours(obj: object) -> bool:
    module = _module(obj)
    return (isinstance(obj, type) or inspect.isfunction(obj)) and (
        module == _PACKAGE or module.startswith(_PACKAGE + ".")
    )


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _parts(obj: object) -> tuple[list[types.CodeType], dict, list[object]]:
    """The code objects of a function or class, the globals they see, and the classes it derives from."""
    if isinstance(obj, type):
        codes = []
        for value in vars(obj).values():
            value = getattr(value, "__func__", value)  # staticmethod, classmethod
            if isinstance(value, property):
                codes += [f.__code__ for f in (value.fget, value.fset, value.fdel) if f is not None]
            elif inspect.isfunction(value):
                codes.append(value.__code__)
        return codes, vars(sys.modules[obj.__module__]), [b for b in obj.__bases__ if _ours(b)]
    fn = inspect.unwrap(obj)
    return [fn.__code__], fn.__globals__, []


def _code_only(source: str) -> str:
    """``source`` without docstrings and comments, in one layout; as it is if it does not parse alone."""
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:  # a lambda inside an expression: its line, as written
        return source.strip()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Module)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def _name(obj: object) -> str:
    return f"{_module(obj)}.{obj.__qualname__}"


def reachable_sources(roots: Iterable[Callable]) -> dict[str, str]:
    """``{"module.qualname": code}`` of the roots and of every function or class of the package they reach.

    ``code`` is the source without docstrings and comments. Lambdas, which
    share one qualname, are named by a hash of their code.
    """
    found: dict[str, str] = {}
    todo = list(roots)
    while todo:
        obj = todo.pop()
        name = _name(obj)
        code = _code_only(inspect.getsource(obj))
        if name.endswith("<lambda>"):
            name = f"{name}:{_digest(code)[:8]}"
        if name in found:
            continue
        found[name] = code
        codes, scope, bases = _parts(obj)
        todo += bases
        names = set().union(*(_code_names(code) for code in codes))
        for used in names:
            value = scope.get(used)
            if _ours(value):
                todo.append(value)
            elif isinstance(value, types.ModuleType) and value.__name__.startswith(_PACKAGE):
                todo += [getattr(value, attr) for attr in names if _ours(getattr(value, attr, None))]
    return found


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _commit() -> str | None:
    """The checked-out commit, with "+dirty" if the package's files differ from it; None outside git."""
    src = Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=src, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "."], cwd=src, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def source_record(roots: Iterable[Callable], commit: bool = True) -> dict:
    """What a result file records about the code that produced it.

    ``{"commit": ..., "sha256": ..., "functions": {"module.qualname": sha256[:12], ...}}``:
    the commit checked out when it ran (None outside a git checkout, or with
    ``commit=False``), one hash of all the sources, and each function's own,
    so that a difference can name the function that changed.
    """
    sources = reachable_sources(roots)
    functions = {name: _digest(sources[name])[:12] for name in sorted(sources)}
    total = _digest("".join(f"{name}\n{sources[name]}\n" for name in sorted(sources)))
    return {"commit": _commit() if commit else None, "sha256": total, "functions": functions}
