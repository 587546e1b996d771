"""Solver choices and what jaxneuron adds to Diffrax."""

from .choices import SOLVERS, AbstractSolverChoice, ExpEuler, Kvaerno3, Kvaerno5, Tsit5
from .difficulty import estimate_difficulty, lockstep_penalty, order_by_difficulty
from .expeuler import ExpEulerSolver, NeuronTerm, exp_euler_update
from .structured import ArrowheadSolver, NeuronChord

__all__ = [
    "SOLVERS", "AbstractSolverChoice", "ExpEuler", "Kvaerno3", "Kvaerno5", "Tsit5",
    "ExpEulerSolver", "NeuronTerm", "exp_euler_update", "ArrowheadSolver", "NeuronChord",
    "estimate_difficulty", "order_by_difficulty", "lockstep_penalty",
]  # fmt: skip
