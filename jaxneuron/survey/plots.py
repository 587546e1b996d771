"""Figures of a sweep database (matplotlib, imported lazily).

* :func:`plot_summary`: class map over two swept parameters (Prinz 2003 style), maps of the
  burst period and duty cycle of the bursting members, and example traces of each class
  (their members marked A, B, ... on the map). With one swept parameter: features against it.
* :func:`plot_class_fractions`: the fraction of each class over two parameters (members of a
  cell are pooled over every other parameter; non-grid spaces are binned).
* :func:`plot_feature_hist`: histograms of features per class.
* :func:`plot_example_traces`: kept traces, a few per class.

Network sweeps are drawn by :mod:`.plots_network` (:func:`plot_database` dispatches).
"""

from __future__ import annotations

import numpy as np

from ..plot import _pyplot

__all__ = ["plot_database", "plot_summary", "plot_class_fractions", "plot_feature_hist", "plot_example_traces", "CLASS_COLORS"]

CLASS_COLORS = ("#b9b9b9", "#2f6fb0", "#d1495b", "#e9a23b", "#9b7fc7")
"""Colours of silent, tonic, bursting, irregular, undetermined (indexed by label, as
:data:`jaxneuron.ACTIVITY_LABELS`)."""
FAILED_COLOR = "#222222"
"""Colour of members whose solve failed (label -1)."""
DEFAULT_HIST = ("spike_rate", "burst_period", "duty_cycle", "spikes_per_burst", "isi_cv", "slow_wave_amplitude")


def _labels():
    from ..analysis import ACTIVITY_LABELS

    assert len(CLASS_COLORS) == len(ACTIVITY_LABELS)
    return ACTIVITY_LABELS


def _n_classes() -> int:
    """Number of activity labels; in :func:`class_fractions` the failed solves come after them."""
    return len(_labels())


def swept_parameters(ds) -> list[str]:
    return [c for c in ds.coords if ds[c].dims == ("member",) and c != "member"]


def _unit(u: str) -> str:
    return u.replace("^2", "²").replace("uA", "µA").replace("uF", "µF").replace("uM", "µM")


def param_label(ds, name: str) -> str:
    unit = _unit(ds[name].attrs.get("units", ""))
    if name.startswith("g_"):
        text = r"$\bar{g}_\mathrm{" + name[2:].replace("_", r"\_") + "}$"
    elif name == "stimulus.amplitude":
        text = "injected current"
    else:
        text = name
    return f"{text} ({unit})" if unit else text


def _short(ds, name, value) -> str:
    if name.startswith("g_"):
        return r"$\bar{g}_\mathrm{" + name[2:] + "}$" + f" = {value:.3g}"
    unit = _unit(ds[name].attrs.get("units", ""))
    return f"{'I' if name == 'stimulus.amplitude' else name} = {value:.3g} {unit}".rstrip()


def _axis_cells(ds, name, bins):
    """``(centres, edges, index per member, log scale)`` of one parameter's cells."""
    values = ds[name].values
    attrs = ds[name].attrs
    log = attrs.get("sweep_rule") in ("logspace", "loguniform")
    if "grid_values" in attrs:
        centres = np.asarray(attrs["grid_values"], dtype=float)
        order = np.argsort(centres)
        centres = centres[order]
        f = np.log if log else (lambda v: v)
        inv = np.exp if log else (lambda v: v)
        c = f(centres)
        mid = (c[1:] + c[:-1]) / 2 if c.size > 1 else np.array([])
        step = np.diff(c).min() if c.size > 1 else 1.0
        edges = inv(np.concatenate([[c[0] - step / 2] if c.size == 1 else [c[0] - (c[1] - c[0]) / 2], mid,
                                    [c[-1] + step / 2] if c.size == 1 else [c[-1] + (c[-1] - c[-2]) / 2]]))  # fmt: skip
        index = np.clip(np.searchsorted(mid, f(values)), 0, centres.size - 1)
        return centres, edges, index, log
    lo, hi = float(np.min(values)), float(np.max(values))
    if "sweep_range" in attrs:
        lo, hi = attrs["sweep_range"]
    edges = np.geomspace(lo, hi, bins + 1) if log and lo > 0 else np.linspace(lo, hi, bins + 1)
    index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, bins - 1)
    centres = np.sqrt(edges[1:] * edges[:-1]) if log and lo > 0 else (edges[1:] + edges[:-1]) / 2
    return centres, edges, index, log


