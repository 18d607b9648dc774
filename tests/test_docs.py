"""The docs are code too: every snippet runs, and both languages say the same thing.

pytest-codeblocks runs the snippets (see pyproject.toml). These tests make sure
it actually sees all of them, that each one is checked against an expected
output, and that the Japanese and English pages cannot drift apart.
"""

import io
import re
import tokenize
from pathlib import Path

import pytest
from pytest_codeblocks import extract_from_file

from tests.markdown import (
    README,
    ROOT,
    english_of,
    fences,
    headings,
    ja_pages,
    pages,
    prose_lines,
)

MARKDOWN = [*pages(), README]
IDS = [str(p.relative_to(ROOT)) for p in MARKDOWN]
JA = ja_pages()
JA_IDS = [p.stem for p in JA]


def test_there_are_pages_in_both_languages():
    assert len(JA) >= 4
    for ja in JA:
        assert english_of(ja).exists(), f"{ja.name} has no English version"
    for page in pages():
        if page.name.endswith(".en.md"):
            assert page.with_name(page.name[: -len(".en.md")] + ".md").exists()


@pytest.mark.parametrize("path", MARKDOWN, ids=IDS)
def test_every_python_fence_is_collected(path: Path):
    """A ```py, ```python title=..., ```python linenums=... or ~~~python fence is
    silently skipped by pytest-codeblocks. Only a bare ```python runs."""
    odd = [f"line {f.line}: {f.info!r}" for f in fences(path) if f.looks_python and f.info != "python"]
    assert not odd, f"{path.name}: Python fences pytest-codeblocks would skip: {odd}"
    odd = [f.line for f in fences(path) if f.info == "python" and not f.body.strip()]
    assert not odd, f"{path.name}: empty Python fences at lines {odd}"

    seen = sum(f.info == "python" for f in fences(path))
    collected = [b for b in extract_from_file(path) if b.syntax == "python"]
    # A python fence swallowed as another block's expected output or joined
    # with `cont` would make these differ.
    assert len(collected) == seen


def test_every_block_of_every_page_runs_once(request: pytest.FixtureRequest):
    """pytest-codeblocks runs every Python block of the Japanese pages and the README, and no
    English page: their blocks are the Japanese pages' (the test below), run once, not twice."""
    from tests.conftest import COLLECTED_BLOCKS

    args = {Path(a).resolve() for a in request.config.args}
    if not {ROOT / "docs", README} <= args:
        pytest.skip("the docs are not collected in this run (`make test` collects them)")
    want = {
        (path, block.lineno)
        for path in [*JA, README]
        for block in extract_from_file(path)
        if block.syntax == "python"
    }
    assert len(want) >= 60
    assert request.config.stash[COLLECTED_BLOCKS] == want


def _tokens(code: str) -> list[tuple[int, str]]:
    """Python's tokens of ``code``, without the blank lines' (which change nothing it does)."""
    readline = io.StringIO(code if code.endswith("\n") else code + "\n").readline
    return [(t.type, t.string) for t in tokenize.generate_tokens(readline) if t.type != tokenize.NL]


@pytest.mark.parametrize("path", MARKDOWN, ids=IDS)
def test_what_runs_is_what_the_page_shows_token_for_token(path: Path):
    """pytest-codeblocks drops the blank lines of an indented fence (an exercise's answer) before
    running it; a reader copies them. Blank lines between statements change nothing, but one inside a
    string would: the two must be the same program, token for token (a string is one token)."""
    shown = [f.body for f in fences(path) if f.info == "python"]
    ran = [b.code for b in extract_from_file(path) if b.syntax == "python"]
    assert len(shown) == len(ran)
    for i, (a, b) in enumerate(zip(shown, ran, strict=True)):
        assert _tokens(a) == _tokens(b), f"{path.name}: Python block {i + 1} runs other code than it shows"


def test_the_token_comparison_would_catch_a_changed_string():
    assert _tokens("x = 1\n\ny = 2\n") == _tokens("x = 1\ny = 2\n")
    assert _tokens('s = """a\n\nb"""\n') != _tokens('s = """a\nb"""\n')


@pytest.mark.parametrize("path", MARKDOWN, ids=IDS)
def test_every_python_block_stands_alone_and_is_checked(path: Path):
    for block in extract_from_file(path):
        if block.syntax != "python":
            continue
        where = f"{path.name}, block at line {block.lineno}"
        assert block.expected_output, f"{where}: no expected output follows it"
        assert not block.marks and block.importorskip is None, f"{where}: skipped or marked"
        assert re.search(r"^from attention_notes(\.\w+)? import", block.code, re.M), (
            f"{where}: does not use the package"
        )
        if re.search(r"torch\.(rand|randn|randint|randperm|normal)\b|nn\.(Linear|Embedding)", block.code):
            assert "torch.manual_seed(" in block.code, f"{where}: random without its own seed"


