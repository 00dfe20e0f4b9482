"""``jupyter-book`` without the IRI grammar compilation at start-up (the Makefile's book builds).

jsonschema imports the optional ``rfc3987_syntax`` when it is installed (it is, for JupyterLab's
event schemas) and that module compiles 38 Lark grammars at import: seconds of CPU for an "iri"
format check nothing in the book build performs. Marking the module as absent makes
jsonschema skip that optional format checker, exactly as when the package is not installed;
everything else is jupyter-book's own command line (same arguments).
"""
import sys

sys.modules.setdefault("rfc3987_syntax", None)   # import of it raises ImportError (skipped)

from jupyter_book.cli.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
