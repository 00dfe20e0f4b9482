"""Run a chapter as a student does (outside Sphinx) and read what its notebook shows.

A chapter is a Jupytext MyST notebook (``chapters/0*.md``). :func:`execute_chapter` converts
it with jupytext and runs it with nbclient in the chapter's folder, as JupyterLab's Run All
does; :func:`shown` counts what the executed notebook displays (images, tables, the number
summaries of :func:`qmribook.report.show`) and :func:`glue_values` reads every glued value,
so that two runs can be compared (``python -m qmribook.notebooks glue``).

Executed notebooks are written outside ``chapters/``: a ``.ipynb`` beside a chapter's ``.md``
makes the book build fail ("multiple files found for the document").

Command line::

    python -m qmribook.notebooks run chapters/03_ms_qmri.md OUT_DIR    # -> OUT_DIR/03_ms_qmri.ipynb
    python -m qmribook.notebooks glue OUT_DIR/03_ms_qmri.ipynb > glue.json
    python -m qmribook.notebooks diff before.json after.json
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from .paths import CHAPTERS

__all__ = ["read_chapter", "execute_chapter", "glue_values", "shown", "visible_code_cells", "glue_references",
           "diff_glue"]

GLUE_PREFIX = "application/papermill.record/"


def read_chapter(md: str | Path):
    """The chapter as an (unexecuted) nbformat notebook."""
    import jupytext

    return jupytext.read(str(md))


def execute_chapter(md: str | Path, *, timeout: int = 900, env: dict | None = None):
    """Execute a chapter outside Sphinx, in its own folder, and return the notebook.

    Raises ``nbclient.exceptions.CellExecutionError`` with the failing cell's traceback.
    ``MPLBACKEND`` is removed from the kernel's environment (as ``make book`` does).
    """
    from nbclient import NotebookClient

    md = Path(md).resolve()
    nb = read_chapter(md)
    kernel_env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    kernel_env.update(env or {})
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(kernel_env)        # the kernel inherits the client's environment
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(md.parent)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return nb


def _outputs(nb):
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            for output in cell.get("outputs", []):
                yield index, cell, output


def _pixels_hash(png_base64: str) -> str:
    """sha256 of a PNG's decoded pixels (its text chunks, such as the font record, left out)."""
    import base64
    import io

    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(png_base64))) as image:
        return hashlib.sha256(image.tobytes() + str(image.size).encode()).hexdigest()[:16]


def glue_values(nb, *, pixels: bool = True) -> dict[str, str]:
    """Every glued value of an executed notebook: ``name -> comparable text``.

    Numbers and text by their ``text/plain``; tables by their HTML or Markdown; figures by
    the sha256 of their PNG's pixels (with the displayed width), random pandas Styler ids
    masked; whether glued with ``display=True``
    or ``False`` makes no difference. ``pixels=False`` leaves the PNGs undecoded (``"png
    width W"``): enough to tell figures from tables and numbers, and much faster.
    """
    values = {}
    for _, _, output in _outputs(nb):
        meta = output.get("metadata", {}).get("scrapbook")
        if not meta:
            continue
        prefix = meta.get("mime_prefix", "")
        data = {k[len(prefix):]: v for k, v in output.get("data", {}).items()}
        if "image/png" in data:
            width = output.get("metadata", {}).get("image/png", {}).get("width")
            digest = f"pixels sha256 {_pixels_hash(data['image/png'])} " if pixels else ""
            values[meta["name"]] = f"png {digest}width {width}"
        elif "text/html" in data:      # pandas Styler ids (T_xxxxx) are random per run
            values[meta["name"]] = "html " + re.sub(r"\bT_[0-9a-f]{5}", "T_*", data["text/html"])
        elif "text/markdown" in data:
            values[meta["name"]] = "md " + data["text/markdown"]
        else:
            values[meta["name"]] = data.get("text/plain", "")
    return values


def _is_table(data: dict) -> bool:
    html = data.get("text/html", "")
    return "<table" in html or bool(re.search(r"^\|.*\|\s*$", data.get("text/markdown", ""), re.M))


