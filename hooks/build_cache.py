"""On-disk caches for the build hooks, under ``.cache/`` beside ``mkdocs.yml``.

Not a hook itself: the hooks import it (``hooks/maths.py``, ``hooks/explorer.py``,
``hooks/notebooks.py``). A warm ``make site`` or ``make serve`` rebuild then
redoes only the work whose inputs changed, and writes the same bytes as a
build with an empty cache.

Rules every cache here follows:

- **An entry's name is its key**: the SHA-256 of everything that decides its
  content (:func:`key`). An entry is never updated in place; when an input
  changes, the key changes and a new entry is written beside the old one.
  ``make clean`` removes ``.cache`` and with it the stale entries.
- **Only results are cached, never failures**: a formula KaTeX rejects, say,
  writes nothing, so the next build fails the same way.
- **Writes are atomic**: the text goes to a temporary file in the entry's
  folder, which :func:`os.replace` then renames to the entry's name. Two builds
  running at once (the tests build the site and the offline bundle in
  parallel workers) may both write an entry; a reader sees either no entry or
  a whole one, never half of one.
"""

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


def key(*parts: bytes | str | int | bool | None) -> str:
    """The SHA-256 (hex) of ``parts``, each framed by its length, so that no two lists of parts collide
    by running together ("ab", "c" and "a", "bc" give different keys)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else repr(part).encode()
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def files_key(root: Path, paths: Iterable[Path]) -> str:
    """The key of some files' names (relative to ``root``) and bytes, in sorted order."""
    parts: list[bytes | str] = []
    for path in sorted(paths):
        parts += [path.relative_to(root).as_posix(), path.read_bytes()]
    return key(*parts)


class Cache:
    """A folder of entries, each a UTF-8 text file named by its key."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def for_site(cls, config, name: str) -> "Cache":
        """The cache ``name`` of the site ``config`` describes: ``.cache/<name>`` beside its mkdocs.yml."""
        return cls(Path(config.config_file_path).resolve().parent / ".cache" / name)

    def _path(self, entry: str) -> Path:
        return self.folder / entry[:2] / entry

    def read(self, entry: str) -> str | None:
        """The entry's text, or None if it has not been written."""
        try:
            return self._path(entry).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def write(self, entry: str, text: str) -> None:
        """Write the entry: a temporary file first, then renamed, so no reader sees half of it."""
        path = self._path(entry)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{entry[:16]}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                f.write(text)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
