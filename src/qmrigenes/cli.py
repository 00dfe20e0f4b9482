"""The ``qmrigenes`` command.

``qmrigenes fetch [--verify-only]``
    Fetch and verify every registered data file into ``$QMRIGENES_DATA``.
``qmrigenes associate MAP --sets celltypes --n-perm 10000 --out results.csv``
    Gene-set association of a regional or surface map
    (:func:`qmrigenes.association.associate`), with progress on long steps,
    a summary at the end and the table written to CSV.

Errors in what the user gave (arguments, files, data) end in one line on
stderr saying what is wrong and how to fix it, and exit status 1 (130 when
interrupted); no traceback. Output files are checked before any work (folder
exists and is writable, not an input, not a folder, not an existing file unless
``--force``) and written atomically (a temporary file renamed into place), so a
failed or interrupted run leaves the user's files as they were.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

__all__ = ["main"]

_ENVIRONMENT = """\
environment:
  QMRIGENES_DATA    folder of the verified data files (default ~/qmrigenes-data); a
                    read-only folder that verifies is fine
  QMRIGENES_MIRROR  folder mirroring the GitHub-hosted data files (offline use); without
                    it they are downloaded from their pinned URLs
  QMRIGENES_DEBUG   set to 1 to see the traceback of an unexpected error
