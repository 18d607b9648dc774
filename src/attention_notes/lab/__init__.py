"""The lab: how the site's figures and measurements are made.

Nothing here is needed to read the notes or to run their code: the pages and
the concept modules of :mod:`attention_notes` never import the lab (a test
checks it). What lives here:

- :mod:`attention_notes.lab.benchmark`: the benchmark harnesses of the
  performance page and their command line, ``python -m attention_notes.lab.benchmark``
  (``make bench``), which writes the runs that :mod:`attention_notes.performance` reads;
- :mod:`attention_notes.lab.generation`: generation with and without the KV cache,
  ``python -m attention_notes.lab.generation`` (``make bench``), and the cache's bytes;
- :mod:`attention_notes.lab.figures`: the figures of the docs, one module per
  family of figures, and their command line,
  ``python -m attention_notes.lab.figures --out docs/assets/figures`` (``make figures``).

The command lines share their argument checks with the experiment's, in
:mod:`attention_notes.cli`.
"""

# Nothing to import from the lab itself: its tools are its modules.
__all__: list[str] = []
