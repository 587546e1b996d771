"""Numbers and the figure of a Prinz 2003 (subset) database: class fractions with 95 % confidence
intervals, the class probability at each level of each conductance (the Prinz et al. 2003 style
figure), and label agreement with other databases of the same members (another solver).

    python scripts/prinz2003_report.py /tmp/prinz/ee.zarr --png docs/prinz2003_classes.png \
        --compare /tmp/prinz/t5.zarr

Only computed members count (status >= 0; an incomplete, resumable database is a uniform random
sample when its table is in seeded random order: scripts/prinz2003_subset.py). Intervals: Wilson
score, 95 %. ``--compare DB``: members are matched by their eight conductances.
"""

import argparse
import sys

import numpy as np
import xarray as xr

import jaxneuron as jn
from jaxneuron.survey.plots import CLASS_COLORS

G = ("g_Na", "g_CaT", "g_CaS", "g_A", "g_KCa", "g_Kd", "g_H", "g_leak")
Z = 1.959963984540054


def wilson(k, n):
    """95 % Wilson score interval of the proportion k/n."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    p = k / np.maximum(n, 1)
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z * np.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2)) / (1 + Z**2 / n)
    return centre - half, centre + half


def computed(path):
    ds = xr.open_zarr(path)
    ok = ds["status"].values >= 0
    g = np.stack([ds[n].values[ok] for n in G], axis=1)
    return ds, g, ds["label"].values[ok], ds["status"].values[ok]


def fractions(label):
    n = label.size
    rows = []
    for c, name in enumerate(jn.ACTIVITY_LABELS):
        k = int((label == c).sum())
        lo, hi = wilson(k, n)
        rows.append((name, k, k / n, lo, hi))
    return rows


def figure(g, label, path, title):
    from matplotlib import pyplot as plt

    classes = [c for c in range(4) if (label == c).any()]
    fig, axes = plt.subplots(2, 4, figsize=(12, 5.6), sharey=True)
    for j, (ax, name) in enumerate(zip(axes.ravel(), G)):
        levels = np.unique(g[:, j])
        for c in classes:
            n = np.array([(g[:, j] == v).sum() for v in levels])
            k = np.array([((g[:, j] == v) & (label == c)).sum() for v in levels])
            lo, hi = wilson(k, n)
            ax.errorbar(levels, k / np.maximum(n, 1), yerr=np.clip([k / n - lo, hi - k / n], 0, None), color=CLASS_COLORS[c], marker="o", ms=3.5,
                        lw=1.3, capsize=2, label=jn.ACTIVITY_LABELS[c])  # fmt: skip
        ax.set_xlabel(f"{name} (mS/cm²)")
        ax.set_ylim(0, 1)
        ax.spines[["top", "right"]].set_visible(False)
        if j % 4 == 0:
            ax.set_ylabel("P(class | level)")
    axes[0, 0].legend(fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)


def agreement(g, label, status, other):
    _, g2, l2, s2 = computed(other)
    index = {tuple(row): i for i, row in enumerate(g2)}
    pairs = [(i, index[tuple(row)]) for i, row in enumerate(g) if tuple(row) in index]
    a = np.array([p[0] for p in pairs], dtype=int)
    b = np.array([p[1] for p in pairs], dtype=int)
    same = label[a] == l2[b]
    n, k = same.size, int((~same).sum())
    lo, hi = wilson(k, n)
    conf = {}
    for x, y in zip(label[a][~same], l2[b][~same]):
        key = f"{jn.ACTIVITY_LABELS[x] if x >= 0 else 'failed'} -> {jn.ACTIVITY_LABELS[y] if y >= 0 else 'failed'}"
        conf[key] = conf.get(key, 0) + 1
    return n, k, lo, hi, conf


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("db")
    p.add_argument("--png", help="per-conductance class probability figure")
    p.add_argument("--compare", action="append", default=[], help="another database of (some of) the same members")
    a = p.parse_args(argv)
    ds, g, label, status = computed(a.db)
    n_grid = 6**8
    print(f"{a.db}: {label.size:,} computed members of {ds.attrs['n_members']:,} ({label.size / n_grid:.3%} of the 6^8 grid); "
          f"solver failures: {int((status > 0).sum())}")  # fmt: skip
    print("| class | members | fraction | 95 % CI |\n|---|---|---|---|")
    for name, k, f, lo, hi in fractions(label):
        print(f"| {name} | {k:,} | {f:.1%} | {lo:.1%} – {hi:.1%} |")
    for other in a.compare:
        n, k, lo, hi, conf = agreement(g, label, status, other)
        print(f"labels differing from {other}: {k} of {n} ({k / max(n, 1):.2%}, 95 % CI {lo:.2%} – {hi:.2%}); {conf}")
    if a.png:
        figure(g, label, a.png, f"{ds.attrs.get('description', '')}: {label.size:,} members")
        print(f"wrote {a.png}")


if __name__ == "__main__":
    sys.exit(main())
