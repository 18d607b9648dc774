"""Printed outputs stay out of the search index.

Under every snippet the pages show what it prints, in a ``text`` block titled
「出力」 / "Output". Those are numbers and tensors, not words a reader searches
for, yet Material's search plugin indexes them, and every page loads its
language's whole index: they made up about 24 KB of the Japanese index
(380 KB) that each Japanese page loads. The code itself stays in the index, so
that a function's name finds the page that uses it.

Material's search parser skips an element carrying ``data-search-exclude``;
this hook gives that attribute to each output block. The attribute changes
nothing on the page itself. It runs on ``on_page_content``, before the search
plugin reads the page (``on_page_context``).
"""

import re

OUTPUT_BLOCK = re.compile(
    r'<div class="language-text highlight">(?=<span class="filename">(?:出力|Output)</span>)'
)


def exclude_outputs(html: str) -> str:
    """``html`` with ``data-search-exclude`` on each output block."""
    return OUTPUT_BLOCK.sub('<div class="language-text highlight" data-search-exclude>', html)


def on_page_content(html: str, **kwargs: object) -> str:
    return exclude_outputs(html)
