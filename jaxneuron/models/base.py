"""Single-compartment conductance-based cells (:class:`AbstractNeuron`) and parameter fields.

A model is an immutable :class:`equinox.Module` implementing the declared interface of
:mod:`jaxneuron.models.interface`. Every parameter a user may sweep or fit is an array field
(:func:`parameter`): a scalar, or an array whose shape is the *batch shape* (one value per
member). :class:`AbstractNeuron` adds what every single-compartment cell shares: parameter
checks, the batch shape, and the membrane row ``C dV/dt = sum g (E - V) + I_ext`` of the linear
form written once from a cell's open conductances.
"""

from __future__ import annotations

import math
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._batching import batch_shape_of, is_concrete
from .interface import AbstractModel, evaluate_stimulus, stack_states

__all__ = ["AbstractNeuron", "check_parameters", "parameter", "parameter_info", "evaluate_stimulus", "stack_states"]


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


def check_parameters(obj):
    """Check every :func:`parameter` field of ``obj`` (finite, within its range) and that their
    batch shapes broadcast; a clear error names the class, field, allowed range and unit.
    Values under tracing are not checked."""
    cls = type(obj)
    for name, info in parameter_info(cls).items():
        value = getattr(obj, name)
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
            raise ValueError(f"{cls.__name__}.{name} must be finite and {allowed} {info['unit']}; got {bad!r}{where}")
    try:
        batch_shape_of(obj)
    except ValueError as e:
        raise ValueError(f"{cls.__name__}: parameter arrays have incompatible batch shapes: {e}") from None


class AbstractNeuron(AbstractModel):
    """Base class of single-compartment conductance-based cells (state ``V`` first).

    Subclasses define parameter fields (see :func:`parameter`), ``state_names``, ``n_border``
    (V, and Ca where there is one), ``conductance_names``, and implement :meth:`linear_form`
    (usually from :meth:`_membrane_row`), :meth:`_conductances`, :meth:`steady_state` and
    :meth:`default_y0`.
    """

    conductance_names: ClassVar[tuple[str, ...]]
    """Names of the maximal-conductance fields (mS/cm^2)."""

    def __check_init__(self):
        check_parameters(self)

    # --- batching -----------------------------------------------------------------------------

    @property
    def n_members(self) -> int:
        return int(math.prod(self.batch_shape))

    # --- dynamics -----------------------------------------------------------------------------

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
