"""The figures of the docs: a registry of how each is made, and the command line that draws them all.

    python -m attention_notes.lab.figures --out docs/assets/figures

writes one SVG per figure and language: ``name.svg`` (Japanese, the site's
default) and ``name.en.svg`` (English; mkdocs-static-i18n serves it on the
English pages under the same name). A test redraws them and compares, so a
committed figure cannot fall behind the code or the data.

Each family of figures has its own module, which carries the words it draws,
and every figure's alt text, in both languages (its ``TEXT``):

- :mod:`~attention_notes.lab.figures.charts`: measured results, the
  experiment's accuracy and alignment and the benchmark's timings;
- :mod:`~attention_notes.lab.figures.weights`: heatmaps of attention weights
  on the toy sentence (simplified, causal with its mask, per head);
- :mod:`~attention_notes.lab.figures.llm`: the part on today's LLMs (the
  decode step's mask, generation's time with and without the cache, grouped
  heads, RoPE's rotation);
- :mod:`~attention_notes.lab.figures.tiling`: the FlashAttention page's peak
  memory and time of explicit attention, the tiled loop and SDPA;
- :mod:`~attention_notes.lab.figures.window`: the sliding-window page (the
  window's mask, decoding with and without a window);
- :mod:`~attention_notes.lab.figures.latent`: multi-head latent attention's data flow and cache;
- :mod:`~attention_notes.lab.figures.memory`: the KV cache of published models against the
  context length, from :mod:`attention_notes.kv_memory` (the memory page);
- :mod:`~attention_notes.lab.figures.diagrams`: the schematic encoder-decoder
  and Bahdanau diagrams, which draw no data;
- :mod:`~attention_notes.lab.figures.style`: the look they share.

Text is stored as glyph outlines, so the SVGs look the same everywhere without
any font; the Japanese glyphs come from IPAexGothic (matplotlib-fontja).
"""

import base64
import html
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from matplotlib import rc_context
from matplotlib.figure import Figure

from attention_notes import cli
from attention_notes.experiment import load_results
from attention_notes.lab.figures import charts, diagrams, latent, llm, memory, tiling, weights, window
from attention_notes.lab.figures.style import STYLE
from attention_notes.performance import load_attention_memory, load_benchmark

__all__ = ["FIGURES", "LANGS", "Recipe", "compact_svg", "embed", "render_png", "render_svg", "write_all"]

LANGS = ("ja", "en")  # the site's languages; Japanese is the default


class Recipe(NamedTuple):
    """How one figure is made: load its data, draw it in a language, label it with its module's words."""

    load: Callable[[], object]
    draw: Callable[[object, str], Figure]
    text: dict[str, dict[str, str]]  # language -> key -> words; the alt text is "<name>_alt"


def _no_data() -> None:
    return None  # a diagram draws no data


FIGURES: dict[str, Recipe] = {
    "accuracy": Recipe(load_results, charts.plot_accuracy, charts.TEXT),
    "alignment": Recipe(
        load_results, lambda results, lang: charts.plot_alignment(results["example"], lang), charts.TEXT
    ),
    "performance": Recipe(load_benchmark, charts.plot_performance, charts.TEXT),
    "causal-mask": Recipe(weights.load_causal_example, weights.plot_causal_mask, weights.TEXT),
    "head-weights": Recipe(weights.load_head_weights, weights.plot_head_weights, weights.TEXT),
    "encoder-decoder": Recipe(_no_data, diagrams.plot_encoder_decoder, diagrams.TEXT),
    "bahdanau-step": Recipe(_no_data, diagrams.plot_bahdanau_step, diagrams.TEXT),
    "toy-weights": Recipe(weights.load_toy_weights, weights.plot_toy_weights, weights.TEXT),
    "decode-mask": Recipe(llm.load_decode_masks, llm.plot_decode_mask, llm.TEXT),
    "generation-time": Recipe(llm.load_generation, llm.plot_generation_time, llm.TEXT),
    "gqa-heads": Recipe(llm.load_gqa_grouping, llm.plot_gqa_heads, llm.TEXT),
    "rope-rotation": Recipe(llm.load_rope_rotation, llm.plot_rope_rotation, llm.TEXT),
    "attention-memory": Recipe(load_attention_memory, tiling.plot_attention_memory, tiling.TEXT),
    "window-mask": Recipe(window.load_window_masks, window.plot_window_mask, window.TEXT),
    "window-decoding": Recipe(window.load_window_decoding, window.plot_window_decoding, window.TEXT),
    "mla-flow": Recipe(latent.load_mla_sizes, latent.plot_mla_flow, latent.TEXT),
    "kv-memory": Recipe(memory.load_memory_curves, memory.plot_kv_memory, memory.TEXT),
}


