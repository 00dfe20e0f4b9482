"""A normal (non-editable) install works: the wheel carries the registry and the authored tables.

Builds the wheel with the project's own build backend, installs it with ``--no-deps`` into a
fresh virtualenv that borrows the test environment's third-party packages (a plain path entry,
so the editable ``qmrigenes`` of the test environment is NOT visible), and from a folder outside
the repository loads package data and one registered dataset through the mirror into an empty
user data folder.
"""
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MIRROR = os.environ.get("QMRIGENES_MIRROR")

SCRIPT = r"""
import json, qmrigenes, qmrigenes.fetch as F, qmrigenes.datasets as D
from qmrigenes.surface import load_neuromorphometrics_crosswalk
out = {
    "file": qmrigenes.__file__,
    "registry_rows": len(F.load_registry()),
    "crosswalk_rows": len(load_neuromorphometrics_crosswalk()),
    "cache": str(F.cache_dir()),
    "chisep_rows": len(D.load_chi_separation()),
}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The wheel, built as `pip install .` builds it (in the source folder, with the declared backend
    in an isolated environment), from a copy of what the wheel is made of; and that copy afterwards."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    before = sorted(p.relative_to(source).as_posix() for p in source.rglob("*"))
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out),
                    str(source)], check=True)
    (whl,) = out.glob("qmrigenes-*.whl")
    after = sorted(p.relative_to(source).as_posix() for p in source.rglob("*"))
    return whl, before, after


@pytest.fixture(scope="module")
def wheel(built):
    return built[0]


def test_building_leaves_the_source_tree_as_it_was(built):
    """`pip install .` must not leave build/, *.egg-info or any other file in the checkout (issue #19)."""
    _, before, after = built
    added = sorted(set(after) - set(before))
    assert not added, f"building the wheel wrote into the source tree: {added[:10]}"


def test_wheel_ships_registry_and_authored_tables(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "qmrigenes/data/registry.csv" in names
    assert "qmrigenes/data/crosswalks/neuromorphometrics_to_dk.csv" in names
    assert "qmrigenes/data/literature/tissue_values_3T.csv" in names
    assert not any(n.startswith("qmribook/") for n in names), "book code must not ship in the library"
    entry = [n for n in names if n.endswith("entry_points.txt")]
    assert entry and "qmrigenes=qmrigenes.cli:main" in zipfile.ZipFile(wheel).read(entry[0]).decode().replace(" ", "")
    shipped = {n for n in names if n.startswith("qmrigenes/")}
    source = {"qmrigenes/" + p.relative_to(ROOT / "src" / "qmrigenes").as_posix()
              for p in (ROOT / "src" / "qmrigenes").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert source <= shipped, f"files of src/qmrigenes missing from the wheel: {sorted(source - shipped)[:5]}"


@pytest.mark.skipif(not MIRROR, reason="needs QMRIGENES_MIRROR (CI sets it)")
def test_wheel_installs_in_a_fresh_venv_and_loads_data(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = Path(subprocess.check_output([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())
    # third-party dependencies from the test environment, as a plain path entry (its .pth files,
    # including the editable qmrigenes, are not processed)
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet", "--no-deps",
                    str(wheel)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "QMRIGENES_DATA", "QMRIGENES_REGISTRY")}
    env["QMRIGENES_DATA"] = str(tmp_path / "user-data")
    work = tmp_path / "elsewhere"
    work.mkdir()
    res = subprocess.run([py, "-c", SCRIPT], cwd=work, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    import json
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["file"].startswith(str(site)), out["file"]          # the installed copy, not src/
    assert out["registry_rows"] >= 31 and out["crosswalk_rows"] > 0
    assert out["cache"] == str(tmp_path / "user-data")
    assert out["chisep_rows"] > 0
    assert any((tmp_path / "user-data").iterdir())
    # the console script is installed and runs
    res = subprocess.run([venv / "bin" / "qmrigenes", "--help"], env=env, capture_output=True, text=True)
    assert res.returncode == 0 and "fetch" in res.stdout


def _unguarded_imports(path: Path) -> set[str]:
    """Top-level third-party modules a file imports outside a ``try: ... except ImportError`` block."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    guarded = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                for h in node.handlers):
            guarded |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    out = set()
    for node in ast.walk(tree):
        if id(node) in guarded:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        out |= {n.split(".")[0] for n in names} - set(sys.stdlib_module_names) - {"qmrigenes"}
    return out


def test_every_library_import_is_a_declared_dependency():
    """A plain `pip install .` must bring everything the library imports (optional imports are guarded)."""
    import importlib.metadata as md
    import re
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    declared = {re.split(r"[<>=!~ ;\[]", d, maxsplit=1)[0].lower().replace("_", "-") for d in deps}
    dists = md.packages_distributions()
    missing = {}
    for path in (ROOT / "src" / "qmrigenes").rglob("*.py"):
        for module in _unguarded_imports(path):
            names = {d.lower().replace("_", "-") for d in dists.get(module, [module])}
            if not names & declared:
                missing.setdefault(module, []).append(path.relative_to(ROOT).as_posix())
    assert not missing, f"imported but not in [project] dependencies: {missing}"
    assert "qmribook" not in declared and not any("jupyter" in d for d in declared)   # the book stays an extra
