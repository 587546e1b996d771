"""The work queue: adaptive solves of many members without lock-step (the default engine).

``jax.vmap`` of an adaptive solve runs one ``while_loop`` for the whole batch, so every member
pays for as many steps as the slowest one (measured max/mean ~2.8 on random Prinz cells). Here a
fixed number of *slots* integrate members side by side, each at its own time and step size;
when a slot's member reaches ``t_end`` its results are written out and the slot takes the next
member from the queue, so the batch stays full until the queue runs dry. State is stored
state-major ``(n_states, n_slots)`` so each state is one contiguous vector.

Per member the queue records, on each accepted step's interpolant:

* saved values at the save times ``ts`` (the voltages, or every state), on the quintic Hermite
  interpolant through the step's end values, first and second derivatives (the second by one
  forward-mode product of the vector field, ``y'' = f_t + f_y f``, at each end of a step that
  holds a save): interpolation error O(h^6), below the solver's own error at its step sizes.
  (A cubic Hermite, Diffrax's interpolant for its ESDIRK methods, left traces ~200x less
  accurate than the step points on HH at rtol 1e-6.);
* spike times: upward crossings of a threshold by each voltage state after ``t_window``, on the
  cubic Hermite interpolant;
* events of the model's :meth:`~jaxneuron.models.interface.AbstractModel.events` (one per
  integrate-and-fire cell): the step is cut at the earliest crossing located on the quintic
  interpolant, that event's reset applied there, and the member continues (the event time is
  its cell's spike; a later crossing in the same step is found again by the next steps); during
  an event's refractory period its held states' rows are zero, and a step lands exactly on the
  period's end (like a stimulus jump);
* the final state, the V range over accepted step points in the window, the status
  (:class:`~jaxneuron.solvers.status.Status`) and step counts.

Step-size control is Diffrax's (the RMS of the error estimate over ``atol + rtol max(|y0|,
|y1|)``, safety 0.9, factor in [0.2, 10]; its default I controller for Tsit5, a PI controller
with ``pcoeff = icoeff = 0.3`` for Kvaerno, see ``_PI_CONTROL``); the steps are those of
:mod:`jaxneuron.solvers.steppers`. Members are split over the local devices and run in blocks by
:mod:`jaxneuron.solvers.members`.
"""

from __future__ import annotations

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..models.interface import evaluate_stimulus
from .members import gather_members, map_member_blocks
from .status import Status
from .steppers import esdirk_step, esdirk_tables, explicit_step, scaled_rms

__all__ = ["queue_solve", "default_slots", "QUEUE_BLOCK"]

_SAFETY, _FMIN, _FMAX, _FNEWTON = 0.9, 0.2, 10.0, 0.25
_H_MIN = 1e-13  # ms: a member whose step falls below this has collapsed (Status.STEP_COLLAPSED); an AdEx
# upswing to V_peak = 0 mV (NEST's cut-off, 25 Delta_T above V_T) needs steps of ~1e-11 ms

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
# 8.8 % to 0.3 % and the Kvaerno5 / Tsit5 time ratio from 4.2 to 3.0.
_SLOW_NEWTON, _FSLOW = 3, 0.5

SAVES_PER_STEP = 16
"""Save times one step may hold: a step is cut at its 16th save time, so that the saves of a
step are written by one scatter inside the loop body (no nested loop, whose copies of the trace
buffer made saving traces 3-10x slower on XLA's classic CPU runtime). It binds only where a step
would span more than 16 save intervals (1.6 ms at save_dt = 0.1 ms)."""

QUEUE_BLOCK = 2048
"""Members per block on one device: each step writes its finished members' rows into the
per-member outputs, and XLA's CPU scatter costs in proportion to their length (measured: 5,000
members per device ran at 472 against 903 neuron-s/s in blocks of 2,048)."""


