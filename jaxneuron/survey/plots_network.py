"""Figures of a network sweep database (:mod:`.network`; matplotlib, imported lazily).

* :func:`plot_network_summary`: rhythm class map over two swept parameters (pyloric-like /
  triphasic, not pyloric-like / not triphasic / solver failed), cycle-period map of the triphasic
  networks, and example triphasic networks (three voltages stacked; marked A, B, ... on the map).
* :func:`plot_network_classmap`: the two maps alone. :func:`plot_network_traces`: kept traces,
  a few per rhythm class.

Grid axes are drawn as evenly spaced cells labelled with their values (the Prinz 2004 strengths
0, 1, 3, 10, 30, 100 nS are neither linear nor logarithmic); cell slots are labelled by cell
name; sampled axes are binned. Members sharing a map cell (other swept parameters) are pooled:
class colours mixed by fraction, the median period.
"""

from __future__ import annotations

import numpy as np

from ..plot import _pyplot
from .plots import _axis_cells, _style, swept_parameters

__all__ = ["is_network_db", "plot_network_summary", "plot_network_classmap", "plot_network_traces", "RHYTHM_COLORS"]

RHYTHM_COLORS = ("#c4c4c4", "#e9a23b", "#2f6fb0")
"""Colours of rhythm_class 0 (not triphasic), 1 (triphasic, not pyloric-like), 2 (pyloric-like)."""
FAILED_COLOR = "#222222"
CELL_COLORS = ("#d1495b", "#2f6fb0", "#3a9a5b")
"""AB/PD, LP, PY trace colours."""


def is_network_db(ds) -> bool:
    return "rhythm_class" in ds


def _classes():
    from .network import RHYTHM_CLASSES

    return RHYTHM_CLASSES


def param_label(ds, name: str) -> str:
    """``g_AB_LP`` -> ``AB→LP synapse (nS)``; ``lp`` -> ``LP cell``; ``lp.g_CaS`` -> ``LP ḡ_CaS (mS/cm²)``."""
    from .network import SLOTS, SYNAPSES

    if name in SYNAPSES:
        _, pre, post = name.split("_")
        return f"{pre}→{post} synapse (nS)"
    cells = dict(zip(SLOTS, ("AB/PD", "LP", "PY")))
    if name in cells:
        return f"{cells[name]} cell"
    slot, _, g = name.partition(".")
    if slot in cells:
        return f"{cells[slot]} " + r"$\bar{g}_\mathrm{" + g[2:] + "}$ (mS/cm²)"
    unit = ds[name].attrs.get("units", "")
    return f"{name} ({unit})" if unit else name


def _fmt(v) -> str:
    return v if isinstance(v, str) else f"{float(v):g}"


def _axis(ds, name, bins):
    """``(edges, index per member, tick positions, tick labels, log)`` of one map axis."""
    values = ds[name].values
    attrs = ds[name].attrs
    labels = attrs.get("categories", attrs.get("grid_values"))
    if labels is not None:  # ordinal cells, in the order of the grid (labels) or sorted values
        if "categories" in attrs:  # the labels present, in the axis's order
            present = set(values.tolist())
            labels = [c for c in labels if c in present]
        else:
            labels = sorted(float(v) for v in labels)
        lookup = {(v if isinstance(v, str) else float(v)): i for i, v in enumerate(labels)}
        index = np.array([lookup[v if isinstance(v, str) else float(v)] for v in values.tolist()], dtype=np.int64)
        k = len(labels)
        return np.arange(k + 1) - 0.5, index, np.arange(k), [_fmt(v) for v in labels], False
    _, edges, index, log = _axis_cells(ds, name, bins)
    return edges, index, None, None, log


def _one_row():
    return np.array([-0.5, 0.5]), None, [], [], False


def _counts(ds, x, y, bins):
    """``(xa, ya, counts)``: ``counts[c, iy, ix]`` computed members of rhythm class ``c`` (0-2) and
    failed solves (``c = 3``) per map cell."""
    xa = _axis(ds, x, bins)
    ya = _axis(ds, y, bins) if y is not None else _one_row()
    status = ds["status"].values
    iy = ya[1] if ya[1] is not None else np.zeros(status.size, dtype=np.int64)
    ya = (ya[0], iy) + ya[2:]
    cls = np.where(status > 0, 3, ds["rhythm_class"].values)
    keep = status >= 0
    counts = np.zeros((4, len(ya[0]) - 1, len(xa[0]) - 1))
    np.add.at(counts, (cls[keep], iy[keep], xa[1][keep]), 1)
    return xa, ya, counts


