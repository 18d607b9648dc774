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
FENCE = re.compile(r"^```python\n(.*?)^```\n", re.S | re.M)
OUTPUT = re.compile(r"\n" + re.escape(MARKER) + r"\n\n```text[^\n]*\n(.*?)^```\n", re.S | re.M)


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
        stdout = run(m.group(1))
        block = f'\n{MARKER}\n\n```text title="{title}"\n{stdout}```\n'
        old = OUTPUT.match(text, pos)
        if old:
            pos = old.end()
        out.append(block)
    out.append(text[pos:])
    path.write_text("".join(out), encoding="utf-8")


if __name__ == "__main__":
    for name in sys.argv[1:]:
        update(Path(name))
        print("updated", name)
