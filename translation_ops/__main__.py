"""`python -m translation_ops ...`, the same as the `translation-ops` console script."""

from translation_ops.cli import main

main()