def _axes_style(ax, ds, x, y, xa, ya):
    ax.set_xlabel(param_label(ds, x))
    if xa[2] is not None:
        ax.set_xticks(xa[2], xa[3])
    if y is None:
        ax.set_yticks([])
    else:
        ax.set_ylabel(param_label(ds, y))
        if ya[2] is not None:
            ax.set_yticks(ya[2], ya[3])
    _style(ax, xa[4], ya[4])


def _draw_class_map(ax, ds, x, y, bins):
    from matplotlib.colors import to_rgb
    from matplotlib.patches import Patch

    xa, ya, counts = _counts(ds, x, y, bins)
    total = counts.sum(axis=0)
    colours = np.array([to_rgb(c) for c in RHYTHM_COLORS + (FAILED_COLOR,)])
    frac = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
    rgb = np.einsum("cyx,ck->yxk", frac, colours)
    rgb[total == 0] = 1.0
    ax.pcolormesh(xa[0], ya[0], rgb, shading="flat", edgecolors="white", linewidth=0.6)
    _axes_style(ax, ds, x, y, xa, ya)
    present = counts.sum(axis=(1, 2)) > 0
    names = list(_classes()) + ["solver failed"]
    handles = [Patch(color=c, label=n) for c, n, p in zip(RHYTHM_COLORS + (FAILED_COLOR,), names, present) if p]
    ax.legend(handles=handles[::-1], loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False, fontsize=9)
    pooled = total.max() > 1
    ax.set_title("rhythm class" + (" (colours mixed by fraction)" if pooled else ""), fontsize=10)
    return xa, ya