def class_fractions(ds, x, y, bins=12):
    """``(x_cells, y_cells, counts)``: ``counts[c, iy, ix]`` members of class ``c`` (0-4, the
    labels of :data:`jaxneuron.ACTIVITY_LABELS`, undetermined = 4), of failed solves (``c = 5``)
    in each cell (not-yet-computed members are left out)."""
    xc = _axis_cells(ds, x, bins)
    yc = _axis_cells(ds, y, bins)
    status = ds["status"].values
    label = ds["label"].values
    n = _n_classes()
    cls = np.where(status > 0, n, label)
    keep = status >= 0
    counts = np.zeros((n + 1, yc[0].size, xc[0].size))
    np.add.at(counts, (cls[keep], yc[2][keep], xc[2][keep]), 1)
    return xc, yc, counts


def _pick_axes(ds, x, y, n=2):
    names = swept_parameters(ds)
    for name in (x, y):
        if name is not None and name not in names:
            raise ValueError(f"{name!r} is not a swept parameter of this database; swept: {', '.join(names)}")
    if x is None:
        x = next(n_ for n_ in names if n_ != y)
    if n == 2 and y is None:
        rest = [n_ for n_ in names if n_ != x]
        if not rest:
            return x, None
        y = rest[0]
    return x, y


def _style(ax, xlog=False, ylog=False):
    ax.spines[["top", "right"]].set_visible(False)
    if xlog:
        ax.set_xscale("log")
    if ylog:
        ax.set_yscale("log")


def _legend_handles(present):
    from matplotlib.patches import Patch

    names = _labels()
    n = len(names)
    handles = [Patch(color=CLASS_COLORS[i], label=names[i]) for i in range(n) if present[i]]
    if present[n]:
        handles.append(Patch(color=FAILED_COLOR, label="solver failed"))
    return handles


def _draw_class_map(ax, ds, x, y, bins):
    from matplotlib.colors import to_rgb

    xc, yc, counts = class_fractions(ds, x, y, bins)
    total = counts.sum(axis=0)
    colours = np.array([to_rgb(c) for c in CLASS_COLORS + (FAILED_COLOR,)])
    frac = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
    rgb = np.einsum("cyx,ck->yxk", frac, colours)  # mixed colour where a cell pools classes
    rgb[total == 0] = 1.0
    ax.pcolormesh(xc[1], yc[1], rgb, shading="flat", edgecolors="white", linewidth=0.4)
    ax.set_xlabel(param_label(ds, x))
    ax.set_ylabel(param_label(ds, y))
    _style(ax, xc[3], yc[3])
    ax.legend(handles=_legend_handles(counts.sum(axis=(1, 2)) > 0), loc="upper left", bbox_to_anchor=(1.01, 1.0),
              frameon=False, fontsize=9)  # fmt: skip
    return xc, yc, counts


def _draw_feature_map(fig, ax, ds, x, y, feature, bins, scale=1.0, unit="", title=""):
    xc, yc, _ = class_fractions(ds, x, y, bins)
    values = ds[feature].values * scale
    ok = (ds["status"].values == 0) & (ds["label"].values == 2) & np.isfinite(values)
    grid = np.full((yc[0].size, xc[0].size), np.nan)
    for iy in range(yc[0].size):  # median over the bursting members of each cell
        for ix in range(xc[0].size):
            sel = ok & (yc[2] == iy) & (xc[2] == ix)
            if sel.any():
                grid[iy, ix] = np.median(values[sel])
    ax.pcolormesh(xc[1], yc[1], np.where(np.isnan(grid), 1.0, np.nan), cmap="Greys", vmin=0, vmax=8, shading="flat")
    finite = grid[np.isfinite(grid)]
    lo, hi = np.percentile(finite, [2, 98]) if finite.size else (0.0, 1.0)  # robust to a few outliers
    clipped = finite.size and (finite.min() < lo or finite.max() > hi)
    mesh = ax.pcolormesh(xc[1], yc[1], grid, cmap="viridis", vmin=lo, vmax=hi, shading="flat", edgecolors="white", linewidth=0.4)
    cb = fig.colorbar(mesh, ax=ax, fraction=0.05, pad=0.03, extend="both" if clipped else "neither")
    cb.set_label(f"{title} ({unit})" if unit else title)
    ax.set_title(f"{title} (bursting members)", fontsize=10)
    ax.set_xlabel(param_label(ds, x))
    ax.tick_params(labelleft=False)
    _style(ax, xc[3], yc[3])


