"""Fast fixed-step exponential Euler for a whole batch of members at once.

Diffrax's integration loop (vmapped ``while_loop``, per-step bookkeeping, dense-output saving)
costs several times the arithmetic of one exponential-Euler step, so :func:`simulate` sends
:class:`~jaxneuron.ExpEuler` solves here instead: a ``lax.scan`` over save points with a
static-length ``scan`` of steps inside, operating on all members at once with the state stored
state-major ``(n_states, n_members)`` so that every state is a contiguous vector.
It computes the scheme of :class:`~jaxneuron.solvers.ExpEulerSolver` with Diffrax's constant
step times (``ceil((t_end - t0)/dt)`` equal steps) and the same linear interpolation onto save
times and returns what ``simulate``'s Diffrax path
returns. With more than one local JAX device (e.g. ``XLA_FLAGS=--xla_force_host_platform_device_count=2``
on a 2-core CPU) members are split across devices with ``shard_map``.

The Diffrax path (:class:`~jaxneuron.solvers.ExpEulerSolver`) stays available for gradients
and as the reference this path is tested against (``ExpEuler(fast=False)``).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, PartitionSpec

from ..models.base import evaluate_stimulus
from .runtime import runtime_jit, use_classic_cpu
from .tabulated import kinetics_table, make_tabulated_step, vmapped_border_rows

__all__ = ["fixed_step_plan", "solve_fixed_members"]

_EPS = 1e-9


def fixed_step_plan(t0: float, t_end: float, dt: float, ts: np.ndarray):
    """Steps and interpolation weights of a fixed-step solve (host-side numpy).

    As Diffrax's ``ConstantStepSize``: ``n = ceil((t_end - t0) / dt)`` equal steps of
    ``h = (t_end - t0) / n`` (``h = dt`` when ``dt`` divides the interval). For each save time
    ``ts[j]``: ``k[j]``, the index of the last step point at or before it, and ``w[j]`` in [0, 1),
    its fractional position inside the following step (0: the save time is a step point).
    """
    span = t_end - t0
    n = max(1, int(math.ceil(span / dt - _EPS)))
    h = span / n
    pos = (np.asarray(ts, float) - t0) / h
    k = np.clip(np.floor(pos + _EPS), 0, n).astype(np.int64)
    w = np.clip(pos - k, 0.0, 1.0)
    w = np.where((w < _EPS) | (k == n), 0.0, w)
    return n, h, k, w


def one_minus_exp_over(z):
    """``(1 - exp(-z)) / z`` (= ``phi1(-z)``) for ``z >= 0`` with one ``exp`` and no ``expm1``.

    XLA's CPU ``expm1`` costs ~2.5 ``exp`` and the exponential-Euler update needs one per state
    per step: below ``z = 1e-3`` (float64) / ``1e-2`` (float32) a 5-term series is used, above it
    ``1 - exp(-z)`` loses at most 3 (2) digits of the 16 (7), i.e. relative error <= 1e-13 (1e-5).
    """
    small = 1e-3 if z.dtype == jnp.float64 else 1e-2
    z_safe = jnp.where(z < small, 1.0, z)
    series = 1.0 - z * (1.0 / 2.0 - z * (1.0 / 6.0 - z * (1.0 / 24.0 - z * (1.0 / 120.0))))
    return jnp.where(z < small, series, (1.0 - jnp.exp(-z_safe)) / z_safe)


def fast_exp_euler_update(y, A, B, h):
    """Exponential-Euler step ``y + h (A - B y) phi1(-B h)`` for ``B >= 0`` (any model whose rates
    are non-negative, as every conductance-based model's are), without ``expm1``."""
    return y + h * (A - B * y) * one_minus_exp_over(B * h)


def _stim_at(stim, stim_axes, t, n):
    if stim is None or stim_axes is None:
        return jnp.broadcast_to(jnp.asarray(evaluate_stimulus(stim, t)), (n,))
    return jax.vmap(lambda s: evaluate_stimulus(s, t), in_axes=(stim_axes,))(stim)


def _make_step(model, stim, model_axes, stim_axes, n, table_mode=None, h=None, dtype=None, table=None):
    """``step(yT, t, h) -> yT`` on the state-major batch ``yT`` of shape ``(n_states, n)``
    (``table_mode``: ``None`` or a tabulated-kinetics mode; ``table``: its table, if already built)."""
    if table_mode is not None:
        return make_tabulated_step(model, vmapped_border_rows(model, model_axes), lambda t: _stim_at(stim, stim_axes, t, n),
                                   h, dtype, fast_exp_euler_update, table, table_mode)  # fmt: skip
    linear_form = jax.vmap(lambda m, y, i: m.linear_form(y, i), in_axes=(model_axes, 1, 0), out_axes=1)

    def step(yT, t, h):
        A, B = linear_form(model, yT, _stim_at(stim, stim_axes, t, n))
        return fast_exp_euler_update(yT, A, B, h)

    return step


def _solve_local(model, stim, y0, model_axes, stim_axes, t0, n_steps, h, k, w, interp, states, final, dtype, gaps,
                 table_mode=None, table=None):  # fmt: skip
    n = y0.shape[0]
    step = _make_step(model, stim, model_axes, stim_axes, n, table_mode, h, dtype, table)
    h_ = jnp.asarray(h, dtype)
    # static step counts: before the first save point, between save points (all equal if uniform), after the last
    first, max_gap, uniform, tail = gaps

    def advance(yT, k_from, n_max, k_to=None):
        # a scan of static length (reverse-mode differentiable, unlike a fori_loop with traced
        # bounds); steps past ``k_to`` are masked out when the save points are not evenly spaced
        def body(y, i):
            kk = k_from + i
            y_new = step(y, t0 + kk.astype(dtype) * h_, h_)
            return (y_new if k_to is None else jnp.where(kk < k_to, y_new, y)), None

        return jax.lax.scan(body, yT, jnp.arange(n_max, dtype=jnp.int32))[0] if n_max > 0 else yT

    pick = (lambda y: y) if states == "all" else (lambda y: y[0])
    yT0 = y0.T
    if final:
        yT = advance(yT0, jnp.asarray(0, jnp.int32), n_steps)
        return pick(yT)[..., None], yT  # (n_states, n, 1) or (n, 1)

    def emit(yT, k_j, w_j):
        if not interp:
            return pick(yT)
        # linear interpolation inside the step, as Diffrax's LocalLinearInterpolation
        t_j = t0 + k_j.astype(dtype) * h_
        y_next = jax.lax.cond(w_j > 0, lambda y: step(y, t_j, h_), lambda y: y, yT)
        return pick(yT + w_j * (y_next - yT))

    def save_point(carry, x):
        yT, k_prev = carry
        k_j, w_j = x
        yT = advance(yT, k_prev, max_gap, None if uniform else k_j)
        return (yT, k_j), emit(yT, k_j, w_j)

    k_first = jnp.asarray(0, jnp.int32)
    yT = advance(yT0, k_first, first)  # up to the first save point (static number of steps)
    out0 = emit(yT, k[0], w[0])
    (yT, k_last), saved = jax.lax.scan(save_point, (yT, k[0]), (k[1:], w[1:]))
    saved = jnp.concatenate([out0[None], saved], axis=0)
    yT = advance(yT, k_last, tail)
    return jnp.moveaxis(saved, 0, -1), yT  # (..., n, n_times)


def _is_none(x):
    return x is None


def _member_specs(axes, tree):
    """Partition specs for the array leaves of ``tree`` (``None`` elsewhere): members on axis 0."""
    if axes is None:
        return jax.tree_util.tree_map(lambda leaf: PartitionSpec() if eqx.is_array(leaf) else None, tree)
    return jax.tree_util.tree_map(
        lambda a, leaf: (PartitionSpec("m") if a == 0 else PartitionSpec()) if eqx.is_array(leaf) else None,
        axes, tree, is_leaf=_is_none,
    )  # fmt: skip


@runtime_jit(classic=lambda *args: args[-1])  # classic_cpu: decided by the caller (runtime.py)
def _solve_fixed(model, stim, y0, k, w, in_axes, t0, n_steps, h, interp, states, final, n_dev, gaps, table_mode,
                 classic_cpu):  # fmt: skip
    model_axes, stim_axes = in_axes
    dtype = y0.dtype

    def local(model, stim, y0):
        # the kinetics tables depend on V and h only: built once here, not once per block
        table = kinetics_table(model, h, dtype, table_mode) if table_mode is not None else None

        def solve(model, stim, y0):
            return _solve_local(model, stim, y0, model_axes, stim_axes, t0, n_steps, h, k, w, interp, states, final,
                                dtype, gaps, table_mode, table)  # fmt: skip

        n = y0.shape[0]
        block = _block_size()
        if n <= block:
            return solve(model, stim, y0)
        # members in blocks, one after the other: the working set of a block stays in cache
        nb = -(-n // block)
        saved, yT = map_member_blocks(solve, model, stim, (y0,), (model_axes, stim_axes), nb, block)
        member_axis = 1 if (states == "all") else 0  # of one block's ``saved``: (n, T) or (n_states, n, T)
        saved = jnp.moveaxis(saved, 0, member_axis)  # blocks next to the member axis
        saved = saved.reshape(saved.shape[:member_axis] + (nb * block,) + saved.shape[member_axis + 2 :])
        yT = jnp.moveaxis(yT, 0, 1).reshape(yT.shape[1], nb * block)
        return jax.lax.slice_in_dim(saved, 0, n, axis=member_axis), yT[:, :n]

    if n_dev > 1:
        mesh = Mesh(np.array(jax.local_devices()[:n_dev]), ("m",))
        m_dyn, m_static = eqx.partition(model, eqx.is_array)
        s_dyn, s_static = eqx.partition(stim, eqx.is_array)
        in_specs = (_member_specs(model_axes, model), _member_specs(stim_axes, stim), PartitionSpec("m"))
        m_spec = PartitionSpec("m") if states != "all" else PartitionSpec(None, "m")

        def fn(m_dyn, s_dyn, y0):
            return local(eqx.combine(m_dyn, m_static), eqx.combine(s_dyn, s_static), y0)

        sharded = jax.shard_map(fn, mesh=mesh, in_specs=in_specs, out_specs=(m_spec, PartitionSpec(None, "m")),
                                check_vma=False)  # fmt: skip
        saved, yT = sharded(m_dyn, s_dyn, y0)
    else:
        saved, yT = local(model, stim, y0)
    if states == "all":
        saved = jnp.moveaxis(saved, 0, -1)  # (n, n_times, n_states)
    y_final = yT.T
    finite = jnp.all(jnp.isfinite(y_final), axis=-1) & jnp.all(jnp.isfinite(saved.reshape(saved.shape[0], -1)), axis=-1)
    status = jnp.where(finite, 0, 2).astype(jnp.int32)
    return saved, y_final, status


def solve_fixed_members(model, stim, y0, ts, in_axes, t0, t_end, solver, states, final):
    """Drop-in for ``simulate``'s member solve for :class:`~jaxneuron.ExpEuler`: returns
    ``(saved, y_final, status, num_steps)`` shaped as the Diffrax path returns them."""
    ts = np.asarray(ts, dtype=float)
    n_steps, h, k, w = fixed_step_plan(t0, t_end, solver.dt, ts if not final else np.array([t_end]))
    n = y0.shape[0]
    n_dev = _n_devices(n)
    pad = (-n) % n_dev
    if pad:
        model, stim, y0 = (_pad_members(x, ax, pad) for x, ax in ((model, in_axes[0]), (stim, in_axes[1]), (y0, 0)))
    k_, w_ = jnp.asarray(k, jnp.int32), jnp.asarray(w, y0.dtype)
    k_np = np.asarray(k, dtype=np.int64)
    step_gaps = np.diff(k_np)
    gaps = (int(k_np[0]), int(step_gaps.max(initial=0)), bool(np.all(step_gaps == step_gaps[:1])), int(n_steps - k_np[-1]))
    saved, y_final, status = _solve_fixed(model, stim, y0, k_, w_, in_axes, float(t0), n_steps, float(h),
                                          bool(np.any(w > 0)), states, final, n_dev, gaps, solver.table_mode,
                                          use_classic_cpu(solver, "vmap", n * (t_end - t0) / 1000.0))  # fmt: skip
    if pad:
        saved, y_final, status = saved[:n], y_final[:n], status[:n]
    num_steps = jnp.full((n,), n_steps, dtype=jnp.int32)
    return saved, y_final, status, num_steps


def _block_size():
    """Members integrated at once per device by the fixed-step path: 1,024 on CPU (measured:
    tabulated float64 at 10,000 members ran at 438 neuron-s/s in one block against 669 at 1,000),
    unbounded on accelerators."""
    return 1024 if jax.default_backend() == "cpu" else 1 << 62


def map_member_blocks(fn, model, stim, arrays, in_axes, nb, block):
    """``fn(model, stim, *arrays)`` on ``nb`` blocks of ``block`` members, one after the other
    (``jax.lax.map``); ``arrays`` have members on axis 0. The members are padded to ``nb * block``
    by repeating the first; only per-member leaves are cut into blocks, shared ones are closed
    over. Returns ``fn``'s outputs with a leading block axis."""
    model_axes, stim_axes = in_axes
    pad = nb * block - arrays[0].shape[0]
    if pad:
        model, stim = _pad_members(model, model_axes, pad), _pad_members(stim, stim_axes, pad)
        arrays = tuple(_pad_members(a, 0, pad) for a in arrays)
    (m_mem, m_shared), (s_mem, s_shared) = _by_axis(model, model_axes), _by_axis(stim, stim_axes)
    blocks = jax.tree_util.tree_map(lambda v: v.reshape((nb, block) + v.shape[1:]), (m_mem, s_mem) + tuple(arrays))

    def one_block(b):
        bm, bs, *ba = b
        return fn(eqx.combine(bm, m_shared), eqx.combine(bs, s_shared), *ba)

    return jax.lax.map(one_block, blocks)


def _by_axis(x, axes):
    """``(per-member part, shared part)`` of ``x`` (``None`` where the other part holds a leaf)."""
    if x is None or axes is None:
        return None, x
    is_leaf = lambda v: v is None  # noqa: E731
    member = jax.tree_util.tree_map(lambda a, leaf: leaf if a == 0 else None, axes, x, is_leaf=is_leaf)
    shared = jax.tree_util.tree_map(lambda a, leaf: None if a == 0 else leaf, axes, x, is_leaf=is_leaf)
    return member, shared


def _n_devices(n):
    devs = jax.local_devices()
    if len(devs) <= 1 or devs[0].platform != jax.default_backend() or n < 2 * len(devs):
        return 1
    return len(devs)


def _pad_members(x, axes, pad):
    if x is None or axes is None:
        return x
    if isinstance(axes, int):
        return jnp.concatenate([x, jnp.repeat(x[:1], pad, axis=0)])
    return jax.tree_util.tree_map(
        lambda a, leaf: jnp.concatenate([leaf, jnp.repeat(leaf[:1], pad, axis=0)]) if a == 0 else leaf,
        axes, x, is_leaf=lambda v: v is None,
    )  # fmt: skip
