"""Bad (and awkward but valid) inputs to `qmrigenes.associate` and `qmrigenes associate` (issue #20).

Every case runs through the call and, where it has a command form, through the command. A refused
input must raise (call) or exit 1 with ONE line on stderr and no traceback (command), and the message
must name the file or the argument. An accepted awkward form must give the same regional values as
the clean table, and the result must say what was read (``table.attrs["input"]`` / the "read" line).
"""
from __future__ import annotations

import gzip
import json
import os
from collections import Counter
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from qmrigenes import association, cli
from qmrigenes.association import associate, read_map
from qmrigenes.datasets import _APARC35, DK_CORTICAL_REGIONS

pytestmark = pytest.mark.realdata

RNG = np.random.default_rng(20)
VALUES = RNG.normal(size=34)
LABELS = ["lh_" + r for r in DK_CORTICAL_REGIONS]
SERIES = pd.Series(VALUES, index=LABELS, name="thick")
FAST = {"n_perm": 20, "sets": "iron-myelin", "nulls": ("genes",), "progress": False}
FAST_CLI = ["--n-perm", "20", "--sets", "iron-myelin", "--nulls", "genes", "--quiet"]
N_V = 10242


def _gii(path, *arrays, meta=None):
    img = nib.gifti.GiftiImage(darrays=[nib.gifti.GiftiDataArray(np.asarray(a, np.float32)) for a in arrays],
                               meta=nib.gifti.GiftiMetaData(meta) if meta else None)
    nib.save(img, path)
    return path


def _surface(seed=0):
    from qmrigenes.surface import dk_labels, regions_to_vertices

    labels = dk_labels(hemisphere="L")
    v = regions_to_vertices(pd.Series(np.random.default_rng(seed).normal(size=34), index=list(DK_CORTICAL_REGIONS)),
                            labels)
    return np.where(np.isnan(v), 0.0, v)


