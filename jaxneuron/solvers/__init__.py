"""Solver choices, engines, the one status code, and what jaxneuron adds to Diffrax."""

from .choices import SOLVERS, AbstractSolverChoice, ExpEuler, Kvaerno3, Kvaerno5, Tsit5
from .engines import ENGINES, AbstractEngine, DiffraxEngine, QueueEngine
from .expeuler import ExpEulerSolver, NeuronTerm, exp_euler_update
from .status import STATUS, Status

__all__ = [
    "SOLVERS", "AbstractSolverChoice", "ExpEuler", "Kvaerno3", "Kvaerno5", "Tsit5",
    "ENGINES", "AbstractEngine", "QueueEngine", "DiffraxEngine",
    "ExpEulerSolver", "NeuronTerm", "exp_euler_update", "STATUS", "Status",
]  # fmt: skip