def _method(name):
    if name == "tsit5":
        return diffrax.Tsit5.tableau, 5, False, _I_CONTROL
    if name == "kvaerno5":
        return diffrax.Kvaerno5.tableau, 5, True, _PI_CONTROL
    if name == "kvaerno3":
        return diffrax.Kvaerno3.tableau, 3, True, _PI_CONTROL
    raise ValueError(f"the work queue runs Tsit5, Kvaerno5 and Kvaerno3, not {name!r}")


def hermite(s, v0, v1, d0, d1):
    """Cubic Hermite on ``s`` in [0, 1] with end values ``v0, v1`` and end slopes ``d0, d1``
    (per unit ``s``), and its derivative."""
    s2, s3 = s * s, s * s * s
    p = (2 * s3 - 3 * s2 + 1) * v0 + (s3 - 2 * s2 + s) * d0 + (-2 * s3 + 3 * s2) * v1 + (s3 - s2) * d1
    dp = (6 * s2 - 6 * s) * v0 + (3 * s2 - 4 * s + 1) * d0 + (-6 * s2 + 6 * s) * v1 + (3 * s2 - 2 * s) * d1
    return p, dp


def quintic_hermite(s, v0, v1, d0, d1, a0, a1):
    """Quintic Hermite on ``s`` in [0, 1] with end values ``v0, v1``, first derivatives ``d0, d1``
    and second derivatives ``a0, a1`` (per unit ``s``): exact for polynomials of degree <= 5."""
    s2 = s * s
    s3 = s2 * s
    s4, s5 = s3 * s, s3 * s2
    # v0 + w (v1 - v0) + ...: a constant stays exactly constant (a held state in a refractory period)
    return (v0 + (10 * s3 - 15 * s4 + 6 * s5) * (v1 - v0) + (s - 6 * s3 + 8 * s4 - 3 * s5) * d0
            + (0.5 * s2 - 1.5 * s3 + 1.5 * s4 - 0.5 * s5) * a0 + (0.5 * s3 - s4 + 0.5 * s5) * a1
            + (-4 * s3 + 7 * s4 - 3 * s5) * d1)  # fmt: skip


def crossing(v0, v1, d0, d1, threshold):
    """Fraction ``s`` in [0, 1] of the step where the Hermite interpolant crosses ``threshold``
    (linear guess, then 3 Newton iterations kept inside the step)."""
    s = jnp.clip((threshold - v0) / jnp.where(v1 != v0, v1 - v0, 1.0), 0.0, 1.0)
    for _ in range(3):
        p, dp = hermite(s, v0, v1, d0, d1)
        s = jnp.clip(s - (p - threshold) / jnp.where(dp > 0, dp, jnp.inf), 0.0, 1.0)
    return s


def _select(mask, new, old, axes):
    if axes is None:
        return old
    return jax.tree_util.tree_map(
        lambda a, n, o: jnp.where(mask.reshape(mask.shape + (1,) * (n.ndim - 1)), n, o) if a == 0 else o,
        axes, new, old, is_leaf=lambda v: v is None,
    )  # fmt: skip


