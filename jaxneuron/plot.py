"""Matplotlib figures (imported lazily: the numerical core never needs matplotlib)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_trace", "plot_network"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_trace(sol, path, *, title="", max_members=4):
    """Voltage trace(s) of a :class:`jaxneuron.Solution` (first ``max_members`` members) to ``path``."""
    t = np.asarray(sol.t) / 1000.0
    V = np.asarray(sol.V).reshape(-1, t.size)[:max_members]
    _stacked_panels(t, V, ["V (mV)"] * len(V), ["k"] * len(V), path, title, panel_height=2.2, extra=0.6)


def _stacked_panels(t, rows, labels, colors, path, title, *, panel_height, extra):
    """One panel per row of ``rows`` (mV) against ``t`` (s), stacked on a shared time axis, saved to ``path``."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(rows), 1, figsize=(10, panel_height * len(rows) + extra), sharex=True, squeeze=False)
    for ax, v, label, color in zip(axes[:, 0], rows, labels, colors):
        ax.plot(t, v, lw=0.6, color=color)
        ax.set_ylabel(label)
        ax.spines[["top", "right"]].set_visible(False)
    axes[-1, 0].set_xlabel("time (s)")
    if title:
        axes[0, 0].set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return fig


def plot_network(sol, path, cell_names, *, title=""):
    """One voltage panel per cell of a network :class:`jaxneuron.Solution` (``V (..., n_cells,
    n_times)``; the first member of a batch), stacked on a shared time axis, to ``path``.
    Returns the (closed) figure."""
    t = np.asarray(sol.t) / 1000.0
    V = np.asarray(sol.V).reshape(-1, len(cell_names), t.size)[0]
    colors = ("tab:blue", "tab:green", "tab:red", "k", "tab:purple")
    return _stacked_panels(t, V, [f"{name}\nV (mV)" for name in cell_names],
                           [colors[i % len(colors)] for i in range(len(cell_names))], path, title,
                           panel_height=1.9, extra=0.7)  # fmt: skip
