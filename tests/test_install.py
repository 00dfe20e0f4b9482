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
def wheel(tmp_path_factory):
    # build from a copy of what the wheel is made of, so no build/ folder lands in the checkout
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(out), str(source)], check=True)
    (whl,) = out.glob("qmrigenes-*.whl")
    return whl


def test_wheel_ships_registry_and_authored_tables(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "qmrigenes/data/registry.csv" in names
    assert "qmrigenes/data/crosswalks/neuromorphometrics_to_dk.csv" in names
    assert "qmrigenes/data/literature/tissue_values_3T.csv" in names
    assert not any(n.startswith("qmribook/") for n in names), "book code must not ship in the library"
    entry = [n for n in names if n.endswith("entry_points.txt")]
    assert entry and "qmrigenes = qmrigenes.cli:main" in zipfile.ZipFile(wheel).read(entry[0]).decode()


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
