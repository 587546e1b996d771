"""Members: batching, padding, blocking and sharding, once for every engine.

A solve sees its batch as *members*: the model's, stimulus' and initial state's batch shapes
broadcast together and folded into one leading axis (:func:`prepare_members`). Engines then

* split the members over the local devices with ``shard_map`` (:func:`over_devices`; one
  independent copy of the program per device, no communication; XLA runs one CPU device's loop on
  one core, so this is how a solve uses every core: see :mod:`jaxneuron._devices`), padding the
  member count to a multiple of the device count (:func:`pad_members`), and
* run a device's members in blocks, one after the other (:func:`map_member_blocks`), to keep a
  block's working set small.

Padding repeats the first member; padded results are cut off before they reach the user.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, PartitionSpec

from .._batching import batch_shape_of, flatten_members
from ..stimulus import as_stimulus

__all__ = ["prepare_members", "n_devices", "pad_members", "shard_members", "over_devices", "map_member_blocks", "gather_members"]


def prepare_members(model, y0, stimulus, dtype):
    """Broadcast ``model``, ``stimulus`` and ``y0`` (``None``: the model's default) to one batch,
    fold it into a leading member axis and cast to ``dtype``. Returns ``(batch, model_flat,
    stim_flat, y0_flat (n, n_states), (model_axes, stim_axes))``; the model always gets a member
    axis (engines gather members by index)."""
    stim = as_stimulus(stimulus)
    y0 = model.default_y0() if y0 is None else jnp.asarray(y0, dtype=float)
    if y0.shape[-1:] != (model.n_states,):
        raise ValueError(f"y0 must have the {model.n_states} states {model.state_names} on its last axis, got shape {y0.shape}")
    try:
        batch = tuple(np.broadcast_shapes(model.batch_shape, batch_shape_of(stim), y0.shape[:-1]))
    except ValueError:
        raise ValueError(
            f"batch shapes do not broadcast: model {model.batch_shape}, stimulus {batch_shape_of(stim)}, y0 {y0.shape[:-1]}"
        ) from None
    n = int(math.prod(batch))
    model_flat, model_axes = flatten_members(model, batch if batch else (1,))
    stim_flat, stim_axes = flatten_members(stim, batch)
    y0_flat = jnp.broadcast_to(y0, batch + (model.n_states,)).reshape(n, model.n_states)
    cast = lambda tree: jax.tree_util.tree_map(lambda x: x.astype(dtype) if eqx.is_inexact_array(x) else x, tree)  # noqa: E731
    return batch, cast(model_flat), cast(stim_flat), y0_flat.astype(dtype), (model_axes, stim_axes)


def n_devices(n_members: int) -> int:
    """Local devices a solve of ``n_members`` is split over: all of the default backend's, as long
    as each gets at least two members; else 1."""
    devs = jax.local_devices()
    if len(devs) <= 1 or devs[0].platform != jax.default_backend() or n_members < 2 * len(devs):
        return 1
    return len(devs)


def _is_none(x):
    return x is None


def pad_members(x, axes, pad):
    """``x`` with ``pad`` copies of its first member appended on the member axis (``axes``: ``0``
    for an array, a pytree of ``0``/``None`` as from :func:`~jaxneuron._batching.flatten_members`)."""
    if x is None or axes is None or pad == 0:
        return x
    if isinstance(axes, int):
        return jnp.concatenate([x, jnp.repeat(x[:1], pad, axis=0)])
    return jax.tree_util.tree_map(
        lambda a, leaf: jnp.concatenate([leaf, jnp.repeat(leaf[:1], pad, axis=0)]) if a == 0 else leaf,
        axes, x, is_leaf=_is_none,
    )  # fmt: skip


def gather_members(tree, axes, idx):
    """Members ``idx`` of ``tree`` (leaves with ``axes`` 0 are indexed, shared ones kept)."""
    if axes is None:
        return tree
    return jax.tree_util.tree_map(lambda a, x: x[idx] if a == 0 else x, axes, tree, is_leaf=_is_none)


def _member_specs(axes, tree):
    """Partition specs for the array leaves of ``tree`` (``None`` elsewhere): members on axis 0."""
    if axes is None:
        return jax.tree_util.tree_map(lambda leaf: PartitionSpec() if eqx.is_array(leaf) else None, tree)
    return jax.tree_util.tree_map(
        lambda a, leaf: (PartitionSpec("m") if a == 0 else PartitionSpec()) if eqx.is_array(leaf) else None,
        axes, tree, is_leaf=_is_none,
    )  # fmt: skip


def shard_members(tree, axes, n_dev):
    """``tree`` with every per-member leaf (``axes``: ``0`` for a whole subtree, or a pytree of
    ``0``/``None`` as from :func:`~jaxneuron._batching.flatten_members`) placed on the first
    ``n_dev`` local devices, split along its member axis as :func:`over_devices` splits it."""
    from jax.sharding import NamedSharding

    sharding = NamedSharding(Mesh(np.array(jax.local_devices()[:n_dev]), ("m",)), PartitionSpec("m"))

    def put(x, ax):
        if ax is None:
            return x
        if isinstance(ax, int):
            return jax.tree_util.tree_map(lambda leaf: jax.device_put(leaf, sharding), x)
        return jax.tree_util.tree_map(lambda a, leaf: jax.device_put(leaf, sharding) if a == 0 else leaf, ax, x,
                                      is_leaf=_is_none)  # fmt: skip

    return tuple(put(x, ax) for x, ax in zip(tree, axes))


def over_devices(fn, model, stim, arrays, in_axes, n_dev, out_axes=0):
    """``fn(model, stim, *arrays)`` with the members split over ``n_dev`` local devices
    (``shard_map``, no communication); ``arrays`` have members on axis 0, the member count is a
    multiple of ``n_dev``. ``out_axes``: the member axis of each output (an int for all, or a
    pytree of ints matching ``fn``'s outputs). ``n_dev == 1`` calls ``fn`` directly."""
    if n_dev == 1:
        return fn(model, stim, *arrays)
    model_axes, stim_axes = in_axes
    mesh = Mesh(np.array(jax.local_devices()[:n_dev]), ("m",))
    m_dyn, m_static = eqx.partition(model, eqx.is_array)
    s_dyn, s_static = eqx.partition(stim, eqx.is_array)
    in_specs = (_member_specs(model_axes, m_dyn), _member_specs(stim_axes, s_dyn)) + (PartitionSpec("m"),) * len(arrays)
    spec = lambda ax: PartitionSpec(*([None] * ax + ["m"]))  # noqa: E731
    out_specs = spec(out_axes) if isinstance(out_axes, int) else jax.tree_util.tree_map(spec, out_axes)

    def local(m_dyn, s_dyn, *arrays):
        return fn(eqx.combine(m_dyn, m_static), eqx.combine(s_dyn, s_static), *arrays)

    return jax.shard_map(local, mesh=mesh, in_specs=in_specs, out_specs=out_specs, check_vma=False)(m_dyn, s_dyn, *arrays)


def _by_axis(x, axes):
    """``(per-member part, shared part)`` of ``x`` (``None`` where the other part holds a leaf)."""
    if x is None or axes is None:
        return None, x
    member = jax.tree_util.tree_map(lambda a, leaf: leaf if a == 0 else None, axes, x, is_leaf=_is_none)
    shared = jax.tree_util.tree_map(lambda a, leaf: None if a == 0 else leaf, axes, x, is_leaf=_is_none)
    return member, shared


def map_member_blocks(fn, model, stim, arrays, in_axes, block):
    """``fn(model, stim, *arrays)`` on blocks of at most ``block`` members, one after the other
    (``jax.lax.map``); ``arrays`` have members on axis 0. Blocks are near-equal (padding below
    their count, repeating the first member); only per-member leaves are cut into blocks, shared
    ones are closed over. Every output must have members on axis 0; outputs are returned for the
    real members only. One block: ``fn`` is called directly."""
    n = arrays[0].shape[0]
    nb = -(-n // block)
    if nb <= 1:
        return fn(model, stim, *arrays)
    size = -(-n // nb)
    model_axes, stim_axes = in_axes
    pad = nb * size - n
    model, stim = pad_members(model, model_axes, pad), pad_members(stim, stim_axes, pad)
    arrays = tuple(pad_members(a, 0, pad) for a in arrays)
    (m_mem, m_shared), (s_mem, s_shared) = _by_axis(model, model_axes), _by_axis(stim, stim_axes)
    blocks = jax.tree_util.tree_map(lambda v: v.reshape((nb, size) + v.shape[1:]), (m_mem, s_mem) + tuple(arrays))

    def one_block(b):
        bm, bs, *ba = b
        return fn(eqx.combine(bm, m_shared), eqx.combine(bs, s_shared), *ba)

    out = jax.lax.map(one_block, blocks)
    return jax.tree_util.tree_map(lambda v: v.reshape((nb * size,) + v.shape[2:])[:n], out)
