"""A seeded random subset of the Prinz 2003 grid as a sweep: ``sweeps/prinz2003.toml``'s protocol
(cold start, 20 s transient, 20 s analysed window) over a table of grid members.

Writes ``DIR/prinz2003_1of{F}.csv`` (one row per member: the eight conductances, mS/cm^2, in
seeded random order, so any prefix of the table -- the first chunks -- is itself a uniform random
sample of the grid) and ``DIR/prinz2003_1of{F}_{solver}.toml``.

    python scripts/prinz2003_subset.py --dir /tmp/prinz --fraction 64                 # 26,244 members, Kvaerno5
    python scripts/prinz2003_subset.py --dir /tmp/prinz --solver expeuler --first 512   # the fast mode, 512 members
    jaxneuron sweep /tmp/prinz/prinz2003_1of64_kvaerno5.toml --out /tmp/prinz/k5.zarr --dask local:2

``--first N`` keeps the first N rows (a smaller random sample: the same members as the first N of
the full table); ``--solver``: ``kvaerno5`` (default, adaptive, accurate), ``tsit5``, or
``expeuler`` (dt 0.05 ms, the fast mode of ``sweeps/prinz2003.toml``).
"""

import argparse
import os
import re
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOLVERS = {"kvaerno5": "", "tsit5": '[solver]\nname = "tsit5"\n', "expeuler": '[solver]\nname = "expeuler"\ndt = 0.05\n'}


def grid_axes(text):
    """``[(name, values)]`` of the grid axes of sweeps/prinz2003.toml (linspace rules)."""
    axes = re.findall(r"^(g_\w+) = \{linspace = \[([^\]]+)\]\}", text, flags=re.M)
    return [(n, np.linspace(*(float(x) for x in a.split(",")[:2]), int(a.split(",")[2]))) for n, a in axes]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", required=True, help="where the table and the spec are written")
    p.add_argument("--fraction", type=int, default=64, help="1/F of the grid (default 64: 26,244 members)")
    p.add_argument("--seed", type=int, default=2003)
    p.add_argument("--first", type=int, help="keep only the first N rows of the table")
    p.add_argument("--solver", choices=tuple(SOLVERS), default="kvaerno5")
    p.add_argument("--chunk-size", type=int, default=256)
    p.add_argument("--keep", type=int, default=64, help="kept traces (1 ms sampling)")
    a = p.parse_args(argv)
    text = open(os.path.join(ROOT, "sweeps", "prinz2003.toml")).read()
    axes = grid_axes(text)
    shape = tuple(len(v) for _, v in axes)
    n_grid = int(np.prod(shape))
    members = np.random.default_rng(a.seed).choice(n_grid, size=n_grid // a.fraction, replace=False)  # seeded random order
    if a.first:
        members = members[: a.first]
    idx = np.unravel_index(members, shape)  # as the grid space: C order, g_Na most significant
    os.makedirs(a.dir, exist_ok=True)
    table = os.path.join(a.dir, f"prinz2003_1of{a.fraction}" + (f"_first{a.first}" if a.first else "") + ".csv")
    with open(table, "w") as f:
        f.write(",".join(n for n, _ in axes) + "\n")
        for row in range(len(members)):
            f.write(",".join(repr(float(v[idx[j][row]])) for j, (_, v) in enumerate(axes)) + "\n")
    body = text[text.index("[protocol]"): text.index("[traces]")]
    body = re.sub(r"\[solver\][^\[]*", SOLVERS[a.solver], body)
    spec = (f'description = "Prinz 2003 database, seeded random 1/{a.fraction} of the grid ({len(members):,} members), {a.solver}"\n'
            f'model = "prinz2003"\nseed = {a.seed}\nchunk_size = {a.chunk_size}\n\n{body}'
            f"[traces]\nkeep = {a.keep}\nsave_dt = 1.0\n\n"
            f'[space]\nkind = "table"\nfile = "{os.path.basename(table)}"\n')  # fmt: skip
    out = table[:-4] + f"_{a.solver}.toml"
    open(out, "w").write(spec)
    print(f"wrote {table} ({len(members):,} members) and {out}")
    return out


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
