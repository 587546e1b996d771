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
    plt = _pyplot()
    t = np.asarray(sol.t) / 1000.0
    V = np.asarray(sol.V).reshape(-1, t.size)[:max_members]
    fig, axes = plt.subplots(len(V), 1, figsize=(10, 2.2 * len(V) + 0.6), sharex=True, squeeze=False)
    for ax, v in zip(axes[:, 0], V):
        ax.plot(t, v, lw=0.6, color="k")
        ax.set_ylabel("V (mV)")
        ax.spines[["top", "right"]].set_visible(False)
    axes[-1, 0].set_xlabel("time (s)")
    if title:
        axes[0, 0].set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def plot_network(sol, path, cell_names, *, title=""):
    """One voltage panel per cell of a network :class:`jaxneuron.Solution` (``V (..., n_cells,
    n_times)``; the first member of a batch), stacked on a shared time axis, to ``path``.
    Returns the (closed) figure."""
    plt = _pyplot()
    t = np.asarray(sol.t) / 1000.0
    V = np.asarray(sol.V).reshape(-1, len(cell_names), t.size)[0]
    fig, axes = plt.subplots(len(cell_names), 1, figsize=(10, 1.9 * len(cell_names) + 0.7), sharex=True, squeeze=False)
    colors = ("tab:blue", "tab:green", "tab:red", "k", "tab:purple")
    for i, (ax, v, name) in enumerate(zip(axes[:, 0], V, cell_names)):
        ax.plot(t, v, lw=0.6, color=colors[i % len(colors)])
        ax.set_ylabel(f"{name}\nV (mV)")
        ax.spines[["top", "right"]].set_visible(False)
    axes[-1, 0].set_xlabel("time (s)")
    if title:
        axes[0, 0].set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return fig
