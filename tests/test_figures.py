"""The figures of the docs: committed SVGs up to date, localised, and drawn from the package's numbers.

Every committed figure is compared with a fresh drawing, one test per figure
and language (so that the two test workers share the drawing); the three
explanatory diagrams are also checked for their words and numbers against the
package.
"""

import base64
import re
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.text import Text

from attention_notes.data import TOKENS, journey_inputs
from attention_notes.gqa import GroupedQueryAttention
from attention_notes.kv_cache import bottom_right_causal_mask
from attention_notes.lab.figures import FIGURES, LANGS, compact_svg, render_svg
from attention_notes.lab.figures.diagrams import ALIGNED
from attention_notes.lab.figures.weights import load_toy_weights
from attention_notes.simple_attention import simple_self_attention

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes", "docs/assets/figures")

ROOT = Path(__file__).resolve().parent.parent
FIGURE_DIR = ROOT / "docs/assets/figures"
DIAGRAMS = ("encoder-decoder", "bahdanau-step", "toy-weights", "mla-flow")


def _path(name: str, lang: str) -> Path:
    return FIGURE_DIR / (f"{name}.svg" if lang == "ja" else f"{name}.{lang}.svg")


@cache
def _figure(name: str, lang: str) -> Figure:
    load, draw, _ = FIGURES[name]
    fig = draw(load(), lang)
    fig.draw_without_rendering()  # lays out the ticks and colorbar labels
    return fig


@cache
def _svg(name: str, lang: str) -> str:
    load, draw, _ = FIGURES[name]
    return render_svg(draw(load(), lang))  # a fresh figure, like write_all: layout depends on earlier draws


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def _text(name: str, lang: str) -> dict[str, str]:
    """The words of the module that draws ``name``, in ``lang``."""
    return FIGURES[name].text[lang]


def test_every_committed_figure_is_one_the_package_draws():
    drawn = {_path(name, lang).name for name in FIGURES for lang in LANGS}
    assert {p.name for p in FIGURE_DIR.glob("*.svg")} == drawn


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_language_has_the_same_words_to_translate(name: str):
    text = FIGURES[name].text
    assert set(text) == set(LANGS)
    assert text["ja"].keys() == text["en"].keys()
    assert all(isinstance(v, str) and v.strip() for lang in LANGS for v in text[lang].values())
    assert f"{name}_alt" in text["ja"]


@pytest.mark.parametrize("name", DIAGRAMS)
def test_diagram_is_registered_with_alt_text(name: str):
    assert name in FIGURES
    alts = [_text(name, lang)[f"{name}_alt"] for lang in LANGS]
    assert all(len(alt) > 80 for alt in alts), alts
    assert alts[0] != alts[1]
    # The pages put the alt text in ![alt](...): brackets, underscores, asterisks and
    # line breaks would end it early or turn into emphasis.
    assert not [alt for alt in alts if re.search(r"[\[\]_*`\n]", alt)]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", list(FIGURES))
def test_committed_figure_is_up_to_date(name: str, lang: str):
    path = _path(name, lang)
    assert path.exists(), (
        f"{path.name} is missing: run `python -m attention_notes.lab.figures --out docs/assets/figures`"
    )
    assert path.read_text(encoding="utf-8") == _svg(name, lang), (
        f"{path.name} is stale: run `python -m attention_notes.lab.figures --out docs/assets/figures`"
    )


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")  # matplotlib writes no exponents


def _same_but_rounded(full: str, compact: str, where: str) -> None:
    """An attribute of the compact SVG: the same words, and each number within 0.005 of the full one's."""
    if full == compact:  # ids, colours, styles
        return
    assert _NUMBER.sub("#", " ".join(full.split())) == _NUMBER.sub("#", " ".join(compact.split())), where
    pairs = zip(_NUMBER.findall(full), _NUMBER.findall(compact), strict=True)
    assert all(abs(float(a) - float(b)) <= 0.005 + 1e-9 for a, b in pairs), where


