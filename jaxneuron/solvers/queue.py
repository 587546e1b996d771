"""The work-queue engine: adaptive solves of many members without lock-step.

``jax.vmap`` of an adaptive solve runs one ``while_loop`` for the whole batch, so every member
pays for as many steps as the slowest one (measured max/mean ~2.8 on random Prinz cells). Here a
fixed number of *slots* integrate members side by side, each at its own time and step size;
when a slot's member reaches ``t_end`` its results are written out and the slot takes the next
member from the queue, so the batch stays full until the queue runs dry. Per member the engine
keeps the final state, the spike times (upward crossings of a threshold, located on the cubic
Hermite interpolant of each accepted step), the V range at step points and step counts:
everything the activity analysis needs except the slow-wave amplitude. State is stored
state-major ``(n_states, n_slots)`` so each state is one contiguous vector.

Step-size control is Diffrax's (the RMS of the error estimate over ``atol + rtol max(|y0|,
|y1|)``, safety 0.9, factor in [0.2, 10]; its default I controller for Tsit5, a PI controller
with ``pcoeff = icoeff = 0.3`` for Kvaerno, see ``_PI_CONTROL``); the steps are those of
:mod:`jaxneuron.solvers.steppers`. With several local JAX devices the members are split across
them with ``shard_map`` (one queue per device).
"""

from __future__ import annotations


import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, PartitionSpec

from ..models.base import evaluate_stimulus
from .fixed import _member_specs, _n_devices, _pad_members, map_member_blocks
from .tabulated import vmapped_border_rows
from .runtime import MIN_NEURON_SECONDS, runtime_jit
from .steppers import esdirk_step, esdirk_tables, explicit_step, scaled_rms

__all__ = ["solve_queue"]

_SAFETY, _FMIN, _FMAX, _FNEWTON = 0.9, 0.2, 10.0, 0.25
_H_MIN = 1e-10  # ms: a member whose step falls below this is declared failed (status 2)


# step-size controller coefficients (Diffrax's PIDController convention): the explicit pair keeps
# Diffrax's default I controller; the ESDIRK pairs use the PI controller Diffrax's docs suggest
# for mildly stiff problems (pcoeff = icoeff = 0.3): on Prinz cells it cut Kvaerno5's rejected
# steps from 21 % to 9 % and its time by ~8 %, while for Tsit5 it cost ~10 % (more, smaller steps).
_I_CONTROL, _PI_CONTROL = (0.0, 1.0), (0.3, 0.3)

# Newton-aware step size (ESDIRK pairs): a slot whose slowest stage solve needed more than
# _SLOW_NEWTON simplified-Newton iterations takes its next step at most _FSLOW times as long.
# RADAU5 halves the step when its Newton iteration converges too slowly (Hairer & Wanner IV.8);
# here it is done before the iteration fails. The slots iterate in lock-step, so the batch pays
# for its slowest slot's count: on Prinz cells (1,024 members, 1 s) this cut rejected steps from
# 8.8 % to 0.3 %, kept the step count (2,024 -> 2,025), and the Kvaerno5 / Tsit5 time ratio fell
# from 4.2 to 3.0 (thresholds 2 and 4, and factors 0.3-0.8, measured worse).
_SLOW_NEWTON, _FSLOW = 3, 0.5


def _method(name):
    if name == "tsit5":
        return diffrax.Tsit5.tableau, 5, False, _I_CONTROL
    if name == "kvaerno5":
        return diffrax.Kvaerno5.tableau, 5, True, _PI_CONTROL
    if name == "kvaerno3":
        return diffrax.Kvaerno3.tableau, 3, True, _PI_CONTROL
    raise ValueError(f"the queue engine runs Tsit5, Kvaerno5 and Kvaerno3, not {name!r}")


