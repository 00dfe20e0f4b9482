import pandas as pd
import pytest

from qmrigenes import book


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


def test_markdown_table_makes_live_roles():
    table = pd.DataFrame({"file": ["a|b"], "citation": ["k1; k2"], "where": ["fig-ch1-maps (regional)"]})
    text = book.markdown_table(table, cite_columns=["citation"], ref_columns=["where"])
    lines = text.splitlines()
    assert lines[0] == "| file | citation | where |" and lines[1] == "|---|---|---|"
    assert "a\\|b" in lines[2]                                   # pipes escaped
    assert "{cite:p}`k1,k2`" in lines[2]
    assert "{numref}`fig-ch1-maps` (regional)" in lines[2]
