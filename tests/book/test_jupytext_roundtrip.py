"""Opening a chapter in JupyterLab (Jupytext) and saving it without edits leaves its .md unchanged.

Two cases, through jupytext's API with the repository's ``jupytext.toml``: the notebook as just
opened, and the notebook after Run All (the kernel adds ``language_info`` and per-cell execution
metadata, which Jupytext must not write back).
"""
from pathlib import Path

import pytest

# jupytext and nbformat (with jupyter_client, tornado, zmq, jsonschema: about 470 modules) are
# imported by the tests that use them, not by every test process at collection

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "chapters").glob("0*.md"))


def _save(nb) -> str:
    """What the Jupytext contents manager writes for ``nb`` in chapters/."""
    import jupytext
    from jupytext.config import find_jupytext_configuration_file, load_jupytext_configuration_file

    config = load_jupytext_configuration_file(find_jupytext_configuration_file(str(ROOT / "chapters")))
    fmt = {"extension": ".md", "format_name": "myst"}
    config.set_default_format_options(fmt, read=False)
    return jupytext.writes(nb, fmt=fmt)


@pytest.mark.parametrize("md", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_open_and_save_is_byte_identical(md):
    import jupytext
    import nbformat

    text = md.read_text(encoding="utf-8")
    opened = jupytext.reads(text, fmt="md:myst")
    assert _save(opened) == text
    ran = jupytext.reads(text, fmt="md:myst")        # as after Run All in Lab
    ran.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3",
                                     "version": "3.11.7", "file_extension": ".py"}
    for i, cell in enumerate(c for c in ran.cells if c.cell_type == "code"):
        cell.metadata["execution"] = {"iopub.status.idle": "2026-01-01T00:00:00Z"}
        cell.execution_count = i + 1
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x\n")]
    assert _save(ran) == text


def test_config_is_found_from_the_chapters_folder():
    from jupytext.config import find_jupytext_configuration_file

    assert find_jupytext_configuration_file(str(ROOT / "chapters")) == str(ROOT / "chapters" / "jupytext.toml")