def _examples(ds, per_class=1, params=None):
    """``[(class, trace index)]``: up to ``per_class`` kept traces of each class, the most typical
    first: nearest the median of the class's members in the (range-normalised) ``params``."""
    kept = ds["trace_member"].values
    if kept.size == 0:
        return []
    label_all, status_all = ds["label"].values, ds["status"].values
    label, status = label_all[kept], status_all[kept]
    params = swept_parameters(ds) if params is None else params
    P = np.stack([ds[p].values for p in params], axis=1)
    span = np.ptp(P, axis=0)
    P = (P - P.min(axis=0)) / np.where(span > 0, span, 1.0)
    out = []
    for c in range(_n_classes()):
        (idx,) = np.nonzero((label == c) & (status == 0))
        centre = np.median(P[(label_all == c) & (status_all == 0)], axis=0) if idx.size else None
        if idx.size:
            idx = idx[np.argsort(np.linalg.norm(P[kept[idx]] - centre, axis=1), kind="stable")]
        out += [(c, int(i)) for i in idx[:per_class]]
    return out


def _draw_traces(axes, ds, examples, params, seconds=None, letters=True):
    t = ds["time"].values
    V = ds["V"]
    names = _labels()
    for j, (ax, (c, i)) in enumerate(zip(axes, examples)):
        member = int(ds["trace_member"].values[i])
        tt = (t - t[0]) / 1000.0
        v = V.isel(trace_member=i).values
        if seconds is not None:
            keep = tt >= tt[-1] - seconds
            tt, v = tt[keep] - tt[keep][0], v[keep]
        ax.plot(tt, v, lw=0.6, color=CLASS_COLORS[c])
        where = ", ".join(_short(ds, p, float(ds[p].values[member])) for p in params)
        tag = f"{chr(65 + j)}  " if letters else ""
        ax.set_title(f"{tag}{names[c]}   ({where})", loc="left", fontsize=9)
        ax.set_ylabel("V (mV)")
        ax.set_ylim(-80, 50)
        _style(ax)
    if examples:
        axes[len(examples) - 1].set_xlabel("time (s)")


def plot_summary(ds, path, *, x=None, y=None, bins=12, seconds=4.0):
    """Class map + burst-period and duty-cycle maps + one example trace per class."""
    plt = _pyplot()
    x, y = _pick_axes(ds, x, y)
    if y is None:
        return _plot_1d(ds, path, x, seconds)
    examples = _examples(ds, params=[x, y])
    fig = plt.figure(figsize=(14, 4.6 + 1.45 * max(1, len(examples))))
    gs = fig.add_gridspec(2, 3, height_ratios=[4.2, 1.45 * max(1, len(examples))], hspace=0.25, wspace=0.62)
    ax0 = fig.add_subplot(gs[0, 0])
    xc, yc, counts = _draw_class_map(ax0, ds, x, y, bins)
    pooled = counts.sum(axis=0).max() > 1
    ax0.set_title("activity class" + (" (colours mixed by fraction)" if pooled else ""), fontsize=10)
    _draw_feature_map(fig, fig.add_subplot(gs[0, 1], sharex=ax0, sharey=ax0), ds, x, y, "burst_period", bins, 1e-3, "s", "burst period")
    _draw_feature_map(fig, fig.add_subplot(gs[0, 2], sharex=ax0, sharey=ax0), ds, x, y, "duty_cycle", bins, 1.0, "", "duty cycle")
    sub = gs[1, :].subgridspec(max(1, len(examples)), 1, hspace=0.9)
    tax = [fig.add_subplot(sub[j, 0]) for j in range(len(examples))]
    for j, (_, i) in enumerate(examples):  # mark the example members on the class map
        m = int(ds["trace_member"].values[i])
        ax0.annotate(chr(65 + j), (ds[x].values[m], ds[y].values[m]), ha="center", va="center", fontsize=9,
                     fontweight="bold", color="white", bbox=dict(boxstyle="circle,pad=0.15", fc="black", lw=0))  # fmt: skip
    _draw_traces(tax, ds, examples, [x, y], seconds)
    fig.suptitle(ds.attrs.get("description") or ds.attrs.get("title", ""), fontsize=12)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)


