"""Figures of a :class:`~jaxneuron.fit.FitResult`: loss curves of every start, target against
fitted trace, fitted parameters against the truth (matplotlib, Agg; one function each)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_losses", "plot_traces", "plot_params", "plot_fit"]


def _axes(ax):
    if ax is not None:
        return ax.figure, ax
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(6, 4))


def plot_losses(result, ax=None):
    """Loss per step of every start (log scale); the best start drawn bold."""
    fig, ax = _axes(ax)
    h = np.asarray(result.history, float)
    steps = np.arange(1, h.shape[0] + 1)
    for i in range(h.shape[1]):
        ax.semilogy(steps, h[:, i], lw=2.0 if i == result.best_index else 0.6, alpha=1.0 if i == result.best_index else 0.5)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(f"{h.shape[1]} starts ({int(np.sum(result.status == 0))} ok)")
    return fig


def plot_traces(t, V_target, V_fit, ax=None):
    """Target trace against the fitted one (mV against ms)."""
    fig, ax = _axes(ax)
    ax.plot(np.asarray(t), np.asarray(V_target), "k", lw=1.0, label="target")
    ax.plot(np.asarray(t), np.asarray(V_fit), "C3", lw=0.8, alpha=0.8, label="fitted (best start)")
    ax.set_xlabel("t (ms)")
    ax.set_ylabel("V (mV)")
    ax.legend(loc="upper right")
    return fig


def plot_params(result, truth: dict | None = None, ax=None):
    """Start and final value of each fitted parameter, each scaled to its bounds (0 = low, 1 = high),
    with the truth where known: the spread of recovered values across starts."""
    fig, ax = _axes(ax)
    names = list(result.params)
    ok = result.status == 0
    for j, n in enumerate(names):
        b = result.bounds[n]
        scale = (lambda x: (np.log(x) - np.log(b.low)) / (np.log(b.high) - np.log(b.low))) if b.scale == "log" else (
            lambda x: (np.asarray(x) - b.low) / (b.high - b.low))  # noqa: E731
        ax.scatter(np.full(ok.sum(), j - 0.15), scale(result.starts[n][ok]), s=8, c="0.6", label="start" if j == 0 else None)
        ax.scatter(np.full(ok.sum(), j + 0.15), scale(result.params[n][ok]), s=10, c="C0", label="fitted" if j == 0 else None)
        if truth and n in truth:
            ax.scatter([j + 0.15], [scale(truth[n])], marker="*", s=150, c="C3", label="truth" if j == 0 else None)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("position within bounds")
    ax.legend(loc="best", fontsize=8)
    return fig


def plot_fit(result, path, *, t=None, V_target=None, V_fit=None, truth=None):
    """One figure with the three panels (traces only when given), written to ``path``."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    n = 3 if V_target is not None else 2
    fig, axes = plt.subplots(1, n, figsize=(5 * n, 4))
    plot_losses(result, axes[0])
    plot_params(result, truth, axes[1])
    if n == 3:
        plot_traces(t, V_target, V_fit, axes[2])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
