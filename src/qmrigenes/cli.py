"""The ``qmrigenes`` command: ``qmrigenes fetch [--verify-only]``."""
from __future__ import annotations

import sys

__all__ = ["main"]

_USAGE = "usage: qmrigenes fetch [--verify-only]"


def main(argv=None) -> int:
    """Entry point of the ``qmrigenes`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "fetch":
        from .fetch import main as fetch_main
        return fetch_main(rest)
    print(f"qmrigenes: unknown command {command!r}\n{_USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
