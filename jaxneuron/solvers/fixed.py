"""Fixed-step exponential Euler in the work-queue engine: all members of a block at once.

With a fixed step every member takes the same steps, so there is no lock-step to avoid and no
slot to refill: the queue engine runs :class:`~jaxneuron.ExpEuler` as a ``lax.scan`` over save
points with a static-length ``scan`` of steps inside, on every member of a block at once, state
stored state-major ``(n_states, n_members)`` so that every state is a contiguous vector. It
computes the scheme of :class:`~jaxneuron.solvers.ExpEulerSolver` with Diffrax's constant step
times (``ceil((t_end - t0)/dt)`` equal steps) and the same linear interpolation onto save times
(tested against the Diffrax engine), records spikes (threshold crossings located by linear
interpolation inside the step) and returns the per-member outputs of the queue. Scans of static
length are reverse-mode differentiable. Members are split over devices and blocks by
:mod:`jaxneuron.solvers.members`.

**Events** (integrate-and-fire cells, :meth:`~jaxneuron.models.interface.AbstractModel.event`)
are applied inside the step, masked per member: a member whose event state crosses its
threshold during a step is reset at the crossing located on the step's line (linear
interpolation of the step's end points, also for the other states), and the rest of the step
is integrated from the reset state (held states frozen while refractory); a refractory period
ending inside a step splits it likewise. At most one event per member per step. Cost in
accuracy: the crossing time is that of a chord, off by O(h^2) per spike, on top of the scheme's
first-order error: for a LIF cell, whose exponential-Euler steps are exact between spikes,
the firing period converges in O(h^2) (tested); for AdEx and Izhikevich in O(h). A network of
integrate-and-fire cells (several events) is simpler: every cell that crossed during the step
is reset at the step's end (its spike time still the chord's crossing), and a refractory
period holds its cell for the steps whose midpoint it covers: O(h) per spike.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from ..models.interface import evaluate_stimulus
from .members import map_member_blocks
from .status import Status
from .tabulated import kinetics_table, make_tabulated_step, vmapped_border_rows

__all__ = ["fixed_step_plan", "fixed_solve", "FIXED_BLOCK"]

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


def _event_step(model, stim, model_axes, stim_axes):
    """``step(yT, t, h, hold) -> yT`` with a per-member time ``t``, step ``h`` (both ``(n,)``)
    and ``hold`` (``(n_states, n)`` bool: those rows are zero), for event models."""
    linear_form = jax.vmap(lambda m, y, i: m.linear_form(y, i), in_axes=(model_axes, 1, 0), out_axes=1)

    def stim_at(t):
        if stim is None or stim_axes is None:
            return jax.vmap(lambda tt: jnp.asarray(evaluate_stimulus(stim, tt), t.dtype))(t)
        return jax.vmap(lambda s, tt: evaluate_stimulus(s, tt), in_axes=(stim_axes, 0))(stim, t)

    def step(yT, t, h, hold):
        A, B = linear_form(model, yT, jnp.broadcast_to(stim_at(t), t.shape))
        A, B = jnp.where(hold, 0.0, A), jnp.where(hold, 0.0, B)
        return fast_exp_euler_update(yT, A, B, h)

    return step


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



FIXED_BLOCK = 1024
"""Members integrated at once per CPU device (measured: tabulated float64 at 10,000 members ran
at 438 neuron-s/s in one block against 669 in blocks of 1,000); unbounded on accelerators."""


def _fixed_block(model, stim, y0, model_axes, stim_axes, cfg, k, w, table):
    c = dict(cfg)
    t0, n_steps, h, (first, max_gap, uniform, tail) = c["t0"], c["n_steps"], c["h"], c["gaps"]
    states, spikes, vrows = c["states"], c["spikes"], np.asarray(c["voltages"])
    n, n_states = y0.shape
    dtype = y0.dtype
    nv = len(vrows)
    step = _make_step(model, stim, model_axes, stim_axes, n, c["table_mode"], h, dtype, table)
    h_ = jnp.asarray(h, dtype)
    thr, t_window = jnp.asarray(c["threshold"], dtype), c["t_window"]

    events = model.events()
    n_e = len(events)
    if n_e:
        ev_states = np.asarray([int(ev.state) for ev in events])
        held_rows = np.zeros((n_e, n_states), bool)
        for i, ev in enumerate(events):
            held_rows[i, list(ev.held)] = True
        ev_step = _event_step(model, stim, model_axes, stim_axes)

        def parts(mm):
            evs = mm.events()
            return (jnp.stack([jnp.asarray(ev.threshold, dtype) for ev in evs]),
                    jnp.stack([jnp.asarray(ev.refractory, dtype) for ev in evs]))  # fmt: skip

        thr_e, ref_e = (jnp.broadcast_to(x, (n_e, n)) for x in jax.vmap(parts, in_axes=(model_axes,), out_axes=-1)(model))
        resets = [jax.vmap(lambda mm, yy, i=i: mm.events()[i].reset(yy), in_axes=(model_axes, 1), out_axes=1) for i in range(n_e)]
        ev_of_row = {int(r): i for i, r in enumerate(ev_states)}

        def held(mask):
            """``(n_states, n)`` rows held from ``(n_e, n)`` per-event refractory flags."""
            return jnp.any(jnp.asarray(held_rows)[:, :, None] & mask[:, None, :], axis=0)

        def span(y, t_a, t_b, r_end):
            """Advance from ``t_a`` to ``t_b`` (per member): held up to ``r_end``, free after it."""
            t_m = jnp.clip(r_end, t_a, t_b)
            y = ev_step(y, t_a, t_m - t_a, held(jnp.ones((1, n), bool)))
            return ev_step(y, t_m, t_b - t_m, held(jnp.zeros((1, n), bool)))

    def event_step(y, t, r_end):
        """One step with the members' events and refractory periods; returns the state, the
        events that fired ``(n_e, n)``, their crossing times and the new refractory ends."""
        tv = jnp.full((n,), t, dtype)
        t1 = tv + h_
        eps = 1e-12 * (1.0 + jnp.abs(t1))
        e = ev_states
        if n_e > 1:  # a network: every cell's event in the step, reset at the step's end (O(h))
            y_new = ev_step(y, tv, jnp.full((n,), h_), held(r_end > (tv + 0.5 * h_)[None]))
            fired = (y[e] < thr_e) & (y_new[e] >= thr_e)
            frac = jnp.clip((thr_e - y[e]) / jnp.where(fired, y_new[e] - y[e], 1.0), 0.0, 1.0)
            tc = tv[None] + frac * h_
            for i in range(n_e):
                y_new = jnp.where(fired[i][None], resets[i](model, y_new), y_new)
            return y_new, fired, tc, jnp.where(fired, tc + ref_e, r_end)
        r0 = r_end[0]
        hold = r0 > tv + eps
        y_new = ev_step(y, tv, jnp.full((n,), h_), held(hold[None]))
        split = hold & (r0 < t1 - eps)  # the refractory period ends inside the step
        y_new = jax.lax.cond(jnp.any(split), lambda: jnp.where(split[None], span(y, tv, t1, r0), y_new), lambda: y_new)
        fired = (y[e[0]] < thr_e[0]) & (y_new[e[0]] >= thr_e[0])
        frac = jnp.clip((thr_e[0] - y[e[0]]) / jnp.where(fired, y_new[e[0]] - y[e[0]], 1.0), 0.0, 1.0)
        tc = tv + frac * h_
        r_new = jnp.where(fired, tc + ref_e[0], r0)

        def after_reset():  # reset on the chord at the crossing, then the rest of the step
            y_r = resets[0](model, y + frac[None] * (y_new - y))
            return jnp.where(fired[None], span(y_r, tc, t1, r_new), y_new)

        y_new = jax.lax.cond(jnp.any(fired), after_reset, lambda: y_new)
        return y_new, fired[None], tc[None], r_new[None]

    def one_step(y, kk, rec):
        t = t0 + kk.astype(dtype) * h_
        if n_e:
            rec, r_end = rec
            y_new, fired, t_fire, r_end = event_step(y, t, r_end)
        else:
            y_new = step(y, t, h_)
        if spikes:
            count, times, vmin, vmax = rec
            v0, v1 = y[vrows], y_new[vrows]
            # the crossing on the step's linear interpolant (Diffrax's for exponential Euler)
            tc = t + h_ * jnp.clip((thr - v0) / jnp.where(v1 != v0, v1 - v0, 1.0), 0.0, 1.0)
            up = (v0 < thr) & (v1 >= thr) & (tc >= t_window)
            if n_e:  # an event cell's spikes are its events
                rows = [ev_of_row.get(int(r)) for r in vrows]
                up = jnp.stack([up[i] if r is None else fired[r] & (t_fire[r] >= t_window) for i, r in enumerate(rows)])
                tc = jnp.stack([tc[i] if r is None else t_fire[r] for i, r in enumerate(rows)])
                v1 = jnp.stack([v1[i] if r is None else jnp.where(fired[r], thr_e[r], v1[i]) for i, r in enumerate(rows)])
            cell = jnp.broadcast_to(jnp.arange(nv)[:, None], (nv, n))
            member = jnp.broadcast_to(jnp.arange(n)[None], (nv, n))
            times = times.at[jnp.where(up, member, n), cell, count].set(tc, mode="drop")
            win = t + h_ >= t_window
            rec = (count + up.astype(jnp.int32), times, jnp.where(win, jnp.minimum(vmin, v1), vmin),
                   jnp.where(win, jnp.maximum(vmax, v1), vmax))  # fmt: skip
        if n_e:
            rec = (rec, r_end)
        return y_new, rec

    def advance(state, k_from, n_max, k_to=None):
        # a scan of static length (reverse-mode differentiable, unlike a fori_loop with traced
        # bounds); steps past ``k_to`` are masked out when the save points are not evenly spaced
        def body(st, i):
            y, rec = st
            kk = k_from + i
            new = one_step(y, kk, rec)
            if k_to is not None:
                new = jax.tree_util.tree_map(lambda a, b: jnp.where(kk < k_to, a, b), new, (y, rec))
            return new, None

        return jax.lax.scan(body, state, jnp.arange(n_max, dtype=jnp.int32))[0] if n_max > 0 else state

    far = jnp.asarray(np.inf, dtype)
    rec0 = (jnp.zeros((nv, n), jnp.int32), jnp.full((n, nv, c["max_spikes"]), jnp.nan, dtype), jnp.full((nv, n), far),
            jnp.full((nv, n), -far)) if spikes else None  # fmt: skip
    if n_e:
        rec0 = (rec0, jnp.full((n_e, n), -far))
    state = (y0.T, rec0)
    out = {}
    if states is None:
        yT, rec = advance(state, jnp.asarray(0, jnp.int32), n_steps)
    else:
        rows = vrows if states == "V" else np.arange(n_states)

        def emit(st, k_j, w_j):
            # linear interpolation inside the step, as Diffrax's LocalLinearInterpolation
            yT = st[0]
            t_j = t0 + k_j.astype(dtype) * h_
            if n_e:
                nxt = lambda y: event_step(y, t_j, st[1][1])[0]  # noqa: E731
            else:
                nxt = lambda y: step(y, t_j, h_)  # noqa: E731
            y_next = jax.lax.cond(w_j > 0, nxt, lambda y: y, yT)
            return (yT + w_j * (y_next - yT))[rows]

        def save_point(carry, x):
            st, k_prev = carry
            k_j, w_j = x
            st = advance(st, k_prev, max_gap, None if uniform else k_j)
            return (st, k_j), emit(st, k_j, w_j)

        state = advance(state, jnp.asarray(0, jnp.int32), first)  # up to the first save point
        out0 = emit(state, k[0], w[0])
        (state, k_last), saved = jax.lax.scan(save_point, (state, k[0]), (k[1:], w[1:]))
        saved = jnp.concatenate([out0[None], saved], axis=0)  # (n_t, rows, n)
        yT, rec = advance(state, k_last, tail)
        out["saved"] = jnp.transpose(saved, (2, 0, 1))
    y_final = yT.T
    finite = jnp.all(jnp.isfinite(y_final), axis=-1)
    if "saved" in out:
        finite = finite & jnp.all(jnp.isfinite(out["saved"].reshape(n, -1)), axis=-1)
    out.update(y_final=y_final, status=jnp.where(finite, Status.OK, Status.NON_FINITE).astype(jnp.int32),
               steps=jnp.full((n,), n_steps, jnp.int32), accepted=jnp.full((n,), n_steps, jnp.int32))  # fmt: skip
    if n_e:
        rec = rec[0]
    if spikes:
        count, times, vmin, vmax = rec
        out.update(count=count.T, times=times, v_min=vmin.T, v_max=vmax.T)
    return out


def fixed_solve(model, stim, y0, in_axes, cfg, k, w):
    """Fixed-step exponential Euler on one device's members ``y0`` ``(n, n_states)``, in blocks of
    :data:`FIXED_BLOCK` on CPU; ``k``, ``w``: the save plan of :func:`fixed_step_plan`; ``cfg``: a
    tuple of ``(name, value)`` settings (see :class:`jaxneuron.solvers.engines.QueueEngine`).
    Returns the per-member outputs of the work queue."""
    c = dict(cfg)
    model_axes, stim_axes = in_axes
    # the kinetics tables depend on V and h only: built once per device, not once per block
    table = kinetics_table(model, c["h"], y0.dtype, c["table_mode"]) if c["table_mode"] is not None else None

    def one(m, s, y):
        return _fixed_block(m, s, y, model_axes, stim_axes, cfg, k, w, table)

    block = FIXED_BLOCK if jax.default_backend() == "cpu" else 1 << 62
    return map_member_blocks(one, model, stim, (y0,), in_axes, block)