@pytest.mark.parametrize("path", MARKDOWN, ids=IDS)
def test_no_executed_shell_fences(path: Path):
    """sh/bash fences are executed by pytest-codeblocks; commands for the reader
    are written as `console` so that `make serve` is not run by the tests."""
    shell = [f.line for f in fences(path) if f.language in {"sh", "bash", "shell", "zsh"}]
    assert not shell, f"{path.name}: shell fences at lines {shell}; use ```console"


@pytest.mark.parametrize("ja", JA, ids=JA_IDS)
def test_both_languages_have_the_same_code_and_outputs(ja: Path):
    en = english_of(ja)

    def code(path: Path) -> list[tuple[str, str]]:
        # The expected-output fence carries a translated title; compare the language only.
        return [(f.language, f.body) for f in fences(path)]

    assert code(ja) == code(en)
    blocks = [(b.code, b.expected_output) for b in extract_from_file(ja)]
    assert blocks == [(b.code, b.expected_output) for b in extract_from_file(en)]


@pytest.mark.parametrize("ja", JA, ids=JA_IDS)
def test_both_languages_have_the_same_anchors(ja: Path):
    en = english_of(ja)
    for path in (ja, en):
        missing = [text for _, text, anchor in headings(path) if anchor is None]
        assert not missing, f"{path.name}: headings without an explicit {{#anchor}}: {missing}"
    assert [(lv, a) for lv, _, a in headings(ja)] == [(lv, a) for lv, _, a in headings(en)]


def _targets(path: Path, pattern: str) -> list[str]:
    text = "\n".join(prose_lines(path))
    return sorted(re.findall(pattern, text))


@pytest.mark.parametrize("ja", JA, ids=JA_IDS)
def test_both_languages_link_to_the_same_places_and_show_the_same_figures(ja: Path):
    en = english_of(ja)
    images = r"!\[[^\]]*\]\(([^)\s]+)"
    links = r"(?<!!)\[[^\]]*\]\(([^)\s]+)"
    assert _targets(ja, images) == _targets(en, images)
    assert _targets(ja, links) == _targets(en, links)


@pytest.mark.parametrize("ja", JA, ids=JA_IDS)
def test_both_languages_have_the_same_display_maths(ja: Path):
    def maths(path: Path) -> list[str]:
        text = "\n".join(prose_lines(path))
        return [m.strip() for m in re.findall(r"^\s*\$\$\n(.*?)\n\s*\$\$$", text, re.S | re.M)]

    assert maths(ja) == maths(english_of(ja))


# ---- glossary -----------------------------------------------------------------


def _table(path: Path) -> list[list[str]]:
    rows = [line for line in prose_lines(path) if line.startswith("|")]
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    return [r for r in cells[2:]]  # drop the header and the |---| line


GLOSSARY_JA = Path(__file__).resolve().parent.parent / "docs" / "glossary.md"


def test_glossary_pairs_match_in_both_languages():
    ja_pairs = {(row[1], row[0]) for row in _table(GLOSSARY_JA)}
    en_pairs = {(row[0], row[1]) for row in _table(english_of(GLOSSARY_JA))}
    assert ja_pairs == en_pairs
    assert len(ja_pairs) >= 20


def _avoided_variants() -> dict[str, str]:
    avoided = {}
    for row in _table(GLOSSARY_JA):
        for variant in filter(None, (v.strip() for v in row[-1].split("、"))):
            avoided[variant] = row[0]
    return avoided


PROPER_NOUNS = ("Attention Notes", "FlashAttention")


def _japanese_prose(path: Path) -> str:
    text = "\n".join(prose_lines(path))
    text = re.sub(r"`[^`]*`", " ", text)  # inline code
    text = re.sub(r"\$[^$]*\$", " ", text)  # inline and display maths
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    # Titles of papers and books (in *italics*, on the references page) keep their own words.
    text = re.sub(r"(?<![*\w])\*(?!\*)(?:[^*\n]|\n(?!\n))+\*(?![*\w])", " ", text)
    for name in PROPER_NOUNS:  # names stay as they are
        text = text.replace(name, " ")
    return text


@pytest.mark.parametrize("ja", [p for p in JA if p != GLOSSARY_JA], ids=lambda p: p.stem)
def test_japanese_pages_use_the_glossary_terms(ja: Path):
    prose = _japanese_prose(ja)
    found = {v: term for v, term in _avoided_variants().items() if v in prose}
    assert not found, f"{ja.name}: use the glossary's term instead: {found}"


