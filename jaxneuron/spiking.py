"""``activity_from_spikes``: the activity classification of spike times recorded by :func:`jaxneuron.simulate`.

What a parameter survey needs from each member is its spike train over an analysis window, not
its trace: ``simulate(..., save=SaveAt(transient=..., states=None, spikes=True))`` records spike
times on the solver's interpolant (their times carry the solver's accuracy instead of a save
grid's), and :func:`activity_from_spikes` classifies them with the rules of
:func:`jaxneuron.activity`.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from .analysis.activity import Activity
from .analysis.bursts import CLASSIFY_DEFAULTS, classify_spike_train

__all__ = ["activity_from_spikes"]


def activity_from_spikes(sol, *, t_start: float | None = None, **options) -> Activity:
    """Classify the spike trains of a :class:`~jaxneuron.Solution` saved with
    ``SaveAt(spikes=True)`` over its window ``[t0 + transient, t_end]`` (or the later window
    ``[t_start, t_end]``: the recorded spikes before ``t_start`` are dropped) with the rules of
    :func:`jaxneuron.activity` (``options``: its classification keywords, e.g.
    ``periodicity_tol``). ``v_min``/``v_max`` are those of the accepted step points;
    ``slow_wave_amplitude`` needs a trace and is NaN; ``finite`` is ``status == 0``. A model with
    several membrane potentials gets one classification per voltage (batch shape ``(..., n_voltages)``)."""
    if sol.spike_times is None:
        raise ValueError("activity_from_spikes needs spike times: simulate with save=jaxneuron.SaveAt(spikes=True, ...)")
    unknown = set(options) - set(CLASSIFY_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown classification options {sorted(unknown)}; valid: {sorted(CLASSIFY_DEFAULTS)}")
    opts = {**CLASSIFY_DEFAULTS, **options}
    batch = sol.n_spikes.shape
    times = sol.spike_times.reshape((-1, sol.spike_times.shape[-1]))
    count = sol.n_spikes.reshape(-1)
    status = jnp.broadcast_to(sol.status.reshape(sol.status.shape + (1,) * (len(batch) - sol.status.ndim)), batch)
    t_first = sol.t0 + sol.transient
    if t_start is not None:
        if not t_first <= t_start < sol.t_end:
            raise ValueError(f"t_start must lie in the recorded window [{t_first:g}, {sol.t_end:g}) ms, got {t_start!r}")
        t_first = float(t_start)
        early = jnp.isfinite(times) & (times < t_first)
        times = jnp.sort(jnp.where(early, jnp.nan, times), axis=-1)  # NaNs sort last: the window's spikes first
        count = count - jnp.sum(early, axis=-1).astype(count.dtype)  # spikes past the buffer are all later
    out = _classify(times, count, t_first=t_first, t_last=sol.t_end, options=tuple(sorted(opts.items())))
    duration = sol.t_end - t_first
    out.update(
        n_spikes=count, spike_rate=count.astype(times.dtype) / duration * 1000.0, v_min=sol.v_min.reshape(-1),
        v_max=sol.v_max.reshape(-1), slow_wave_amplitude=jnp.full(count.shape, jnp.nan, times.dtype),
        finite=status.reshape(-1) == 0,
    )  # fmt: skip
    return Activity(**{name: out[name].reshape(batch) for name in Activity.feature_names})


@functools.partial(jax.jit, static_argnames=("t_first", "t_last", "options"))
def _classify(times, count, *, t_first, t_last, options):
    return jax.vmap(lambda tt, c: classify_spike_train(tt, c, t_first, t_last, **dict(options)))(times, count)