def _hermite(s, v0, v1, d0, d1):
    """Cubic Hermite on ``s`` in [0, 1] with end values ``v0, v1`` and end slopes ``d0, d1``
    (per unit ``s``), and its derivative."""
    s2, s3 = s * s, s * s * s
    p = (2 * s3 - 3 * s2 + 1) * v0 + (s3 - 2 * s2 + s) * d0 + (-2 * s3 + 3 * s2) * v1 + (s3 - s2) * d1
    dp = (6 * s2 - 6 * s) * v0 + (3 * s2 - 4 * s + 1) * d0 + (-6 * s2 + 6 * s) * v1 + (3 * s2 - 2 * s) * d1
    return p, dp


def _crossing(v0, v1, d0, d1, threshold):
    """Fraction ``s`` in [0, 1] of the step where the Hermite interpolant crosses ``threshold``
    (linear guess, then 3 Newton iterations kept inside the step)."""
    s = jnp.clip((threshold - v0) / jnp.where(v1 != v0, v1 - v0, 1.0), 0.0, 1.0)
    for _ in range(3):
        p, dp = _hermite(s, v0, v1, d0, d1)
        s = jnp.clip(s - (p - threshold) / jnp.where(dp > 0, dp, jnp.inf), 0.0, 1.0)
    return s


def _gather(tree, axes, idx):
    if axes is None:
        return tree
    return jax.tree_util.tree_map(lambda a, x: x[idx] if a == 0 else x, axes, tree, is_leaf=lambda v: v is None)


def _select(mask, new, old, axes):
    if axes is None:
        return old
    return jax.tree_util.tree_map(
        lambda a, n, o: jnp.where(mask.reshape(mask.shape + (1,) * (n.ndim - 1)), n, o) if a == 0 else o,
        axes, new, old, is_leaf=lambda v: v is None,
    )  # fmt: skip


