"""The look every figure shares: the Japanese font, the text size, SVG output that does not change."""

import matplotlib_fontja  # noqa: F401  (registers IPAexGothic with matplotlib)

__all__ = ["STYLE"]

# matplotlib rc settings for every figure: draw inside `rc_context(STYLE)`.
STYLE = {
    "font.family": ["IPAexGothic"],
    "font.size": 11,
    "svg.fonttype": "path",
    "svg.hashsalt": "attention-notes",
    "axes.spines.top": False,
    "axes.spines.right": False,
}
