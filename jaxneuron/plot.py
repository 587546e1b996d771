"""Matplotlib figures (imported lazily: the numerical core never needs matplotlib)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_trace"]


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
