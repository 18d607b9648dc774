"""What the package's command lines share: a parser that shows the defaults, and checks of ``--out``.

The command lines are ``python -m attention_notes.experiment`` (a concept) and
those of the lab, ``python -m attention_notes.lab.benchmark`` and
``python -m attention_notes.lab.figures``. Each checks where it will write
before it starts the work, so that a wrong ``--out`` costs a one-line message,
not a finished run and a traceback.

This module lives at the top level, not in :mod:`attention_notes.lab`, so that
the experiment, a concept, needs nothing from the lab.
"""

import argparse
import math
import os
import tempfile
from pathlib import Path

__all__ = ["check_out_dir", "check_out_file", "finite_positive_float", "parser"]


class _DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except for required options, which have none."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.required:
            return action.help or ""
        return super()._get_help_string(action)


def parser(module: str, description: str) -> argparse.ArgumentParser:
    """A parser whose usage line names ``python -m <module>`` and whose --help shows the defaults."""
    return argparse.ArgumentParser(
        prog=f"python -m {module}", description=description, formatter_class=_DefaultsHelpFormatter
    )


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _can_create_in(folder: Path) -> bool:
    # A real attempt: os.access says yes to root everywhere, even in /proc.
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def check_out_file(parser: argparse.ArgumentParser, out: Path) -> None:
    """Exit with a one-line usage error unless ``out`` can be written as a file."""
    if out.is_dir():
        parser.error(f"--out must be a file, got the folder {out}")
    existing = _nearest_existing(out.parent)
    if out.exists():
        try:
            with open(out, "ab"):
                pass
        except OSError as e:
            parser.error(f"--out: cannot write {out} ({e.strerror})")
    elif not existing.is_dir():
        parser.error(f"--out: cannot create {out}: {existing} is not a folder")
    elif not os.access(existing, os.W_OK | os.X_OK) or not _can_create_in(existing):
        parser.error(f"--out: cannot create {out}: {existing} is not writable")


def check_out_dir(parser: argparse.ArgumentParser, out: Path) -> None:
    """Exit with a one-line usage error unless ``out`` is, or can be made, a writable folder."""
    if out.exists() and not out.is_dir():
        parser.error(f"--out must be a folder, got the file {out}")
    existing = _nearest_existing(out)
    if not existing.is_dir():
        parser.error(f"--out: cannot create {out}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK) or not _can_create_in(existing):
        parser.error(f"--out: cannot write to {existing} (permission denied)")


def finite_positive_float(text: str) -> float:
    """argparse ``type=`` for a number that must be finite and greater than 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number greater than 0, got {text}")
    return value
