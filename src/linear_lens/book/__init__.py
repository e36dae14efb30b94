"""The book machinery: what only the chapters, the tests and the book's build call, beside the mathematics.

- :mod:`linear_lens.book.parameters`: a chapter's parameters cell, the conversion of command-line values, the checks.
- :mod:`linear_lens.book.runner`: re-execute a chapter with your own parameters (``python -m linear_lens run 01``),
  student versions, the digest of the values a chapter glued.
- :mod:`linear_lens.book.claims`: claims as data (``claim``, ``report``), the source of the book's claims ledger.
- :mod:`linear_lens.book.survey`: run chapters once per seed in survey mode on Dask (``python -m linear_lens survey``).
- :mod:`linear_lens.book.launch`: every chapter as a notebook for Binder and Colab, and the launch links.
- :mod:`linear_lens.book.plotting`: figure parts shared by chapters, and the chapters' HTML tables.

Nothing in the mathematical modules of :mod:`linear_lens` imports from here.
"""