def _queue_local(model, stim, y0, jumps, model_axes, stim_axes, cfg):
    (name, t0, t_end, t_record, rtol, atol, dt0, max_steps, threshold, max_spikes, n_slots, n_border,
     newton_tol, max_newton) = cfg  # fmt: skip
    tableau, order, implicit, (pcoeff, icoeff) = _method(name)
    n_members, n_states = y0.shape
    dtype = y0.dtype
    S = min(n_slots, n_members)
    slot = jnp.arange(S)

    def linear_form(m, s, t, yT):
        lf = jax.vmap(lambda mm, y, ss, tt: mm.linear_form(y, evaluate_stimulus(ss, tt)),
                      in_axes=(model_axes, 1, stim_axes, 0), out_axes=1)  # fmt: skip
        return lf(m, yT, s, t)

    def make_rhs(m, s):
        def rhs(t, yT):
            A, B = linear_form(m, s, t, yT)
            return A - B * yT

        return rhs, (lambda t, yT: linear_form(m, s, t, yT))

    def border_rhs(m, s, t, yT):
        """The V (and Ca) rows of ``rhs`` from the model's ``_border_rows`` (no gate kinetics)."""
        A, B = vmapped_border_rows(m, model_axes)(yT, jax.vmap(evaluate_stimulus, in_axes=(stim_axes, 0))(s, t))
        return A - B * yT[: A.shape[0]]

    has_border_rows = hasattr(model, "_border_rows")

    tables = esdirk_tables(tableau) if implicit else None

    def step(m, s, t, yT, f0, h, active):
        rhs, lf = make_rhs(m, s)
        if implicit:
            return esdirk_step(rhs, lf, tables, t, yT, f0, h, n_border=n_border, rtol=rtol, atol=atol,
                               newton_tol=newton_tol, max_newton=max_newton, active=active,
                               border_rhs=(lambda tt, yy: border_rhs(m, s, tt, yy)) if has_border_rows else None)  # fmt: skip
        return explicit_step(rhs, tableau, t, yT, f0, h)

    idx0 = slot
    m0, s0 = _gather(model, model_axes, idx0), _gather(stim, stim_axes, idx0)
    yT0 = y0[idx0].T
    t_init = jnp.full((S,), t0, dtype)
    f_init = make_rhs(m0, s0)[0](t_init, yT0)
    far = jnp.asarray(np.inf, dtype)
    # per-member outputs; spike times go straight to their member's row (no per-slot buffer)
    out = dict(
        times=jnp.full((n_members, max_spikes), jnp.nan, dtype), count=jnp.zeros((n_members,), jnp.int32),
        y_final=jnp.zeros((n_members, n_states), dtype), status=jnp.zeros((n_members,), jnp.int32),
        steps=jnp.zeros((n_members,), jnp.int32), accepted=jnp.zeros((n_members,), jnp.int32),
        v_min=jnp.zeros((n_members,), dtype), v_max=jnp.zeros((n_members,), dtype),
    )  # fmt: skip
    carry = dict(
        m=m0, s=s0, member=idx0, t=t_init, y=yT0, f=f_init, h=jnp.full((S,), dt0, dtype), j=jumps[idx0],
        steps=jnp.zeros((S,), jnp.int32), acc=jnp.zeros((S,), jnp.int32), count=jnp.zeros((S,), jnp.int32),
        vmin=jnp.full((S,), far), vmax=jnp.full((S,), -far), ep=jnp.ones((S,), dtype),
        active=jnp.ones((S,), bool), next=jnp.asarray(S, jnp.int32), out=out,
    )  # fmt: skip

    def body(c):
        t, yT, h, active, member = c["t"], c["y"], c["h"], c["active"], c["member"]
        # land exactly on t_end and on stimulus jumps; evaluate the step's stages just before a jump
        eps = 1e-12 * (1.0 + jnp.abs(t))
        nxt = jnp.min(jnp.where(c["j"] > (t + eps)[:, None], c["j"], far), axis=1)
        stop = jnp.minimum(nxt, t_end)
        h = jnp.minimum(h, stop - t)
        lands = h >= (stop - t) - eps
        at_jump = lands & (stop < t_end)
        h_eval = jnp.where(at_jump, h - 2 * eps, h)
        y1, err, f1, conv, iters = step(c["m"], c["s"], t, yT, c["f"], h_eval, active)
        en = scaled_rms(err, yT, y1, rtol, atol)
        finite = jnp.isfinite(en) & jnp.all(jnp.isfinite(y1), axis=0)
        accept = active & conv & finite & (en <= 1.0)
        en_safe = jnp.where(en > 0, en, 1e-10)
        factor = _SAFETY * en_safe ** (-(pcoeff + icoeff) / order) * c["ep"] ** (pcoeff / order)
        factor = jnp.clip(factor, _FMIN, _FMAX)
        factor = jnp.where(accept, factor, jnp.minimum(factor, 1.0))
        factor = jnp.where(iters > _SLOW_NEWTON, jnp.minimum(factor, _FSLOW), factor)
        factor = jnp.where(conv & finite, factor, _FNEWTON)
        t_new = jnp.where(accept, jnp.where(lands, stop, t + h), t)
        y_new = jnp.where(accept[None], y1, yT)
        f_new = jnp.where(accept[None], f1, c["f"])
        o = dict(c["out"])
        # spikes: upward threshold crossings inside accepted steps at or after t_record
        v0, v1 = yT[0], y1[0]
        up = accept & (v0 < threshold) & (v1 >= threshold)
        tc = t + h * _crossing(v0, v1, h * c["f"][0], h * f1[0], threshold)
        rec = up & (tc >= t_record)
        o["times"] = o["times"].at[jnp.where(rec, member, n_members), c["count"]].set(tc, mode="drop")
        count = c["count"] + rec.astype(jnp.int32)
        in_win = accept & (t_new >= t_record)
        vmin = jnp.where(in_win, jnp.minimum(c["vmin"], v1), c["vmin"])
        vmax = jnp.where(in_win, jnp.maximum(c["vmax"], v1), c["vmax"])
        steps = c["steps"] + active.astype(jnp.int32)
        acc = c["acc"] + accept.astype(jnp.int32)
        h_new = h * factor
        finished = active & (t_new >= t_end)
        too_many = active & ~finished & (steps >= max_steps)
        broken = active & ~finished & ~too_many & ~accept & (h_new < _H_MIN)
        done = finished | too_many | broken
        status = jnp.where(finished, 0, jnp.where(too_many, 1, 2)).astype(jnp.int32)
        # write the finished members' summaries (rows of slots that are not done are dropped)
        row = jnp.where(done, member, n_members)
        for key, val in (("count", count), ("y_final", y_new.T), ("status", status), ("steps", steps),
                         ("accepted", acc), ("v_min", vmin), ("v_max", vmax)):  # fmt: skip
            o[key] = o[key].at[row].set(val, mode="drop")
        # refill the done slots from the queue
        new_idx = c["next"] + jnp.cumsum(done.astype(jnp.int32)).astype(jnp.int32) - 1
        load = done & (new_idx < n_members)
        gidx = jnp.where(load, new_idx, member).clip(0, n_members - 1)
        m = _select(load, _gather(model, model_axes, gidx), c["m"], model_axes)
        s = _select(load, _gather(stim, stim_axes, gidx), c["s"], stim_axes)
        y_new = jnp.where(load[None], y0[gidx].T, y_new)
        t_new = jnp.where(load, t0, t_new)
        # the FSAL value is stale after a reload or a stimulus jump
        refresh = load | (accept & at_jump)
        f_new = jax.lax.cond(
            jnp.any(refresh),
            lambda m, s, t, y, f: jnp.where(refresh[None], make_rhs(m, s)[0](t, y), f),
            lambda m, s, t, y, f: f, m, s, t_new, y_new, f_new,
        )  # fmt: skip
        z = lambda x, v: jnp.where(load, v, x)  # noqa: E731
        return dict(
            m=m, s=s, member=gidx, t=t_new, y=y_new, f=f_new, h=z(h_new, dt0), j=jnp.where(load[:, None], jumps[gidx], c["j"]),
            steps=z(steps, 0), acc=z(acc, 0), count=z(count, 0), vmin=z(vmin, far), vmax=z(vmax, -far),
            # previous accepted error norm for the PI term, floored so a near-exact step cannot
            # hold the next one back by more than 1e-4 ** (pcoeff / order)
            ep=z(jnp.where(accept, jnp.maximum(en_safe, 1e-4), c["ep"]), 1.0),
            active=(active & ~done) | load, next=c["next"] + jnp.sum(done.astype(jnp.int32)).astype(jnp.int32), out=o,
        )  # fmt: skip

    final = jax.lax.while_loop(lambda c: jnp.any(c["active"]), body, carry)
    return final["out"]


