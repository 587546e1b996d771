"""Solver choices and what jaxneuron adds to Diffrax."""

from .choices import SOLVERS, AbstractSolverChoice, ExpEuler, Kvaerno3, Kvaerno5, Tsit5
from .expeuler import ExpEulerSolver, NeuronTerm, exp_euler_update

__all__ = [
    "SOLVERS", "AbstractSolverChoice", "ExpEuler", "Kvaerno3", "Kvaerno5", "Tsit5",
    "ExpEulerSolver", "NeuronTerm", "exp_euler_update",
]  # fmt: skip
