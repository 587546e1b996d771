"""Exponential-Euler (Rush-Larsen) scheme written as a Diffrax solver, and the term it needs.

For conductance-based models every state obeys ``dy/dt = A(y) - B(y) y`` (see
:mod:`jaxneuron.models.base`). Freezing ``A`` and ``B`` over a step of length ``h`` and solving
exactly gives ``y1 = y0 + h (A - B y0) phi1(-B h)`` with ``phi1(z) = (e^z - 1)/z``: gates relax
exponentially towards ``x_inf``, V towards its conductance-weighted reversal. It is explicit,
first order and unconditionally stable for the gates; this is the family of schemes used by
Prinz et al. 2003 (fixed dt) and by xolotl. It is *not* accurate at the historical
dt = 0.025 ms for every cell: validate against a tight Kvaerno5 solve (README, Performance).
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar

import diffrax
from diffrax import ODETerm

from ..channels.common import phi1
from ..models.interface import evaluate_stimulus

__all__ = ["NeuronTerm", "ExpEulerSolver", "exp_euler_update"]


class NeuronTerm(ODETerm):
    """An ``ODETerm`` for a jaxneuron model that also exposes the model's linear form ``(A, B)``.

    The model is a field (a pytree leaf of the term), not captured by a closure, so that
    transformations of the term see its parameters."""

    model: Any = None

    @classmethod
    def of(cls, model):
        """The term of ``model`` with the stimulus as Diffrax's ``args``."""
        return cls(model.vector_field, model=model)

    def linear_form(self, t, y, args):
        return self.model.linear_form(y, evaluate_stimulus(args, t))


def exp_euler_update(y, A, B, h):
    """One exponential-Euler step of ``dy/dt = A - B y`` with ``A``, ``B`` frozen over ``h`` (ms)."""
    return y + h * (A - B * y) * phi1(-B * h)


def _unwrap(terms):
    # diffrax wraps terms (e.g. ``WrapTerm`` for the integration direction); jaxneuron integrates
    # forward in time only, so the wrapped NeuronTerm's linear form is used as is.
    while not isinstance(terms, NeuronTerm):
        terms = terms.term
    return terms


class ExpEulerSolver(diffrax.AbstractSolver):
    """Fixed-step exponential Euler for :class:`NeuronTerm` (order 1, no error estimate)."""

    term_structure: ClassVar = NeuronTerm
    interpolation_cls: ClassVar[Callable[..., diffrax.LocalLinearInterpolation]] = diffrax.LocalLinearInterpolation

    def order(self, terms):
        return 1

    def init(self, terms, t0, t1, y0, args):
        return None

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        del solver_state, made_jump
        A, B = _unwrap(terms).linear_form(t0, y0, args)
        y1 = exp_euler_update(y0, A, B, t1 - t0)
        return y1, None, dict(y0=y0, y1=y1), None, diffrax.RESULTS.successful

    def func(self, terms, t0, y0, args):
        return terms.vf(t0, y0, args)
