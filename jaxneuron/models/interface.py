"""The declared model interface: what every engine may ask of a model, and nothing else.

Every jaxneuron model (a Hodgkin-Huxley or STG cell today; a network of cells and synapses, an
integrate-and-fire cell tomorrow) is an immutable :class:`equinox.Module` subclassing
:class:`AbstractModel`. Engines (:func:`jaxneuron.simulate`'s work queue, fixed-step and Diffrax
paths) use only the members declared here; they never ask what kind of model they hold.

**Linear form.** The dynamics are written once as

    dy/dt = A(t, y) - B(t, y) * y        (elementwise over the state vector)

(for a gate ``A = x_inf / tau``, ``B = 1 / tau``; for V ``A = (sum g E + I_ext) / C``,
``B = sum g / C``). The vector field is ``A - B y``; the exponential-Euler (Rush-Larsen) step
uses ``A`` and ``B`` directly.

**Border (Jacobian structure).** The first :attr:`~AbstractModel.n_border` states are the
*border*: every other state's row of the linear form may depend on itself and on the border
states only. Then the Jacobian is an arrowhead (full border rows and columns plus a diagonal) and
a Newton solve costs O(n) through the Schur complement on the border
(:mod:`jaxneuron.solvers.steppers`). A cell's border is its V (and Ca where it has one). A
network's border is every cell's V and Ca: a synaptic state depends on itself and on its
presynaptic V (a border column) and feeds the postsynaptic V row (a border row); a gap junction
only couples V rows. :meth:`~AbstractModel.border_rows` gives the border rows alone (engines
differentiate them to form the Jacobian's border rows without differentiating the gates).

**Voltages.** :attr:`~AbstractModel.voltage_states` are the membrane potentials (one per cell,
all in the border): saved as ``Solution.V`` and searched for spikes.

**Optional parts.** :meth:`~AbstractModel.table_kinetics` (V-only gate kinetics a fixed-step
solve may tabulate), :meth:`~AbstractModel.currents` (named ionic currents) and
:meth:`~AbstractModel.event` (a threshold and reset, for integrate-and-fire cells).
"""

from __future__ import annotations

from typing import Callable, ClassVar, NamedTuple

import equinox as eqx
import jax.numpy as jnp

from .._batching import batch_shape_of

__all__ = ["AbstractModel", "Event", "TableKinetics", "evaluate_stimulus", "stack_states"]


def evaluate_stimulus(args, t):
    """Injected current (uA/cm^2, inward positive) at time ``t`` (ms) from ``args``: ``None`` (no
    current), a number or array, or a callable ``t -> I`` (every :mod:`jaxneuron.stimulus` is one)."""
    if args is None:
        return 0.0
    if callable(args):
        return args(t)
    return args


def stack_states(values):
    """Broadcast a list of per-state arrays together and stack them on a new last axis."""
    shape = jnp.broadcast_shapes(*(jnp.shape(v) for v in values))
    return jnp.stack([jnp.broadcast_to(v, shape) for v in values], axis=-1)


class Event(NamedTuple):
    """A discontinuous event (an integrate-and-fire spike): when state ``state`` crosses
    ``threshold`` upwards, the solve stops at the crossing (located on the step's interpolant by
    adaptive engines, on the step's line by fixed-step ones), applies ``reset`` and continues.

    * ``reset(y) -> y``: the state just after the event from the state at the crossing (one
      member's state vector). Adaptive engines restart their step size after an event.
    * ``refractory`` (ms, >= 0): for this long after the event the states ``held`` (indices) are
      frozen at their reset values (their rows of the linear form are zero); engines land a step
      exactly on the end of the refractory period. The other states evolve as usual.
    """

    state: int
    threshold: float | jnp.ndarray
    reset: Callable
    refractory: float | jnp.ndarray = 0.0
    held: tuple[int, ...] = ()


