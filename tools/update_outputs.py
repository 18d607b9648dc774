"""Rewrite the expected-output block under every Python fence of a Markdown page.

    python tools/update_outputs.py docs/simplified-self-attention.md [...]

Each ```python block runs in a fresh interpreter; its stdout replaces the text
block that follows the `<!--pytest-codeblocks:expected-output-->` marker under
it (one is added when missing). Run it after changing a snippet, then read the
diff: the test suite compares these outputs, so a wrong number committed here
is a wrong number on the site.
"""

import re
import subprocess
import sys
from pathlib import Path

MARKER = "<!--pytest-codeblocks:expected-output-->"
# Fences may be indented: an exercise's answer sits inside a collapsible `???` block.
FENCE = re.compile(r"^(?P<indent>[ ]*)```python\n(?P<body>.*?)^(?P=indent)```\n", re.S | re.M)


def _output(indent: str) -> re.Pattern:
    i = re.escape(indent)
    return re.compile(rf"\n{i}{re.escape(MARKER)}\n\n{i}```text[^\n]*\n(.*?)^{i}```\n", re.S | re.M)


def _dedent(body: str, indent: str) -> str:
    return "".join(line.removeprefix(indent) for line in body.splitlines(keepends=True))


def _indent(stdout: str, indent: str) -> str:
    # Blank lines of the output keep the indent too: pytest-codeblocks drops an
    # unindented blank line from an indented block.
    return "".join(indent + line for line in stdout.splitlines(keepends=True))


def run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"snippet failed:\n{code}\n{done.stderr}")
    return done.stdout


def update(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    title = "出力" if not path.name.endswith(".en.md") else "Output"
    out, pos = [], 0
    for m in FENCE.finditer(text):
        out.append(text[pos : m.end()])
        pos = m.end()
        indent = m["indent"]
        stdout = run(_dedent(m["body"], indent))
        i = indent
        block = f'\n{i}{MARKER}\n\n{i}```text title="{title}"\n{_indent(stdout, i)}{i}```\n'
        old = _output(indent).match(text, pos)
        if old:
            pos = old.end()
        out.append(block)
    out.append(text[pos:])
    path.write_text("".join(out), encoding="utf-8")


if __name__ == "__main__":
    for name in sys.argv[1:]:
        update(Path(name))
        print("updated", name)
