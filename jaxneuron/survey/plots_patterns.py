"""Firing-pattern maps of a sweep that stored ``pattern`` (e.g. ``sweeps/adex_fi.toml``).

One categorical map of :data:`jaxneuron.analysis.patterns.FIRING_PATTERNS` over two swept
parameters per value of a third (the injected current, by default), and the firing rate against
the current of every member.
"""

from __future__ import annotations

import numpy as np

from ..plot import _pyplot
from .plots import FAILED_COLOR, param_label, swept_parameters

__all__ = ["PATTERN_COLORS", "plot_pattern_summary"]

PATTERN_COLORS = ("#b9b9b9", "#2f6fb0", "#5fb0a0", "#d1495b", "#e9a23b", "#9b7fc7")
"""Colours of silent, tonic, adapting, bursting, irregular, transient."""


def _pick(ds, x, y, z):
    params = swept_parameters(ds)
    if len(params) < 2:
        raise ValueError(f"a firing-pattern map needs at least 2 swept parameters, the sweep has {params}")
    if z is None and len(params) >= 3:
        z = "stimulus.amplitude" if "stimulus.amplitude" in params else params[2]
    rest = [p for p in params if p != z]
    return x or rest[0], y or rest[1], z


def _grid_map(ax, xv, yv, pattern, status):
    """Draw one categorical map on the (x, y) grid of the selected members."""
    from matplotlib.colors import ListedColormap

    xs, ys = np.unique(xv), np.unique(yv)
    grid = np.full((ys.size, xs.size), np.nan)
    code = np.where(status == 0, pattern, len(PATTERN_COLORS))
    grid[np.searchsorted(ys, yv), np.searchsorted(xs, xv)] = code
    cmap = ListedColormap(list(PATTERN_COLORS) + [FAILED_COLOR])

    def edges(v):
        if v.size == 1:
            return np.array([v[0] - 0.5, v[0] + 0.5])
        mid = 0.5 * (v[1:] + v[:-1])
        return np.concatenate([[2 * v[0] - mid[0]], mid, [2 * v[-1] - mid[-1]]])

    ax.pcolormesh(edges(xs), edges(ys), grid, cmap=cmap, vmin=-0.5, vmax=len(PATTERN_COLORS) + 0.5, shading="flat",
                  edgecolors="white", linewidth=0.3)  # fmt: skip


def plot_pattern_summary(ds, path, *, x=None, y=None, z=None, panels=4):
    """Firing-pattern maps over ``(x, y)`` at up to ``panels`` values of ``z``, and rate vs ``z``."""
    from matplotlib.patches import Patch

    from ..analysis.patterns import FIRING_PATTERNS

    plt = _pyplot()
    x, y, z = _pick(ds, x, y, z)
    pattern, status = ds["pattern"].values, ds["status"].values
    zs = np.unique(ds[z].values) if z is not None else np.array([np.nan])
    chosen = zs[np.unique(np.linspace(0, zs.size - 1, min(panels, zs.size)).round().astype(int))]
    n = len(chosen) + (1 if z is not None and "spike_rate" in ds else 0)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n + 1.6, 3.6), squeeze=False)
    axes = axes[0]
    for ax, zv in zip(axes, chosen):
        sel = np.ones(pattern.shape, bool) if z is None else ds[z].values == zv
        _grid_map(ax, ds[x].values[sel], ds[y].values[sel], pattern[sel], status[sel])
        ax.set_xlabel(param_label(ds, x))
        ax.set_ylabel(param_label(ds, y))
        if z is not None:
            unit = ds[z].attrs.get("units", "")
            ax.set_title(f"{'I' if z == 'stimulus.amplitude' else z} = {zv:.4g} {unit}".rstrip(), fontsize=10)
    if n > len(chosen):  # rate against the current, coloured by pattern
        ax = axes[-1]
        ok = status == 0
        for c, name in enumerate(FIRING_PATTERNS):
            sel = ok & (pattern == c)
            ax.scatter(ds[z].values[sel], ds["spike_rate"].values[sel], s=6, color=PATTERN_COLORS[c], alpha=0.6, lw=0)
        ax.set_xlabel(param_label(ds, z))
        ax.set_ylabel("firing rate in the window (Hz)")
        ax.set_title("f-I of every member", fontsize=10)
    present = [c for c in range(len(FIRING_PATTERNS)) if np.any((pattern == c) & (status == 0))]
    handles = [Patch(color=PATTERN_COLORS[c], label=FIRING_PATTERNS[c]) for c in present]
    if np.any(status != 0):
        handles.append(Patch(color=FAILED_COLOR, label="solver failed"))
    axes[-1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=9)
    fig.suptitle(ds.attrs.get("description") or ds.attrs.get("title", ""), fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)
