"""The one status code of a member's solve, used by every engine, by :class:`jaxneuron.Solution`
and by the sweep database.

A failed member never aborts its batch: it gets a non-zero status and the other members are
unaffected. The codes are stored as they are in sweep databases (``status`` variable, with
``-1`` for a member not computed yet).
"""

from __future__ import annotations

import enum

__all__ = ["Status", "STATUS", "STATUS_NOT_COMPUTED"]


class Status(enum.IntEnum):
    """Per-member outcome of a solve."""

    OK = 0
    """Reached ``t_end`` with a finite state."""
    MAX_STEPS = 1
    """Stopped after the solver's ``max_steps`` steps before ``t_end``."""
    NON_FINITE = 2
    """The state (or a saved value) became NaN or infinite (e.g. V left a kinetics table)."""
    STEP_COLLAPSED = 3
    """The adaptive step size fell below the engine's minimum (1e-10 ms): the solve cannot proceed."""
    SOLVER_FAILURE = 4
    """Any other failure reported by the solver (e.g. Diffrax's Newton divergence or singular matrix)."""


STATUS = {int(s): s.name.lower() for s in Status}
"""``{code: name}`` of :class:`Status` (``0: "ok"``, ``1: "max_steps"``, ...)."""

STATUS_NOT_COMPUTED = -1
"""The status a sweep database holds for a member whose chunk has not been computed."""
