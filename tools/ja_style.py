"""The house rule for numbers in Japanese prose: a numeral is written against its counter.

JTF's style guide for Japanese translation writes 「1つ」「3次元」「29ミリ秒」, with no
space between a numeral and the counter or unit that follows it: the two are one word.
Latin words, code and maths keep a half-width space on either side (「PyTorch の」,
「`mask` を」), which this rule does not touch, and so do particles after a number
(「シード 123 で」).

    python tools/ja_style.py docs/x.md ...        # list the places
    python tools/ja_style.py --fix docs/x.md ...  # and remove the spaces

tests/test_japanese_style.py runs the same check on every Japanese page and notebook.
"""

import argparse
import json
import re
import sys
from pathlib import Path

# Counters and units that follow a numeral on the pages.
# Longer ones first, so that 「ミリ秒」 wins over 「秒」.
COUNTERS = sorted(
    """つ 個 回 行 列 番目 次元 倍 秒 ミリ秒 マイクロ秒 ナノ秒 分 時間 章 種類 通り 組
    層 件 語 単語 文字 桁 割 枚 台 段 周 位 年 月 日 度 点 節 項 文 トークン ヘッド
    ステップ コア バイト ビット エポック スレッド シード 要素 ページ 人 か所 箇所 ラジアン""".split(),
    key=len,
    reverse=True,
)
SPACED = re.compile(r"(?<![\w.,])(\d[\d,]*(?:\.\d+)?) (" + "|".join(COUNTERS) + ")")
# An ordinal prefix is part of the word too: 「第3章」.
PREFIXED = re.compile(r"(第) (\d)")

# What is not prose: inline code, maths, HTML comments.
NOT_PROSE = re.compile(r"`[^`\n]*`|\$\$.*?\$\$|\$[^$\n]*\$|<!--.*?-->", re.S)
FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})")


def _prose_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each stretch of text outside fences, inline code, maths and comments."""
    spans, pos, fence = [], 0, None
    for line in text.splitlines(keepends=True):
        m = FENCE.match(line)
        if fence is None and m:
            fence = m[1]
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        elif fence is None:
            spans.append((pos, pos + len(line)))
        pos += len(line)
    out = []
    for start, end in spans:
        cursor = start
        for skip in NOT_PROSE.finditer(text, start, end):
            out.append((cursor, skip.start()))
            cursor = skip.end()
        out.append((cursor, end))
    return out


def spaced_counters(text: str) -> list[str]:
    """Each 「numeral, space, counter」 in the prose of a Markdown text."""
    return [
        m[0] for s, e in _prose_spans(text) for rule in (SPACED, PREFIXED) for m in rule.finditer(text, s, e)
    ]


def fix(text: str) -> str:
    """The text with the space between each numeral and its counter removed (prose only)."""
    pieces, cursor = [], 0
    for s, e in _prose_spans(text):
        pieces.append(text[cursor:s])
        pieces.append(PREFIXED.sub(r"\1\2", SPACED.sub(r"\1\2", text[s:e])))
        cursor = e
    pieces.append(text[cursor:])
    return "".join(pieces)


def markdown_of(path: Path) -> list[str]:
    """A page's text, or each markdown cell's text of a notebook."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
    return [path.read_text(encoding="utf-8")]


def fix_file(path: Path) -> bool:
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        changed = False
        for cell in nb["cells"]:
            if cell["cell_type"] == "markdown":
                old = "".join(cell["source"])
                new = fix(old)
                if new != old:
                    cell["source"] = new.splitlines(keepends=True)
                    changed = True
        if changed:
            path.write_text(json.dumps(nb, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        return changed
    old = path.read_text(encoding="utf-8")
    new = fix(old)
    if new != old:
        path.write_text(new, encoding="utf-8")
    return new != old


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--fix", action="store_true", help="remove the spaces in place")
    args = parser.parse_args(argv)
    found = 0
    for path in args.paths:
        places = [p for text in markdown_of(path) for p in spaced_counters(text)]
        found += len(places)
        if places:
            print(f"{path}: {len(places)}: {', '.join(places[:8])}{' ...' if len(places) > 8 else ''}")
        if args.fix:
            fix_file(path)
    return 1 if found and not args.fix else 0


if __name__ == "__main__":
    sys.exit(main())
