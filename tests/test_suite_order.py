"""The test suite's own scheduling hint (tests/conftest.py) names real files."""
import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_longest_files_exist_and_are_listed_once():
    tree = ast.parse((TESTS / "conftest.py").read_text(encoding="utf-8"))
    (names,) = [ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                and any(getattr(t, "id", None) == "LONGEST_FILES" for t in node.targets)]
    missing = [name for name in names if not (TESTS / name).is_file()]
    assert names and not missing, f"LONGEST_FILES names files that do not exist: {missing}"
    assert len(set(names)) == len(names)