def render_svg(fig: Figure, compact: bool = True) -> str:
    """The figure as SVG text, without a date so that the same figure gives the same bytes.

    ``compact`` (the default, what the site serves): :func:`compact_svg`'s
    smaller text for the same drawing.
    """
    buffer = io.StringIO()
    with rc_context(STYLE):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return compact_svg(buffer.getvalue()) if compact else buffer.getvalue()


# A number with more than two decimals; an embedded image's base64 data URI.
_LONG_DECIMAL = re.compile(r"-?\d+\.\d{3,}")
_DATA_URI = re.compile(r'href="data:[^"]*"')
# Where the numbers are positions in points: path data and translations (not
# scales, such as a glyph's 0.015625, nor an image's matrix).
_POSITIONS = re.compile(r'(\bd="|translate\()([^")]*)')


def _two_decimals(match: re.Match) -> str:
    text = f"{float(match.group()):.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _positions(match: re.Match) -> str:
    return match.group(1) + " ".join(_LONG_DECIMAL.sub(_two_decimals, match.group(2)).split())


def compact_svg(svg: str) -> str:
    """matplotlib's SVG, a sixth smaller and drawn the same: the same elements and attributes.

    - the RDF metadata block (it names the matplotlib version, nothing the page shows) goes;
    - positions (path data, translations) are rounded to 0.01 pt, a 7200th of
      an inch; scales and other numbers are kept as they are;
    - the line breaks and indentation between elements and inside path data go,
      and those inside embedded images' base64 (a decoder skips them). The text
      is drawn as glyph outlines (``svg.fonttype: path``): there is no
      ``<text>`` whose spaces could matter (a test checks).
    """
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)
    svg = _DATA_URI.sub(lambda m: re.sub(r"\s+", "", m.group()), svg)
    svg = _POSITIONS.sub(_positions, svg)
    return re.sub(r">\s+<", "><", svg)


def render_png(fig: Figure, dpi: int = 110, colors: int = 64) -> bytes:
    """The figure as a palette PNG: a chart needs few colours, and so weighs a few tens of KB.

    No timestamp or software tag is written, so the same figure gives the same bytes.
    """
    from PIL import Image

    buffer = io.BytesIO()
    with rc_context(STYLE):
        fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB").quantize(colors=colors)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def embed(name: str, results: dict, lang: str = "ja"):
    """Show a figure in a notebook as an image with alt text in ``lang``.

    Returns an ``IPython.display.HTML`` object with the image inside it as a
    PNG data URI: a notebook has no separate image files, and a PNG of a
    chart weighs half as much as the SVG with its lettering as outlines.
    """
    from IPython.display import HTML

    recipe = FIGURES[name]
    png = render_png(recipe.draw(results, lang))
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    alt = html.escape(recipe.text[lang][f"{name}_alt"], quote=True)
    return HTML(f'<img src="{uri}" alt="{alt}" style="max-width: 100%">')


def write_all(out_dir: Path) -> list[Path]:
    """Draw every figure in both languages from the published data into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, recipe in FIGURES.items():
        results = recipe.load()
        for lang in LANGS:
            path = out_dir / (f"{name}.svg" if lang == "ja" else f"{name}.{lang}.svg")
            path.write_text(render_svg(recipe.draw(results, lang)), encoding="utf-8")
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    """``python -m attention_notes.lab.figures --out FOLDER``: draw every figure, print the files written."""
    parser = cli.parser("attention_notes.lab.figures", "Draw the figures of the docs.")
    parser.add_argument("--out", type=Path, required=True, help="folder for the SVG files")
    args = parser.parse_args(argv)
    cli.check_out_dir(parser, args.out)
    for path in write_all(args.out):
        print(path)
