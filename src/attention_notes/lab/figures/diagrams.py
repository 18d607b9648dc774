r"""Schematic diagrams of the encoder-decoder and of Bahdanau attention, drawn with matplotlib.

Unlike the charts and heatmaps, these show no data: boxes for states, arrows
for what flows where. :func:`encoder_decoder` and :func:`bahdanau_step` take
the words of one language (``TEXT[lang]``, below) and return a
:class:`~matplotlib.figure.Figure`; :func:`plot_encoder_decoder` and
:func:`plot_bahdanau_step` call them inside ``rc_context(STYLE)``, so that the
lettering gets the site's font, for the registry of :mod:`attention_notes.lab.figures`.

Every diagram is drawn on one set of axes in its own units (one unit is
:data:`UNIT` inches), so the geometry, and the size of the SVG, is the same in
both languages: only the words change. The symbols follow the docs:
encoder states :math:`h_j` (:math:`j = 1, \dots, S`), decoder states :math:`s_i`,
context vectors :math:`c_i`, scores :math:`e_{ij}`, weights :math:`\alpha_{ij}`.
"""

from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

from attention_notes.lab.figures.style import STYLE

__all__ = [
    "ALIGNED",
    "TEXT",
    "UNIT",
    "bahdanau_step",
    "encoder_decoder",
    "plot_bahdanau_step",
    "plot_encoder_decoder",
]

# The words of the two diagrams, and their alt text, in each language of the site.
TEXT = {
    "ja": {
        "ed_source": "I ate an apple yesterday",
        "ed_target": "私は 昨日 りんごを 食べた",
        "ed_input": "入力",
        "ed_encoder": "エンコーダ",
        "ed_context": "コンテキスト",
        "ed_decoder": "デコーダ",
        "ed_output": "出力",
        "ed_bottleneck_title": "アテンションなし：最終状態 1 つがボトルネック",
        "ed_bottleneck_note": (
            "入力の情報はすべて、固定サイズの最終状態 $h_5$ を通る。\n"
            "デコーダはどのステップでも同じ $c$ を受け取る。"
        ),
        "ed_attention_title": "Bahdanau アテンションあり",
        "ed_attention_note": (
            "ステップ $i$ ごとに、すべての $h_j$ を重み $\\alpha_{ij}$ で混ぜた $c_i$ を受け取る。\n"
            "太線はその出力で重みが最も大きい入力の例。"
        ),
        "encoder-decoder_alt": (
            "上下 2 段の図。上の段はアテンションなしの RNN エンコーダ・デコーダで、"
            "エンコーダが入力 I ate an apple yesterday の 5 トークンを状態 h1 から h5 へ順に読み、"
            "最後の h5 だけがコンテキスト c として、私は 昨日 りんごを 食べた を出力する"
            "デコーダの状態 s1 から s4 のすべてに渡る。入力の情報はすべて、この固定サイズの状態 1 つを通る。"
            "下の段は Bahdanau アテンションありで、デコーダのステップごとにコンテキスト c1 から c4 があり、"
            "それぞれがエンコーダの状態 h1 から h5 のすべてと線で結ばれている。"
            "太線は各出力で重みが最も大きい入力の例で、私は は I、昨日 は yesterday、"
            "りんごを は apple、食べた は ate と結ばれる。"
        ),
        "step_title": "Bahdanau アテンション：デコーダの 1 ステップ（出力 $i$）",
        "step_tokens": "入力トークン",
        "step_forward": "順方向 GRU",
        "step_backward": "逆方向 GRU",
        "step_annotations": "エンコーダの状態",
        "step_softmax": "ソフトマックス（$j$ について）",
        "step_scores": "スコア",
        "step_weights": "重み",
        "step_query": "クエリ",
        "step_decoder": "デコーダ",
        "bahdanau-step_alt": (
            "Bahdanau アテンションでデコーダが 1 ステップ進む図。下から順に、入力トークン x1 から x4、"
            "左から右へ読む順方向 GRU、右から左へ読む逆方向 GRU があり、"
            "位置 j ごとに 2 つの状態をつなげたものがエンコーダの状態 hj になる。"
            "左側のデコーダの直前の状態 s(i−1) がクエリとして、各 hj とともにスコアの式 "
            "eij = wvᵀ tanh(Wquery s(i−1) + Wkey hj) に入る。"
            "スコア ei1 から ei4 は j についてのソフトマックスで重み αi1 から αi4 になり、"
            "重みからコンテキストベクトル ci = Σj αij hj が作られる。"
            "デコーダは s(i−1)、直前の出力 y(i−1)、ci から新しい状態 si を計算し、yi を出力する。"
        ),
    },
    "en": {
        "ed_source": "I ate an apple yesterday",
        "ed_target": "私は 昨日 りんごを 食べた",
        "ed_input": "input",
        "ed_encoder": "encoder",
        "ed_context": "context",
        "ed_decoder": "decoder",
        "ed_output": "output",
        "ed_bottleneck_title": "Without attention: one final state is the bottleneck",
        "ed_bottleneck_note": (
            "Everything about the input passes through the fixed-size $h_5$;\n"
            "the decoder gets the same $c$ at every step."
        ),
        "ed_attention_title": "With Bahdanau attention",
        "ed_attention_note": (
            "Each step $i$ gets its own $c_i$: every $h_j$, mixed with weights $\\alpha_{ij}$.\n"
            "Thick lines: the input with the largest weight, for example."
        ),
        "encoder-decoder_alt": (
            "Two panels, one above the other. Top: an RNN encoder-decoder without attention. The encoder "
            "reads the five tokens of I ate an apple yesterday into states h1 to h5, and only the last one, "
            "h5, goes on as the context c to every decoder state s1 to s4, which output 私は 昨日 りんごを "
            "食べた: everything about the input passes through that one fixed-size state. Bottom: with "
            "Bahdanau attention, each decoder step has its own context, c1 to c4, each connected by lines "
            "to all the encoder states h1 to h5. As an example, a thick line marks the input with the "
            "largest weight for each output: 私は with I, 昨日 with yesterday, りんごを with apple, "
            "食べた with ate."
        ),
        "step_title": "Bahdanau attention: one decoder step (output $i$)",
        "step_tokens": "input tokens",
        "step_forward": "forward GRU",
        "step_backward": "backward GRU",
        "step_annotations": "encoder states",
        "step_softmax": "softmax over $j$",
        "step_scores": "scores",
        "step_weights": "weights",
        "step_query": "query",
        "step_decoder": "decoder",
        "bahdanau-step_alt": (
            "One decoder step of Bahdanau attention. From the bottom: input tokens x1 to x4, a forward GRU "
            "reading left to right and a backward GRU reading right to left; at each position j the two "
            "states joined make the encoder state hj. On the left, the decoder's previous state s(i−1) is "
            "the query: with each hj it goes into the score eij = wvᵀ tanh(Wquery s(i−1) + Wkey hj). "
            "A softmax over j turns the scores ei1 to ei4 into weights αi1 to αi4, and the weights give "
            "the context vector ci = Σj αij hj. The decoder computes its new state si from s(i−1), the "
            "previous output y(i−1) and ci, and outputs yi."
        ),
    },
}