def _draw_period_map(fig, ax, ds, x, y, bins):
    xa, ya, _ = _counts(ds, x, y, bins)
    period = ds["cycle_period"].values / 1000.0
    ok = (ds["status"].values == 0) & (ds["rhythm_class"].values >= 1) & np.isfinite(period)
    grid = np.full((len(ya[0]) - 1, len(xa[0]) - 1), np.nan)
    for iy in range(grid.shape[0]):
        for ix in range(grid.shape[1]):
            sel = ok & (ya[1] == iy) & (xa[1] == ix)
            if sel.any():
                grid[iy, ix] = np.median(period[sel])
    ax.pcolormesh(xa[0], ya[0], np.where(np.isnan(grid), 1.0, np.nan), cmap="Greys", vmin=0, vmax=8, shading="flat")
    finite = grid[np.isfinite(grid)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    mesh = ax.pcolormesh(xa[0], ya[0], grid, cmap="viridis", vmin=lo, vmax=max(hi, lo + 1e-3), shading="flat",
                         edgecolors="white", linewidth=0.6)  # fmt: skip
    fig.colorbar(mesh, ax=ax, fraction=0.05, pad=0.03).set_label("cycle period (s)")
    ax.set_title("cycle period (triphasic networks)", fontsize=10)
    _axes_style(ax, ds, x, y, xa, ya)
    ax.set_ylabel("")


def _pick_axes(ds, x, y):
    """Default map axes: the first two swept parameters taking more than one value."""
    names = swept_parameters(ds)
    for n in (x, y):
        if n is not None and n not in names:
            raise ValueError(f"{n!r} is not a swept parameter of this database; swept: {', '.join(names)}")
    varied = [n for n in names if len(set(ds[n].values.tolist())) > 1] or names
    x = x or next(n for n in varied if n != y)
    if y is None:
        y = next((n for n in varied if n != x), None)
    return x, y


def _examples(ds, n=3):
    """Kept traces to show: pyloric-like networks first, then triphasic ones (periods spread from
    shortest to longest), else whatever was computed. ``[(trace index, member)]``."""
    kept = ds["trace_member"].values
    if kept.size == 0:
        return []
    cls = ds["rhythm_class"].values[kept]
    period = ds["cycle_period"].values[kept]
    out = []
    for c in (2, 1):
        (idx,) = np.nonzero(cls == c)
        idx = idx[np.argsort(period[idx], kind="stable")]
        pick = idx[np.unique(np.linspace(0, idx.size - 1, min(n - len(out), idx.size)).round().astype(int))] if idx.size else idx
        out += [int(i) for i in pick]
        if len(out) >= n:
            break
    if not out:
        (idx,) = np.nonzero(cls >= 0)
        out = [int(i) for i in idx[:n]]
    return [(i, int(kept[i])) for i in out[:n]]


def _describe(ds, member, params) -> str:
    from .network import SYNAPSES

    parts = []
    for p in params:
        v = ds[p].values[member]
        parts.append(f"{p[2:].replace('_', '→')} {_fmt(v)} nS" if p in SYNAPSES else f"{p} = {_fmt(v)}")
    c = int(ds["rhythm_class"].values[member])
    what = _classes()[c] if c >= 0 else "failed"
    T = ds["cycle_period"].values[member]
    return f"{what}" + (f", period {T / 1000:.2f} s" if np.isfinite(T) else "") + "   (" + ", ".join(parts) + ")"


def _draw_network(fig, spec, ds, i, member, params, seconds, tag=""):
    """Three stacked voltage panels (AB/PD, LP, PY) of kept trace ``i``: the last ``seconds`` s."""
    t = ds["time"].values
    V = ds["V"].isel(trace_member=i).values
    tt = (t - t[0]) / 1000.0
    keep = tt >= tt[-1] - seconds
    sub = spec.subgridspec(3, 1, hspace=0.08)
    axes = [fig.add_subplot(sub[j, 0]) for j in range(3)]
    for j, (ax, name) in enumerate(zip(axes, ds["cell"].values)):
        ax.plot(tt[keep] - tt[keep][0], V[j, keep], lw=0.6, color=CELL_COLORS[j])
        ax.set_ylim(-80, 50)
        ax.set_yticks([-60, 0])
        ax.set_ylabel(str(name), rotation=0, ha="right", va="center", fontsize=9)
        _style(ax)
        if j < 2:
            ax.tick_params(labelbottom=False)
    axes[0].set_title(f"{tag}{_describe(ds, member, params)}", loc="left", fontsize=9)
    axes[-1].set_xlabel("time (s)")
    return axes


def plot_network_summary(ds, path, *, x=None, y=None, bins=12, seconds=4.0, n_examples=3):
    """Rhythm class map + cycle-period map + example triphasic networks (3 voltages stacked)."""
    plt = _pyplot()
    x, y = _pick_axes(ds, x, y)
    examples = _examples(ds, n_examples)
    fig = plt.figure(figsize=(13, 4.8 + 2.3 * max(1, len(examples))))
    gs = fig.add_gridspec(2, 2, height_ratios=[4.2, 2.3 * max(1, len(examples))], hspace=0.42, wspace=0.3, top=0.93)
    ax0 = fig.add_subplot(gs[0, 0])
    _draw_class_map(ax0, ds, x, y, bins)
    _draw_period_map(fig, fig.add_subplot(gs[0, 1], sharex=ax0, sharey=ax0), ds, x, y, bins)
    rows = gs[1, :].subgridspec(max(1, len(examples)), 1, hspace=0.6)
    xa, ya, _ = _counts(ds, x, y, bins)
    for j, (i, member) in enumerate(examples):
        tag = f"{chr(65 + j)}  "
        _draw_network(fig, rows[j, 0], ds, i, member, [p for p in (x, y) if p], seconds, tag)
        ax0.annotate(chr(65 + j), (_centre(xa, member), _centre(ya, member)), ha="center", va="center", fontsize=9,
                     fontweight="bold", color="white", bbox=dict(boxstyle="circle,pad=0.15", fc="black", lw=0))  # fmt: skip
    fig.suptitle(ds.attrs.get("description") or ds.attrs.get("title", ""), fontsize=12)
    fig.savefig(path, dpi=130, bbox_inches="tight")
    plt.close(fig)


def _centre(axis, member):
    edges, index = axis[0], axis[1]
    k = index[member]
    return (edges[k] + edges[k + 1]) / 2 if not axis[4] else np.sqrt(edges[k] * edges[k + 1])


def plot_network_classmap(ds, path, *, x=None, y=None, bins=12):
    """The rhythm class map and the cycle-period map over two swept parameters."""
    plt = _pyplot()
    x, y = _pick_axes(ds, x, y)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"wspace": 0.3})
    _draw_class_map(axes[0], ds, x, y, bins)
    _draw_period_map(fig, axes[1], ds, x, y, bins)
    fig.suptitle(ds.attrs.get("description") or ds.attrs.get("title", ""), fontsize=11)
    fig.savefig(path, dpi=130, bbox_inches="tight")
    plt.close(fig)


def plot_network_traces(ds, path, *, per_class=2, seconds=4.0):
    """Up to ``per_class`` kept networks of each rhythm class (pyloric-like first)."""
    plt = _pyplot()
    kept = ds["trace_member"].values
    cls = ds["rhythm_class"].values[kept]
    chosen = [(int(i), int(kept[i])) for c in (2, 1, 0) for i in np.nonzero(cls == c)[0][:per_class]]
    if not chosen:
        raise ValueError("this database keeps no traces of computed networks ([traces] keep = 0?)")
    fig = plt.figure(figsize=(11, 2.3 * len(chosen) + 0.5))
    rows = fig.add_gridspec(len(chosen), 1, hspace=0.45)
    params = swept_parameters(ds)[:3]
    for j, (i, member) in enumerate(chosen):
        _draw_network(fig, rows[j, 0], ds, i, member, params, seconds)
    fig.savefig(path, dpi=130, bbox_inches="tight")
    plt.close(fig)