"""


class UserError(ValueError):
    """A problem with what the user gave; printed as one line."""


def _read_sets(value: str):
    """``--sets``: a built-in name, or a .json / .csv / .tsv / .gmt file of gene sets."""
    if value in ("celltypes", "iron-myelin"):
        return value
    path = Path(value)
    want = "'celltypes', 'iron-myelin' or a .gmt, .json or .csv (gene_set,gene) file of gene sets"
    if path.is_dir():
        raise UserError(f"--sets: {value} is a folder; expected {want}")
    if not path.is_file():
        raise UserError(f"--sets: no such file or built-in set {value!r}; expected {want}")
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise UserError(f"--sets: {path} is not a text file; expected {want}") from None
    if not text.strip():
        raise UserError(f"--sets: {path} is empty; expected {want}")
    if suffix == ".gmt":
        from .association import read_gmt

        return read_gmt(path)
    if suffix == ".json":
        try:
            sets = json.loads(text)
        except json.JSONDecodeError as err:
            raise UserError(f"--sets: {path} is not valid JSON ({err.msg}, line {err.lineno}); expected "
                            f'{{"set name": ["GENE1", "GENE2", ...]}}') from None
        if not isinstance(sets, dict):
            raise UserError(f"--sets: {path} holds a JSON {type(sets).__name__}; expected an object "
                            f'{{"set name": ["GENE1", ...]}}')
        return sets
    if suffix not in (".csv", ".tsv", ".txt"):
        raise UserError(f"--sets: {path} has an unknown extension; expected {want}")
    import pandas as pd

    try:
        table = pd.read_csv(path, sep="\t" if suffix == ".tsv" else None, engine="python", dtype=str,
                            keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
        raise UserError(f"--sets: cannot read {path} as a table ({str(err).splitlines()[0]})") from None
    table.columns = [str(c).strip() for c in table.columns]
    if not {"gene_set", "gene"} <= set(table.columns):
        raise UserError(f"--sets: {path} needs columns 'gene_set' and 'gene' (one row per gene), "
                        f"found {list(table.columns)[:5]}")
    table = table.apply(lambda c: c.str.strip())
    blank = table.index[(table["gene"] == "") | (table["gene_set"] == "")]
    if len(blank):
        raise UserError(f"--sets: {path} has {len(blank)} row(s) with a blank gene or set name (first at "
                        f"line {int(blank[0]) + 2}); fill or delete them")
    return {name: list(g["gene"]) for name, g in table.groupby("gene_set", sort=False)}


def _write(path: Path, write) -> None:
    from ._validate import atomic_write

    atomic_write(path, write)


def _associate(args) -> int:
    from ._validate import check_output_path
    from .association import associate

    if len(args.map) > 2:
        raise UserError(f"MAP: give one map file or a (lh rh) pair of surface files, got {len(args.map)} files")
    the_map = args.map[0] if len(args.map) == 1 else tuple(args.map)
    inputs = list(args.map) + ([args.sets] if Path(args.sets).exists() else [])
    outputs = {"--out": args.out, "--per-gene": args.per_gene, "--plot": args.plot, "--report": args.report}
    checked = {}
    for flag, value in outputs.items():
        if value is None:
            continue
        path = check_output_path(value, flag, inputs=inputs, force=args.force)
        if path.resolve() in {p.resolve() for p in checked.values()}:
            raise UserError(f"{flag} {value} is also given to another option; give each output its own file")
        checked[flag] = path
    if args.plot is not None and not str(args.plot).lower().endswith((".png", ".pdf", ".svg")):
        raise UserError(f"--plot {args.plot}: expected a .png, .pdf or .svg file name")
    sets = _read_sets(args.sets)
    nulls = tuple(n.strip() for n in args.nulls.split(",") if n.strip())
    t0 = time.perf_counter()
    detail = bool(args.per_gene or args.plot or args.report)
    import warnings

    with warnings.catch_warnings(record=True) as caught:      # the library's warnings as one line each
        warnings.simplefilter("always", UserWarning)
        result = associate(the_map, sets=sets, nulls=nulls, n_perm=args.n_perm, seed=args.seed,
                           hemisphere=args.hemisphere, atlas=args.atlas, progress=not args.quiet,
                           **({"return_details": True} if detail else {}))
    for w in caught:
        print(f"qmrigenes associate: warning: {w.message}", file=sys.stderr)
    table, details = (result if detail else (result, None))
    seconds = time.perf_counter() - t0
    _write(checked["--out"], lambda tmp: table.to_csv(tmp, index=False))
    written = [checked["--out"]]
    if args.per_gene:
        _write(checked["--per-gene"], lambda tmp: details.per_gene.to_csv(tmp, index=False))
        written.append(checked["--per-gene"])
    if args.plot:
        from .figures.distributions import plot_association

        fig = plot_association(details)
        suffix = checked["--plot"].suffix.lower().lstrip(".")
        _write(checked["--plot"], lambda tmp: fig.savefig(tmp, dpi=150, bbox_inches="tight", format=suffix))
        written.append(checked["--plot"])
    if args.report:
        _write(checked["--report"], lambda tmp: tmp.write_text(details.methods + "\n", encoding="utf-8"))
        written.append(checked["--report"])
    pcols = [c for c in table.columns if c.startswith("p_") and c.endswith("_fdr")]
    if table.attrs.get("input"):
        print(f"read {table.attrs['input']}")
    print(f"{len(table)} tests ({table['gene_set'].nunique()} gene sets x {table['map'].nunique()} maps, "
          f"{int(table['n_regions'].iloc[0])} regions, {args.n_perm:,} draws per null) in {seconds:.1f} s")
    show = table.sort_values(pcols[0] if pcols else "r").head(args.top)
    cols = ["gene_set", "map", "n_present", "r"] + pcols
    print(show[cols].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    for path in written:
        print(f"wrote {path}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qmrigenes", description="Quantitative MRI maps against AHBA gene expression.",
        epilog=_ENVIRONMENT, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fetch", help="fetch and verify every registered data file",
                       epilog=_ENVIRONMENT, formatter_class=argparse.RawDescriptionHelpFormatter)
    f.add_argument("--verify-only", action="store_true", help="check the cache against the registry; fetch nothing")
    a = sub.add_parser("associate", help="gene-set association of a map with gene and spatial nulls",
                       epilog=_ENVIRONMENT, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("map", nargs="+", help="one map file, or two (lh rh) surface files: a regional table (.csv/.tsv/.txt/.xlsx: a column of DK regions or deep grey "
                               "structures and one column per map, or a wide row per map) or a surface map "
                               "(.gii, .gii.gz, .mgh, .mgz; fsaverage5 or conte69, one hemisphere), or an "
                               "MNI-space volume (.nii, .nii.gz; parcellated into DK cortex + deep grey)")
    a.add_argument("--sets", default="celltypes",
                   help="'celltypes', 'iron-myelin', or a .gmt / .json {set: [genes]} / .csv (gene_set,gene) file")
    a.add_argument("--nulls", default="genes,spins", help="comma-separated: genes, spins or labels (default genes,spins)")
    a.add_argument("--n-perm", type=int, default=10_000, help="draws per null (default 10,000; at most 100,000)")
    a.add_argument("--seed", type=int, default=0,
                   help="seed of every null, 0 to 2**32-1 (default 0; the same seed gives the same table)")
    a.add_argument("--hemisphere", choices=("L", "R"), help="hemisphere of labels that name none")
    a.add_argument("--atlas", choices=("dk", "schaefer100"), default="dk",
                   help="regions of the map and AHBA table: dk (Desikan-Killiany cortex + deep grey, default) or "
                        "schaefer100 (Schaefer 2018, 100 parcels, 7 networks; tables name parcels "
                        "7Networks_LH_Vis_1, surfaces on fsaverage5, MNI volumes)")
    a.add_argument("--out", default="results.csv", help="output CSV (default results.csv)")
    a.add_argument("--per-gene", metavar="FILE", help="also write the per-gene table (r, p, BH) to this CSV")
    a.add_argument("--plot", metavar="FILE", help="also draw the result and each set's nulls (.png/.pdf/.svg)")
    a.add_argument("--report", metavar="FILE", help="also write a methods paragraph with references (.md)")
    a.add_argument("--force", action="store_true", help="replace output files that already exist")
    a.add_argument("--top", type=int, default=10, help="rows in the printed summary")
    a.add_argument("--quiet", action="store_true", help="no progress counter")
    return parser


def _one_line(err: BaseException) -> str:
    from .fetch import DataFetchError

    if isinstance(err, KeyError) and err.args:
        text = str(err.args[0])
    else:
        text = str(err) or type(err).__name__
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if isinstance(err, DataFetchError) and len(lines) > 1:
        return " ".join(lines)
    line = lines[0] if lines else type(err).__name__
    # the call's argument names -> the command's options
    return re.sub(r"^(n_perm|seed|nulls|sets|hemisphere|atlas)\b", lambda m: "--" + m.group(1).replace("_", "-"), line)


def main(argv=None) -> int:
    """Entry point of the ``qmrigenes`` console script (errors: one line and a fix, exit 1)."""
    args = _parser().parse_args(argv)
    import pandas as pd

    from .fetch import DataFetchError

    user_errors = (ValueError, TypeError, FileNotFoundError, KeyError, OSError, DataFetchError, EOFError,
                   pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError)
    try:
        if args.command == "fetch":
            from .fetch import main as fetch_main
            return fetch_main(["--verify-only"] if args.verify_only else [])
        return _associate(args)
    except KeyboardInterrupt:
        print(f"qmrigenes {args.command}: interrupted; no output file was written or changed", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"qmrigenes {args.command}: error: out of memory; lower --n-perm or test fewer maps or sets",
              file=sys.stderr)
        return 1
    except user_errors as err:
        fix = ""
        if isinstance(err, DataFetchError) and "fix" not in str(err).lower() and "run:" not in str(err).lower():
            fix = "; fix: qmrigenes fetch (set QMRIGENES_MIRROR for an offline mirror)"
        print(f"qmrigenes {args.command}: error: {_one_line(err)}{fix}", file=sys.stderr)
        return 1
    except Exception as err:  # noqa: BLE001 - never a traceback unless asked for
        if os.environ.get("QMRIGENES_DEBUG"):
            raise
        print(f"qmrigenes {args.command}: unexpected error ({type(err).__name__}: {_one_line(err)}); "
              f"please report it; QMRIGENES_DEBUG=1 shows the traceback", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
