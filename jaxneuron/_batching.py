"""Member batching shared by models, stimuli and initial states.

Each array field declares its *core* number of dimensions in its metadata (``batch=0`` for a
per-member scalar, ``batch=1`` for a per-member vector such as a sampled waveform) or that it is
shared by all members (``batch=None``). The batch shape of an object is the broadcast of the
leading (non-core) shapes of its batchable fields. ``flatten_members`` broadcasts every
batchable field to ``batch_shape + core`` and folds the batch into one leading member axis so
that ``jax.vmap`` can map over it.
"""

from __future__ import annotations

import dataclasses
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["batch_fields", "batch_shape_of", "flatten_members", "is_concrete"]


def is_concrete(*xs) -> bool:
    """True when no argument is a tracer (construction-time checks only run on concrete values)."""
    return not any(isinstance(x, jax.core.Tracer) for x in xs)


def _walk(obj, get):
    """Yield ``(getter, core)`` for every field declaring ``batch`` in ``obj`` and in the
    dataclasses (equinox Modules) it holds, directly or in tuples/lists (a network's cells and
    synapses); ``getter(root)`` returns the field's value."""
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        return
    for f in dataclasses.fields(obj):
        if "batch" in f.metadata:
            yield (lambda root, name=f.name: getattr(get(root), name)), f.metadata["batch"]
            continue
        if f.metadata.get("static", False):
            continue
        value = getattr(obj, f.name, None)
        sub = lambda root, name=f.name: getattr(get(root), name)  # noqa: E731
        if dataclasses.is_dataclass(value):
            yield from _walk(value, sub)
        elif isinstance(value, (tuple, list)):
            for i, item in enumerate(value):
                yield from _walk(item, lambda root, sub=sub, i=i: sub(root)[i])


def batch_fields(obj) -> list[tuple]:
    """``[(getter, core ndim or None (shared))]`` for every array field that declares ``batch``,
    in ``obj`` and in the modules it holds (``getter(obj)`` returns the field's value)."""
    return list(_walk(obj, lambda root: root))


def _lead_shape(x, core):
    shape = jnp.shape(x)
    return tuple(shape[: len(shape) - core]) if core else tuple(shape)


def batch_shape_of(obj) -> tuple[int, ...]:
    shapes = [_lead_shape(get(obj), c) for get, c in batch_fields(obj) if c is not None]
    return tuple(np.broadcast_shapes(*shapes)) if shapes else ()


def flatten_members(obj, batch_shape):
    """``(flat_obj, in_axes)``: batchable fields shaped ``(n_members, *core)``; ``in_axes`` for vmap."""
    n = int(math.prod(batch_shape))
    fields = [(get, c) for get, c in batch_fields(obj) if c is not None]
    if not fields:
        return obj, None
    new = []
    for get, core in fields:
        x = jnp.asarray(get(obj))
        core_shape = x.shape[x.ndim - core :] if core else ()
        new.append(jnp.broadcast_to(x, tuple(batch_shape) + core_shape).reshape((n,) + core_shape))
    getter = lambda m: [get(m) for get, _ in fields]  # noqa: E731
    flat = eqx.tree_at(getter, obj, new)
    in_axes = jax.tree_util.tree_map(lambda _: None, obj)
    in_axes = eqx.tree_at(getter, in_axes, [0] * len(fields), is_leaf=lambda x: x is None)
    return flat, in_axes
