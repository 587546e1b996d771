"""Differentiable rhythm features: event times that move smoothly with the trace.

Spike detection and burst segmentation are discrete: which samples hold a spike, which spikes
start a burst. Here those *choices* are made on ``jax.lax.stop_gradient`` values, and the
*times* are read off the trace by linear interpolation between the two samples around each
upward threshold crossing, ``t_i + (theta - V_i) dt / (V_{i+1} - V_i)``. So as long as a parameter
change does not change the choices (no spike gained or lost), a feature is a smooth function of
the saved samples, and ``jax.grad`` through :func:`jaxneuron.simulate` (``DiffraxEngine``, or a
fixed-step solve) gives the derivative finite differences converge to. The fitting losses build
on these.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["crossing_times", "smooth_cycle_period"]


def crossing_times(t, v, threshold=-10.0, max_crossings=256):
    """Upward crossings of ``threshold`` (mV) by ``v (n_times,)`` sampled at ``t (n_times,)`` (ms),
    linearly interpolated: ``(times (max_crossings,) NaN-padded, count)``. Differentiable in ``v``
    (and ``t``) where the set of crossing samples does not change."""
    up = (v[:-1] < threshold) & (v[1:] >= threshold)
    up = jax.lax.stop_gradient(up)
    count = jnp.sum(up)
    (idx,) = jnp.nonzero(up, size=max_crossings, fill_value=0)
    v0, v1 = v[idx], v[idx + 1]
    t0, t1 = t[idx], t[idx + 1]
    frac = (threshold - v0) / jnp.where(v1 != v0, v1 - v0, 1.0)
    times = t0 + frac * (t1 - t0)
    valid = jnp.arange(max_crossings) < count
    return jnp.where(valid, times, jnp.nan), count


def smooth_cycle_period(t, v, threshold=-10.0, burst_isi=150.0, max_crossings=256):
    """Cycle period (ms) of a bursting voltage ``v (n_times,)``: the mean interval between burst
    starts, ``(start_last - start_first) / (n_bursts - 1)``, where a burst starts at a spike (an
    interpolated upward crossing of ``threshold``, mV) preceded by an interval of at least
    ``burst_isi`` ms (the first spike of the window does not count: its burst may be cut).
    NaN with fewer than two burst starts. Differentiable as described in the module docstring;
    for the pyloric circuit pass the AB/PD voltage (the period of spec 3.6)."""
    times, count = crossing_times(t, v, threshold, max_crossings)
    k = jnp.arange(max_crossings)
    gap = jnp.diff(jax.lax.stop_gradient(times), prepend=jnp.nan)
    start = (k >= 1) & (k < count) & (gap >= burst_isi)
    n = jnp.sum(start)
    first = jnp.argmax(start)
    last = max_crossings - 1 - jnp.argmax(start[::-1])
    period = (times[last] - times[first]) / jnp.maximum(n - 1, 1)
    return jnp.where(n >= 2, period, jnp.nan)
