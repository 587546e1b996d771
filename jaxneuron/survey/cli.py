"""``jaxneuron sweep | info | plot | export``: thin commands over :func:`jaxneuron.sweep` and friends."""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["add_commands", "enable_compilation_cache"]

CACHE_ENV = "JAXNEURON_COMPILATION_CACHE"
"""Directory of JAX's persistent compilation cache for the CLI; ``0``/``off`` switches it off."""


def enable_compilation_cache() -> str | None:
    """Point JAX's persistent compilation cache at ``$JAXNEURON_COMPILATION_CACHE`` (default
    ``~/.cache/jaxneuron/jax``), so a repeated or resumed sweep skips recompilation."""
    import jax

    where = os.environ.get(CACHE_ENV, os.path.join(os.path.expanduser("~"), ".cache", "jaxneuron", "jax"))
    if where.lower() in ("", "0", "off", "no", "false"):
        return None
    try:
        os.makedirs(where, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", where)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    return where


def _errors():
    from .spec import SweepSpecError
    from .store import SweepError

    return (SweepSpecError, SweepError)


def _fail(e) -> int:
    print(f"error: {e}", file=sys.stderr)
    return 2


def _cmd_sweep(args):
    from .run import sweep
    from .spec import load_spec

    if args.dry_run:
        try:
            print(load_spec(args.spec).describe())
        except _errors() as e:
            return _fail(e)
        return 0
    if not args.out:
        return _fail("--out DB.zarr is required (the database to write), or --dry-run to only describe the sweep")
    enable_compilation_cache()
    close = lambda: None  # noqa: E731
    try:
        spec, client = args.spec, None
        if args.dask:
            from .distributed import connect

            if args.shard and args.shard != (0, 1):
                return _fail(f"--dask and --shard {args.shard[0]}/{args.shard[1]} do not combine: Dask splits the chunks over "
                             "its workers (use --shard for plain job arrays, without --dask)")  # fmt: skip
            spec = load_spec(args.spec)
            client, close = connect(args.dask, spec)
        summary = sweep(spec, args.out, resume=args.resume, overwrite=args.overwrite, chunk_size=args.chunk_size,
                        shard=args.shard or (0, 1), progress=args.progress, client=client)  # fmt: skip
    except _errors() as e:
        return _fail(e)
    except KeyboardInterrupt:
        print(f"\ninterrupted: the chunks written so far are kept; continue with --resume (--out {args.out})", file=sys.stderr)
        return 130
    finally:
        close()
    print(summary.format())
    if args.plot and summary.complete:
        from .plots import plot_database

        plot_database(args.out, args.plot)
        print(f"wrote {args.plot}")
    elif args.plot:
        print(f"not plotting: the database is incomplete (plot it with `jaxneuron plot {args.out} --out {args.plot}`)")
    return 0


def _open(path):
    import xarray as xr

    from .store import SweepError, is_sweep_store

    if not is_sweep_store(path):
        raise SweepError(f"{path} is not a jaxneuron sweep database")
    return xr.open_zarr(path)


def _cmd_info(args):
    import json

    from .run import _format_counts, summarize
    from .store import done_chunks

    try:
        ds = _open(args.db)
    except _errors() as e:
        return _fail(e)
    a = ds.attrs
    done = done_chunks(args.db)
    n_done = int((ds["status"].values >= 0).sum())
    print(f"{args.db}: {a['title']}")
    print(f"model: {a['model']}; space: {a['space']}")
    print(f"chunk size {a['chunk_size']}, seed {a['seed']}; created {a['created_utc']} on {a['device']}")
    print(f"progress: {int(done.sum())}/{done.size} chunks, {n_done:,}/{a['n_members']:,} members")
    print(_format_counts(*summarize(args.db)))
    print(f"per-member variables: {', '.join(_member_variables(ds))}")
    cells = f"{ds.sizes['cell']} cells x " if "cell" in ds["V"].dims else ""
    print(f"kept traces: {ds.sizes['trace_member']} x {cells}{ds.sizes['time']} samples")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in json.loads(a["versions"]).items()))
    if args.spec:
        print("\n" + a["spec_toml"])
    return 0


def _cmd_plot(args):
    from .plots import plot_database

    try:
        _open(args.db)
        plot_database(args.db, args.out, kind=args.kind, x=args.x, y=args.y,
                      features=args.features.split(",") if args.features else None)  # fmt: skip
    except (*_errors(), ValueError) as e:
        return _fail(e)
    print(f"wrote {args.out}")
    return 0


