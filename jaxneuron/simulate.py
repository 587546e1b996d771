"""``simulate``: the one pure entry point that integrates a (batched) model.

A batched model (parameter fields with a leading batch shape), batched stimulus amplitudes and
per-member initial states are broadcast together and folded into one member axis
(:mod:`jaxneuron.solvers.members`); an *engine* runs the members (:mod:`jaxneuron.solvers.engines`):
by default the work queue, where no member waits for another and every local device (every CPU
core, see :mod:`jaxneuron._devices`) takes a share. No member can abort the batch: each gets a
status code (:class:`~jaxneuron.Status`).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._config import check_float64
from ._devices import warn_if_one_core
from .analysis.spikes import DEFAULT_MAX_SPIKES, DEFAULT_THRESHOLD
from .models.interface import AbstractModel
from .solvers import AbstractEngine, AbstractSolverChoice, Kvaerno5, QueueEngine
from .solvers.members import prepare_members
from .solvers.status import STATUS, Status

__all__ = ["simulate", "SaveAt", "Solution", "STATUS", "Status"]


class SaveAt(eqx.Module):
    """What :func:`simulate` records, besides the final state and status (always kept).

    * ``transient`` (ms, >= 0): the first ``transient`` ms after ``t0`` are simulated but not
      recorded: the window starts at ``t0 + transient``.
    * ``save_dt`` (ms, > 0): the trace is saved at ``t0 + transient + k save_dt <= t_end``.
    * ``states``: ``"V"`` (the membrane potentials), ``"all"`` (every state) or ``None`` (no trace).
    * ``spikes``: record spike times (upward crossings of ``threshold``, mV, by each membrane
      potential, located on the solver's interpolant) in the window, at most ``max_spikes`` per
      voltage (``n_spikes`` counts them all), and the V range over the window.
    """

    transient: float = 0.0
    save_dt: float = 0.1
    states: str | None = "V"
    spikes: bool = False
    threshold: float = DEFAULT_THRESHOLD
    max_spikes: int = DEFAULT_MAX_SPIKES

    def __check_init__(self):
        if self.states not in ("V", "all", None):
            raise ValueError(f"SaveAt.states must be 'V', 'all' or None (no trace), got {self.states!r}")
        if not (isinstance(self.save_dt, (int, float)) and math.isfinite(self.save_dt) and self.save_dt > 0):
            raise ValueError(f"SaveAt.save_dt must be a positive number of ms, got {self.save_dt!r}")
        if not (isinstance(self.transient, (int, float)) and math.isfinite(self.transient) and self.transient >= 0):
            raise ValueError(f"SaveAt.transient must be a finite number of ms >= 0, got {self.transient!r}")
        if not isinstance(self.spikes, bool):
            raise ValueError(f"SaveAt.spikes must be True or False, got {self.spikes!r}")
        if not (isinstance(self.threshold, (int, float)) and math.isfinite(self.threshold)):
            raise ValueError(f"SaveAt.threshold must be a finite voltage (mV), got {self.threshold!r}")
        if not (isinstance(self.max_spikes, int) and self.max_spikes >= 2):
            raise ValueError(f"SaveAt.max_spikes must be an integer >= 2, got {self.max_spikes!r}")

    def times(self, t0: float, t_end: float) -> np.ndarray:
        """The save times (ms) of a simulation from ``t0`` to ``t_end`` (empty without a trace)."""
        start = t0 + self.transient
        if not start < t_end:
            raise ValueError(f"SaveAt.transient must be shorter than the simulation (t_end - t0 = {t_end - t0} ms), "
                             f"got {self.transient}")  # fmt: skip
        if self.states is None:
            return np.zeros((0,))
        n = int(math.floor((t_end - start) / self.save_dt + 1e-9)) + 1
        return start + self.save_dt * np.arange(n)


class Solution(eqx.Module):
    """Result of :func:`simulate`; per-member arrays have the batch shape first.

    * ``t`` (ms, ``(n_times,)``): the save times; ``V`` (mV): ``(*batch, n_times)`` for a model
      with one membrane potential, ``(*batch, n_voltages, n_times)`` for several; ``ys``: every
      state ``(*batch, n_times, n_states)`` when saved with ``states="all"``. ``None`` when not saved.
    * ``y_final`` ``(*batch, n_states)``: the state at ``t_end``.
    * ``status``: :class:`~jaxneuron.Status` code per member (0 ok); ``num_steps`` (attempted)
      and ``num_accepted`` steps per member.
    * with ``SaveAt(spikes=True)``: ``spike_times`` (ms, ``(*batch[, n_voltages], max_spikes)``,
      NaN-padded), ``n_spikes`` (may exceed ``max_spikes``), ``v_min``/``v_max`` (mV, over the
      accepted step points in the window); else ``None``.
    * ``t0``, ``t_end``, ``transient`` (ms), ``threshold`` (mV) and ``state_names``.
    """

    t: jax.Array
    V: jax.Array | None
    ys: jax.Array | None
    y_final: jax.Array
    status: jax.Array
    num_steps: jax.Array
    num_accepted: jax.Array
    spike_times: jax.Array | None
    n_spikes: jax.Array | None
    v_min: jax.Array | None
    v_max: jax.Array | None
    t0: float = eqx.field(static=True)
    t_end: float = eqx.field(static=True)
    transient: float = eqx.field(static=True)
    threshold: float = eqx.field(static=True)
    state_names: tuple[str, ...] = eqx.field(static=True)

    @property
    def ok(self):
        return self.status == Status.OK


def simulate(model, *, t_end, y0=None, stimulus=None, save: SaveAt | None = None,
             solver: AbstractSolverChoice | None = None, engine: AbstractEngine | None = None,
             t0: float = 0.0) -> Solution:  # fmt: skip
    """Integrate ``model`` from ``t0`` to ``t_end`` (ms).

    Args:
        model: a jaxneuron model (:class:`~jaxneuron.models.interface.AbstractModel`); any
            parameter field may carry a batch shape (one value per member).
        t_end: end time (ms), > ``t0``.
        y0: initial state ``(..., n_states)``: one for every member or one per member.
            ``None``: the model's documented default (``model.default_y0()``).
        stimulus: ``None``, a constant (uA/cm^2, inward positive, may be a per-member array), a
            :mod:`jaxneuron.stimulus` object (amplitudes may be batched) or a callable ``t -> I``.
        save: a :class:`SaveAt` (default: V every 0.1 ms from ``t0``).
        solver: :class:`~jaxneuron.Kvaerno5` (default, rtol = atol = 1e-6), ``Kvaerno3``,
            ``Tsit5`` or ``ExpEuler``.
        engine: :class:`~jaxneuron.QueueEngine` (default: no lock-step between members, every
            local device) or :class:`~jaxneuron.DiffraxEngine` (vmapped Diffrax: for
            reverse-mode gradients, ``jax.grad``, through adaptive solvers).
        t0: start time (ms).

    Returns a :class:`Solution`; never raises because one member failed (see ``status``).
    """
    if not isinstance(model, AbstractModel):
        raise TypeError(f"simulate expects a jaxneuron model (e.g. jaxneuron.Prinz2003()), got {type(model).__name__}")
    save = SaveAt() if save is None else save
    solver = Kvaerno5() if solver is None else solver
    engine = QueueEngine() if engine is None else engine
    if not isinstance(solver, AbstractSolverChoice):
        raise TypeError(f"solver must be one of jaxneuron.Kvaerno5/Kvaerno3/Tsit5/ExpEuler, got {solver!r}")
    if not isinstance(engine, AbstractEngine):
        raise TypeError(f"engine must be jaxneuron.QueueEngine() or jaxneuron.DiffraxEngine(), got {engine!r}")
    if not isinstance(save, SaveAt):
        raise TypeError(f"save must be a jaxneuron.SaveAt, got {save!r}")
    t0, t_end = float(t0), float(t_end)
    if not (math.isfinite(t0) and math.isfinite(t_end) and t_end > t0):
        raise ValueError(f"t_end must be a finite time (ms) greater than t0 = {t0}; got t_end = {t_end}")
    dtype = check_float64(solver)
    ts = save.times(t0, t_end)
    batch, model_flat, stim_flat, y0_flat, in_axes = prepare_members(model, y0, stimulus, dtype)
    warn_if_one_core(y0_flat.shape[0])
    out = engine.solve(model_flat, stim_flat, y0_flat, in_axes, ts=ts, t0=t0, t_end=t_end, solver=solver, save=save)
    return _solution(out, batch, model, ts, dtype, save, t0, t_end)


def _solution(out, batch, model, ts, dtype, save, t0, t_end) -> Solution:
    r = lambda x, tail=(): x.reshape(batch + tail)  # noqa: E731
    nv = len(model.voltage_states)
    V = ys = None
    if save.states == "all":
        ys = r(out["saved"], out["saved"].shape[1:])
        V = jnp.moveaxis(ys[..., list(model.voltage_states)], -1, -2)
    elif save.states == "V":
        V = jnp.moveaxis(r(out["saved"], out["saved"].shape[1:]), -1, -2)  # (*batch, n_v, n_times)
    if V is not None and nv == 1:
        V = V[..., 0, :]
    spikes = {}
    if save.spikes:
        squeeze = (lambda x: x[..., 0, :]) if nv == 1 else (lambda x: x)  # noqa: E731
        flat = (lambda x: x[..., 0]) if nv == 1 else (lambda x: x)  # noqa: E731
        spikes = dict(spike_times=squeeze(r(out["times"], out["times"].shape[1:])), n_spikes=flat(r(out["count"], (nv,))),
                      v_min=flat(r(out["v_min"], (nv,))), v_max=flat(r(out["v_max"], (nv,))))  # fmt: skip
    return Solution(
        t=jnp.asarray(ts, dtype=dtype), V=V, ys=ys, y_final=r(out["y_final"], (model.n_states,)), status=r(out["status"]),
        num_steps=r(out["steps"]), num_accepted=r(out["accepted"]), spike_times=spikes.get("spike_times"),
        n_spikes=spikes.get("n_spikes"), v_min=spikes.get("v_min"), v_max=spikes.get("v_max"), t0=t0, t_end=t_end,
        transient=float(save.transient), threshold=float(save.threshold), state_names=model.state_names,
    )  # fmt: skip