def shown(nb) -> dict:
    """What a student sees after Run All: counts of displayed images, tables and raw reprs.

    Only outputs JupyterLab renders count (glue records stored with ``display=False`` do
    not). Returns ``{"images": int, "tables": int, "numbers": int, "reprs": [str],
    "glued_images": set, "glued_tables": set, "glued_numbers": set}``; ``glued_*`` are the
    glue names shown (numbers: in a :class:`qmribook.report.NumberSummary`).
    """
    images = tables = numbers = 0
    reprs, glued_images, glued_tables, glued_numbers = [], set(), set(), set()
    for _, _, output in _outputs(nb):
        if output.get("output_type") not in {"display_data", "execute_result"}:
            continue
        meta = output.get("metadata", {}).get("scrapbook", {})
        if meta.get("mime_prefix"):
            continue                                        # hidden glue record
        data = output.get("data", {})
        if "image/png" in data or "image/svg+xml" in data:
            images += 1
            if meta:
                glued_images.add(meta["name"])
        elif _is_table(data):
            tables += 1
            if meta:
                glued_tables.add(meta["name"])
            if "qmri-numbers" in data.get("text/html", ""):
                names = re.findall(r"<tr><td><code>([^<]+)</code>", data["text/html"])
                numbers += len(names)
                glued_numbers.update(names)
        text = data.get("text/plain", "")
        if re.match(r"^\w+\((numbers|tables|figures|data)=", text):
            reprs.append(text[:80])
    return {"images": images, "tables": tables, "numbers": numbers, "reprs": reprs,
            "glued_images": glued_images, "glued_tables": glued_tables, "glued_numbers": glued_numbers}


def visible_code_cells(nb) -> int:
    """Code cells the book shows (not tagged ``remove-cell`` or ``remove-input``)."""
    hidden = {"remove-cell", "remove_cell", "remove-input", "remove_input"}
    return sum(1 for c in nb.cells if c.cell_type == "code"
               and not hidden & set(c.get("metadata", {}).get("tags", [])))


def glue_references(md_text: str) -> dict[str, set]:
    """Glue names a chapter's Markdown uses: ``{"figure": ..., "any": ..., "text": ...}``
    (``{glue:figure}``, ``{glue:}``/``{glue:md}`` directives and ``{glue:text}`` roles;
    names of other pages, ``page.md::name``, are left out)."""
    refs = {"figure": set(re.findall(r"^`{3,}\{glue:figure\}\s+([\w-]+)\s*$", md_text, re.M)),
            "any": set(re.findall(r"^`{3,}\{glue(?::|:any|:md)?\}\s+([\w-]+)\s*$", md_text, re.M)),
            "text": set(re.findall(r"\{glue:text\}`([\w-]+)(?::[^`]*)?`", md_text))}
    return refs


def diff_glue(before: dict, after: dict) -> list[str]:
    """Lines naming every glue key added, removed or changed between two snapshots."""
    lines = []
    for key in sorted(set(before) | set(after)):
        if key not in after:
            lines.append(f"- {key}: {before[key][:100]}")
        elif key not in before:
            lines.append(f"+ {key}: {after[key][:100]}")
        elif before[key] != after[key]:
            lines.append(f"~ {key}: {before[key][:100]!r} -> {after[key][:100]!r}")
    return lines


def main(argv=None) -> None:
    import sys

    import nbformat

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 3 and args[0] == "run":
        out = Path(args[2])
        if out.resolve().is_relative_to(CHAPTERS):
            raise SystemExit("write executed notebooks outside chapters/ (Sphinx: multiple files found)")
        out.mkdir(parents=True, exist_ok=True)
        nb = execute_chapter(args[1])
        path = out / (Path(args[1]).stem + ".ipynb")
        nbformat.write(nb, path)
        print(f"{path}: {json.dumps({k: v for k, v in shown(nb).items() if not k.startswith('glued')})}, "
              f"visible code cells {visible_code_cells(nb)}")
    elif len(args) == 2 and args[0] == "glue":
        print(json.dumps(glue_values(nbformat.read(args[1], as_version=4)), indent=1, sort_keys=True,
                         ensure_ascii=False))
    elif len(args) == 3 and args[0] == "diff":
        lines = diff_glue(*(json.loads(Path(a).read_text(encoding="utf-8")) for a in args[1:]))
        print("\n".join(lines) if lines else "glue identical")
    else:
        raise SystemExit("usage: python -m qmribook.notebooks run MD OUT_DIR | glue IPYNB | diff A.json B.json")


if __name__ == "__main__":
    main()