def _member_variables(ds) -> list[str]:
    """Per-member variables: status, then the features in :class:`jaxneuron.Activity` order."""
    from ..analysis import Activity
    from .network import RHYTHM_FEATURES

    order = {n: i for i, n in enumerate(("status",) + Activity.feature_names + ("rhythm_class",) + tuple(RHYTHM_FEATURES))}
    names = [v for v in ds.data_vars if ds[v].dims[:1] == ("member",)]
    return sorted(names, key=lambda n: order.get(n, len(order)))


def member_table(ds):
    """Per-member ``pandas.DataFrame``: member, swept parameters, status, features, num_steps.
    Network features with a cell or pair axis become one column per cell / pair, ``name[LP]``."""
    import pandas as pd

    names = [c for c in ds.coords if ds[c].dims == ("member",) and c != "member"] + _member_variables(ds)
    columns = {"member": ds["member"].values}
    for name in names:
        var = ds[name]
        if var.ndim == 1:
            columns[name] = var.values
        else:
            for j, label in enumerate(ds[var.dims[1]].values):
                columns[f"{name}[{label}]"] = var.values[:, j]
    return pd.DataFrame(columns)


def _cmd_export(args):
    try:
        ds = _open(args.db)
    except _errors() as e:
        return _fail(e)
    if not (args.parquet or args.csv):
        return _fail("export needs --parquet FILE or --csv FILE")
    table = member_table(ds)
    if args.parquet:
        try:
            table.to_parquet(args.parquet, index=False)
        except ImportError as e:
            return _fail(f"writing Parquet needs pyarrow (pip install pyarrow): {e}")
        print(f"wrote {args.parquet}: {len(table):,} members x {table.shape[1]} columns")
    if args.csv:
        table.to_csv(args.csv, index=False)
        print(f"wrote {args.csv}: {len(table):,} members x {table.shape[1]} columns")
    return 0


def add_commands(sub) -> None:
    """Register ``sweep``, ``info``, ``plot`` and ``export`` on the ``jaxneuron`` subparsers."""
    from .run import parse_shard
    from .store import SweepError

    def shard(text):
        try:
            return parse_shard(text)
        except SweepError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    p = sub.add_parser("sweep", help="run a parameter sweep described in a TOML file into a Zarr database")
    p.add_argument("spec", help="sweep specification (TOML), e.g. sweeps/demo.toml")
    p.add_argument("--out", help="database to write (a .zarr directory; required unless --dry-run)")
    p.add_argument("--dry-run", action="store_true", help="only validate the spec and describe the sweep (size, space, protocol)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted sweep (same spec), skipping done chunks")
    p.add_argument("--overwrite", action="store_true", help="replace an existing database")
    p.add_argument("--chunk-size", type=int, help="members per compiled chunk (new databases; memory grows with it)")
    p.add_argument("--shard", type=shard, metavar="I/N", help="run only chunks I, I+N, I+2N, ... (job arrays; shards share --out)")
    p.add_argument("--dask", metavar="SCHEDULER", help="run the chunks as Dask tasks: local:N (N worker processes on this machine), "
                   "tcp://HOST:PORT (a running dask scheduler), or slurm (SLURM jobs from the spec's [cluster] table)")
    p.add_argument("--plot", metavar="FIG.png", help="when complete, also write the summary figure")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="force the progress bar on/off (default: on a terminal)")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("info", help="describe a sweep database: spec, progress, class fractions")
    p.add_argument("db")
    p.add_argument("--spec", action="store_true", help="also print the stored spec (TOML)")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("plot", help="figures of a sweep database: class map, feature histograms, example traces")
    p.add_argument("db")
    p.add_argument("--out", required=True, help="figure file (.png, .pdf, .svg)")
    p.add_argument("--kind", default="summary", choices=("summary", "classmap", "hist", "traces"),
                   help="summary (default): class map + feature maps + traces; classmap: fraction of each "
                        "class over two parameters; hist: feature histograms per class; traces: examples per class")  # fmt: skip
    p.add_argument("--x", help="swept parameter on the x axis (default: the first)")
    p.add_argument("--y", help="swept parameter on the y axis (default: the second)")
    p.add_argument("--features", help="comma-separated features for --kind hist")
    p.set_defaults(func=_cmd_plot)

    p = sub.add_parser("export", help="write the per-member table (parameters, status, features)")
    p.add_argument("db")
    p.add_argument("--parquet", metavar="FILE", help="Parquet file (needs pyarrow)")
    p.add_argument("--csv", metavar="FILE", help="CSV file")
    p.set_defaults(func=_cmd_export)
