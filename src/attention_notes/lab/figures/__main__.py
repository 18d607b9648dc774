"""``python -m attention_notes.lab.figures --out docs/assets/figures``: draw every figure of the docs."""

from attention_notes.lab.figures import main

main()
