"""The ``qmrigenes`` command.

``qmrigenes fetch [--verify-only]``
    Fetch and verify every registered data file into ``$QMRIGENES_DATA``.
``qmrigenes associate MAP --sets celltypes --n-perm 10000 --out results.csv``
    Gene-set association of a regional or fsaverage5 surface map
    (:func:`qmrigenes.association.associate`), with a progress bar on the spins,
    a summary at the end and the table written to CSV.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

__all__ = ["main"]


def _read_sets(value: str):
    if value in ("celltypes", "iron-myelin"):
        return value
    path = Path(value)
    if not path.is_file():
        raise ValueError(f"--sets: expected 'celltypes', 'iron-myelin' or a .json/.csv file of gene sets, "
                         f"got {value!r}")
    if path.suffix.lower() == ".json":
        return json.loads(path.read_text())
    import pandas as pd

    table = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")
    if not {"gene_set", "gene"} <= set(table.columns):
        raise ValueError(f"--sets: {path} needs columns 'gene_set' and 'gene'")
    return {name: list(g["gene"]) for name, g in table.groupby("gene_set", sort=False)}


def _associate(args) -> int:
    from .association import associate

    t0 = time.perf_counter()
    table = associate(args.map, sets=_read_sets(args.sets), nulls=tuple(args.nulls.split(",")),
                      n_perm=args.n_perm, seed=args.seed, hemisphere=args.hemisphere,
                      progress=not args.quiet)
    out = Path(args.out)
    table.to_csv(out, index=False)
    seconds = time.perf_counter() - t0
    pcols = [c for c in table.columns if c.startswith("p_") and c.endswith("_fdr")]
    print(f"{len(table)} tests ({table['gene_set'].nunique()} gene sets x {table['map'].nunique()} maps, "
          f"{int(table['n_regions'].iloc[0])} regions, {args.n_perm:,} draws per null) in {seconds:.1f} s")
    show = table.sort_values(pcols[0] if pcols else "r").head(args.top)
    cols = ["gene_set", "map", "n_present", "r"] + pcols
    print(show[cols].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"wrote {out}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qmrigenes", description="Quantitative MRI maps against AHBA gene expression.")
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fetch", help="fetch and verify every registered data file")
    f.add_argument("--verify-only", action="store_true", help="check the cache against the registry; fetch nothing")
    a = sub.add_parser("associate", help="gene-set association of a map with gene and spatial nulls")
    a.add_argument("map", help="regional table (.csv/.tsv, first column = DK region or deep grey structure) "
                               "or fsaverage5 surface map (.gii, .gii.gz, .mgh, .mgz)")
    a.add_argument("--sets", default="celltypes",
                   help="'celltypes', 'iron-myelin', or a .json {set: [genes]} / .csv (gene_set,gene) file")
    a.add_argument("--nulls", default="genes,spins", help="comma-separated: genes, spins or labels (default genes,spins)")
    a.add_argument("--n-perm", type=int, default=10_000, help="draws per null (default 10,000)")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--hemisphere", choices=("L", "R"), help="hemisphere of labels that name none")
    a.add_argument("--out", default="results.csv", help="output CSV (default results.csv)")
    a.add_argument("--top", type=int, default=10, help="rows in the printed summary")
    a.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv=None) -> int:
    """Entry point of the ``qmrigenes`` console script (errors: one line and a fix, exit 1)."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "fetch":
            from .fetch import main as fetch_main
            return fetch_main(["--verify-only"] if args.verify_only else [])
        return _associate(args)
    except (ValueError, TypeError, FileNotFoundError, KeyError) as err:
        print(f"qmrigenes {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
