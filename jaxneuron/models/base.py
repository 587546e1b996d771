"""The interface every jaxneuron neuron model implements, and parameter-field helpers.

A model is an immutable :class:`equinox.Module`. Every parameter a user may sweep or fit is an
array field: a scalar, or an array whose shape is the *batch shape* (one value per member).
The dynamics are written once, in the *linear form* of conductance-based models,

    dy/dt = A(t, y) - B(t, y) * y        (elementwise over the state vector)

where, for a gate, ``A = x_inf / tau`` and ``B = 1 / tau``; for V, ``A = (sum g E + I_ext) / C``
and ``B = sum g / C``. The vector field is ``A - B y``; the exponential-Euler (Rush-Larsen)
scheme uses ``A`` and ``B`` directly; networks add synaptic conductances to the V row.
"""

from __future__ import annotations

import math
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._batching import batch_shape_of, is_concrete

__all__ = ["AbstractNeuron", "parameter", "parameter_info", "evaluate_stimulus", "stack_states"]


def _as_float_array(x):
    return jnp.asarray(x, dtype=float)


def parameter(default, unit: str, doc: str, *, minimum: float | None = None, positive: bool = False):
    """An array-valued model parameter with a unit and an allowed range (checked at construction).

    ``minimum``: inclusive lower bound; ``positive``: strictly greater than 0. Values must be
    finite. Checks run only on concrete values (not under ``jit``/``vmap``/``grad`` tracing).
    """
    return eqx.field(
        default=default,
        converter=_as_float_array,
        metadata={"unit": unit, "doc": doc, "minimum": minimum, "positive": positive, "batch": 0},
    )


def parameter_info(model_cls) -> dict[str, dict]:
    """``{name: {"unit", "doc", "minimum", "positive", "default"}}`` for each parameter field."""
    out = {}
    for f in model_cls.__dataclass_fields__.values():
        if "unit" in f.metadata:
            out[f.name] = dict(f.metadata, default=f.default)
    return out


def evaluate_stimulus(args, t):
    """Injected current (uA/cm^2, inward positive) at time ``t`` from ``args``.

    ``args`` may be ``None`` (no current), a number or array, or any callable ``t -> I``
    (every :mod:`jaxneuron.stimulus` object is one).
    """
    if args is None:
        return 0.0
    if callable(args):
        return args(t)
    return args


def stack_states(values):
    """Broadcast a list of per-state arrays together and stack them on a new last axis."""
    shape = jnp.broadcast_shapes(*(jnp.shape(v) for v in values))
    return jnp.stack([jnp.broadcast_to(v, shape) for v in values], axis=-1)


class AbstractNeuron(eqx.Module):
    """Base class of single-compartment conductance-based models.

    Subclasses define parameter fields (see :func:`parameter`) and implement
    :meth:`linear_form`, :meth:`currents`, :meth:`steady_state` and :meth:`default_y0`.
    """

    state_names: ClassVar[tuple[str, ...]]
    """Names of the state variables, in the order of the state vector's last axis."""
    conductance_names: ClassVar[tuple[str, ...]]
    """Names of the maximal-conductance fields (mS/cm^2)."""
    n_border: ClassVar[int] = 2
    """The leading states every other state may depend on (V, and Ca where there is one): each
    later state's row of :meth:`linear_form` depends only on itself and on these, which makes the
    Jacobian an arrowhead (used by the implicit steps of :func:`jaxneuron.simulate_spikes`)."""

    def __check_init__(self):
        cls = type(self)
        for name, info in parameter_info(cls).items():
            value = getattr(self, name)
            if not is_concrete(value):
                continue
            arr = np.asarray(value)
            low = info["minimum"]
            if info["positive"]:
                ok = np.isfinite(arr) & (arr > 0)
                allowed = "> 0"
            elif low is not None:
                ok = np.isfinite(arr) & (arr >= low)
                allowed = f">= {low:g}"
            else:
                ok = np.isfinite(arr)
                allowed = "finite"
            if not np.all(ok):
                bad = arr.reshape(-1)[np.argmin(ok.reshape(-1))]
                where = "" if arr.ndim == 0 else f" (first offending value at flat index {int(np.argmin(ok.reshape(-1)))})"
                raise ValueError(
                    f"{cls.__name__}.{name} must be finite and {allowed} {info['unit']}; got {bad!r}{where}"
                )
        try:
            self.batch_shape
        except ValueError as e:
            raise ValueError(f"{cls.__name__}: parameter arrays have incompatible batch shapes: {e}") from None

    # --- batching -----------------------------------------------------------------------------

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Broadcast shape of all parameter fields: ``()`` for a single neuron."""
        return batch_shape_of(self)

    @property
    def n_members(self) -> int:
        return int(math.prod(self.batch_shape))

    @property
    def n_states(self) -> int:
        return len(self.state_names)

    # --- dynamics -----------------------------------------------------------------------------

    def linear_form(self, y, I_ext):
        """``(A, B)`` with ``dy/dt = A - B * y``; ``y`` has the states on its last axis.

        ``I_ext``: injected current density (uA/cm^2, inward positive), broadcastable to ``y[..., 0]``.
        """
        raise NotImplementedError

    def vector_field(self, t, y, args=None):
        """The ODE right-hand side ``dy/dt`` (state units per ms) at time ``t`` (ms).

        ``args`` is the stimulus: ``None``, a constant current (uA/cm^2) or a callable ``t -> I``.
        """
        A, B = self.linear_form(y, evaluate_stimulus(args, t))
        return A - B * y

    def _conductances(self, y) -> dict:
        """``{current: (g, E)}``: open conductance (mS/cm^2) and reversal potential (mV) per current."""
        raise NotImplementedError

    def _membrane_row(self, conductances: dict, I_ext):
        """``(A, B)`` of the V equation ``C dV/dt = sum g (E - V) + I_ext``: ``A = (sum g E + I)/C``,
        ``B = sum g / C``. Networks add synaptic conductances to the same row."""
        g_total = sum(g for g, _ in conductances.values())
        gE_total = sum(g * E for g, E in conductances.values())
        return (gE_total + I_ext) / self.C, g_total / self.C

    def currents(self, y) -> dict:
        """Ionic current densities (uA/cm^2, outward positive) for state ``y``, by name."""
        V = y[..., 0]
        return {name: g * (V - E) for name, (g, E) in self._conductances(y).items()}

    def steady_state(self, **kwargs):
        """State vector with the gates at their steady state for the given V (mV) (and Ca, uM)."""
        raise NotImplementedError

    def default_y0(self):
        """The documented default initial state (see each model's docstring)."""
        raise NotImplementedError

    def state_index(self, name: str) -> int:
        try:
            return self.state_names.index(name)
        except ValueError:
            raise ValueError(f"{type(self).__name__} has no state {name!r}; states are {self.state_names}") from None
