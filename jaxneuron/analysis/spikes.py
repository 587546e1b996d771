"""Spike detection on saved voltage traces: upward threshold crossings, fixed-size output.

A spike is an upward crossing of ``threshold`` between two samples, ``V[i] < threshold <=
V[i+1]``; its time is the linear interpolation of the crossing between ``t[i]`` and
``t[i+1]``. Samples that are not finite never take part in a crossing.

Everything works on fixed-size arrays so that it runs under ``jit`` and ``vmap``: the first
``max_spikes`` spike times are gathered into a NaN-padded array, the full count is kept, and
``overflow`` says when spikes were dropped. Batches are processed a block of members at a time
(a loop over blocks of ``batch_size`` members), so the temporaries stay a fraction of the input even for
1,000 x 200,000-sample traces.
"""

from __future__ import annotations

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp

__all__ = ["SpikeTimes", "spike_times", "DEFAULT_THRESHOLD", "DEFAULT_MAX_SPIKES", "map_members", "check_trace"]

DEFAULT_THRESHOLD = -10.0
"""Spike detection threshold (mV): upward crossing of -10 mV (spec section 2.8)."""
DEFAULT_MAX_SPIKES = 2048
"""Default size of the spike-time buffer per trace."""
CHUNK_ELEMENTS = 2**24
"""Members analysed at once are chosen so that a block holds about this many samples."""


class SpikeTimes(eqx.Module):
    """Spike times of a batch of traces.

    ``times``: crossing times (ms), shape ``(..., max_spikes)``, in increasing order, padded
    with NaN; ``count``: number of crossings in the whole trace (int32, also when it exceeds
    ``max_spikes``); ``overflow``: ``count > max_spikes`` (the later spikes are not in ``times``).
    """

    times: jax.Array
    count: jax.Array
    overflow: jax.Array


def check_trace(t, V):
    """Validate shapes (static): ``t`` is ``(n_times,)`` and ``V`` is ``(..., n_times)``, ``n_times >= 2``.

    Returns ``t`` in the working float dtype (that of ``t`` and ``V`` combined) and ``V`` as is
    (integer traces are cast): each block of members is cast to ``t.dtype`` when analysed, so a
    float32 batch is never copied whole into float64.
    """
    t = jnp.asarray(t)
    V = jnp.asarray(V)
    if t.ndim != 1:
        raise ValueError(f"t must be 1-D (n_times,) in ms, got shape {t.shape}")
    if V.ndim < 1 or V.shape[-1] != t.shape[0]:
        raise ValueError(f"V must have shape (..., n_times) with n_times = len(t) = {t.shape[0]}, got {V.shape}")
    if t.shape[0] < 2:
        raise ValueError(f"need at least 2 samples, got {t.shape[0]}")
    dtype = jnp.result_type(t.dtype, V.dtype, jnp.float32)
    if not jnp.issubdtype(V.dtype, jnp.floating):
        V = V.astype(dtype)
    return t.astype(dtype), V


def _chunk(n_members, n_times, batch_size):
    if batch_size is None:
        batch_size = max(1, CHUNK_ELEMENTS // max(n_times, 1))
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}")
    return min(batch_size, max(n_members, 1))


def map_members(fn, V, batch_size=None):
    """Apply ``fn(v)`` (one trace ``(n_times,)`` -> pytree of arrays) to every trace of ``V (..., n_times)``.

    Members are processed ``batch_size`` at a time (vmapped) in a loop that slices blocks out of
    ``V`` in place; the last block is shifted back to end at the last member (its overlap with
    the previous block is recomputed, giving identical values), so ``V`` is never padded or
    copied. Outputs get the batch shape ``V.shape[:-1]`` in front.
    """
    batch = V.shape[:-1]
    n = int(math.prod(batch))
    flat = V.reshape((n, V.shape[-1]))
    bs = _chunk(n, V.shape[-1], batch_size)
    one_block = jax.vmap(fn)
    if n <= bs:
        out = one_block(flat)
    else:
        shapes = jax.eval_shape(one_block, jax.ShapeDtypeStruct((bs, V.shape[-1]), V.dtype))
        init = jax.tree_util.tree_map(lambda s: jnp.zeros((n,) + s.shape[1:], s.dtype), shapes)

        def body(i, out):
            start = jnp.minimum(i * bs, n - bs)
            res = one_block(jax.lax.dynamic_slice_in_dim(flat, start, bs, axis=0))
            return jax.tree_util.tree_map(lambda o, r: jax.lax.dynamic_update_slice_in_dim(o, r, start, axis=0), out, res)

        out = jax.lax.fori_loop(0, -(-n // bs), body, init)
    return jax.tree_util.tree_map(lambda x: x.reshape(batch + x.shape[1:]), out)


def crossing_times_1d(t, v, threshold, max_spikes):
    """``(times (max_spikes,), count)`` of the upward crossings of one trace ``v (n_times,)``."""
    v = v.astype(t.dtype)
    up = (v[:-1] < threshold) & (v[1:] >= threshold)
    rank = jnp.cumsum(up, dtype=jnp.int32)  # number of crossings up to and including segment i
    count = rank[-1]
    k = jnp.arange(1, max_spikes + 1, dtype=jnp.int32)
    # segment of the k-th crossing: first i with rank[i] >= k (binary search, no scatter)
    idx = jnp.searchsorted(rank, k, side="left")
    idx = jnp.minimum(idx, v.shape[0] - 2)
    v0, v1 = v[idx], v[idx + 1]
    t0, t1 = t[idx], t[idx + 1]
    times = t0 + (threshold - v0) / (v1 - v0) * (t1 - t0)
    return jnp.where(k <= count, times, jnp.nan), count


def spike_times(t, V, *, threshold: float = DEFAULT_THRESHOLD, max_spikes: int = DEFAULT_MAX_SPIKES,
                batch_size: int | None = None) -> SpikeTimes:  # fmt: skip
    """Upward crossings of ``threshold`` (mV) in traces ``V`` (mV, ``(..., n_times)``) sampled at ``t`` (ms).

    A spike is a sample pair with ``V[i] < threshold <= V[i+1]``; its time is linearly
    interpolated, ``t[i] + (threshold - V[i]) / (V[i+1] - V[i]) * (t[i+1] - t[i])``. Returns a
    :class:`SpikeTimes` with the first ``max_spikes`` times (NaN-padded), the full ``count`` and
    the ``overflow`` flag. Pure and jit/vmap-able; ``batch_size`` members are processed at once
    (default: about 2**24 samples per block) to bound memory.
    """
    if not (isinstance(max_spikes, int) and max_spikes >= 1):
        raise ValueError(f"max_spikes must be a positive integer, got {max_spikes!r}")
    t, V = check_trace(t, V)
    return _spike_times(t, V, threshold=threshold, max_spikes=max_spikes, batch_size=batch_size)


@functools.partial(jax.jit, static_argnames=("threshold", "max_spikes", "batch_size"))
def _spike_times(t, V, *, threshold, max_spikes, batch_size):
    times, count = map_members(lambda v: crossing_times_1d(t, v, threshold, max_spikes), V, batch_size)
    return SpikeTimes(times=times, count=count, overflow=count > max_spikes)