class TableKinetics(NamedTuple):
    """Gate kinetics a fixed-step solve may tabulate on a V grid (:mod:`jaxneuron.solvers.tabulated`).

    * ``gates(V)``: for each non-border state, in order, ``(x_inf, tau)`` (dimensionless, ms) as
      functions of V (mV) alone (arrays broadcastable to ``V``'s shape).
    * ``modulated``: index (among the gates) of the one gate whose steady state is multiplied by
      ``modulation(y)`` (a function of the state's border rows, e.g. [Ca]), or ``None``.
    """

    gates: Callable
    modulated: int | None = None
    modulation: Callable | None = None


class AbstractModel(eqx.Module):
    """The interface every engine uses. Subclasses declare the class variables and implement the
    abstract methods; the rest has working defaults.

    Class variables:

    * ``state_names``: names of the states, in the order of the state vector's last axis; the
      first ``n_border`` are the border.
    * ``n_border``: number of border states (see the module docstring).
    * ``voltage_states``: indices of the membrane potentials (mV), default ``(0,)``.
    * ``stimulus_unit``: the unit of the injected current, default ``"uA/cm^2"``.
    """

    state_names: ClassVar[tuple[str, ...]]
    n_border: ClassVar[int]
    voltage_states: ClassVar[tuple[int, ...]] = (0,)
    stimulus_unit: ClassVar[str] = "uA/cm^2"
    """Unit of the injected current (a stimulus's amplitudes): a current density for per-area
    models; :class:`~jaxneuron.AdEx` takes pA."""

    # --- required ----------------------------------------------------------------------------

    def linear_form(self, y, I_ext):
        """``(A, B)`` with ``dy/dt = A - B * y``; ``y`` has the states on its last axis.

        ``I_ext``: injected current (uA/cm^2, inward positive), broadcastable to ``y[..., 0]``.
        Row ``i >= n_border`` may depend only on ``y[..., i]`` and the border states."""
        raise NotImplementedError(f"{type(self).__name__} must implement linear_form")

    def default_y0(self):
        """The documented default initial state ``(..., n_states)``."""
        raise NotImplementedError(f"{type(self).__name__} must implement default_y0")

    # --- derived, overridable ----------------------------------------------------------------

    def border_rows(self, y, I_ext):
        """``(A, B)`` of the border rows alone, each of shape ``y.shape[:-1] + (n_border,)``.
        Default: the first ``n_border`` rows of :meth:`linear_form`. Override it when the border
        rows can be computed without the gate kinetics (engines differentiate it)."""
        A, B = self.linear_form(y, I_ext)
        return A[..., : self.n_border], B[..., : self.n_border]

    def vector_field(self, t, y, args=None):
        """``dy/dt`` (state units per ms) at time ``t`` (ms); ``args``: the stimulus."""
        A, B = self.linear_form(y, evaluate_stimulus(args, t))
        return A - B * y

    def table_kinetics(self) -> TableKinetics | None:
        """V-only gate kinetics for tabulated fixed-step solves, or ``None`` (default): see
        :class:`TableKinetics`."""
        return None

    def event(self) -> Event | None:
        """A threshold-and-reset :class:`Event`, or ``None`` (default: a smooth model)."""
        return None

    def events(self) -> tuple[Event, ...]:
        """Every event of the model (engines use this): default ``(event(),)`` or ``()``. A
        network of integrate-and-fire cells has one per cell (its ``state`` indices differ)."""
        ev = self.event()
        return () if ev is None else (ev,)

    def currents(self, y) -> dict:
        """Named ionic current densities (uA/cm^2, outward positive) at state ``y``; default none."""
        return {}

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Broadcast shape of the model's per-member fields: ``()`` for a single model."""
        return batch_shape_of(self)

    @property
    def n_states(self) -> int:
        return len(self.state_names)

    def state_index(self, name: str) -> int:
        try:
            return self.state_names.index(name)
        except ValueError:
            raise ValueError(f"{type(self).__name__} has no state {name!r}; states are {self.state_names}") from None