def _queue(model, stim, y0, jumps, ts, model_axes, stim_axes, cfg):
    """One queue over ``y0.shape[0]`` members on one device; returns the per-member outputs."""
    c_ = dict(cfg)
    name, t0, t_end, t_window = c_["solver"], c_["t0"], c_["t_end"], c_["t_window"]
    rtol, atol, dt0, max_steps = c_["rtol"], c_["atol"], c_["dt0"], c_["max_steps"]
    vidx, states, spikes, threshold, max_spikes = c_["voltages"], c_["states"], c_["spikes"], c_["threshold"], c_["max_spikes"]
    tableau, order, implicit, (pcoeff, icoeff) = _method(name)
    n_members, n_states = y0.shape
    dtype = y0.dtype
    S = min(c_["slots"], n_members)
    nv = len(vidx)
    vrows = np.asarray(vidx)
    n_t = ts.shape[0]
    save_rows = None if states is None else (vrows if states == "V" else np.arange(n_states))
    ev_states = np.asarray(c_["event_states"], dtype=np.int64)  # the event states (a Python-level structure)
    n_e = len(ev_states)
    has_event = n_e > 0
    held_rows = np.zeros((n_e, n_states), bool)  # states frozen during each event's refractory period
    for e, rows in enumerate(c_["event_held"]):
        held_rows[e, list(rows)] = True
    has_hold = bool(held_rows.any())
    ev_rows = np.isin(vrows, ev_states)  # voltages whose spikes are events (the others: threshold crossings)
    slot = jnp.arange(S)

    def hold_mask(r_end, t):
        """``(n_states, S)``: the states held at time ``t`` (slots in a refractory period)."""
        if not has_hold:
            return None
        now = r_end > (t + 1e-12 * (1.0 + jnp.abs(t)))[None]  # (n_e, S)
        return jnp.any(jnp.asarray(held_rows)[:, :, None] & now[:, None, :], axis=0)

    def masked(A, B, hold):
        """Zero the rows of held states (``hold``: ``(n_states, S)`` or ``None``)."""
        if hold is None:
            return A, B
        frozen = hold[: A.shape[0]]
        return jnp.where(frozen, 0.0, A), jnp.where(frozen, 0.0, B)

    def lf_vmapped(m, s, t, yT, hold=None):
        lf = jax.vmap(lambda mm, y, ss, tt: mm.linear_form(y, evaluate_stimulus(ss, tt)),
                      in_axes=(model_axes, 1, stim_axes, 0), out_axes=1)  # fmt: skip
        return masked(*lf(m, yT, s, t), hold)

    def make_rhs(m, s, hold=None):
        def rhs(t, yT):
            A, B = lf_vmapped(m, s, t, yT, hold)
            return A - B * yT

        return rhs, (lambda t, yT: lf_vmapped(m, s, t, yT, hold))

    def border_rhs(m, s, t, yT, hold=None):
        """The border rows of ``rhs`` from the model's :meth:`border_rows` (no gate kinetics)."""
        rows = jax.vmap(lambda mm, y, i: mm.border_rows(y, i), in_axes=(model_axes, 1, 0), out_axes=1)
        A, B = masked(*rows(m, yT, jax.vmap(evaluate_stimulus, in_axes=(stim_axes, 0))(s, t)), hold)
        return A - B * yT[: A.shape[0]]

    tables = esdirk_tables(tableau) if implicit else None

    def step(m, s, t, yT, f0, h, active, hold):
        rhs, lf = make_rhs(m, s, hold)
        if implicit:
            return esdirk_step(rhs, lf, tables, t, yT, f0, h, n_border=c_["n_border"], rtol=rtol, atol=atol,
                               newton_tol=c_["newton_tol"], max_newton=c_["max_newton"], active=active,
                               border_rhs=lambda tt, yy: border_rhs(m, s, tt, yy, hold))  # fmt: skip
        return explicit_step(rhs, tableau, t, yT, f0, h)

    def event_parts(m):
        """``(n_e, S)``: each event's threshold and refractory period (ms) per slot."""
        def one(mm):
            evs = mm.events()
            return (jnp.stack([jnp.asarray(ev.threshold, dtype) for ev in evs]),
                    jnp.stack([jnp.asarray(ev.refractory, dtype) for ev in evs]))  # fmt: skip

        thr, ref = jax.vmap(one, in_axes=(model_axes,), out_axes=-1)(m)
        return jnp.broadcast_to(thr, (n_e, S)), jnp.broadcast_to(ref, (n_e, S))

    def event_reset(m, yT, k):
        """The state after event ``k`` (per slot) fired at state ``yT``."""
        def one(mm, y, kk):
            resets = [ev.reset for ev in mm.events()]
            return resets[0](y) if n_e == 1 else jax.lax.switch(kk, resets, y)

        return jax.vmap(one, in_axes=(model_axes, 1, 0), out_axes=1)(m, yT, k)

    m0, s0 = gather_members(model, model_axes, slot), gather_members(stim, stim_axes, slot)
    yT0 = y0[slot].T
    t_init = jnp.full((S,), t0, dtype)
    f_init = make_rhs(m0, s0)[0](t_init, yT0)
    far = jnp.asarray(np.inf, dtype)
    out = dict(y_final=jnp.zeros((n_members, n_states), dtype), status=jnp.zeros((n_members,), jnp.int32),
               steps=jnp.zeros((n_members,), jnp.int32), accepted=jnp.zeros((n_members,), jnp.int32))  # fmt: skip
    if save_rows is not None:
        out["saved"] = jnp.full((n_members, n_t, len(save_rows)), jnp.nan, dtype)
    if spikes:
        out.update(times=jnp.full((n_members, nv, max_spikes), jnp.nan, dtype), count=jnp.zeros((n_members, nv), jnp.int32),
                   v_min=jnp.zeros((n_members, nv), dtype), v_max=jnp.zeros((n_members, nv), dtype))  # fmt: skip
    # the loop carries the slots' array leaves only (a stimulus may hold a Python callable)
    (m0, m_static), (s0, s_static) = eqx.partition(m0, eqx.is_array), eqx.partition(s0, eqx.is_array)
    carry = dict(
        m=m0, s=s0, member=slot, t=t_init, y=yT0, f=f_init, h=jnp.full((S,), dt0, dtype), j=jumps[slot],
        steps=jnp.zeros((S,), jnp.int32), acc=jnp.zeros((S,), jnp.int32), k=jnp.zeros((S,), jnp.int32),
        count=jnp.zeros((nv, S), jnp.int32), vmin=jnp.full((nv, S), far), vmax=jnp.full((nv, S), -far),
        ep=jnp.ones((S,), dtype), active=jnp.ones((S,), bool), next=jnp.asarray(S, jnp.int32), out=out,
        r_end=jnp.full((max(n_e, 1), S), -far),  # end of each event's refractory period per slot (ms)
    )  # fmt: skip

    def second(m, s_, tt, y, f, hold=None):
        """``y'' = f_t + f_y f`` (state-major), by one forward-mode product of the vector field."""
        rhs = make_rhs(m, s_, hold)[0]
        return jax.jvp(rhs, (tt, y), (jnp.ones_like(tt), f))[1]

    def locate_event(m, s_, t, h, yT, y1, f0, f1, thr, crossed, hold):
        """The earliest crossing in the step: fraction ``s`` of the step where each event state
        crosses its threshold ``thr`` (``(n_e, S)``) on the quintic interpolant (secant start,
        then bracketed Newton), the first event ``k`` of those ``crossed``, and the interpolated
        state at its crossing."""
        e = ev_states
        h2 = h * h
        d0, d1, a0, a1 = h * f0, h * f1, h2 * second(m, s_, t, yT, f0, hold), h2 * second(m, s_, t + h, y1, f1, hold)
        p = lambda s: quintic_hermite(s, yT[e], y1[e], d0[e], d1[e], a0[e], a1[e]) - thr  # noqa: E731
        lo, hi = jnp.zeros_like(thr), jnp.ones_like(thr)
        sv = jnp.clip((thr - yT[e]) / jnp.where(y1[e] != yT[e], y1[e] - yT[e], 1.0), 0.0, 1.0)
        for _ in range(12):
            val, slope = jax.jvp(p, (sv,), (jnp.ones_like(sv),))
            lo, hi = jnp.where(val < 0, sv, lo), jnp.where(val < 0, hi, sv)
            newton = sv - val / jnp.where(slope != 0, slope, 1.0)
            sv = jnp.where((newton > lo) & (newton < hi) & (slope > 0), newton, 0.5 * (lo + hi))
        sv = jnp.where(crossed, sv, jnp.inf)
        k = jnp.argmin(sv, axis=0).astype(jnp.int32)
        s_min = jnp.min(sv, axis=0)
        s_min = jnp.where(jnp.isfinite(s_min), s_min, 0.0)
        return s_min, k, quintic_hermite(s_min, yT, y1, d0, d1, a0, a1)

    def write_saves(o, k, accept, m, s_, member, t, h_int, t_stop, yT, y1, f0, f1, hold):
        """Saved values at the (at most :data:`SAVES_PER_STEP`) save times in ``[t, t_stop]`` of
        the accepted steps, from the quintic Hermite interpolant on ``[t, t + h_int]``, written
        by one scatter; returns the outputs and the next save index."""
        rows = save_rows
        eps = 1e-12 * (1.0 + jnp.abs(t_stop))
        K = SAVES_PER_STEP
        kk = k[None] + jnp.arange(K)[:, None]  # (K, S) candidate save indices
        kc = jnp.minimum(kk, n_t - 1)
        due = accept[None] & (kk < n_t) & (ts[kc] <= (t_stop + eps)[None])

        def values():  # the interpolant at the K candidate times, only when a slot has a save due
            h2 = h_int * h_int
            a0, a1 = h2 * second(m, s_, t, yT, f0, hold)[rows], h2 * second(m, s_, t + h_int, y1, f1, hold)[rows]
            v0, v1, d0, d1 = yT[rows], y1[rows], h_int * f0[rows], h_int * f1[rows]
            sv = jnp.clip((ts[kc] - t[None]) / jnp.where(h_int > 0, h_int, 1.0)[None], 0.0, 1.0)  # (K, S)
            return quintic_hermite(sv[:, None], v0[None], v1[None], d0[None], d1[None], a0[None], a1[None])

        # (K, rows, S); the saved buffer stays out of the cond: a conditional copies large operands
        val = jax.lax.cond(jnp.any(due), values, lambda: jnp.zeros((K, len(rows), S), dtype))
        target = jnp.where(due, member[None], n_members)
        saved = o["saved"].at[target, kc].set(jnp.moveaxis(val, 1, 2), mode="drop")
        return dict(o, saved=saved), k + jnp.sum(due, axis=0).astype(jnp.int32)

    def body(c):
        c = dict(c, m=eqx.combine(c["m"], m_static), s=eqx.combine(c["s"], s_static))
        t, yT, h, active, member = c["t"], c["y"], c["h"], c["active"], c["member"]
        # land exactly on t_end and on stimulus jumps; evaluate the step's stages just before a jump
        eps = 1e-12 * (1.0 + jnp.abs(t))
        nxt = jnp.min(jnp.where(c["j"] > (t + eps)[:, None], c["j"], far), axis=1)
        # a refractory period ends like a stimulus jump: the step lands on it, its stages held
        hold = hold_mask(c["r_end"], t)
        if has_hold:
            nxt = jnp.minimum(nxt, jnp.min(jnp.where(c["r_end"] > (t + eps)[None], c["r_end"], far), axis=0))
        stop = jnp.minimum(nxt, t_end)
        h = jnp.minimum(h, stop - t)
        if save_rows is not None:  # at most SAVES_PER_STEP save times inside one step
            last = c["k"] + SAVES_PER_STEP - 1
            h = jnp.where(last < n_t, jnp.minimum(h, ts[jnp.minimum(last, n_t - 1)] - t), h)
        lands = h >= (stop - t) - eps
        at_jump = lands & (stop < t_end)
        h_eval = jnp.where(at_jump, h - 2 * eps, h)
        y1, err, f1, conv, iters = step(c["m"], c["s"], t, yT, c["f"], h_eval, active, hold)
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
        count, vmin, vmax = c["count"], c["vmin"], c["vmax"]
        v0, v1 = yT[vrows], y1[vrows]
        v1_full = v1
        if has_event:
            # an event cuts the step at its crossing, located on the quintic interpolant
            thr_e, ref_e = event_parts(c["m"])
            crossed = accept[None] & (yT[ev_states] < thr_e) & (y1[ev_states] >= thr_e)  # (n_e, S)
            fired = jnp.any(crossed, axis=0)
            s_e, k_e, y_e = jax.lax.cond(
                jnp.any(fired), lambda: locate_event(c["m"], c["s"], t, h_eval, yT, y1, c["f"], f1, thr_e, crossed, hold),
                lambda: (jnp.zeros((S,), dtype), jnp.zeros((S,), jnp.int32), yT))  # fmt: skip
            t_e = t + h_eval * s_e
            t_stop = jnp.where(fired, t_e, t_new)
            v1 = jnp.where(fired[None], y_e[vrows], v1)  # the step ends at the event (V range, spikes)
        else:
            fired = jnp.zeros((S,), bool)
            t_stop = t_new
        if save_rows is not None:
            o, k = write_saves(o, c["k"], accept, c["m"], c["s"], member, t, h_eval, t_stop, yT, y1, c["f"], f1, hold)
        else:
            k = c["k"]
        if spikes:
            up = accept[None] & (v0 < threshold) & (v1_full >= threshold)
            tc = t + h_eval * crossing(v0, v1_full, h_eval * c["f"][vrows], h_eval * f1[vrows], threshold)
            if has_event:  # an event cell's spikes are its events; the step ends at the first one
                up_e = fired[None] & (vrows[:, None] == jnp.asarray(ev_states)[k_e][None])
                up = jnp.where(ev_rows[:, None], up_e, up & (tc <= t_stop[None]))
                tc = jnp.where(ev_rows[:, None], t_e[None], tc)
            rec = up & (tc >= t_window) & (count < max_spikes)
            cell = jnp.broadcast_to(jnp.arange(nv)[:, None], (nv, S))
            o["times"] = o["times"].at[jnp.where(rec, member[None], n_members), cell, count].set(tc, mode="drop")
            count = count + (up & (tc >= t_window)).astype(jnp.int32)
            in_win = accept & (t_new >= t_window)
            vmin = jnp.where(in_win[None], jnp.minimum(vmin, v1), vmin)
            vmax = jnp.where(in_win[None], jnp.maximum(vmax, v1), vmax)
        r_end = c["r_end"]
        if has_event:
            y_new = jnp.where(fired[None], event_reset(c["m"], y_e, k_e), y_new)
            t_new = jnp.where(fired, t_e, t_new)
            which = fired[None] & (jnp.arange(n_e)[:, None] == k_e[None])
            r_end = jnp.where(which, t_e[None] + ref_e, r_end)
        steps = c["steps"] + active.astype(jnp.int32)
        acc = c["acc"] + accept.astype(jnp.int32)
        h_new = h * factor
        finished = active & (t_new >= t_end)
        too_many = active & ~finished & (steps >= max_steps)
        broken = active & ~finished & ~too_many & ~accept & (h_new < _H_MIN)
        done = finished | too_many | broken
        ok_final = jnp.all(jnp.isfinite(y_new), axis=0)
        status = jnp.where(finished & ok_final, Status.OK, jnp.where(
            finished, Status.NON_FINITE, jnp.where(too_many, Status.MAX_STEPS, jnp.where(
                finite, Status.STEP_COLLAPSED, Status.NON_FINITE)))).astype(jnp.int32)  # fmt: skip
        # write the finished members' summaries (rows of slots that are not done are dropped)
        row = jnp.where(done, member, n_members)
        rows = [("y_final", y_new.T), ("status", status), ("steps", steps), ("accepted", acc)]
        if spikes:
            rows += [("count", count.T), ("v_min", vmin.T), ("v_max", vmax.T)]
        for key, val in rows:
            o[key] = o[key].at[row].set(val, mode="drop")
        # refill the done slots from the queue
        new_idx = c["next"] + jnp.cumsum(done.astype(jnp.int32)).astype(jnp.int32) - 1
        load = done & (new_idx < n_members)
        gidx = jnp.where(load, new_idx, member).clip(0, n_members - 1)
        m = _select(load, gather_members(model, model_axes, gidx), c["m"], model_axes)
        s = _select(load, gather_members(stim, stim_axes, gidx), c["s"], stim_axes)
        y_new = jnp.where(load[None], y0[gidx].T, y_new)
        t_new = jnp.where(load, t0, t_new)
        # the FSAL value is stale after a reload, a stimulus jump or an event's reset
        refresh = load | (accept & at_jump) | fired
        r_end = jnp.where(load[None], -far, r_end)
        hold_next = hold_mask(r_end, t_new)
        f_new = jax.lax.cond(
            jnp.any(refresh),
            lambda t, y, f: jnp.where(refresh[None], make_rhs(m, s, hold_next)[0](t, y), f),
            lambda t, y, f: f, t_new, y_new, f_new,
        )  # fmt: skip
        z = lambda x, v: jnp.where(load, v, x)  # noqa: E731
        zv = lambda x, v: jnp.where(load[None], v, x)  # noqa: E731
        return dict(
            m=eqx.filter(m, eqx.is_array), s=eqx.filter(s, eqx.is_array), member=gidx, t=t_new, y=y_new, f=f_new, h=z(h_new, dt0), j=jnp.where(load[:, None], jumps[gidx], c["j"]),
            steps=z(steps, 0), acc=z(acc, 0), k=z(k, 0), count=zv(count, 0), vmin=zv(vmin, far), vmax=zv(vmax, -far),
            # previous accepted error norm for the PI term, floored so a near-exact step cannot
            # hold the next one back by more than 1e-4 ** (pcoeff / order)
            ep=z(jnp.where(accept, jnp.maximum(en_safe, 1e-4), c["ep"]), 1.0),
            active=(active & ~done) | load, next=c["next"] + jnp.sum(done.astype(jnp.int32)).astype(jnp.int32), out=o,
            r_end=r_end,
        )  # fmt: skip

    final = jax.lax.while_loop(lambda c: jnp.any(c["active"]), body, carry)
    return final["out"]


