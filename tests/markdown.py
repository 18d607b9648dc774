"""Small, dependency-free readers for the Markdown sources of the docs.

The tests need to see the pages the way two different programs see them:
pytest-codeblocks (which decides what runs) and a plain fence scanner (which
sees every fence a reader sees). Comparing the two is how a fence that would
silently escape testing gets caught.
"""

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"

FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
HEADING = re.compile(r"^(?P<level>#{1,6})\s+(?P<text>.*?)\s*$")
ANCHOR = re.compile(r"\{#(?P<id>[A-Za-z0-9_-]+)\}$")
PY_WORDS = {"py", "python", "python3", "py3", "pycon", "ipython", "ipython3", "pytb"}


@dataclass(frozen=True)
class Fence:
    line: int
    info: str  # everything after the backticks, stripped
    body: str
    indent: str = ""  # an exercise's answer is indented inside a collapsible `???` block

    @property
    def language(self) -> str:
        """The first word of the info string, without braces or a leading dot."""
        word = self.info.strip("{} ").split(" ")[0] if self.info else ""
        return word.lstrip(".").lower()

    @property
    def looks_python(self) -> bool:
        return self.language in PY_WORDS or self.language.startswith("python")


def fences(path: Path) -> list[Fence]:
    """Every fenced block of a Markdown file, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out, i = [], 0
    while i < len(lines):
        m = FENCE_OPEN.match(lines[i])
        if not m:
            i += 1
            continue
        fence, start = m["fence"], i
        body = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][len(m["indent"]) :])
            i += 1
        out.append(Fence(start + 1, m["info"].strip(), "\n".join(body), m["indent"]))
        i += 1
    return out


def prose_lines(path: Path) -> list[str]:
    """The lines of a Markdown file outside fenced blocks."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out, fence = [], None
    for line in lines:
        m = FENCE_OPEN.match(line)
        if fence is None and m:
            fence = m["fence"]
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        elif fence is None:
            out.append(line)
    return out


def headings(path: Path) -> list[tuple[int, str, str | None]]:
    """(level, text, explicit anchor or None) for each heading outside fences."""
    out = []
    for line in prose_lines(path):
        m = HEADING.match(line)
        if m:
            a = ANCHOR.search(m["text"])
            out.append((len(m["level"]), m["text"], a["id"] if a else None))
    return out


def pages() -> list[Path]:
    """Every Markdown page of the site, both languages."""
    return sorted(DOCS.rglob("*.md"))


def ja_pages() -> list[Path]:
    return [p for p in pages() if not p.name.endswith(".en.md")]


def notebooks() -> list[Path]:
    """Every notebook of the site, both languages."""
    return sorted(DOCS.rglob("*.ipynb"))


def ja_notebooks() -> list[Path]:
    return [p for p in notebooks() if not p.name.endswith(".en.ipynb")]


def english_of(ja: Path) -> Path:
    """``x.md`` -> ``x.en.md``, ``x.ipynb`` -> ``x.en.ipynb``."""
    return ja.with_name(f"{ja.stem}.en{ja.suffix}")


def page_url(ja: Path) -> str:
    """URL path of a page relative to its language root ('' for the home page)."""
    return "" if ja.stem == "index" else f"{ja.stem}/"