# A heatmap (an embedded image), glyph outlines in both scripts, maths, arrows.
@pytest.mark.parametrize("name", ["window-mask", "bahdanau-step"])
def test_the_compact_svg_draws_what_matplotlib_wrote(name: str):
    """compact_svg keeps every element and attribute; only positions move, by 0.005 pt at most."""
    load, draw, _ = FIGURES[name]
    full = render_svg(draw(load(), "ja"), compact=False)
    compact = compact_svg(full)
    assert len(compact) < 0.9 * len(full)
    full_tree, compact_tree = ET.fromstring(full.encode()), ET.fromstring(compact.encode())
    full_elements, compact_elements = list(full_tree.iter()), list(compact_tree.iter())
    assert [e.tag for e in compact_elements] == [e.tag for e in full_elements if not _metadata(e, full_tree)]
    assert not compact_tree.findall(".//{http://www.w3.org/2000/svg}text"), "text whose spaces matter"
    kept = [e for e in full_elements if not _metadata(e, full_tree)]
    for a, b in zip(kept, compact_elements, strict=True):
        assert a.keys() == b.keys(), a.tag
        for key, value in a.items():
            if value.startswith("data:"):  # base64: the same bytes, without its line breaks
                assert base64.b64decode(value.split(",", 1)[1]) == base64.b64decode(
                    b.get(key).split(",", 1)[1]
                )
            else:
                _same_but_rounded(value, b.get(key), f"{a.tag} {key}")
        assert " ".join((a.text or "").split()) == " ".join((b.text or "").split()), a.tag


def _metadata(element: ET.Element, tree: ET.Element) -> bool:
    """Whether ``element`` is the RDF metadata block or inside it (compact_svg drops it)."""
    block = tree.find("{http://www.w3.org/2000/svg}metadata")
    return block is not None and any(element is e for e in block.iter())


@pytest.mark.parametrize("name", DIAGRAMS)
def test_both_languages_draw_the_same_picture_with_other_words(name: str):
    svgs = {lang: _path(name, lang).read_text(encoding="utf-8") for lang in LANGS}
    assert svgs["ja"] != svgs["en"]
    sizes = {
        lang: {k: ET.fromstring(svg.encode()).get(k) for k in ("width", "height")}
        for lang, svg in svgs.items()
    }
    assert sizes["ja"] == sizes["en"], sizes
    assert float(sizes["ja"]["width"].removesuffix("pt")) <= 7 * 72, "too wide to read on a phone"


@pytest.mark.parametrize("name", DIAGRAMS)
def test_every_word_is_translated(name: str):
    """A string drawn the same in both languages must be maths, a number or a word of the toy sentences."""
    ja, en = (_texts(_figure(name, lang)) for lang in LANGS)
    assert len(ja) == len(en) > 0
    diagrams = FIGURES["encoder-decoder"].text["en"]
    same_everywhere = set(TOKENS) | set(diagrams["ed_source"].split()) | set(diagrams["ed_target"].split())
    untranslated = [
        a
        for a, b in zip(ja, en, strict=True)
        if a == b
        and a not in same_everywhere
        and not (a.startswith("$") and a.endswith("$"))
        and not re.fullmatch(r"[−\-]?\d+(\.\d+)?", a)
        # maths with sizes: "$c_t$: 512", "$q_t$\n128 × 192"
        and not re.fullmatch(r"[\d\s×:,]*", re.sub(r"\$[^$]*\$", "", a))
    ]
    assert not untranslated


# The words each diagram draws, by key of its module's TEXT: its own, and those the heatmaps share.
WORDS = {
    "encoder-decoder": [k for k in FIGURES["encoder-decoder"].text["en"] if k.startswith("ed_")],
    "bahdanau-step": [k for k in FIGURES["bahdanau-step"].text["en"] if k.startswith("step_")],
    "toy-weights": ["toy_title", "key", "query", "weight"],
    # "cache" is drawn with its number filled in ("... {n} ..."): the other words, as they are.
    "mla-flow": [k for k in FIGURES["mla-flow"].text["en"] if not k.endswith("_alt") and k != "cache"],
}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", DIAGRAMS)
def test_every_word_in_text_is_drawn(name: str, lang: str):
    """A word in TEXT that the diagram does not show would be translated for nothing, or misnamed."""
    drawn = _texts(_figure(name, lang))
    text = _text(name, lang)
    for key in WORDS[name]:
        words = text[key].split() if key in ("ed_source", "ed_target") else [text[key]]
        assert all(word in drawn for word in words), (key, words)