def queue_solve(model, stim, y0, jumps, ts, in_axes, cfg):
    """The queue on one device's members ``y0`` ``(n, n_states)``, in blocks of at most
    :data:`QUEUE_BLOCK` (one queue after the other); ``jumps`` ``(n, n_jumps)`` (ms, ``inf``
    padded), ``ts`` the save times (ms), ``cfg`` a tuple of ``(name, value)`` settings (see
    :func:`jaxneuron.solvers.engines.QueueEngine`). Returns a dict of per-member outputs."""
    model_axes, stim_axes = in_axes

    def one(m, s, y, j):
        return _queue(m, s, y, j, ts, model_axes, stim_axes, cfg)

    return map_member_blocks(one, model, stim, (y0, jumps), in_axes, QUEUE_BLOCK)


def default_slots(n_members: int) -> int:
    """Slots per device for ``n_members`` members on it. CPU: 64 (measured best on 2,000 Prinz
    cells: 16 slots 226, 32: 368, 64: 429, 128: 398, 256: 378, 512: 293 neuron-s/s on one core;
    small batches stay in cache), but 32 below 1,024 members, where the queue's tail (the last
    members finishing while other slots idle) costs more than the narrower vectors (demo sweep,
    256 members of 20 s: 32 slots 8.5 s against 10.2 s for 64 on one core, 5.7 against 6.5 s on
    two). Accelerators: 8,192 (untested: no GPU was available). Never more than the members."""
    if jax.default_backend() == "cpu":
        per_device = 64 if n_members >= 1024 else 32
    else:
        per_device = 8192
    return int(max(1, min(n_members, per_device)))