def test_glossary_check_would_catch_a_variant(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text(
        "Attentionの重みを計算します。`Attention` in code and *Attention Is All You Need* are fine.\n",
        encoding="utf-8",
    )
    prose = _japanese_prose(page)
    assert "Attention" in prose and prose.count("Attention") == 1
    assert "Attention" in _avoided_variants()


# The house rules of the glossary's usage notes (glossary.md#usage) that a fixed phrase reveals:
# the phrase as the notes write it, and the pattern that finds it. 重み行列 is a parameter's
# right name, so 訓練可能な重み行列 is fine where a bare 訓練可能な重み is not.
FORBIDDEN_PHRASES = {
    "アテンションを向け": r"アテンションを向け",
    "訓練可能な重み": r"訓練可能な重み(?!行列)",
    "射影の重み": r"射影の重み(?!行列)",
    "私たち": r"私たち",
}
EXPLORER_HOOK = ROOT / "hooks" / "explorer.py"


def _forbidden_phrases(text: str) -> dict[str, list[str]]:
    """Each forbidden phrase found in text, with the passages around it."""
    found = {}
    for phrase, pattern in FORBIDDEN_PHRASES.items():
        passages = [text[max(m.start() - 12, 0) : m.end() + 12] for m in re.finditer(pattern, text)]
        if passages:
            found[phrase] = passages
    return found


def _usage_notes(path: Path) -> str:
    text = "\n".join(prose_lines(path))
    start = text.index("{#usage}")
    end = text.find("\n## ", start)
    return text[start : end if end != -1 else len(text)]


@pytest.mark.parametrize("page", [GLOSSARY_JA, english_of(GLOSSARY_JA)], ids=lambda p: p.name)
def test_usage_notes_record_every_forbidden_phrase(page: Path):
    notes = _usage_notes(page)
    assert [phrase for phrase in FORBIDDEN_PHRASES if phrase not in notes] == []


@pytest.mark.parametrize("ja", [p for p in JA if p != GLOSSARY_JA], ids=lambda p: p.stem)
def test_japanese_pages_follow_the_usage_notes(ja: Path):
    found = _forbidden_phrases(_japanese_prose(ja))
    assert not found, f"{ja.name}: see the glossary's usage notes (glossary.md#usage): {found}"


def test_explorer_texts_follow_the_usage_notes():
    # The explorer's titles and labels are Japanese prose too, written in the hook.
    strings = [
        token.string
        for token in tokenize.generate_tokens(io.StringIO(EXPLORER_HOOK.read_text(encoding="utf-8")).readline)
        if token.type == tokenize.STRING
    ]
    found = _forbidden_phrases("\n".join(strings))
    assert not found, f"hooks/explorer.py: see the glossary's usage notes (glossary.md#usage): {found}"


def test_usage_check_would_catch_a_forbidden_phrase(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text(
        "私たちのマシンで、射影の重みと訓練可能な重みを更新し、前のトークンにアテンションを向けます。\n\n"
        "訓練可能な重み行列と射影の重み行列、`射影の重み` のようなコードは構いません。\n",
        encoding="utf-8",
    )
    found = _forbidden_phrases(_japanese_prose(page))
    assert set(found) == set(FORBIDDEN_PHRASES)
    assert all(len(passages) == 1 for passages in found.values())


# ---- exercises ------------------------------------------------------------------

NOT_CHAPTERS = {"index", "glossary", "references"}
CHAPTERS = [p for p in JA if p.stem not in NOT_CHAPTERS]
ANSWER = {"ja": '??? success "解答"', "en": '??? success "Answer"'}


def _exercises(path: Path, lang: str) -> list[tuple[str, bool]]:
    """(anchor, has a collapsed answer) of each exercise of a page, in order."""
    lines = prose_lines(path)
    out, in_section = [], False
    for i, line in enumerate(lines):
        if line.startswith("## "):
            in_section = line.endswith("{#exercises}")
        elif in_section and line.startswith("### "):
            anchor = line.rsplit("{#", 1)[-1].rstrip("}")
            rest = lines[i + 1 :]
            end = next((k for k, other in enumerate(rest) if other.startswith("#")), len(rest))
            out.append((anchor, ANSWER[lang] in rest[:end]))
    return out


@pytest.mark.parametrize("ja", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_has_exercises_with_collapsed_answers(ja: Path):
    for path, lang in ((ja, "ja"), (english_of(ja), "en")):
        found = _exercises(path, lang)
        assert 2 <= len(found) <= 4, f"{path.name}: {len(found)} exercises, want 2 to 4"
        assert all(anchor.startswith("exercise-") for anchor, _ in found), f"{path.name}: {found}"
        assert all(answered for _, answered in found), f"{path.name}: an exercise without {ANSWER[lang]}"


def test_the_exercise_check_would_catch_a_missing_answer(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text(
        '## 練習問題 {#exercises}\n\n### 問題 1 {#exercise-a}\n\n??? success "解答"\n\n    x\n\n'
        "### 問題 2 {#exercise-b}\n\n答えなし\n",
        encoding="utf-8",
    )
    assert _exercises(page, "ja") == [("exercise-a", True), ("exercise-b", False)]


# pytest-codeblocks runs every block of a worker in one interpreter, so a block
# that changes how torch prints changes what the blocks after it print there,
# while a reader's fresh interpreter would show what the page shows.
GLOBAL_SETTINGS = re.compile(r"\btorch\.(set_printoptions|set_default_dtype)\(")


@pytest.mark.parametrize("path", MARKDOWN, ids=IDS)
def test_no_block_changes_how_torch_prints_for_the_blocks_after_it(path: Path):
    found = [f.line for f in fences(path) if f.info == "python" and GLOBAL_SETTINGS.search(f.body)]
    assert not found, f"{path.name}: blocks at lines {found} change torch's global settings"
