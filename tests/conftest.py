"""Shared fixtures: a seeded RNG, tiny synthetic meshes and tables, Agg backend."""
import gc
import os
import sys
from pathlib import Path

# Python's cyclic garbage collector, while the libraries are imported and the tests collected (a
# few million objects, almost none of them garbage), would scan the growing heap again and again:
# 1.5 s of CPU per test process. It is switched off until collection ends; then the objects alive
# (modules, test items) are frozen out of its scans (gc.freeze: they live to the end anyway), which
# makes every later full collection cheaper: about a fifth of the tests' CPU. Garbage made by the
# tests is collected as usual; no test's outcome depends on it.
gc.disable()

# nbformat (through jupytext, nbclient, myst-nb) -> jsonschema would import rfc3987_syntax, which
# compiles 38 grammars (about 4 s of CPU in every test process) for an IRI format check that no
# test performs; marked absent, jsonschema skips that optional checker (as .ci/execute_book.py).
sys.modules.setdefault("rfc3987_syntax", None)

import matplotlib

matplotlib.use("Agg")  # tests only: the book itself must build with a real backend

import numpy as np
import pandas as pd
import pytest

_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if "QMRIGENES_MIRROR" not in os.environ and _SHARED.is_dir():
    os.environ["QMRIGENES_MIRROR"] = str(_SHARED)


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every figure a test left open (as nilearn's tests do): open figures keep their memory
    and, past 20, make matplotlib warn in whichever later test opens one more."""
    yield
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None and plt.get_fignums():
        plt.close("all")


@pytest.fixture
def rng():
    """A seeded random generator (seed 1234)."""
    return np.random.default_rng(1234)


def _subdivide(coords, faces, times):
    """Split every triangle into four, projecting new vertices onto the unit sphere."""
    verts = [tuple(x) for x in coords]
    index = {p: i for i, p in enumerate(verts)}

    def mid(a, b):
        m = (np.asarray(verts[a]) + np.asarray(verts[b])) / 2
        m = tuple(m / np.linalg.norm(m))
        if m not in index:
            index[m] = len(verts)
            verts.append(m)
        return index[m]

    for _ in range(times):
        new_faces = []
        for a, b, c in faces:
            ab, bc, ca = mid(a, b), mid(b, c), mid(c, a)
            new_faces += [[a, ab, ca], [b, bc, ab], [c, ca, bc], [ab, bc, ca]]
        faces = np.array(new_faces)
    return np.array(verts), faces


def _icosahedron():
    t = (1 + 5 ** 0.5) / 2
    v = np.array([[-1, t, 0], [1, t, 0], [-1, -t, 0], [1, -t, 0], [0, -1, t], [0, 1, t],
                  [0, -1, -t], [0, 1, -t], [t, 0, -1], [t, 0, 1], [-t, 0, -1], [-t, 0, 1]], float)
    f = np.array([[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9], [5, 11, 4],
                  [11, 10, 2], [10, 7, 6], [7, 1, 8], [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8],
                  [3, 8, 9], [4, 9, 5], [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1]])
    return v / np.linalg.norm(v, axis=1, keepdims=True), f


@pytest.fixture
def icosphere():
    """A tiny closed triangle mesh: the icosahedron subdivided twice (162 vertices, unit sphere).

    Returns (coords (162, 3) float, faces (320, 3) int).
    """
    return _subdivide(*_icosahedron(), 2)


@pytest.fixture
def fine_icosphere():
    """The icosahedron subdivided four times: (coords (2562, 3), faces (5120, 3)), unit sphere."""
    return _subdivide(*_icosahedron(), 4)


@pytest.fixture
def toy_expression(rng):
    """A tiny regions x genes table: 12 regions x 40 genes, values in [0, 1]."""
    regions = [f"region{i:02d}" for i in range(12)]
    genes = [f"G{i:03d}" for i in range(40)]
    return pd.DataFrame(rng.random((12, 40)), index=pd.Index(regions, name="region"),
                        columns=pd.Index(genes, name="gene"))


@pytest.fixture(scope="session")
def ph():
    """The chapter-3 head phantom at 2 mm (built once per test session)."""
    from qmrigenes import phantom
    return phantom.make_head_phantom()


@pytest.fixture(scope="session")
def ahba_annotations_once():
    """The real AHBA sample annotations (``datasets.load_ahba_sample_annotations()``, 0.4 s of
    CPU per read), read once per test process. Use :func:`ahba_annotations` (a copy) in tests."""
    from qmrigenes.datasets import load_ahba_sample_annotations

    return load_ahba_sample_annotations()


@pytest.fixture
def ahba_annotations(ahba_annotations_once):
    """A copy of the real AHBA sample annotations for one test (read once per test process)."""
    return ahba_annotations_once.copy()


@pytest.fixture
def data(rng):
    """A 34-ROI x 200-gene expression table and a target driven by gene G0 (r about 0.6)."""
    x = pd.DataFrame(rng.normal(size=(34, 200)), columns=[f"G{i}" for i in range(200)],
                     index=[f"roi{i}" for i in range(34)])
    y = pd.Series(0.8 * x["G0"] + rng.normal(size=34), index=x.index)
    return x, y


#: URL of the synthetic registry's GitHub file (a folder with a space: %20 in the URL).
TOY_URL = "https://raw.githubusercontent.com/someone/repo/0123abc/dir%20x/file.csv"


def _toy_registry(tmp_path, monkeypatch, rows, archive, downloader: str, *, used_by: str):
    """Write ``rows`` as a registry CSV and fake ``qmrigenes.fetch.<downloader>`` (pip) by a copy
    of ``archive``; returns (registry frame, its path, the list of download calls)."""
    from qmrigenes import fetch as F

    frame = pd.DataFrame(rows).assign(licence="MIT", citation="key", used_by=used_by, description="toy")
    registry = tmp_path / "registry.csv"
    frame.to_csv(registry, index=False)
    downloads = []

    def fake(spec, folder):
        downloads.append(spec)
        target = folder / archive.name
        target.write_bytes(archive.read_bytes())
        return target

    monkeypatch.setattr(F, downloader, fake)
    return frame, registry, downloads


@pytest.fixture
def toy_registry():
    """:func:`_toy_registry`, for test modules (a registry of toy rows with pip faked)."""
    return _toy_registry


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A synthetic data registry: one mirrored file and two wheel members, a mirror, a wheel
    (pip download faked, calls recorded in ``downloads``) and an empty cache."""
    import hashlib
    import zipfile

    from qmrigenes import fetch as F

    def sha(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    gh_data, member_a, member_b = b"a,b\n1,2\n", b"alpha\n", b"beta\n"
    mirror = tmp_path / "mirror"
    src = mirror / "raw.githubusercontent.com/someone/repo/0123abc/dir x/file.csv"
    src.parent.mkdir(parents=True)
    src.write_bytes(gh_data)
    wheel = tmp_path / "wheels" / "toypkg-1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("toypkg/data/a.txt", member_a)
        zf.writestr("toypkg/data/b.txt", member_b)
    rows = [
        dict(name="gh.csv", kind="github", source=TOY_URL, member="", sha256=sha(gh_data), size=len(gh_data)),
        dict(name="a.txt", kind="pypi", source="toypkg==1.0", member="toypkg/data/a.txt",
             sha256=sha(member_a), size=len(member_a)),
        dict(name="b.txt", kind="pypi", source="toypkg==1.0", member="toypkg/data/b.txt",
             sha256=sha(member_b), size=len(member_b)),
    ]
    frame, registry, downloads = _toy_registry(tmp_path, monkeypatch, rows, wheel, "_pip_download", used_by="ch1")
    monkeypatch.delenv(F.MIRROR_ENV, raising=False)
    return dict(registry=registry, mirror=mirror, src=src, cache=tmp_path / "cache", frame=frame,
                gh=gh_data, tmp=tmp_path, downloads=downloads)


#: The test files that take longest (seconds of wall time on a pytest-xdist worker, measured on the
#: reference machine), longest first. ``make test`` hands whole files to its two workers in
#: collection order, each worker taking the next file when it is free: starting with the longest
#: leaves short files for the end, so both workers finish at about the same time.
LONGEST_FILES = (
    "book/test_display_draw_once.py", "book/test_browser_check.py", "test_figures_ms.py",
    "book/test_print_pdf.py", "test_bad_inputs_associate.py", "test_install.py", "test_associate.py",
    "book/test_ch2.py", "test_fast_phantom.py", "test_figures_qsm.py", "test_figures_mpm.py",
    "book/test_ch3.py", "test_fast_surfaces.py", "book/test_phone_figures.py", "book/test_ch4.py",
    "book/test_ch1.py", "test_associate_forms.py", "test_ahba.py", "test_qsm.py",
)


def pytest_collection_modifyitems(session, config, items):
    """The longest test files first (:data:`LONGEST_FILES`), the chapter checks (``notebook``,
    which read or make the chapter executions) before everything. Stable: the order is otherwise
    unchanged, and the tests of a file stay together in their order."""
    tests = Path(__file__).resolve().parent
    rank = {tests / name: i for i, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: (item.get_closest_marker("notebook") is None,
                                 rank.get(Path(str(item.path)).resolve(), len(rank))))


def pytest_configure(config):
    """A pytest-xdist controller collects nothing: its collector is on again at once."""
    if config.getoption("dist", "no") != "no" and not hasattr(config, "workerinput"):
        gc.enable()


def pytest_collection_finish(session):
    """Collection done: free its garbage, keep what lives on out of later scans, collect again."""
    gc.collect()
    gc.freeze()
    gc.enable()
