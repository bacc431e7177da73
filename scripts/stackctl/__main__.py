"""`python scripts/stackctl ...` or `python -m stackctl ...` (with scripts/ on sys.path)."""

import sys

if not __package__:
    # Run as a folder: Python put that folder first on sys.path; put its parent there instead, so
    # the package is imported by its name and its modules shadow nothing.
    from pathlib import Path

    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from stackctl.cli import main  # noqa: E402

sys.exit(main())