# --------------------------------------------------------------------------- the files
def _make(tmp: Path) -> dict[str, Path]:
    f = {}

    def w(name, text):
        p = tmp / name
        p.write_text(text)
        f[name] = p

    SERIES.to_csv(tmp / "clean.csv")
    f["clean.csv"] = tmp / "clean.csv"
    SERIES.reset_index().to_csv(tmp / "default_index.csv")
    f["default_index.csv"] = tmp / "default_index.csv"
    SERIES.reset_index()[["thick", "index"]].to_csv(tmp / "value_first.csv", index=False)
    f["value_first.csv"] = tmp / "value_first.csv"
    SERIES.to_csv(tmp / "semicolon.csv", sep=";")
    f["semicolon.csv"] = tmp / "semicolon.csv"
    SERIES.to_csv(tmp / "tabs.txt", sep="\t")
    f["tabs.txt"] = tmp / "tabs.txt"
    SERIES.to_csv(tmp / "pipes.csv", sep="|")
    f["pipes.csv"] = tmp / "pipes.csv"
    SERIES.to_frame().T.to_csv(tmp / "wide.csv", index=False)
    f["wide.csv"] = tmp / "wide.csv"
    SERIES.to_csv(tmp / "headerless.csv", header=False)
    f["headerless.csv"] = tmp / "headerless.csv"
    read_map(SERIES).to_csv(tmp / "own_output.csv")
    f["own_output.csv"] = tmp / "own_output.csv"
    ids = [1000 + _APARC35.index(r) + 1 for r in DK_CORTICAL_REGIONS]
    pd.Series(VALUES, index=pd.Index(ids, name="id"), name="thick").to_csv(tmp / "aparc_ids.csv")
    f["aparc_ids.csv"] = tmp / "aparc_ids.csv"
    SERIES.to_frame().to_excel(tmp / "sheet.xlsx")
    f["sheet.xlsx"] = tmp / "sheet.xlsx"
    pd.DataFrame([VALUES]).to_csv(tmp / "positional.csv", header=False, index=False)
    f["positional.csv"] = tmp / "positional.csv"
    pd.DataFrame({"v": VALUES}).to_csv(tmp / "numbers_only.csv", index=False)
    f["numbers_only.csv"] = tmp / "numbers_only.csv"
    w("empty.csv", "")
    w("header_only.csv", "region,thickness\n")
    w("blank_lines.csv", "\n\n  \n")
    (tmp / "garbage.csv").write_bytes(bytes(range(256)) * 8)
    f["garbage.csv"] = tmp / "garbage.csv"
    w("text.gii", "this is not xml\n")
    (tmp / "garbage.gii").write_bytes(os.urandom(2048))
    f["garbage.gii"] = tmp / "garbage.gii"
    full = _gii(tmp / "lh.full.gii", _surface())
    data = gzip.compress(full.read_bytes())
    (tmp / "lh.truncated.gii.gz").write_bytes(data[: len(data) // 2])
    f["lh.truncated.gii.gz"] = tmp / "lh.truncated.gii.gz"
    f["lh.one.gii"] = full
    f["lh.two_arrays.gii"] = _gii(tmp / "lh.two_arrays.gii", _surface(1), _surface(2))
    f["lh.flat2d.gii"] = _gii(tmp / "lh.flat2d.gii", _surface().reshape(5121, 2))
    f["lh.columns.gii"] = _gii(tmp / "lh.columns.gii", np.stack([_surface(3), _surface(4), _surface(5)], axis=1))
    f["lh.short.gii"] = _gii(tmp / "lh.short.gii", np.zeros(10000))
    f["nohemi.gii"] = _gii(tmp / "nohemi.gii", _surface())
    f["meta_hemi.gii"] = _gii(tmp / "meta_hemi.gii", _surface(), meta={"AnatomicalStructurePrimary": "CortexLeft"})
    f["lh.inf.gii"] = _gii(tmp / "lh.inf.gii", np.where(np.arange(N_V) == 5, np.inf, _surface()))
    three = np.stack([_surface(6), _surface(7), _surface(8)], axis=-1).reshape(N_V, 1, 1, 3)
    nib.save(nib.MGHImage(three.astype(np.float32), np.eye(4)), tmp / "lh.frames.mgh")
    f["lh.frames.mgh"] = tmp / "lh.frames.mgh"
    many = np.repeat(_surface()[:, None], 65, axis=1).reshape(N_V, 1, 1, 65) + np.arange(65)
    nib.save(nib.MGHImage(many.astype(np.float32), np.eye(4)), tmp / "lh.many.mgh")
    f["lh.many.mgh"] = tmp / "lh.many.mgh"
    nib.save(nib.MGHImage(np.zeros((3000, 1, 1, 3), np.float32), np.eye(4)), tmp / "lh.wrong.mgh")
    f["lh.wrong.mgh"] = tmp / "lh.wrong.mgh"
    mgz = tmp / "lh.full.mgz"
    nib.save(nib.MGHImage(_surface().reshape(N_V, 1, 1).astype(np.float32), np.eye(4)), mgz)
    (tmp / "lh.truncated.mgz").write_bytes(mgz.read_bytes()[:200])
    f["lh.truncated.mgz"] = tmp / "lh.truncated.mgz"
    w("map.nii.json", "{}")
    w("map.dat", "x")
    (tmp / "afolder.csv").mkdir()
    f["afolder.csv"] = tmp / "afolder.csv"

    def table(name, frame):
        frame.to_csv(tmp / name)
        f[name] = tmp / name

    table("nan_cell.csv", SERIES.where(SERIES.index != LABELS[3]).to_frame())
    table("inf_cell.csv", SERIES.replace(SERIES.iloc[0], np.inf).to_frame())
    table("constant.csv", (SERIES * 0 + 1).to_frame())
    table("text_cell.csv", SERIES.astype(object).where(SERIES.index != LABELS[2], "n/a").to_frame())
    table("duplicate.csv", SERIES.rename(index={LABELS[1]: LABELS[0]}).to_frame())
    table("unknown_region.csv", SERIES.rename(index={LABELS[0]: "lh_brainstemish"}).to_frame())
    table("few_regions.csv", SERIES.iloc[:3].to_frame())
    table("no_hemisphere.csv", SERIES.rename(index=lambda r: r[3:]).to_frame())
    table("bad_hemi_col.csv", SERIES.rename(index=lambda r: r[3:]).to_frame().assign(hemisphere="X"))
    table("two_same_names.csv", pd.concat([SERIES, SERIES * 2], axis=1, keys=["a", "a"]))
    w("blank_region.csv", "region,thick\n" + "".join(f"{r},{v}\n" for r, v in zip(LABELS, VALUES))
      + ",0.5\n")
    w("unknown_ids.csv", "id,thick\n" + "".join(f"{3000 + i},{v}\n" for i, v in enumerate(VALUES)))
    # gene sets
    w("sets_empty.json", "")
    w("sets_bad.json", "{not json")
    w("sets_list.json", json.dumps([["GFAP"]]))
    w("sets_nocols.csv", "set,symbol\na,GFAP\n")
    w("sets_blank_gene.csv", "gene_set,gene\na,GFAP\na,\n")
    w("sets_absent.json", json.dumps({"a": ["NOT_A_GENE_1"]}))
    w("sets_dup.json", json.dumps({"a": ["GFAP", "GFAP"]}))
    w("sets_nogene.gmt", "a\tdescription\n")
    w("sets_repeat.gmt", "a\td\tGFAP\na\td\tAQP4\n")
    w("sets.xlsx.txt", "x")
    (tmp / "sets_folder").mkdir()
    return f


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return _make(tmp_path_factory.mktemp("bad_maps"))


# --------------------------------------------------------------------------- refused: call and command
# (id, kind, map file, extra call kwargs, extra command args, exception, regex the message must match)
REFUSED = [
    ("missing-file", "file", "nope.csv", {}, [], FileNotFoundError, r"nope\.csv"),
    ("folder-as-map", "file", "afolder.csv", {}, [], ValueError, r"afolder\.csv is a folder"),
    ("empty-file", "file", "empty.csv", {}, [], ValueError, r"empty\.csv is empty"),
    ("blank-lines-only", "file", "blank_lines.csv", {}, [], ValueError, r"blank_lines\.csv is empty"),
    ("header-only", "file", "header_only.csv", {}, [], ValueError, r"header_only\.csv has a header row .* no data"),
    ("binary-garbage-csv", "file", "garbage.csv", {}, [], ValueError, r"garbage\.csv is a binary file"),
    ("text-named-gii", "file", "text.gii", {}, [], ValueError, r"cannot read text\.gii as a GIFTI"),
    ("garbage-gii", "file", "garbage.gii", {}, [], ValueError, r"cannot read garbage\.gii as a GIFTI"),
    ("truncated-gii-gz", "file", "lh.truncated.gii.gz", {}, [], ValueError, r"lh\.truncated\.gii\.gz"),
    ("truncated-mgz", "file", "lh.truncated.mgz", {}, [], ValueError, r"cannot read lh\.truncated\.mgz as a MGH"),
    ("unknown-extension", "file", "map.dat", {}, [], ValueError, r"map\.dat has an unknown extension"),
    ("gii-2d-wrong-split", "shape", "lh.flat2d.gii", {}, [], ValueError,
     r"lh\.flat2d\.gii data array 1 of 1 has shape \(5121, 2\); expected"),
    ("gii-short", "shape", "lh.short.gii", {}, [], ValueError, r"lh\.short\.gii .*shape \(10000,\)"),
    ("mgh-wrong-vertices", "shape", "lh.wrong.mgh", {}, [], ValueError,
     r"lh\.wrong\.mgh has 3 frames of 3,000 vertices"),
    ("mgh-too-many-frames", "shape", "lh.many.mgh", {}, [], ValueError, r"lh\.many\.mgh holds 65 maps; at most 64"),
    ("positional-row", "shape", "positional.csv", {}, [], ValueError,
     r"positional\.csv has only numbers \(1 rows x 34 columns\) and no region names"),
    ("numbers-only-column", "shape", "numbers_only.csv", {}, [], ValueError, r"numbers_only\.csv has no column of region names \(35 rows x 1 columns"),
    ("unknown-ids", "shape", "unknown_ids.csv", {}, [], ValueError, r"unknown_ids\.csv has no column of region"),
    ("surface-no-hemisphere", "values", "nohemi.gii", {}, [], ValueError, r"hemisphere of nohemi\.gii"),
    ("surface-infinite", "values", "lh.inf.gii", {}, [], ValueError, r"lh\.inf\.gii contains 1 infinite"),
    ("nan-cell", "values", "nan_cell.csv", {}, [], ValueError, r"nan_cell\.csv has missing or infinite values"),
    ("inf-cell", "values", "inf_cell.csv", {}, [], ValueError, r"inf_cell\.csv has missing or infinite values"),
    ("constant-map", "values", "constant.csv", {}, [], ValueError, r"constant\.csv column\(s\) \['thick'\] are constant"),
    ("text-in-values", "values", "text_cell.csv", {}, [], ValueError, r"text_cell\.csv column 'thick' mixes"),
    ("duplicate-regions", "values", "duplicate.csv", {}, [], ValueError, r"duplicate\.csv lists regions more than once"),
    ("unknown-region", "values", "unknown_region.csv", {}, [], ValueError, r"unknown_region\.csv regions \['brainstemish'\]"),
    ("too-few-regions", "values", "few_regions.csv", {}, [], ValueError, r"few_regions\.csv has 3 regions"),
    ("no-hemisphere", "values", "no_hemisphere.csv", {}, [], ValueError, r"names no hemisphere.*no_hemisphere\.csv"),
    ("bad-hemisphere-column", "values", "bad_hemi_col.csv", {}, [], ValueError, r"bad_hemi_col\.csv hemisphere column"),
    ("two-maps-same-name", "values", "two_same_names.csv", {}, [], ValueError, r"two_same_names\.csv has two maps named 'a'"),
    ("blank-region-name", "values", "blank_region.csv", {}, [], ValueError, r"blank_region\.csv has 1 row\(s\) with a blank region"),
    ("n-perm-zero", "args", "clean.csv", {"n_perm": 0}, ["--n-perm", "0"], ValueError, r"n.perm must be >= 1"),
    ("n-perm-over-max", "args", "clean.csv", {"n_perm": 100_001}, ["--n-perm", "100001"], ValueError,
     r"n.perm must be <= 100000"),
    ("seed-negative", "args", "clean.csv", {"seed": -1}, ["--seed", "-1"], ValueError, r"seed must be >= 0"),
    ("seed-2-32", "args", "clean.csv", {"seed": 2 ** 32}, ["--seed", str(2 ** 32)], ValueError,
     r"seed must be <= 4294967295"),
    ("nulls-unknown", "args", "clean.csv", {"nulls": ("bootstrap",)}, ["--nulls", "bootstrap"], ValueError, r"nulls"),
    ("nulls-two-spatial", "args", "clean.csv", {"nulls": ("spins", "labels")}, ["--nulls", "spins,labels"],
     ValueError, r"nulls: choose 'spins' or 'labels'"),
    ("sets-unknown-builtin", "sets", "clean.csv", {"sets": "astrocytes"}, ["--sets", "astrocytes"], ValueError,
     r"sets.*astrocytes"),
    ("sets-absent-genes", "sets", "clean.csv", {"sets": {"a": ["NOT_A_GENE_1"]}}, ["--sets", "@sets_absent.json"],
     ValueError, r"sets: no gene of \['a'\]"),
    ("sets-duplicate-gene", "sets", "clean.csv", {"sets": {"a": ["GFAP", "GFAP"]}}, ["--sets", "@sets_dup.json"],
     ValueError, r"sets\['a'\] lists genes more than once"),
    ("gmt-line-without-genes", "sets", "clean.csv", {"sets": "@sets_nogene.gmt"}, ["--sets", "@sets_nogene.gmt"],
     ValueError, r"sets_nogene\.gmt line 1 has no gene"),
    ("gmt-repeated-name", "sets", "clean.csv", {"sets": "@sets_repeat.gmt"}, ["--sets", "@sets_repeat.gmt"],
     ValueError, r"sets_repeat\.gmt line 2 repeats the set name 'a'"),
]

# call-only (Python objects and keyword types the command cannot express)
CALL_ONLY = [
    ("map-bare-array", "args", np.zeros(34), {}, TypeError, r"map: a bare array has no region names"),
    ("map-int", "args", 3, {}, TypeError, r"map must be a file path"),
    ("n-perm-float", "args", "clean.csv", {"n_perm": 1e3}, TypeError, r"n_perm must be an integer.*write n_perm=1000"),
    ("seed-float", "args", "clean.csv", {"seed": 1.5}, TypeError, r"seed must be an integer"),
    ("seed-generator", "args", "clean.csv", {"seed": np.random.default_rng(0)}, TypeError, r"seed must be an integer"),
    ("hemisphere-word", "args", "clean.csv", {"hemisphere": "left"}, ValueError, r"hemisphere must be 'L', 'R'"),
    ("method-unknown", "args", "clean.csv", {"method": "nearest"}, ValueError, r"method must be one of"),
    ("progress-string", "args", "clean.csv", {"progress": "yes"}, TypeError, r"progress must be True or False"),
    ("details-string", "args", "clean.csv", {"return_details": "no"}, TypeError, r"return_details must be True or False"),
    ("nulls-not-sequence", "args", "clean.csv", {"nulls": 3}, TypeError, r"nulls must be a sequence"),
    ("sets-bare-string-member", "sets", "clean.csv", {"sets": {"a": "GFAP"}}, TypeError, r"sets\['a'\] must be a list"),
    ("sets-empty-mapping", "sets", "clean.csv", {"sets": {}}, TypeError, r"sets must be"),
    ("sets-empty-list", "sets", "clean.csv", {"sets": {"a": []}}, ValueError, r"sets\['a'\] is empty"),
    ("sets-non-string-gene", "sets", "clean.csv", {"sets": {"a": [1, 2]}}, TypeError, r"sets\['a'\] must hold gene symbols"),
    ("multiindex-wrong-levels", "shape", pd.DataFrame({"x": [1.0, 2]}, index=pd.MultiIndex.from_tuples(
        [("a", "b"), ("c", "d")], names=["x", "y"])), {}, ValueError, r"MultiIndex must be \(hemisphere, region\)"),
    ("spins-on-deep-grey", "args", "DEEPGREY", {"nulls": ("genes", "spins")}, ValueError,
     r"nulls: spins need DK cortical regions"),
]

# command-only: output files, the --sets file, the environment
CMD_ONLY = [
    ("out-is-the-input", "output", ["@clean.csv", "--out", "@clean.csv"], r"--out .*clean\.csv is an input file"),
    ("out-exists-no-force", "output", ["@clean.csv", "--out", "@existing.csv"], r"--out .*existing\.csv already exists; pass --force"),
    ("out-missing-folder", "output", ["@clean.csv", "--out", "@nowhere/r.csv"], r"--out .*nowhere/r\.csv: the folder .*nowhere does not exist"),
    ("out-is-a-folder", "output", ["@clean.csv", "--out", "@sets_folder"], r"--out .*sets_folder is a folder"),
    ("out-is-the-sets-file", "output", ["@clean.csv", "--sets", "@sets_absent.json", "--out", "@sets_absent.json"],
     r"--out .*sets_absent\.json is an input file"),
    ("out-read-only-folder", "output", ["@clean.csv", "--out", "@readonly/r.csv"], r"--out .*readonly/r\.csv: the folder .*readonly is not writable"),
    ("per-gene-same-as-out", "output", ["@clean.csv", "--out", "@o1.csv", "--per-gene", "@o1.csv"],
     r"--per-gene .*o1\.csv is also given to another option"),
    ("plot-wrong-extension", "output", ["@clean.csv", "--out", "@o2.csv", "--plot", "@o2.txt"], r"--plot .*o2\.txt: expected a \.png"),
    ("report-is-input", "output", ["@clean.csv", "--out", "@o3.csv", "--report", "@clean.csv"], r"--report .*clean\.csv is an input file"),
    ("sets-missing-file", "sets", ["@clean.csv", "--sets", "nosuch.json"], r"--sets: no such file or built-in set 'nosuch\.json'"),
    ("sets-folder", "sets", ["@clean.csv", "--sets", "@sets_folder"], r"--sets: .*sets_folder is a folder"),
    ("sets-empty-file", "sets", ["@clean.csv", "--sets", "@sets_empty.json"], r"--sets: .*sets_empty\.json is empty"),
    ("sets-invalid-json", "sets", ["@clean.csv", "--sets", "@sets_bad.json"], r"--sets: .*sets_bad\.json is not valid JSON"),
    ("sets-json-list", "sets", ["@clean.csv", "--sets", "@sets_list.json"], r"--sets: .*sets_list\.json holds a JSON list"),
    ("sets-csv-no-columns", "sets", ["@clean.csv", "--sets", "@sets_nocols.csv"], r"--sets: .*sets_nocols\.csv needs columns 'gene_set' and 'gene'"),
    ("sets-csv-blank-gene", "sets", ["@clean.csv", "--sets", "@sets_blank_gene.csv"], r"--sets: .*sets_blank_gene\.csv has 1 row\(s\) with a blank gene .*line 3"),
    ("sets-unknown-extension", "sets", ["@clean.csv", "--sets", "@sets.xlsx.txt"], r"--sets: .*sets\.xlsx\.txt needs columns"),
]


def _resolve(arg, files):
    if isinstance(arg, str) and arg.startswith("@"):
        return str(files.get(arg[1:], files["clean.csv"].parent / arg[1:]))
    return arg


def _deep_grey(tmp):
    from qmrigenes.datasets import load_ahba_dk

    sub = load_ahba_dk().xs("subcortex", level="structure").xs("L", level="hemisphere")["PVALB"]
    sub.index = ["lh_" + r for r in sub.index]
    return sub


def _run_cli(args, capsys):
    code = cli.main(["associate", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("case", REFUSED, ids=[c[0] for c in REFUSED])
def test_refused_by_the_call(case, files):
    _, _, name, kwargs, _, exc, match = case
    kwargs = {k: (_resolve(v, files) if isinstance(v, str) else v) for k, v in kwargs.items()}
    path = files.get(name, files["clean.csv"].parent / name)
    with pytest.raises(exc, match=match):
        associate(path, **(FAST | kwargs))


@pytest.mark.parametrize("case", REFUSED, ids=[c[0] for c in REFUSED])
def test_refused_by_the_command(case, files, capsys, tmp_path):
    _, _, name, _, extra, _, match = case
    path = files.get(name, files["clean.csv"].parent / name)
    extra = [_resolve(a, files) for a in extra]
    base = [a for a in FAST_CLI]
    for flag in ("--n-perm", "--sets", "--nulls", "--seed"):
        if flag in extra and flag in base:
            i = base.index(flag)
            del base[i:i + 2]
    code, out, err = _run_cli([str(path), *base, *extra, "--out", str(tmp_path / "r.csv")], capsys)
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("qmrigenes associate: error: ")
    assert __import__("re").search(match.replace("n.perm", "-?-?n.perm"), err), err
    assert not (tmp_path / "r.csv").exists()


@pytest.mark.parametrize("case", CALL_ONLY, ids=[c[0] for c in CALL_ONLY])
def test_refused_by_the_call_only(case, files, tmp_path):
    _, _, target, kwargs, exc, match = case
    if isinstance(target, str):
        target = _deep_grey(tmp_path) if target == "DEEPGREY" else files[target]
    with pytest.raises(exc, match=match):
        associate(target, **(FAST | kwargs))


@pytest.fixture
def cli_world(files, tmp_path):
    (files["clean.csv"].parent / "existing.csv").write_text("mine\n")
    ro = files["clean.csv"].parent / "readonly"
    ro.mkdir(exist_ok=True)
    ro.chmod(0o555)
    yield files
    ro.chmod(0o755)


@pytest.mark.parametrize("case", CMD_ONLY, ids=[c[0] for c in CMD_ONLY])
def test_refused_by_the_command_only(case, cli_world, capsys, monkeypatch):
    if os.geteuid() == 0 and case[0] == "out-read-only-folder":     # root may write anywhere: ask as a user
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: False if str(p).endswith("readonly") else real(p, mode))
    _, _, args, match = case
    args = [_resolve(a, cli_world) for a in args]
    if "--sets" not in args:
        args += ["--sets", "iron-myelin"]
    before = (cli_world["clean.csv"].parent / "existing.csv").read_text()
    code, out, err = _run_cli([*args, "--n-perm", "20", "--nulls", "genes", "--quiet"], capsys)
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert __import__("re").search(match, err), err
    assert (cli_world["clean.csv"].parent / "existing.csv").read_text() == before == "mine\n"


# --------------------------------------------------------------------------- accepted awkward forms
ACCEPTED = [
    # (id, kind, file, what the result must state, n maps)
    ("default-index", "shape", "default_index.csv", r"row-number column 1 ignored", 1),
    ("value-column-first", "shape", "value_first.csv", r"region column 'index'", 1),
    ("semicolon-separated", "shape", "semicolon.csv", r"semicolon-separated", 1),
    ("tab-separated", "shape", "tabs.txt", r"tab-separated", 1),
    ("pipe-separated", "shape", "pipes.csv", r"pipe-separated", 1),
    ("wide-one-row", "shape", "wide.csv", r"wide table \(1 map row\(s\) x 34 region columns\)", 1),
    ("headerless", "shape", "headerless.csv", r"no header row", 1),
    ("own-read-map-output", "shape", "own_output.csv", r"region column 'region'", 1),
    ("freesurfer-aparc-ids", "shape", "aparc_ids.csv", r"region column 'id'", 1),
    ("excel-sheet", "shape", "sheet.xlsx", r"Excel sheet 'Sheet1'", 1),
    ("gii-one-array", "shape", "lh.one.gii", r"1 GIFTI data array, 1 map of 10,242 vertices \(fsaverage5\)", 1),
    ("gii-two-arrays", "shape", "lh.two_arrays.gii", r"2 GIFTI data arrays, 2 maps", 2),
    ("gii-2d-columns", "shape", "lh.columns.gii", r"1 GIFTI data array, 3 maps", 3),
    ("gii-hemisphere-metadata", "shape", "meta_hemi.gii", r"hemisphere L", 1),
    ("mgh-three-frames", "shape", "lh.frames.mgh", r"3 MGH frames, 3 maps", 3),
]


@pytest.mark.parametrize("case", ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_accepted_by_the_call_and_stated(case, files):
    _, _, name, stated, n_maps = case
    maps = read_map(files[name])
    assert maps.shape[1] == n_maps
    assert __import__("re").search(stated, maps.attrs["source"]), maps.attrs["source"]
    assert files[name].name in maps.attrs["source"]
    if name.endswith((".csv", ".txt", ".xlsx")):             # the same values as the clean table
        got = maps.iloc[:, 0].droplevel("hemisphere").loc[list(DK_CORTICAL_REGIONS)].to_numpy()
        np.testing.assert_allclose(got, VALUES)
    table = associate(files[name], **FAST)
    assert table["map"].nunique() == n_maps and table.attrs["input"] == maps.attrs["source"]


@pytest.mark.parametrize("case", ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_accepted_by_the_command_and_stated(case, files, capsys, tmp_path):
    _, _, name, stated, n_maps = case
    out = tmp_path / "r.csv"
    code, printed, err = _run_cli([str(files[name]), *FAST_CLI, "--out", str(out)], capsys)
    assert code == 0, err
    assert __import__("re").search(stated, printed) and f"read {files[name].name}" in printed
    assert pd.read_csv(out)["map"].nunique() == n_maps


def test_read_map_accepts_its_own_output_object():
    first = read_map(SERIES)
    again = read_map(first)
    pd.testing.assert_frame_equal(first, again, check_names=False)


def test_surface_loader_and_call_share_one_reading(files):
    """load_surface_map refuses what read_map reads as several maps, with the same description."""
    from qmrigenes.surface import load_surface_map

    with pytest.raises(ValueError, match=r"lh\.two_arrays\.gii: expected one value per vertex, got 2 maps"):
        load_surface_map(files["lh.two_arrays.gii"])
    with pytest.raises(ValueError, match=r"lh\.flat2d\.gii data array 1 of 1 has shape \(5121, 2\)"):
        load_surface_map(files["lh.flat2d.gii"])
    np.testing.assert_allclose(load_surface_map(files["lh.one.gii"]), _surface(), rtol=1e-6)


# --------------------------------------------------------------------------- data and environment
def test_data_fetch_error_is_one_line_in_the_command(files, capsys, monkeypatch, tmp_path):
    from qmrigenes.fetch import DataFetchError

    def fail():
        raise DataFetchError("could not download ahba_dk_expression.csv from X: offline\nWithout network access, "
                             "set QMRIGENES_MIRROR")
    monkeypatch.setattr(association, "load_ahba_dk", fail)
    code, _, err = _run_cli([str(files["clean.csv"]), *FAST_CLI, "--out", str(tmp_path / "r.csv")], capsys)
    assert code == 1 and err.count("\n") == 1 and "ahba_dk_expression.csv" in err and "Traceback" not in err


def test_empty_data_variable_is_an_error_for_call_and_command(files, capsys, monkeypatch, tmp_path):
    from qmrigenes import datasets
    from qmrigenes.fetch import DataFetchError

    monkeypatch.setenv("QMRIGENES_DATA", "")
    datasets._read_ahba_dk.cache_clear()
    try:
        with pytest.raises(DataFetchError, match="QMRIGENES_DATA is set but empty"):
            associate(files["clean.csv"], **FAST)
        code, _, err = _run_cli([str(files["clean.csv"]), *FAST_CLI, "--out", str(tmp_path / "r.csv")], capsys)
        assert code == 1 and err.count("\n") == 1 and "QMRIGENES_DATA is set but empty" in err
    finally:
        monkeypatch.undo()
        datasets._read_ahba_dk.cache_clear()


def test_unexpected_error_is_one_line_unless_debugging(files, capsys, monkeypatch, tmp_path):
    def boom(*a, **k):
        raise RuntimeError("internal")
    monkeypatch.setattr(association, "gene_set_association", boom)
    code, _, err = _run_cli([str(files["clean.csv"]), *FAST_CLI, "--out", str(tmp_path / "r.csv")], capsys)
    assert code == 1 and err.count("\n") == 1 and "unexpected error (RuntimeError: internal)" in err
    monkeypatch.setenv("QMRIGENES_DEBUG", "1")
    with pytest.raises(RuntimeError):
        cli.main(["associate", str(files["clean.csv"]), *FAST_CLI, "--out", str(tmp_path / "r2.csv")])


# --------------------------------------------------------------------------- nothing lost
def _snapshot(folder: Path, *, dirs: bool = True) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns,
                                         p.read_bytes() if p.is_file() and p.stat().st_size < 1_000_000 else b"")
            for p in sorted(folder.rglob("*")) if p.is_file() or (dirs and p.is_dir())}


def _cache_damage(cache: Path, before: dict, after: dict) -> list[str]:
    """What a command did to the data cache that it must not do: a file there before removed or
    changed, or a new file that is incomplete (this process's temporary ``.<name>.part-<pid>``, a
    registered file whose sha256 is not the registry's, a derived pickle that does not load, or
    anything else). The data cache is shared (the other pytest-xdist worker and other processes
    fetch into it at the same time), so complete new files (a registered data file fetched and
    verified, a derived table stored) are allowed, as are other processes' temporary files."""
    import pickle
    import re

    from qmrigenes.fetch import _sha256, load_registry

    partial = re.compile(r"(^|/)\.[^/]+\.part-(\d+)$")
    ours = str(os.getpid())

    def others(name):
        m = partial.search(name)
        return m is not None and m.group(2) != ours

    sha = load_registry()["sha256"].to_dict()
    damage = [f"changed or removed: {k}" for k in before if not others(k) and after.get(k) != before[k]]
    for name in sorted(set(after) - set(before)):
        path = cache / name
        if others(name) or (name.startswith("__pycache__/") and name.endswith(".pyc")):
            continue
        if name in sha and _sha256(path) == sha[name]:
            continue
        if name.startswith("derived/") and name.endswith(".pkl"):
            try:
                with open(path, "rb") as stored:
                    pickle.load(stored)
                continue
            except Exception:
                pass
        damage.append(f"new and incomplete: {name}")
    return damage


@pytest.mark.parametrize("where", ["during-analysis", "during-write", "failed-analysis"])
def test_failed_or_interrupted_command_leaves_files_and_cache_as_they_were(where, files, capsys, monkeypatch,
                                                                           tmp_path):
    from qmrigenes.fetch import cache_dir

    work = tmp_path / "work"
    work.mkdir()
    SERIES.to_csv(work / "map.csv")
    (work / "results.csv").write_text("an earlier result\n")
    cache = cache_dir()
    before_work, before_cache = _snapshot(work), _snapshot(cache, dirs=False)
    if where == "during-analysis":
        def interrupt(*a, **k):
            raise KeyboardInterrupt
        monkeypatch.setattr(association, "gene_set_association", interrupt)
    elif where == "during-write":
        real = pd.DataFrame.to_csv

        def half(self, path, *a, **k):
            Path(path).write_text("half a tab")
            raise KeyboardInterrupt
        monkeypatch.setattr(pd.DataFrame, "to_csv", half)
    else:
        monkeypatch.setattr(association, "gene_set_association",
                            lambda *a, **k: (_ for _ in ()).throw(ValueError("maps: something is wrong")))
    code, _, err = _run_cli([str(work / "map.csv"), *FAST_CLI, "--out", str(work / "results.csv"), "--force"],
                            capsys)
    assert code == (1 if where == "failed-analysis" else 130)
    assert err.count("\n") == 1 and "Traceback" not in err
    assert _snapshot(work) == before_work                   # the map and the earlier result untouched, no temp file
    assert _cache_damage(cache, before_cache, _snapshot(cache, dirs=False)) == []


def test_force_replaces_atomically(files, capsys, tmp_path):
    out = tmp_path / "r.csv"
    out.write_text("old\n")
    code, _, err = _run_cli([str(files["clean.csv"]), *FAST_CLI, "--out", str(out), "--force"], capsys)
    assert code == 0, err
    assert pd.read_csv(out)["gene_set"].tolist() == ["iron", "myelin"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]          # no temporary file left


# --------------------------------------------------------------------------- the suite itself
def test_suite_size_and_kinds():
    """At least 80 cases for the command and the call together, every kind represented."""
    per_entry = Counter()
    kinds = Counter()
    for case in REFUSED:
        per_entry["call"] += 1
        per_entry["command"] += 1
        kinds[case[1]] += 2
    for case in CALL_ONLY:
        per_entry["call"] += 1
        kinds[case[1]] += 1
    for case in CMD_ONLY:
        per_entry["command"] += 1
        kinds[case[1]] += 1
    for case in ACCEPTED:
        per_entry["call"] += 1
        per_entry["command"] += 1
        kinds["accepted " + case[1]] += 2
    assert sum(per_entry.values()) >= 80
    assert {"file", "shape", "values", "args", "sets", "output"} <= set(kinds)
    assert per_entry["call"] >= 40 and per_entry["command"] >= 40