def _plot_1d(ds, path, x, seconds, max_traces=6):
    plt = _pyplot()
    kept = ds["trace_member"].values
    ok_kept = np.nonzero(ds["status"].values[kept] == 0)[0]
    ok_kept = ok_kept[np.argsort(ds[x].values[kept[ok_kept]], kind="stable")]
    ok_kept = ok_kept[np.unique(np.linspace(0, ok_kept.size - 1, min(max_traces, ok_kept.size)).round().astype(int))] if ok_kept.size else ok_kept
    examples = [(int(ds["label"].values[kept[i]]), int(i)) for i in ok_kept]  # every kept trace, by parameter
    fig = plt.figure(figsize=(10, 3.6 + 1.3 * max(1, len(examples))))
    gs = fig.add_gridspec(2, 1, height_ratios=[3.2, 1.3 * max(1, len(examples))], hspace=0.35)
    ax = fig.add_subplot(gs[0])
    ok = ds["status"].values == 0
    xv, rate, label = ds[x].values, ds["spike_rate"].values, ds["label"].values
    order = np.argsort(xv)
    ax.plot(xv[order][ok[order]], rate[order][ok[order]], color="0.6", lw=1, zorder=1)
    for c, name in enumerate(_labels()):
        sel = ok & (label == c)
        if sel.any():
            ax.scatter(xv[sel], rate[sel], s=22, color=CLASS_COLORS[c], label=name, zorder=2)
    if (ds["status"].values > 0).any():
        bad = ds["status"].values > 0
        ax.scatter(xv[bad], np.zeros(bad.sum()), marker="x", color=FAILED_COLOR, label="solver failed")
    ax.set_xlabel(param_label(ds, x))
    ax.set_ylabel("firing rate (Hz)")
    ax.legend(frameon=False, fontsize=9)
    _style(ax, ds[x].attrs.get("sweep_rule") in ("logspace", "loguniform"))
    sub = gs[1].subgridspec(max(1, len(examples)), 1, hspace=0.9)
    _draw_traces([fig.add_subplot(sub[j, 0]) for j in range(len(examples))], ds, examples, [x], seconds, letters=False)
    fig.suptitle(ds.attrs.get("description") or ds.attrs.get("title", ""), fontsize=12)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)


