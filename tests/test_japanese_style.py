"""Japanese prose writes a numeral against its counter: 「1つ」, not 「1 つ」 (tools/ja_style.py says why)."""

from pathlib import Path

import pytest

from tests.markdown import ja_notebooks, ja_pages
from tools.ja_style import fix, markdown_of, spaced_counters

JAPANESE = ja_pages() + ja_notebooks()


@pytest.mark.parametrize("path", JAPANESE, ids=lambda p: p.name)
def test_numerals_are_written_against_their_counters(path: Path):
    places = [p for text in markdown_of(path) for p in spaced_counters(text)]
    assert not places, (
        f"{path.name}: write these without the space (python tools/ja_style.py --fix): {places}"
    )


def test_the_counter_check_reads_prose_only():
    text = (
        "トークンは 6 個、次元は 3 次元で、2.5 秒かかります。シード 123 で 1 回。第 3 章、1 か所。\n"
        "`x[1 つ]` と $3 次元$ と <!-- 4 つ --> はそのまま。\n"
        "```python\nprint('1 つ')\n```\n"
    )
    assert spaced_counters(text) == ["6 個", "3 次元", "2.5 秒", "1 回", "3 章", "1 か所", "第 3"]
    fixed = fix(text)
    assert "6個" in fixed and "3次元" in fixed and "2.5秒" in fixed and "1回" in fixed and "第3章" in fixed
    assert "シード 123 で" in fixed  # a particle after a numeral keeps its space
    assert (
        "`x[1 つ]`" in fixed and "$3 次元$" in fixed and "<!-- 4 つ -->" in fixed and "print('1 つ')" in fixed
    )
    assert spaced_counters(fixed) == []
