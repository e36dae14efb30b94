"""``python -m linear_lens``: the chapter runner (see :mod:`linear_lens.book.runner`)."""

import sys

from linear_lens.book.runner import main

if __name__ == "__main__":
    sys.exit(main())
