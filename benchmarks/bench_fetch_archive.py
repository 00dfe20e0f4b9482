"""Benchmark: several members of one downloaded archive read in a single pass (issue #22, the fixed
costs of a fresh clone), against the best plain alternative, in one run.

Run: ``python benchmarks/bench_fetch_archive.py`` (``make bench`` runs every benchmark). CPU seconds
of this process, best of ``REPEAT``; the line prints the ratio and checks the outputs are identical.

``fetch.read_archive_members`` streams a ``.tar.gz`` once; the plain alternative is what the library
did before, and what ``tarfile`` offers for one member: ``tarfile.open`` + ``getmember`` +
``extractfile`` per member, each lookup decompressing the archive from its start again. The archive
is the real one: the pinned source distribution the registry reads the Schaefer-100 files from
(downloaded by the library's own ``pip download``, its sha256 checked), and the members are the
registry's.
"""
import os
import sys
import tarfile
import tempfile
from pathlib import Path

REPEAT = 3
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_chapfast import best_of, line  # noqa: E402  (one timer, one line format)


def plain(path, members):
    out = {}
    for member in members:
        with tarfile.open(path) as tf:
            out[member] = tf.extractfile(tf.getmember(member)).read()
    return out


def main():
    from qmrigenes import fetch

    reg = fetch.load_registry()
    rows = reg[reg["source"].str.startswith("imaging-transcriptomics==1.1.15 ")]
    spec, sha = fetch._sdist_source(rows["source"].iloc[0])
    members = list(rows["member"])
    with tempfile.TemporaryDirectory() as tmp:
        path = fetch._pip_download_sdist(spec, Path(tmp))
        assert fetch._sha256(path) == sha
        t_plain, a = best_of(lambda: plain(path, members))
        t_fast, b = best_of(lambda: fetch.read_archive_members(path, members))
        assert a == b and list(b) == members
        line(f"the {len(members)} registered files of {spec} (sdist, {path.stat().st_size / 1e6:.1f} MB)",
             t_plain, t_fast, "read_archive_members (one pass) against tarfile's getmember + extractfile "
             "per member; bytes identical")


if __name__ == "__main__":
    main()