def test_toy_weights_are_the_packages():
    example = load_toy_weights()
    _, attn_weights = simple_self_attention(journey_inputs())  # (T, T)
    assert example["tokens"] == TOKENS
    assert example["weights"] == attn_weights.tolist()
    weights = torch.tensor(example["weights"])
    assert weights.shape == (len(TOKENS), len(TOKENS))
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(len(TOKENS)))


@pytest.mark.parametrize("lang", LANGS)
def test_toy_weights_cells_show_the_weights_rounded(lang: str):
    weights = load_toy_weights()["weights"]
    ax = _figure("toy-weights", lang).axes[0]
    cells = [t.get_text() for t in ax.texts]
    assert cells == [f"{w:.2f}" for row in weights for w in row]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(TOKENS)  # rows: queries
    assert [t.get_text() for t in ax.get_xticklabels()] == list(TOKENS)  # columns: keys


@pytest.mark.parametrize("lang", LANGS)
def test_toy_weights_alt_text_quotes_the_weights(lang: str):
    weights = torch.tensor(load_toy_weights()["weights"])
    alt = _text("toy-weights", lang)["toy-weights_alt"]
    for value in (weights.min(), weights.max(), weights[1, 1], weights[1, 2], weights[0, 0]):
        assert f"{value:.2f}" in alt
    assert " ".join(TOKENS) in alt


def test_encoder_decoder_alt_text_names_what_the_thick_lines_join():
    text = FIGURES["encoder-decoder"].text
    source, target = text["en"]["ed_source"].split(), text["en"]["ed_target"].split()
    assert len(ALIGNED) == len(target) and all(0 <= j < len(source) for j in ALIGNED)
    assert len(set(ALIGNED)) == len(ALIGNED)  # one input per output, no two alike
    for i, j in enumerate(ALIGNED):
        assert f"{target[i]} with {source[j]}" in text["en"]["encoder-decoder_alt"]
        assert f"{target[i]} は {source[j]}" in text["ja"]["encoder-decoder_alt"]
    for lang in LANGS:
        assert text[lang]["ed_source"] == text["en"]["ed_source"]  # the same sentence in both pictures
        assert text[lang]["ed_target"] == text["en"]["ed_target"]
        assert text[lang]["ed_source"] in text[lang]["encoder-decoder_alt"]


# ---- the part on today's LLMs (lab/figures/llm.py) ------------------------------


def test_decode_mask_figure_draws_the_packages_masks():
    masks = FIGURES["decode-mask"].load()
    assert masks["bottom_right"] == bottom_right_causal_mask(2, 6).tolist()
    assert masks["decode"] == [[False] * 6]  # one query, the newest token: nothing blocked
    # is_causal=True's top-left mask: the first query sees key 0 only, which is the trap the figure shows.
    assert masks["top_left"][0] == [False] + [True] * 5
    assert masks["top_left"] != masks["bottom_right"]


def test_gqa_heads_figure_pairs_heads_as_the_module_does():
    grouping = FIGURES["gqa-heads"].load()
    attn = GroupedQueryAttention(d_in=3, d_out=8, num_heads=4, num_kv_groups=grouping["num_kv_groups"])
    assert grouping["interleave"] == [h // attn.group_size for h in range(attn.num_heads)]
    assert grouping["repeat"] != grouping["interleave"]


def test_rope_figure_shows_a_rotation_and_scores_that_depend_on_the_distance_only():
    data = FIGURES["rope-rotation"].load()
    pair = torch.tensor(data["pair"])  # (6, 2): one pair at positions 0..5
    torch.testing.assert_close(pair.norm(dim=-1), torch.ones(6))
    torch.testing.assert_close(torch.atan2(pair[1, 1], pair[1, 0]), torch.tensor(1.0))  # theta_0 = 1 rad
    torch.testing.assert_close(
        torch.tensor(data["scores"][0]), torch.tensor(data["scores"][20]), atol=1e-5, rtol=0
    )
