"""Ordering sweep members by a cheap difficulty estimate, so that a chunk does not pay for its
slowest member.

A vmapped adaptive solve runs every member of a chunk for as many steps as its slowest member
needs. Adaptive steps concentrate on spikes (accuracy) and, for explicit solvers, on stiff
stretches (stability, set by the total conductance), so a short, coarse exponential-Euler probe
(float32, ``dt = 0.05`` ms, ``t_probe = 200`` ms: a few percent of the cost of the real solve)
that counts spikes and integrates the V rate ranks members by cost. Sorting members by it and
cutting the sorted order into chunks groups members of similar cost.

Use (sweep engine)::

    score = estimate_difficulty(model_batch)              # one float per member
    order = order_by_difficulty(score, chunk_size)        # a permutation of member indices
    for chunk in order.reshape(-1, chunk_size): ...       # solve members ``chunk``; write results back
                                                          # to their own indices

Each member's result is unchanged (members are independent); only which members share a chunk changes.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._batching import batch_shape_of, flatten_members
from ..stimulus import as_stimulus
from .fixed import _stim_at, fast_exp_euler_update

__all__ = ["estimate_difficulty", "order_by_difficulty", "lockstep_penalty"]


@eqx.filter_jit
def _probe(model, stim, y0, in_axes, n_steps, dt, threshold):
    """Spikes (upward crossings of ``threshold``) and the time integral of the V rate ``B_V``
    (total conductance / C, the stiffest eigenvalue's scale) over a fixed-step probe."""
    model_axes, stim_axes = in_axes
    n = y0.shape[0]
    linear_form = jax.vmap(lambda m, y, i: m.linear_form(y, i), in_axes=(model_axes, 1, 0), out_axes=1)
    h = jnp.asarray(dt, y0.dtype)

    def body(i, carry):
        yT, count, stiff = carry
        A, B = linear_form(model, yT, _stim_at(stim, stim_axes, i.astype(y0.dtype) * h, n))
        y1 = fast_exp_euler_update(yT, A, B, h)
        up = (yT[0] < threshold) & (y1[0] >= threshold)
        ok = jnp.all(jnp.isfinite(y1), axis=0)
        return jnp.where(ok, y1, yT), count + up.astype(jnp.int32), stiff + jnp.where(ok, B[0] * h, 0.0)

    init = (y0.T, jnp.zeros((n,), jnp.int32), jnp.zeros((n,), y0.dtype))
    _, count, stiff = jax.lax.fori_loop(0, n_steps, body, init)
    return count, stiff


def estimate_difficulty(model, *, stimulus=None, y0=None, t_probe: float = 200.0, dt: float = 0.05,
                        threshold: float = -10.0, block: int = 65536, features: bool = False):  # fmt: skip
    """Per-member difficulty score from a float32 exponential-Euler probe of ``t_probe`` ms,
    flattened over the model's batch shape; members are probed in blocks of ``block``.

    Score: ``spikes + stiffness / 100`` where ``stiffness`` is the time integral of the V rate
    ``B_V = g_total / C`` (1/ms * ms) over the probe: explicit steps are limited by ``B_V`` between
    spikes and by accuracy on spikes. ``features=True`` returns ``(spikes, stiffness)`` instead.
    """
    stim = as_stimulus(stimulus)
    y0 = model.default_y0() if y0 is None else jnp.asarray(y0)
    batch = tuple(np.broadcast_shapes(model.batch_shape, batch_shape_of(stim), y0.shape[:-1]))
    n = int(math.prod(batch))
    model_flat, model_axes = flatten_members(model, batch)
    stim_flat, stim_axes = flatten_members(stim, batch)
    y0_flat = jnp.broadcast_to(y0, batch + (model.n_states,)).reshape(n, model.n_states)
    f32 = lambda tree: jax.tree_util.tree_map(lambda x: x.astype(jnp.float32) if eqx.is_inexact_array(x) else x, tree)  # noqa: E731
    n_steps = max(1, int(round(t_probe / dt)))
    spikes = np.empty(n, np.float64)
    stiffness = np.empty(n, np.float64)
    for start in range(0, n, block):
        stop = min(n, start + block)
        size = block if n > block else n  # pad the last block to keep one compiled shape
        idx = np.minimum(np.arange(start, start + size), n - 1)
        take = lambda tree, axes: tree if axes is None else jax.tree_util.tree_map(  # noqa: E731
            lambda a, x: x[idx] if a == 0 else x, axes, tree, is_leaf=lambda v: v is None)
        count, stiff = _probe(f32(take(model_flat, model_axes)), f32(take(stim_flat, stim_axes)),
                              y0_flat[idx].astype(jnp.float32), (model_axes, stim_axes), n_steps, float(dt),
                              float(threshold))  # fmt: skip
        spikes[start:stop] = np.asarray(count)[: stop - start]
        stiffness[start:stop] = np.asarray(stiff)[: stop - start]
    if features:
        return spikes, stiffness
    return spikes + stiffness / 100.0


def order_by_difficulty(score, chunk_size: int | None = None) -> np.ndarray:
    """A permutation of member indices, easiest first (stable, so ties keep their order).
    ``chunk_size`` is accepted for symmetry with :func:`lockstep_penalty`; contiguous slices of
    the returned order are the chunks."""
    del chunk_size
    return np.argsort(np.asarray(score), kind="stable")


def lockstep_penalty(num_steps, chunk_size: int, order=None) -> float:
    """Work of lock-stepped chunks over useful work: ``sum_chunks(size * max steps) / sum(steps)``
    (1.0 = no penalty), for members taken in ``order`` (default: as given)."""
    steps = np.asarray(num_steps, float).reshape(-1)
    if order is not None:
        steps = steps[np.asarray(order)]
    work = sum(len(c) * c.max() for c in (steps[i : i + chunk_size] for i in range(0, len(steps), chunk_size)))
    return float(work / steps.sum())
