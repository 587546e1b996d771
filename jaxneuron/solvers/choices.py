"""Solver choices: what a user passes as ``simulate(..., solver=...)``.

Each choice is an immutable strategy object holding its settings. Every engine runs every
choice: the work queue (:class:`~jaxneuron.QueueEngine`, the default) with jaxneuron's own steps
of the same methods (:mod:`jaxneuron.solvers.steppers`, :mod:`jaxneuron.solvers.fixed`), the
Diffrax engine (:class:`~jaxneuron.DiffraxEngine`) through the Diffrax solver, step-size
controller and initial step each choice builds. All run in float64 by default
(``jaxneuron`` enables ``jax_enable_x64`` on import); implicit solvers refuse float32 because
their Newton iterations do not converge reliably in single precision on these stiff models.
"""

from __future__ import annotations

import math
from typing import ClassVar

import diffrax
import equinox as eqx

from .expeuler import ExpEulerSolver
from .tabulated import TABLE_MODES

__all__ = ["AbstractSolverChoice", "Kvaerno5", "Kvaerno3", "Tsit5", "ExpEuler", "SOLVERS"]

_DTYPES = ("float64", "float32")
AUTO_STEPS_PER_MS = 500
"""``max_steps=None`` allows this many steps per ms of simulated time (plus 1,000)."""


def _check_dtype(name, dtype):
    if dtype not in _DTYPES:
        raise ValueError(f"{name}.dtype must be one of {_DTYPES}, got {dtype!r}")


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
        _check_dtype(name, self.dtype)
        if self.max_steps is not None and (not isinstance(self.max_steps, int) or self.max_steps < 1):
            raise ValueError(f"{name}.max_steps must be a positive integer or None (automatic), got {self.max_steps!r}")
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
    """ESDIRK methods. In the work queue: simplified Newton with an O(n) arrowhead solve
    (:mod:`jaxneuron.solvers.steppers`), stopped when the update (or its rate-extrapolated
    remainder) is below ``newton_tol`` in the error norm; in the Diffrax engine: Diffrax's
    ``VeryChord`` Newton with a dense LU (its own ``kappa = 1e-2``).

    ``newton_tol`` (work queue; ``None``: ``min(1e-2, 1e5 rtol)``, i.e. Diffrax's ``kappa = 1e-2``
    down to rtol = 1e-7, tighter below). Measured on spiking HH (30 ms, against Radau at 1e-12):
    with 1e-2 the scaled error is ~9x the tolerance at rtol 1e-5 and 1e-7 but ~100x at 1e-9,
    where the Newton error dominates the step's (1e-4 there: 6x). On 3,000 Prinz benchmark cells
    (2 s, rtol 1e-6, 2 cores) 1e-3 took 24 % longer than 1e-2 (381 against 472 neuron-s/s) and
    put spike times ~4x closer to a tight reference (max 1.3e-4 ms against 5e-4 to 9e-4 ms on 5
    of 6 sets; burst periods within 1.8e-5 against 1e-4 relative). Pass ``newton_tol=1e-3`` for
    that accuracy."""

    newton_tol: float | None = None

    def __check_init__(self):  # (equinox also runs _Adaptive's)
        v = self.newton_tol
        if v is not None and not (isinstance(v, (int, float)) and math.isfinite(v) and 0 < v < 1):
            raise ValueError(f"{type(self).__name__}.newton_tol must be None or a number in (0, 1), got {v!r}")

    @property
    def newton_tolerance(self) -> float:
        """The Newton tolerance in effect (see ``newton_tol``)."""
        return float(self.newton_tol) if self.newton_tol is not None else min(1e-2, 1e5 * self.rtol)


class Kvaerno5(_Implicit):
    """Kvaerno's 5(4) ESDIRK method (Kvaerno 2004, BIT 44:489): L-stable, stiffly accurate; the default."""

    implicit: ClassVar[bool] = True

    def diffrax_solver(self):
        return diffrax.Kvaerno5()


class Kvaerno3(_Implicit):
    """Kvaerno's 3(2) ESDIRK method: L-stable, cheaper per step than Kvaerno5."""

    implicit: ClassVar[bool] = True

    def diffrax_solver(self):
        return diffrax.Kvaerno3()


class Tsit5(_Adaptive):
    """Tsitouras' 5(4) explicit Runge-Kutta method (non-stiff; limited by stability on fast gates)."""

    implicit: ClassVar[bool] = False

    def diffrax_solver(self):
        return diffrax.Tsit5()


class ExpEuler(AbstractSolverChoice):
    """Fixed-step exponential Euler (Rush-Larsen) with step ``dt`` (ms); first order.

    Fast, and the historical scheme of the Prinz database, but biased at coarse steps (some
    published Prinz cells become doublet bursters at dt = 0.025 ms): validate against Kvaerno5.
    ``ceil((t_end - t0) / dt)`` equal steps are taken (``dt`` exactly when it divides the interval).

    ``tabulated`` (models with :meth:`~jaxneuron.models.interface.AbstractModel.table_kinetics`,
    i.e. the STG cells; work-queue engine): gate kinetics looked up in tables on a 0.01 mV grid
    (:mod:`jaxneuron.solvers.tabulated`), as xolotl offers. ``"nearest"`` (or ``True``): the
    kinetics of the nearest grid voltage (at most 0.005 mV off), the fastest; ``"linear"``:
    interpolated between grid points (gate updates within 2e-7 of the exact ones). Either error is
    far below the scheme's own at dt = 0.025 ms (tested on spike times against ``False``).
    """

    dt: float = 0.025
    dtype: str = "float64"
    tabulated: bool | str = False
    implicit: ClassVar[bool] = False

    def __check_init__(self):
        _check_dtype("ExpEuler", self.dtype)
        if not (isinstance(self.dt, (int, float)) and math.isfinite(self.dt) and self.dt > 0):
            raise ValueError(f"ExpEuler.dt must be a positive finite number of ms, got {self.dt!r}")
        if not (isinstance(self.tabulated, bool) or self.tabulated in TABLE_MODES):
            raise ValueError(f"ExpEuler.tabulated must be False, True or one of {', '.join(map(repr, TABLE_MODES))}, "
                             f"got {self.tabulated!r}")  # fmt: skip

    @property
    def table_mode(self) -> str | None:
        """``None`` (exact kinetics), ``"nearest"`` or ``"linear"``."""
        return None if self.tabulated is False else "nearest" if self.tabulated is True else self.tabulated

    def diffrax_solver(self):
        return ExpEulerSolver()

    def controller(self, jump_ts=None):
        return diffrax.ConstantStepSize()

    def dt0(self, t0, t1):
        return (t1 - t0) / self.n_steps(t0, t1)

    def n_steps(self, t0, t1) -> int:
        """The number of equal steps over ``[t0, t1]``: ``ceil((t1 - t0) / dt)``."""
        return max(1, int(math.ceil((t1 - t0) / self.dt - 1e-9)))

    def n_max_steps(self, t0, t1):
        return self.n_steps(t0, t1) + 2


SOLVERS = {"kvaerno5": Kvaerno5, "kvaerno3": Kvaerno3, "tsit5": Tsit5, "expeuler": ExpEuler}
"""Solver choices by (case-insensitive) name, for the CLI and sweep files."""
