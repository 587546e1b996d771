"""Splitting a member-batched solve over the local devices (e.g. 2 host CPU devices on 2 cores).

XLA runs one CPU device's loop on one core. With ``XLA_FLAGS=--xla_force_host_platform_device_count=K``
(set before importing JAX) there are ``K`` CPU devices; :func:`shard_members` runs an independent
copy of a vmapped solve on each device's share of the members via ``shard_map`` (no
communication), so each device's adaptive loop also waits only for its own slowest member.
"""

from __future__ import annotations

import equinox as eqx
import jax
import numpy as np
from jax.sharding import Mesh, PartitionSpec

from .fixed import _member_specs, _n_devices, _pad_members
from .runtime import runtime_jit

__all__ = ["shard_members"]


@runtime_jit(classic=lambda *args: args[-1])
def _sharded(solve_fn, model, stim, y0, ts, in_axes, static, n_dev, classic_cpu):
    # ``ts`` is passed through as given: a static (hashable) object in ``simulate``.
    model_axes, stim_axes = in_axes
    mesh = Mesh(np.array(jax.local_devices()[:n_dev]), ("m",))
    m_dyn, m_static = eqx.partition(model, eqx.is_array)
    s_dyn, s_static = eqx.partition(stim, eqx.is_array)
    in_specs = (_member_specs(model_axes, model), _member_specs(stim_axes, stim), PartitionSpec("m"))

    def fn(m_dyn, s_dyn, y0):
        return solve_fn(eqx.combine(m_dyn, m_static), eqx.combine(s_dyn, s_static), y0, ts, in_axes, *static)

    return jax.shard_map(fn, mesh=mesh, in_specs=in_specs, out_specs=PartitionSpec("m"), check_vma=False)(m_dyn, s_dyn, y0)


def shard_members(solve_fn, model, stim, y0, ts, in_axes, *static, classic_cpu=False):
    """``solve_fn(model, stim, y0, ts, in_axes, *static)`` (every output with members on axis 0),
    split over the local devices when there are several and at least two members per device;
    ``classic_cpu``: compile the split program for XLA's classic CPU runtime (:mod:`.runtime`)."""
    n = y0.shape[0]
    n_dev = _n_devices(n)
    if n_dev == 1:
        return solve_fn(model, stim, y0, ts, in_axes, *static)
    pad = (-n) % n_dev
    if pad:
        model, stim, y0 = (_pad_members(x, ax, pad) for x, ax in ((model, in_axes[0]), (stim, in_axes[1]), (y0, 0)))
    out = _sharded(solve_fn, model, stim, y0, ts, in_axes, tuple(static), n_dev, classic_cpu)
    return jax.tree_util.tree_map(lambda x: x[:n], out) if pad else out