UNIT = 0.64  # inches per unit of the diagrams' coordinates

INK = "#212121"
ARROW = "#616161"
FAINT = "#9e9e9e"
ENCODER = ("#3f51b5", "#e8eaf6")  # (edge, fill)
BACKWARD = ("#00838f", "#e0f7fa")
DECODER = ("#2e7d32", "#e8f5e9")
CONTEXT = ("#ef6c00", "#fff3e0")
NEUTRAL = ("#616161", "#f5f5f5")

LABEL = 11  # words
SYMBOL = 13  # maths in boxes
TITLE = 13


def _canvas(xlim: tuple[float, float], ylim: tuple[float, float]):
    """A figure whose one axes maps ``xlim`` × ``ylim`` onto the whole figure, UNIT inches per unit."""
    width, height = xlim[1] - xlim[0], ylim[1] - ylim[0]
    fig = Figure(figsize=(width * UNIT, height * UNIT))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set(xlim=xlim, ylim=ylim)
    ax.set_axis_off()
    return fig, ax


def _text(ax, x, y, text, size=LABEL, color=INK, ha="center", va="center", **kwargs):
    return ax.text(x, y, text, ha=ha, va=va, fontsize=size, color=color, **kwargs)


def _box(ax, x, y, text, colors=NEUTRAL, w=0.8, h=0.5, size=SYMBOL, lw=1.2):
    """A rounded box centred on (x, y) with ``text`` in it; returned for arrows to clip against."""
    edge, fill = colors
    box = FancyBboxPatch(
        (x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.1", fc=fill, ec=edge, lw=lw
    )
    ax.add_patch(box)
    _text(ax, x, y, text, size)
    return box


def _arrow(ax, start, end, color=ARROW, lw=1.2, head=True, patches=(None, None), zorder=1):
    """An arrow (or with ``head=False`` a line) from ``start`` to ``end``, cut at the edges of ``patches``."""
    arrow = FancyArrowPatch(
        start,
        end,
        arrowstyle="-|>" if head else "-",
        mutation_scale=11,
        color=color,
        lw=lw,
        shrinkA=1,
        shrinkB=1,
        patchA=patches[0],
        patchB=patches[1],
        zorder=zorder,
    )
    ax.add_patch(arrow)
    return arrow


# Which source token each word of the toy translation comes from (the verb moves to the end):
# the thick lines of the panel with attention.
ALIGNED = (0, 4, 3, 1)


def _seq2seq_panel(ax, t: dict, top: float, attention: bool) -> None:
    """One encoder-decoder on the toy sentence, from its title at ``top`` down to its input tokens."""
    source, target = t["ed_source"].split(), t["ed_target"].split()
    y_out = top - 1.4
    y_dec, y_ctx, y_enc, y_tok = y_out - 0.85, y_out - 2.1, y_out - 3.45, y_out - 4.4
    xs_enc = [1.2 * j for j in range(len(source))]
    xs_dec = [0.6 + 1.2 * i for i in range(len(target))]
    key = "ed_attention" if attention else "ed_bottleneck"
    _text(ax, -2.1, top, t[f"{key}_title"], TITLE, ha="left")
    _text(ax, -2.1, top - 0.35, t[f"{key}_note"], LABEL - 1, CONTEXT[0], ha="left", va="top", linespacing=1.3)
    rows = {
        "ed_input": y_tok,
        "ed_encoder": y_enc,
        "ed_context": y_ctx,
        "ed_decoder": y_dec,
        "ed_output": y_out,
    }
    for row, y in rows.items():
        _text(ax, -0.6, y, t[row], ha="right")

    encoder = []
    for j, (x, token) in enumerate(zip(xs_enc, source, strict=True), start=1):
        _text(ax, x, y_tok, token)
        final = not attention and j == len(source)
        box = _box(ax, x, y_enc, f"$h_{j}$", CONTEXT if final else ENCODER, lw=2.4 if final else 1.2)
        _arrow(ax, (x, y_tok + 0.2), (x, y_enc), patches=(None, box))
        if encoder:
            _arrow(ax, (xs_enc[j - 2], y_enc), (x, y_enc), patches=(encoder[-1], box))
        encoder.append(box)

    decoder = []
    for i, (x, token) in enumerate(zip(xs_dec, target, strict=True), start=1):
        box = _box(ax, x, y_dec, f"$s_{i}$", DECODER)
        _text(ax, x, y_out, token)
        _arrow(ax, (x, y_dec), (x, y_out - 0.2), patches=(box, None))
        if decoder:
            _arrow(ax, (xs_dec[i - 2], y_dec), (x, y_dec), patches=(decoder[-1], box))
        decoder.append(box)

    if not attention:
        # One context for every step: the final state, whatever the length of the source.
        x_c = xs_enc[len(source) // 2]
        c = _box(ax, x_c, y_ctx, f"$c = h_{len(source)}$", CONTEXT, w=1.3, lw=2.4)
        _arrow(ax, (xs_enc[-1], y_enc), (x_c, y_ctx), CONTEXT[0], lw=2.4, patches=(encoder[-1], c))
        for x, box in zip(xs_dec, decoder, strict=True):
            _arrow(ax, (x_c, y_ctx), (x, y_dec), CONTEXT[0], lw=1.6, patches=(c, box))
        return

    for i, (x, box) in enumerate(zip(xs_dec, decoder, strict=True), start=1):
        c = _box(ax, x, y_ctx, f"$c_{i}$", CONTEXT, w=0.6, h=0.45)
        for j, (x_h, h) in enumerate(zip(xs_enc, encoder, strict=True)):
            strong = j == ALIGNED[i - 1]
            color, lw = (CONTEXT[0], 2.4) if strong else (FAINT, 0.8)
            _arrow(ax, (x_h, y_enc), (x, y_ctx), color, lw, head=False, patches=(h, c), zorder=0.5)
        _arrow(ax, (x, y_ctx), (x, y_dec), CONTEXT[0], lw=1.6, patches=(c, box))


def encoder_decoder(t: dict) -> Figure:
    """The RNN encoder-decoder without attention (top) and with attention (bottom), on one toy sentence.

    Without attention, every source token reaches the decoder only through the
    final encoder state, the one context of every step. With attention, each
    decoder step ``i`` gets its own context ``c_i`` from all encoder states.
    """
    fig, ax = _canvas((-2.2, 5.6), (-0.4, 12.4))
    _seq2seq_panel(ax, t, top=12.1, attention=False)
    ax.plot([-2.1, 5.5], [6.0, 6.0], color=FAINT, lw=0.8)
    _seq2seq_panel(ax, t, top=5.7, attention=True)
    return fig


def _split_box(ax, x, y, j, w=1.1, h=0.55):
    """The encoder state h_j as one box in two halves: the forward and the backward state, joined."""
    for dx, (edge, fill) in ((-w / 2, ENCODER), (0, BACKWARD)):
        ax.add_patch(Rectangle((x + dx, y - h / 2), w / 2, h, fc=fill, ec=edge, lw=1.2))
    outline = Rectangle((x - w / 2, y - h / 2), w, h, fill=False, ec=INK, lw=1.4)
    ax.add_patch(outline)
    backdrop = {"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.85}
    _text(ax, x, y, f"$h_{j}$", SYMBOL, bbox=backdrop)
    return outline


SCORE = r"$e_{ij} = w_v^\top \tanh\left(W_{\mathrm{query}}\, s_{i-1} + W_{\mathrm{key}}\, h_j\right)$"
CONTEXT_SUM = r"$c_i = \sum_j \alpha_{ij}\, h_j$"
JOINED = r"$h_j = [\overrightarrow{h}_j ;\, \overleftarrow{h}_j]$"


def bahdanau_step(t: dict, source_length: int = 4) -> Figure:
    r"""One decoder step ``i`` of Bahdanau attention over a bidirectional GRU encoder.

    Bottom to top: tokens :math:`x_j`, the forward and the backward GRU, the
    encoder states (the paper's annotations)
    :math:`h_j = [\overrightarrow{h}_j ; \overleftarrow{h}_j]`, the scores
    :math:`e_{ij}` from :math:`s_{i-1}` and :math:`h_j`, their softmax
    :math:`\alpha_{ij}`, the context :math:`c_i`, and the new state :math:`s_i`
    with the output :math:`y_i`.
    """
    xs = [2.1 + 1.3 * j for j in range(source_length)]
    left, right = xs[0] - 0.7, xs[-1] + 0.7
    middle, span = (left + right) / 2, right - left
    y_tok, y_fwd, y_bwd, y_ann = 0.0, 1.0, 2.0, 3.2
    y_score, y_e, y_soft, y_alpha, y_ctx, y_out = 4.35, 5.25, 6.1, 6.95, 8.05, 9.2
    fig, ax = _canvas((-1.55, right + 0.1), (-0.45, 10.3))
    _text(ax, -1.45, 9.95, t["step_title"], TITLE, ha="left")
    rows = {
        "step_tokens": y_tok,
        "step_forward": y_fwd,
        "step_backward": y_bwd,
        "step_annotations": y_ann + 0.2,
    }
    for row, y in rows.items():
        _text(ax, left - 0.15, y, t[row], ha="right")
    _text(ax, left - 0.15, y_ann - 0.22, JOINED, ha="right")
    for row, y in (("step_scores", y_e), ("step_weights", y_alpha)):
        _text(ax, left - 0.15, y, t[row], LABEL - 1, ha="right")

    # The bidirectional encoder. Forward boxes sit left of each column, backward
    # boxes right of it, so that no arrow has to pass through a box.
    forward, backward, annotations = [], [], []
    for j, x in enumerate(xs, start=1):
        _text(ax, x, y_tok, f"$x_{j}$", SYMBOL)
        fwd = _box(ax, x - 0.28, y_fwd, rf"$\overrightarrow{{h}}_{j}$", ENCODER, w=0.5, h=0.55)
        bwd = _box(ax, x + 0.28, y_bwd, rf"$\overleftarrow{{h}}_{j}$", BACKWARD, w=0.5, h=0.55)
        ann = _split_box(ax, x, y_ann, j)
        _arrow(ax, (x - 0.12, y_tok + 0.2), (x - 0.28, y_fwd), patches=(None, fwd))
        _arrow(ax, (x + 0.12, y_tok + 0.2), (x + 0.28, y_bwd), patches=(None, bwd))
        _arrow(ax, (x - 0.28, y_fwd), (x - 0.28, y_ann), patches=(fwd, ann))
        _arrow(ax, (x + 0.28, y_bwd), (x + 0.28, y_ann), patches=(bwd, ann))
        forward.append(fwd)
        backward.append(bwd)
        annotations.append(ann)
    for j in range(source_length - 1):  # forward reads left to right, backward right to left
        a, b = forward[j : j + 2]
        _arrow(ax, (xs[j] - 0.28, y_fwd), (xs[j + 1] - 0.28, y_fwd), ENCODER[0], patches=(a, b))
        a, b = backward[j : j + 2]
        _arrow(ax, (xs[j + 1] + 0.28, y_bwd), (xs[j] + 0.28, y_bwd), BACKWARD[0], patches=(b, a))

    # Attention, as on the page: the additive score for every j, softmax over j, weighted sum.
    score = _box(ax, middle, y_score, SCORE, NEUTRAL, w=span, h=0.6, size=LABEL + 1)
    softmax = _box(ax, middle, y_soft, t["step_softmax"], NEUTRAL, w=span, h=0.5, size=LABEL)
    context = _box(ax, middle, y_ctx, CONTEXT_SUM, CONTEXT, w=2.4, h=0.6, lw=2.0)
    for j, (x, ann) in enumerate(zip(xs, annotations, strict=True), start=1):
        _arrow(ax, (x, y_ann), (x, y_score), patches=(ann, score))
        _text(ax, x, y_e, f"$e_{{i{j}}}$", SYMBOL)
        _arrow(ax, (x, y_score + 0.3), (x, y_e - 0.22))
        _arrow(ax, (x, y_e + 0.22), (x, y_soft), patches=(None, softmax))
        _text(ax, x, y_alpha, rf"$\alpha_{{i{j}}}$", SYMBOL)
        _arrow(ax, (x, y_soft), (x, y_alpha - 0.24), patches=(softmax, None))
        _arrow(ax, (x, y_alpha + 0.24), (middle, y_ctx), CONTEXT[0], patches=(None, context))

    # The decoder, on the left: s_{i-1} is the query; s_i = f(s_{i-1}, y_{i-1}, c_i).
    x_dec = 0.0
    s_prev = _box(ax, x_dec, y_score, "$s_{i-1}$", DECODER, w=0.8, h=0.6)
    s_new = _box(ax, x_dec, y_ctx, "$s_i$", DECODER, w=0.8, h=0.6)
    _arrow(ax, (x_dec, y_score), (middle, y_score), patches=(s_prev, score))
    _text(ax, (x_dec + left) / 2 + 0.2, y_score + 0.1, t["step_query"], LABEL - 1, DECODER[0], va="bottom")
    _arrow(ax, (x_dec, y_score), (x_dec, y_ctx), DECODER[0], patches=(s_prev, s_new))
    _text(ax, x_dec - 0.1, (y_score + y_ctx) / 2, t["step_decoder"], LABEL - 1, DECODER[0], ha="right")
    _arrow(ax, (middle, y_ctx), (x_dec, y_ctx), CONTEXT[0], lw=2.0, patches=(context, s_new))
    _text(ax, x_dec - 1.05, y_ctx, "$y_{i-1}$", SYMBOL)
    _arrow(ax, (x_dec - 0.7, y_ctx), (x_dec, y_ctx), patches=(None, s_new))
    _text(ax, x_dec, y_out, "$y_i$", SYMBOL)
    _arrow(ax, (x_dec, y_ctx), (x_dec, y_out - 0.25), patches=(s_new, None))
    return fig


def plot_encoder_decoder(_: object = None, lang: str = "ja") -> Figure:
    """:func:`encoder_decoder` in ``lang``, in the site's style (the diagram draws no data)."""
    with rc_context(STYLE):
        return encoder_decoder(TEXT[lang])


def plot_bahdanau_step(_: object = None, lang: str = "ja") -> Figure:
    """:func:`bahdanau_step` in ``lang``, in the site's style (the diagram draws no data)."""
    with rc_context(STYLE):
        return bahdanau_step(TEXT[lang])
