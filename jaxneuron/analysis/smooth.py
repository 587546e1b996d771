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

__all__ = ["crossing_times", "slow_wave", "smooth_cycle_period"]


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


def slow_wave(t, v, width=50.0):
    """``v`` (mV, sampled at the uniform times ``t``, ms) averaged over a centred window of
    ``width`` ms (spikes removed, the slow wave kept); edges averaged over the samples inside."""
    dt = (t[-1] - t[0]) / (t.shape[0] - 1)
    n = max(1, int(round(float(width) / float(dt)))) if not isinstance(dt, jax.core.Tracer) else None
    if n is None:
        raise ValueError("slow_wave needs concrete save times t")
    kernel = jnp.ones(n) / n
    num = jnp.convolve(v, kernel, mode="same")
    den = jnp.convolve(jnp.ones_like(v), kernel, mode="same")
    return num / den


def smooth_cycle_period(t, v, width=50.0, level=None, max_crossings=256):
    """Cycle period (ms) of a bursting voltage ``v (n_times,)`` as a smooth function of the trace:
    the mean interval between the upward crossings of the slow wave (:func:`slow_wave`, ``width``
    ms) through ``level`` (mV; default the midpoint of the slow wave's range), ``(last - first) / (n - 1)`` with crossing times interpolated linearly. Spikes
    never enter (they are averaged out), so the value moves smoothly with parameters as long
    as the number of cycles in the window does not change; NaN with fewer than two crossings.
    For the pyloric circuit pass the AB/PD voltage (the period of spec 3.6)."""
    w = slow_wave(t, v, width)
    if level is None:
        level = 0.5 * (jnp.min(w) + jnp.max(w))
    times, count = crossing_times(t, w, level, max_crossings)
    last = jnp.maximum(count - 1, 0)
    period = (times[last] - times[0]) / jnp.maximum(count - 1, 1)
    return jnp.where(count >= 2, period, jnp.nan)