_QUEUE_BLOCK = 2048


def _queue_blocks(model, stim, y0, jumps, model_axes, stim_axes, cfg):
    """One device's members in blocks of at most :data:`_QUEUE_BLOCK`, one queue after the other:
    each step writes its finished members' rows into the per-member outputs, and XLA's CPU scatter
    costs in proportion to those outputs' length (measured: 5,000 members per device ran at 472
    against 903 neuron-s/s for 2,048). Blocks are near-equal, so padding stays below their count."""
    n = y0.shape[0]
    nb = -(-n // _QUEUE_BLOCK)
    if nb == 1:
        return _queue_local(model, stim, y0, jumps, model_axes, stim_axes, cfg)
    block = -(-n // nb)

    def one(m, s, y, j):
        return _queue_local(m, s, y, j, model_axes, stim_axes, cfg)

    out = map_member_blocks(one, model, stim, (y0, jumps), (model_axes, stim_axes), nb, block)
    return {k: v.reshape((nb * block,) + v.shape[2:])[:n] for k, v in out.items()}


def _queue_classic(model, stim, y0, jumps, in_axes, cfg, n_dev):
    """The work queue prefers XLA's classic CPU runtime for jobs large enough (runtime.py)."""
    return y0.shape[0] * (cfg[2] - cfg[1]) / 1000.0 >= MIN_NEURON_SECONDS["queue"]


@runtime_jit(classic=_queue_classic)
def _solve_queue(model, stim, y0, jumps, in_axes, cfg, n_dev):
    model_axes, stim_axes = in_axes
    if n_dev == 1:
        return _queue_blocks(model, stim, y0, jumps, model_axes, stim_axes, cfg)
    mesh = Mesh(np.array(jax.local_devices()[:n_dev]), ("m",))
    m_dyn, m_static = eqx.partition(model, eqx.is_array)
    s_dyn, s_static = eqx.partition(stim, eqx.is_array)

    def fn(m_dyn, s_dyn, y0, jumps):
        return _queue_blocks(eqx.combine(m_dyn, m_static), eqx.combine(s_dyn, s_static), y0, jumps,
                             model_axes, stim_axes, cfg)  # fmt: skip

    in_specs = (_member_specs(model_axes, m_dyn), _member_specs(stim_axes, s_dyn), PartitionSpec("m"), PartitionSpec("m"))
    return jax.shard_map(fn, mesh=mesh, in_specs=in_specs, out_specs=PartitionSpec("m"), check_vma=False)(
        m_dyn, s_dyn, y0, jumps
    )


def solve_queue(model, stim, y0, in_axes, *, solver_name, t0, t_end, t_record, rtol, atol, dt0, max_steps,
                threshold, max_spikes, n_slots, n_border, newton_tol=1e-2, max_newton=8):  # fmt: skip
    """Run the queue engine on flat members (``y0``: ``(n, n_states)``; ``model``/``stim`` folded
    by :func:`~jaxneuron._batching.flatten_members` with ``in_axes``). Returns a dict of per-member
    arrays: ``times (n, max_spikes)``, ``count``, ``y_final``, ``status``, ``steps``,
    ``accepted``, ``v_min``, ``v_max``. ``newton_tol`` (in the error norm: Diffrax's ``VeryChord``
    default ``kappa = 1e-2``) and ``max_newton`` apply to the ESDIRK stage solves."""
    n = y0.shape[0]
    model_axes, stim_axes = in_axes
    jumps = stim.jump_times() if stim is not None and hasattr(stim, "jump_times") else None
    if jumps is None:
        j = jnp.full((n, 1), jnp.inf, y0.dtype)
    elif stim_axes is None:
        jumps = jnp.atleast_1d(jumps).astype(y0.dtype)
        j = jnp.broadcast_to(jumps, (n,) + jumps.shape)
    else:
        j = jax.vmap(lambda s: jnp.atleast_1d(s.jump_times()), in_axes=(stim_axes,))(stim).astype(y0.dtype)
    n_dev = _n_devices(n)
    pad = (-n) % n_dev
    if pad:
        model, stim, y0, j = (_pad_members(x, ax, pad) for x, ax in ((model, model_axes), (stim, stim_axes), (y0, 0), (j, 0)))
    per_dev = (n + pad) // n_dev
    slots = max(1, min(int(n_slots), per_dev))
    cfg = (solver_name, float(t0), float(t_end), float(t_record), float(rtol), float(atol), float(dt0), int(max_steps),
           float(threshold), int(max_spikes), slots, int(n_border), float(newton_tol), int(max_newton))  # fmt: skip
    out = _solve_queue(model, stim, y0, j, in_axes, cfg, n_dev)
    if pad:
        out = {k: v[:n] for k, v in out.items()}
    return out


def default_slots(n_members: int) -> int:
    """Slots per device: 64 on CPU (measured best on Prinz cells, 2,000 members: 16 slots 226,
    32: 368, 64: 429, 128: 398, 256: 378, 512: 293 neuron-s/s on one core; small batches stay in
    cache), 8,192 on accelerators (untested: no GPU was available); never more than the members."""
    per_device = 64 if jax.default_backend() == "cpu" else 8192
    return int(max(1, min(n_members, per_device)))
