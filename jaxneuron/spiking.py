"""``simulate_spikes``: many members, adaptive steps, no lock-step, spike times out.

What a parameter survey needs from each member is its spike train over an analysis window, not
its trace. :func:`simulate_spikes` runs the work-queue engine (:mod:`jaxneuron.solvers.queue`):
members are integrated in slots, each at its own step size, and a finished member's slot is
refilled at once, so the batch never waits for its slowest member (a vmapped ``simulate`` does).
Spikes are located on each accepted step's cubic Hermite interpolant, so their times carry the
solver's accuracy instead of a save grid's. :func:`jaxneuron.analysis.activity_from_spikes`
classifies the result.
"""

from __future__ import annotations

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp

from ._config import check_float64
from .analysis.activity import Activity
from .analysis.bursts import CLASSIFY_DEFAULTS, classify_spike_train
from .analysis.spikes import DEFAULT_MAX_SPIKES, DEFAULT_THRESHOLD
from .solvers.choices import Kvaerno3, Kvaerno5, Tsit5
from .simulate import prepare_members
from .solvers.queue import default_slots, solve_queue

__all__ = ["SpikeSolution", "activity_from_spikes", "simulate_spikes"]


class SpikeSolution(eqx.Module):
    """Per-member results of :func:`simulate_spikes`; every array has the batch shape first.

    * ``times`` (ms, ``(..., max_spikes)``): spike times in ``[t_record, t_end]``, NaN-padded.
    * ``n_spikes``: number of spikes in the window (may exceed ``max_spikes``: overflow).
    * ``y_final``: state at ``t_end`` (``(..., n_states)``).
    * ``v_min``, ``v_max`` (mV): range of V over the accepted step points in the window.
    * ``status``: 0 ok, 1 ``max_steps`` reached, 2 failed (step size collapsed or non-finite);
      the other members are unaffected.
    * ``num_steps``, ``num_accepted``: attempted and accepted steps of each member.
    """

    times: jax.Array
    n_spikes: jax.Array
    y_final: jax.Array
    v_min: jax.Array
    v_max: jax.Array
    status: jax.Array
    num_steps: jax.Array
    num_accepted: jax.Array
    t_record: float = eqx.field(static=True)
    t_end: float = eqx.field(static=True)
    threshold: float = eqx.field(static=True)
    state_names: tuple[str, ...] = eqx.field(static=True)

    @property
    def ok(self):
        return self.status == 0