def plot_class_fractions(ds, path, *, x=None, y=None, bins=12):
    """Fraction of members in each class over two swept parameters (one panel per class)."""
    plt = _pyplot()
    from matplotlib.colors import LinearSegmentedColormap

    x, y = _pick_axes(ds, x, y)
    if y is None:
        raise ValueError("a class map needs two swept parameters; this database sweeps only " + x)
    xc, yc, counts = class_fractions(ds, x, y, bins)
    total = counts.sum(axis=0)
    n = _n_classes()
    fig, axes = plt.subplots(1, n + 1, figsize=(3.8 * (n + 1), 3.9), gridspec_kw={"width_ratios": [1] * n + [1.08]})
    _draw_class_map(axes[0], ds, x, y, bins)
    axes[0].get_legend().remove()
    axes[0].set_title("dominant class (colours mixed by fraction)", fontsize=9)
    for c, (ax, name) in enumerate(zip(axes[1:], _labels())):
        frac = np.where(total > 0, counts[c] / np.maximum(total, 1), np.nan)
        cmap = LinearSegmentedColormap.from_list(name, ["#ffffff", CLASS_COLORS[c]])
        mesh = ax.pcolormesh(xc[1], yc[1], frac, cmap=cmap, vmin=0, vmax=1, shading="flat", edgecolors="0.9", linewidth=0.3)
        ax.set_title(f"fraction {name}", fontsize=10)
        ax.set_xlabel(param_label(ds, x))
        _style(ax, xc[3], yc[3])
    fig.colorbar(mesh, ax=axes[-1], fraction=0.06, pad=0.03).set_label("fraction of members")
    fig.suptitle(f"{ds.attrs.get('description', '')}  ({int(total.sum()):,} members)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)


def plot_feature_hist(ds, path, *, features=None, bins=40):
    """Histogram of each feature, one outline per class (computed members with finite values)."""
    plt = _pyplot()
    features = [f for f in (features or DEFAULT_HIST) if f in ds]
    if not features:
        raise ValueError(f"none of the features is in this database; features: {', '.join(v for v in ds.data_vars if ds[v].dims == ('member',))}")
    cols = min(3, len(features))
    rows = -(-len(features) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.3 * cols, 3.1 * rows), squeeze=False)
    ok = ds["status"].values == 0
    label = ds["label"].values
    for ax, name in zip(axes.flat, features):
        v = ds[name].values.astype(float)
        finite = ok & np.isfinite(v)
        if not finite.any():
            ax.set_title(f"{name}: no values", fontsize=10)
            continue
        edges = np.histogram_bin_edges(v[finite], bins=bins)
        for c, cname in enumerate(_labels()):
            sel = finite & (label == c)
            if sel.any():
                ax.hist(v[sel], bins=edges, histtype="stepfilled", alpha=0.35, color=CLASS_COLORS[c])
                ax.hist(v[sel], bins=edges, histtype="step", color=CLASS_COLORS[c], lw=1.2, label=f"{cname} ({sel.sum():,})")
        unit = _unit(ds[name].attrs.get("units", ""))
        ax.set_xlabel(f"{name.replace('_', ' ')}" + (f" ({unit})" if unit else ""))
        ax.set_ylabel("members")
        ax.legend(frameon=False, fontsize=8)
        _style(ax)
    for ax in list(axes.flat)[len(features):]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def plot_example_traces(ds, path, *, per_class=3, seconds=5.0):
    """Up to ``per_class`` kept traces of every class (the last ``seconds`` s of the window)."""
    plt = _pyplot()
    examples = _examples(ds, per_class)
    if not examples:
        raise ValueError("this database keeps no traces of computed members ([traces] keep = 0?)")
    fig, axes = plt.subplots(len(examples), 1, figsize=(10, 1.35 * len(examples) + 0.6), squeeze=False, sharex=True)
    _draw_traces(axes[:, 0], ds, examples, swept_parameters(ds)[:3], seconds, letters=False)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def plot_database(db, path, *, kind="summary", x=None, y=None, features=None):
    """Draw figure ``kind`` (summary | classmap | hist | traces) of database ``db`` into ``path``."""
    import xarray as xr

    ds = xr.open_zarr(db) if isinstance(db, str) else db
    from . import plots_network as pn

    if pn.is_network_db(ds):  # network sweeps: rhythm class map, period map, stacked traces
        draw = {"summary": lambda: pn.plot_network_summary(ds, path, x=x, y=y),
                "classmap": lambda: pn.plot_network_classmap(ds, path, x=x, y=y),
                "traces": lambda: pn.plot_network_traces(ds, path)}  # fmt: skip
        if kind not in draw:
            raise ValueError(f"plot kind {kind!r} is not available for a network sweep; valid: {', '.join(draw)}")
        return draw[kind]()
    if kind == "summary" and "pattern" in ds:  # firing-pattern sweeps (e.g. sweeps/adex_fi.toml)
        from .plots_patterns import plot_pattern_summary

        plot_pattern_summary(ds, path, x=x, y=y)
    elif kind == "summary":
        plot_summary(ds, path, x=x, y=y)
    elif kind == "classmap":
        plot_class_fractions(ds, path, x=x, y=y)
    elif kind == "hist":
        plot_feature_hist(ds, path, features=features)
    elif kind == "traces":
        plot_example_traces(ds, path)
    else:
        raise ValueError(f"unknown plot kind {kind!r}; valid: summary, classmap, hist, traces")
