"""Firing rate versus injected constant current (f-I curve), rheobase and onset of repetitive firing.

A driver around :func:`jaxneuron.simulate` (one batched solve over the currents) and
:func:`jaxneuron.spike_times`; not itself jit-able (it chooses and refines currents in Python).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..stimulus import Constant
from .spikes import DEFAULT_THRESHOLD, spike_times

__all__ = ["FICurve", "fi_curve"]


class FICurve(eqx.Module):
    """Result of :func:`fi_curve`. Per-current arrays have the shape of ``currents``.

    * ``currents`` (uA/cm^2, as given); ``rate`` (Hz): ``1000 / mean ISI`` of the spikes in the
      window ``[t0 + transient, t_end]`` if the cell fires repetitively there, else 0;
      ``count_rate`` (Hz): spikes in the window / window length; ``n_spikes``: spikes in the
      window; ``first_spike`` (ms): time of the first spike of the whole run (NaN if none);
      ``repetitive`` (bool): at least 2 spikes in the window and the silence after the last one
      is at most ``sustain_factor`` x the longest ISI in the window; ``status``: solver status.
    * ``rheobase`` (uA/cm^2): smallest tested current evoking at least one spike anywhere in the
      run (NaN if none); ``rheobase_resolution``: width of the bracket (the largest tested current
      below it fired no spike; NaN if no such current was tested).
    * ``onset`` (uA/cm^2): smallest tested current with repetitive firing; ``onset_resolution``
      likewise.
    """

    currents: jax.Array
    rate: jax.Array
    count_rate: jax.Array
    n_spikes: jax.Array
    first_spike: jax.Array
    repetitive: jax.Array
    status: jax.Array
    rheobase: jax.Array
    rheobase_resolution: jax.Array
    onset: jax.Array
    onset_resolution: jax.Array


def _responses(model, currents, *, y0, t0, t_end, transient, solver, save_dt, threshold, max_spikes, sustain_factor):
    """Per-current response of one batched solve (numpy arrays)."""
    from ..simulate import SaveAt, simulate  # the package's entry point (imported late: it imports analysis)

    stim = Constant(jnp.asarray(currents, dtype=float))
    if model.events():  # integrate-and-fire: the spikes are the engine's events
        sol = simulate(model, y0=y0, t_end=t_end, t0=t0, stimulus=stim, solver=solver,
                       save=SaveAt(states=None, spikes=True, max_spikes=max_spikes))  # fmt: skip
        times, count = np.asarray(sol.spike_times), np.asarray(sol.n_spikes)
        overflow = count > max_spikes
    else:
        sol = simulate(model, y0=y0, t_end=t_end, t0=t0, stimulus=stim, save=SaveAt(save_dt=save_dt), solver=solver)
        st = spike_times(sol.t, sol.V, threshold=threshold, max_spikes=max_spikes)
        times, count, overflow = np.asarray(st.times), np.asarray(st.count), np.asarray(st.overflow)
    t_win = t0 + transient
    in_win = times >= t_win  # NaN padding compares False
    n_win = in_win.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        isi = np.diff(times, axis=-1)
        isi_win = np.where(in_win[..., :-1] & in_win[..., 1:], isi, -np.inf)
        max_isi = isi_win.max(-1) if isi_win.shape[-1] else np.full(n_win.shape, -np.inf)
        first_win = np.where(in_win, times, np.inf).min(-1)
        last_win = np.where(in_win, times, -np.inf).max(-1)
        trail = np.where(overflow, 0.0, t_end - last_win)
        repetitive = (n_win >= 2) & (trail <= sustain_factor * max_isi)
        rate = np.where(repetitive, 1000.0 * (n_win - 1) / (last_win - first_win), 0.0)
    return dict(
        rate=rate,
        count_rate=1000.0 * n_win / (t_end - t_win),
        n_spikes=n_win,
        first_spike=times[..., 0],
        repetitive=repetitive,
        any_spike=count >= 1,
        status=np.asarray(sol.status),
    )


def _bracket(currents, hit):
    """``(hi, lo)``: smallest current with ``hit``, largest current below it (NaN when absent)."""
    hits = currents[hit]
    if hits.size == 0:
        return math.nan, math.nan
    hi = float(hits.min())
    below = currents[currents < hi]
    return hi, (float(below.max()) if below.size else math.nan)


def fi_curve(model, currents, *, t_end: float = 1000.0, transient: float = 200.0, y0=None, solver=None,
             save_dt: float = 0.05, threshold: float = DEFAULT_THRESHOLD, max_spikes: int | None = None,
             sustain_factor: float = 1.5, refine: int = 0, refine_points: int = 8, t0: float = 0.0) -> FICurve:  # fmt: skip
    """Firing rate (Hz) of ``model`` versus constant injected current ``currents`` (the model's
    stimulus unit: uA/cm^2 for conductance-based cells and :class:`~jaxneuron.LIF`, pA for
    :class:`~jaxneuron.AdEx`).

    Every current is applied from ``t0`` (ms) to ``t_end`` starting from ``y0`` (default
    ``model.default_y0()``, e.g. HH rest); one batched :func:`jaxneuron.simulate` call solves all
    currents (``solver``: default that of ``simulate``; saved every ``save_dt`` ms). Spikes are
    upward crossings of ``threshold`` (mV) on the saved trace, or for integrate-and-fire cells
    (models with an :meth:`~jaxneuron.models.interface.AbstractModel.event`) the engine's events
    located on the solver's interpolant (``save_dt`` and ``threshold`` are then unused). The steady rate is measured in
    ``[t0 + transient, t_end]`` (see :class:`FICurve` for every field and definition).

    ``refine`` > 0 sharpens ``rheobase`` and ``onset``: each round simulates ``refine_points``
    currents evenly spaced inside each bracket (lower current silent / not repetitive, upper
    current firing) and keeps the smallest firing one, shrinking the bracket by a factor
    ``refine_points + 1`` per round (assumes the response is monotonic inside the bracket).

    ``model`` must be a single (unbatched) neuron.
    """
    if model.batch_shape != ():
        raise ValueError(f"fi_curve needs a single (unbatched) model; got batch shape {model.batch_shape}")
    cur = np.asarray(currents, dtype=float)
    if cur.ndim != 1 or cur.size == 0 or not np.all(np.isfinite(cur)):
        raise ValueError(f"currents must be a non-empty 1-D array of finite values (uA/cm^2), got {currents!r}")
    if not (0.0 <= transient < t_end - t0):
        raise ValueError(f"transient must lie in [0, t_end - t0) ms, got {transient} with t0={t0}, t_end={t_end}")
    if max_spikes is None:
        max_spikes = int(math.ceil((t_end - t0) / 1.0)) + 2  # at most one spike per ms
    opts = dict(y0=y0, t0=float(t0), t_end=float(t_end), transient=float(transient), solver=solver, save_dt=save_dt,
                threshold=threshold, max_spikes=max_spikes, sustain_factor=sustain_factor)  # fmt: skip
    r = _responses(model, cur, **opts)
    rheo_hi, rheo_lo = _bracket(cur, r["any_spike"])
    onset_hi, onset_lo = _bracket(cur, r["repetitive"])

    for _ in range(int(refine)):
        todo = [(k, lo, hi) for k, lo, hi in (("rheo", rheo_lo, rheo_hi), ("onset", onset_lo, onset_hi))
                if np.isfinite(lo) and np.isfinite(hi)]  # fmt: skip
        if not todo:
            break
        frac = np.arange(1, refine_points + 1) / (refine_points + 1)
        trial = np.concatenate([lo + (hi - lo) * frac for _, lo, hi in todo])
        rr = _responses(model, trial, **opts)
        for i, (key, lo, hi) in enumerate(todo):
            part = slice(i * refine_points, (i + 1) * refine_points)
            cands = np.concatenate([trial[part], [lo, hi]])
            hit = np.concatenate([rr["any_spike" if key == "rheo" else "repetitive"][part], [False, True]])
            new_hi, new_lo = _bracket(cands, hit)
            if key == "rheo":
                rheo_hi, rheo_lo = new_hi, new_lo
            else:
                onset_hi, onset_lo = new_hi, new_lo

    f = lambda x: jnp.asarray(x, dtype=float)  # noqa: E731
    return FICurve(
        currents=f(cur), rate=f(r["rate"]), count_rate=f(r["count_rate"]), n_spikes=jnp.asarray(r["n_spikes"]),
        first_spike=f(r["first_spike"]), repetitive=jnp.asarray(r["repetitive"]), status=jnp.asarray(r["status"]),
        rheobase=f(rheo_hi), rheobase_resolution=f(rheo_hi - rheo_lo), onset=f(onset_hi),
        onset_resolution=f(onset_hi - onset_lo),
    )  # fmt: skip
