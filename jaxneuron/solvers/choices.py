"""Solver choices: what a user passes as ``simulate(..., solver=...)``.

Each choice is an immutable strategy object holding its settings and able to build the Diffrax
solver, step-size controller and initial step for a solve. All run in float64 by default
(``jaxneuron`` enables ``jax_enable_x64`` on import); implicit solvers refuse float32 because
their Newton iterations do not converge reliably in single precision on these stiff models.
"""

from __future__ import annotations

import math
from typing import ClassVar

import diffrax
import equinox as eqx

from .expeuler import ExpEulerSolver
from .structured import ArrowheadSolver, NeuronChord
from .tabulated import TABLE_MODES

__all__ = ["AbstractSolverChoice", "Kvaerno5", "Kvaerno3", "Tsit5", "ExpEuler", "SOLVERS"]

_DTYPES = ("float64", "float32")
AUTO_STEPS_PER_MS = 500
"""``max_steps=None`` allows this many steps per ms of simulated time (plus 1,000)."""


def _check_common(name, dtype, max_steps):
    if dtype not in _DTYPES:
        raise ValueError(f"{name}.dtype must be one of {_DTYPES}, got {dtype!r}")
    if max_steps is not None and (not isinstance(max_steps, int) or max_steps < 1):
        raise ValueError(f"{name}.max_steps must be a positive integer or None (automatic), got {max_steps!r}")


class AbstractSolverChoice(eqx.Module):
    implicit: eqx.AbstractClassVar[bool]

    def diffrax_solver(self):
        raise NotImplementedError

    def controller(self, jump_ts=None):
        raise NotImplementedError

    def dt0(self, t0, t1):
        raise NotImplementedError

    def n_max_steps(self, t0, t1) -> int:
        raise NotImplementedError


class _Adaptive(AbstractSolverChoice):
    """Adaptive step size with a PID controller on the mixed error ``atol + rtol |y|``."""

    rtol: float = 1e-6
    atol: float = 1e-6
    max_steps: int | None = None
    dtype: str = "float64"
    dt0_ms: float = 0.01

    def __check_init__(self):
        name = type(self).__name__
        _check_common(name, self.dtype, self.max_steps)
        for f in ("rtol", "atol", "dt0_ms"):
            v = getattr(self, f)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name}.{f} must be a positive finite number, got {v!r}")
        if self.implicit and self.dtype == "float32":
            raise ValueError(
                f"{name} is implicit and refuses float32: its Newton iterations fail to converge in single "
                "precision on stiff neuron models. Use dtype='float64' (the default), or an explicit solver "
                "(Tsit5, ExpEuler) for float32."
            )

    def controller(self, jump_ts=None):
        pid = diffrax.PIDController(rtol=self.rtol, atol=self.atol)
        if jump_ts is None:
            return pid
        return diffrax.ClipStepSizeController(pid, jump_ts=jump_ts)

    def dt0(self, t0, t1):
        return min(self.dt0_ms, t1 - t0)

    def n_max_steps(self, t0, t1):
        return self.max_steps if self.max_steps is not None else int(AUTO_STEPS_PER_MS * (t1 - t0)) + 1000


class _Implicit(_Adaptive):
    """``structured=False`` (default): Diffrax's Newton iteration (``VeryChord``, dense LU), the
    accurate reference path (global error at or below the tolerance on the tests' HH problem).

    ``structured=True`` (opt-in, *experimental*): Newton (chord) iterations with jaxneuron's
    :class:`~jaxneuron.solvers.structured.NeuronChord` termination and the O(n)
    :class:`~jaxneuron.solvers.structured.ArrowheadSolver` linear solves: ~10x fewer steps and
    ~10x faster on Prinz cells, but less accurate at the same tolerance (HH, rtol 1e-6: global
    error 7.6e-5 vs 1.1e-8 for the default; burst periods within 6.9e-4 on the benchmark sets).
    The independent arrowhead-Newton Kvaerno5 of :func:`jaxneuron.simulate_spikes` behaves the
    same, so this is Kvaerno5's own error control at the large steps it is allowed to take; the
    default is more accurate because its Newton failures keep its steps ~5x smaller. Tighten
    ``rtol`` (1e-8) for errors like Tsit5's at 1e-6 (README, Performance).
    """

    structured: bool = False

    def _root_finder(self):
        return NeuronChord(rtol=self.rtol, atol=self.atol, linear_solver=ArrowheadSolver(n_border=2))