def simulate_spikes(model, *, t_end: float, t_record: float = 0.0, y0=None, stimulus=None, solver=None,
                    threshold: float = DEFAULT_THRESHOLD, max_spikes: int = DEFAULT_MAX_SPIKES,
                    slots: int | None = None, t0: float = 0.0) -> SpikeSolution:  # fmt: skip
    """Integrate every member of ``model`` from ``t0`` to ``t_end`` (ms) and return its spike
    times after ``t_record`` (ms), without lock-step between members.

    Args:
        model: a jaxneuron model whose fields may carry a batch shape (e.g. ``Prinz2003.from_conductances(g)``).
        t_end: end time (ms) > ``t0``; ``t_record`` in ``[t0, t_end)`` starts the analysis window
            (the transient before it is simulated, not recorded).
        y0, stimulus: as for :func:`jaxneuron.simulate`.
        solver: :class:`~jaxneuron.Tsit5` (default), :class:`~jaxneuron.Kvaerno5` or
            :class:`~jaxneuron.Kvaerno3`; their ``rtol``, ``atol``, ``dt0_ms`` and ``max_steps``
            apply per member. (Kvaerno here uses arrowhead Newton solves, see
            :mod:`jaxneuron.solvers.steppers`; ``structured`` is ignored.)
        threshold: spike threshold (mV, upward crossing); ``max_spikes``: spikes stored per member.
        slots: members integrated side by side per device (default :func:`default_slots`).
    """
    solver = Tsit5() if solver is None else solver
    if not isinstance(solver, (Tsit5, Kvaerno5, Kvaerno3)):
        raise TypeError(f"simulate_spikes runs jaxneuron.Tsit5, Kvaerno5 or Kvaerno3, got {solver!r}")
    t0, t_end, t_record = float(t0), float(t_end), float(t_record)
    if not (math.isfinite(t0) and math.isfinite(t_end) and t_end > t0):
        raise ValueError(f"t_end must be a finite time (ms) greater than t0 = {t0}; got t_end = {t_end}")
    if not (math.isfinite(t_record) and t0 <= t_record < t_end):
        raise ValueError(f"t_record must be in [t0, t_end) = [{t0}, {t_end}) ms, got {t_record}")
    if not (isinstance(max_spikes, int) and max_spikes >= 2):
        raise ValueError(f"max_spikes must be an integer >= 2, got {max_spikes!r}")
    if slots is not None and not (isinstance(slots, int) and slots >= 1):
        raise ValueError(f"slots must be a positive integer or None, got {slots!r}")
    dtype = check_float64(solver)
    # the engine gathers members by index, so the model always gets a member axis
    batch, model_flat, stim_flat, y0_flat, in_axes = prepare_members(model, y0, stimulus, dtype, model_member_axis=True)
    n = int(math.prod(batch))
    out = solve_queue(
        model_flat, stim_flat, y0_flat, in_axes, solver_name=type(solver).__name__.lower(),
        t0=t0, t_end=t_end, t_record=t_record, rtol=solver.rtol, atol=solver.atol, dt0=solver.dt0(t0, t_end),
        max_steps=solver.n_max_steps(t0, t_end), threshold=float(threshold), max_spikes=max_spikes,
        n_slots=default_slots(n) if slots is None else slots, n_border=getattr(model, "n_border", 2),
    )  # fmt: skip
    r = lambda x, tail=(): x.reshape(batch + tail)  # noqa: E731
    return SpikeSolution(
        times=r(out["times"], (max_spikes,)), n_spikes=r(out["count"]), y_final=r(out["y_final"], (model.n_states,)),
        v_min=r(out["v_min"]), v_max=r(out["v_max"]), status=r(out["status"]), num_steps=r(out["steps"]),
        num_accepted=r(out["accepted"]), t_record=t_record, t_end=t_end, threshold=float(threshold),
        state_names=model.state_names,
    )  # fmt: skip


def activity_from_spikes(sol: SpikeSolution, **options) -> Activity:
    """Classify the spike trains of a :class:`SpikeSolution` over its window ``[t_record, t_end]``
    with the rules of :func:`jaxneuron.activity` (``options``: its classification keywords, e.g.
    ``periodicity_tol``). ``v_min``/``v_max`` are those of the accepted step points;
    ``slow_wave_amplitude`` needs a trace and is NaN; ``finite`` is ``status == 0``."""
    unknown = set(options) - set(CLASSIFY_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown classification options {sorted(unknown)}; valid: {sorted(CLASSIFY_DEFAULTS)}")
    opts = {**CLASSIFY_DEFAULTS, **options}
    batch = sol.n_spikes.shape
    times = sol.times.reshape((-1, sol.times.shape[-1]))
    count = sol.n_spikes.reshape(-1)

    out = _classify(times, count, t_first=sol.t_record, t_last=sol.t_end, options=tuple(sorted(opts.items())))
    duration = sol.t_end - sol.t_record
    out.update(
        n_spikes=count, spike_rate=count.astype(times.dtype) / duration * 1000.0, v_min=sol.v_min.reshape(-1),
        v_max=sol.v_max.reshape(-1), slow_wave_amplitude=jnp.full(count.shape, jnp.nan, times.dtype),
        finite=sol.status.reshape(-1) == 0,
    )  # fmt: skip
    return Activity(**{name: out[name].reshape(batch) for name in Activity.feature_names})


@functools.partial(jax.jit, static_argnames=("t_first", "t_last", "options"))
def _classify(times, count, *, t_first, t_last, options):
    return jax.vmap(lambda tt, c: classify_spike_train(tt, c, t_first, t_last, **dict(options)))(times, count)
