"""Tests of the book's study code (qmribook), moved from the library tests."""
import pandas as pd
import pytest
from qmribook import pages
from qmribook import pages as book


def test_load_published_reads_committed_tables_and_names_the_alternatives():
    headline = pages.load_published("ch2", "headline")
    assert {"item"} <= set(headline.columns) and len(headline) > 0
    table1 = pages.load_published("ch1", "table1")
    assert set(table1["cell_type"]) >= {"Astrocyte", "CA1.Pyramidal"}
    with pytest.raises(FileNotFoundError, match="available: .*table1"):
        pages.load_published("ch1", "no_such_table")


def test_reproduction_status_collects_chapters(tmp_path):
    pd.DataFrame({"item": ["Fig. 1"], "description": ["maps"], "status": ["reproduced"],
                  "data": ["real: NSPN"], "where": ["fig-ch1-maps"]}).to_csv(tmp_path / "ch1.csv", index=False)
    table = book.reproduction_status(tmp_path)
    assert table.loc[0, "chapter"].startswith("1") and table.loc[0, "status"] == "reproduced"


def test_reproduction_status_rejects_unknown_status(tmp_path):
    pd.DataFrame({"item": ["Fig. 1"], "description": ["x"], "status": ["done"], "data": ["x"],
                  "where": ["x"]}).to_csv(tmp_path / "ch2.csv", index=False)
    with pytest.raises(ValueError, match="unknown status"):
        book.reproduction_status(tmp_path)


def test_project_status_tables_are_valid():
    table = book.reproduction_status()
    assert set(table["status"]) <= {"reproduced", "partially reproduced", "not reproduced"}


def test_package_versions_lists_python():
    versions = book.package_versions(packages=("numpy", "surely-not-a-package"))
    assert versions.loc["numpy", "version"][0].isdigit()
    assert versions.loc["surely-not-a-package", "version"] == "not installed"
    assert "python" in versions.index


def test_front_matter_from_citation_file(tmp_path):
    """The title page's facts come from CITATION.cff, whose version is the package's."""
    import tomllib

    front = book.front_matter()
    version = tomllib.loads((book.BOOK_DATA.parent / "pyproject.toml").read_text())["project"]["version"]
    assert front["version"] == version
    assert front["license"] == "MIT" and front["authors"] == "The qmrigenes book authors"
    assert front["citation"].startswith("The qmrigenes book authors (20") and f"Version {version}." in front["citation"]
    cff = tmp_path / "CITATION.cff"
    cff.write_text("cff-version: 1.2.0\ntitle: T\nversion: '1'\nlicense: MIT\ndate-released: '2030-01-02'\n"
                   "authors:\n  - given-names: Ada\n    family-names: Lovelace\n  - name: Team X\n")
    assert book.front_matter(cff)["citation"] == "Ada Lovelace and Team X (2030). T. Version 1."
    cff.write_text("cff-version: 1.2.0\ntitle: T\n")
    with pytest.raises(ValueError, match="authors"):
        book.front_matter(cff)


def test_library_reference_lists_every_public_module():
    """The reference page claims every public function and class of ``qmrigenes``: every module
    with an ``__all__`` of functions or classes (the command line excepted) is rendered there."""
    import ast
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    src = root / "src" / "qmrigenes"
    page = (root / "chapters" / "api.md").read_text()
    rendered = set(re.findall(r'"(qmrigenes(?:\.\w+)+)"', page))
    public = set()
    for path in src.rglob("*.py"):
        rel = path.relative_to(src.parent).with_suffix("")
        if any(part.startswith("_") for part in rel.parts) or rel.parts[-1] == "cli":
            continue
        tree = ast.parse(path.read_text())
        if any(isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets)
               for node in tree.body):
            public.add(".".join(rel.parts))
    assert public, "no public module found"
    assert public - rendered == set(), f"modules missing from chapters/api.md: {sorted(public - rendered)}"