class Kvaerno5(_Implicit):
    """Kvaerno's 5(4) ESDIRK method: L-stable, stiffly accurate; the accurate default."""

    implicit: ClassVar[bool] = True

    def diffrax_solver(self):
        return diffrax.Kvaerno5(root_finder=self._root_finder()) if self.structured else diffrax.Kvaerno5()


class Kvaerno3(_Implicit):
    """Kvaerno's 3(2) ESDIRK method: L-stable, cheaper per step than Kvaerno5."""

    implicit: ClassVar[bool] = True

    def diffrax_solver(self):
        return diffrax.Kvaerno3(root_finder=self._root_finder()) if self.structured else diffrax.Kvaerno3()


class Tsit5(_Adaptive):
    """Tsitouras' 5(4) explicit Runge-Kutta method (non-stiff; limited by stability on fast gates)."""

    implicit: ClassVar[bool] = False

    def diffrax_solver(self):
        return diffrax.Tsit5()


class ExpEuler(AbstractSolverChoice):
    """Fixed-step exponential Euler (Rush-Larsen) with step ``dt`` (ms); first order.

    Fast, and the historical scheme of the Prinz database, but biased at coarse steps (some
    published Prinz cells become doublet bursters at dt = 0.025 ms): validate against Kvaerno5.

    ``fast=True`` (default) runs the batched ``lax.scan`` integrator of
    :mod:`jaxneuron.solvers.fixed` (same scheme and outputs, faster than Diffrax's loop, and
    split over several local devices when there are); ``fast=False`` runs :class:`ExpEulerSolver`
    inside ``diffrax.diffeqsolve`` (use it for reverse-mode gradients of saved traces).

    ``tabulated`` (STG models, fast path): gate kinetics looked up in tables on a 0.01 mV grid
    (:mod:`jaxneuron.solvers.tabulated`), as xolotl offers. ``"nearest"`` (or ``True``): the
    kinetics of the nearest grid voltage (at most 0.005 mV off), the fastest; ``"linear"``:
    interpolated between grid points (gate updates within 2e-7 of the exact ones). Either error is
    far below the scheme's own at dt = 0.025 ms (tested on spike times against ``False``).
    """

    dt: float = 0.025
    max_steps: int | None = None
    dtype: str = "float64"
    fast: bool = True
    tabulated: bool | str = False
    implicit: ClassVar[bool] = False

    def __check_init__(self):
        _check_common("ExpEuler", self.dtype, self.max_steps)
        if not (isinstance(self.dt, (int, float)) and math.isfinite(self.dt) and self.dt > 0):
            raise ValueError(f"ExpEuler.dt must be a positive finite number of ms, got {self.dt!r}")
        if not isinstance(self.fast, bool):
            raise ValueError(f"ExpEuler.fast must be True or False, got {self.fast!r}")
        if not (isinstance(self.tabulated, bool) or self.tabulated in TABLE_MODES):
            raise ValueError(f"ExpEuler.tabulated must be False, True or one of {', '.join(map(repr, TABLE_MODES))}, "
                             f"got {self.tabulated!r}")  # fmt: skip
        if self.tabulated and not self.fast:
            raise ValueError("ExpEuler.tabulated runs on the fast path: it needs fast=True")

    @property
    def table_mode(self) -> str | None:
        """``None`` (exact kinetics), ``"nearest"`` or ``"linear"``."""
        return None if self.tabulated is False else "nearest" if self.tabulated is True else self.tabulated

    def diffrax_solver(self):
        return ExpEulerSolver()

    def controller(self, jump_ts=None):
        return diffrax.ConstantStepSize()

    def dt0(self, t0, t1):
        return self.dt

    def n_max_steps(self, t0, t1):
        return self.max_steps if self.max_steps is not None else int(math.ceil((t1 - t0) / self.dt)) + 2

    def uses_fast_path(self, t0, t1) -> bool:
        """Whether ``simulate`` runs the batched scan (not when ``max_steps`` would cut the solve)."""
        return self.fast and (self.max_steps is None or self.max_steps >= math.ceil((t1 - t0) / self.dt - 1e-9))


SOLVERS = {"kvaerno5": Kvaerno5, "kvaerno3": Kvaerno3, "tsit5": Tsit5, "expeuler": ExpEuler}
"""Solver choices by (case-insensitive) name, for the CLI and sweep files."""
