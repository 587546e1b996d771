"""``Pyloric2004``: the three-cell pyloric circuit of Prinz, Bucher & Marder 2004 (Nat Neurosci 7:1345).

Three Prinz 2003 cells, AB/PD (one compartment for the electrically coupled AB and PD cells), LP
and PY, and seven inhibitory graded synapses (spec sections 3.1-3.3):

=====  =========  ==============  ==========  ============
field  synapse    transmitter     E_s (mV)    k_minus (/ms)
=====  =========  ==============  ==========  ============
g_AB_LP  AB -> LP  glutamate      -70         1/40
g_PD_LP  PD -> LP  acetylcholine  -80         1/100
g_AB_PY  AB -> PY  glutamate      -70         1/40
g_PD_PY  PD -> PY  acetylcholine  -80         1/100
g_LP_PD  LP -> AB/PD glutamate    -70         1/40
g_LP_PY  LP -> PY  glutamate      -70         1/40
g_PY_LP  PY -> LP  glutamate      -70         1/40
=====  =========  ==============  ==========  ============

(the column order of Prinz 2004 and mackelab/pyloric). Synapses from AB/PD share two states (one
per transmitter), LP's two synapses one, PY's one: 4 synaptic states, 43 in all. Strengths are
total conductances in nS, converted with each postsynaptic cell's membrane area (0.628e-3 cm^2).
"""

from __future__ import annotations

import jax.numpy as jnp

from .base import AbstractNeuron
from .network import Network
from .published import PRINZ2004_CELLS
from .stg import Prinz2003
from .synapses import GradedSynapse

__all__ = ["Pyloric2004", "PYLORIC_CELLS", "PYLORIC_SYNAPSES", "PYLORIC_EXAMPLES"]

PYLORIC_CELLS = ("AB/PD", "LP", "PY")
"""Cell names, in the order of the network's cell axis (``simulate(...).V[..., cell, time]``)."""

PYLORIC_SYNAPSES = (
    ("g_AB_LP", "AB/PD", "LP", "glutamate"),
    ("g_PD_LP", "AB/PD", "LP", "acetylcholine"),
    ("g_AB_PY", "AB/PD", "PY", "glutamate"),
    ("g_PD_PY", "AB/PD", "PY", "acetylcholine"),
    ("g_LP_PD", "LP", "AB/PD", "glutamate"),
    ("g_LP_PY", "LP", "PY", "glutamate"),
    ("g_PY_LP", "PY", "LP", "glutamate"),
)
"""``(field, pre, post, transmitter)`` of the seven synapses, in Prinz 2004's column order."""

PYLORIC_EXAMPLES = {
    "fig2e": dict(ab_pd="AB/PD 2", lp="LP 4", py="PY 1", g_AB_LP=30.0, g_PD_LP=30.0, g_AB_PY=10.0, g_PD_PY=3.0,
                  g_LP_PD=30.0, g_LP_PY=1.0, g_PY_LP=30.0),
    "osb_fig3": dict(ab_pd="AB/PD 2", lp="LP 3", py="PY 1", g_AB_LP=10.0, g_PD_LP=100.0, g_AB_PY=10.0, g_PD_PY=3.0,
                     g_LP_PD=30.0, g_LP_PY=1.0, g_PY_LP=1.0),
}  # fmt: skip
"""Published example networks (spec 3.7): xolotl's "Fig. 2e" network (the default) and
OpenSourceBrain's "Fig 3" network. The circuit is multistable: Fig. 2e is triphasic and
pyloric-like (period 1.80 s) from ``warm_start(1000.0)`` and from the cold start, but from
``warm_start(20000.0)`` LP fires tonically and AB/PD stays silent (an independent scipy solve
agrees; tests/test_network.py)."""


def _cell(value, slot: str):
    """A Prinz 2003 cell from a Prinz 2004 model name, an (..., 8) array of conductances
    (mS/cm^2; Na, CaT, CaS, A, KCa, Kd, H, leak) or a cell model."""
    if isinstance(value, AbstractNeuron):
        return value
    if isinstance(value, str):
        try:
            value = PRINZ2004_CELLS[value]
        except KeyError:
            raise ValueError(f"unknown cell {value!r} for {slot}; valid names: {sorted(PRINZ2004_CELLS)}") from None
    g = jnp.asarray(value, dtype=float)
    if g.shape[-1:] != (8,):
        raise ValueError(f"{slot} must be a Prinz 2004 cell name, a cell model or the 8 conductances (mS/cm^2) "
                         f"on the last axis; got shape {g.shape}")  # fmt: skip
    return Prinz2003.from_conductances(g)


class Pyloric2004(Network):
    """The Prinz, Bucher & Marder 2004 pyloric circuit (see the module docstring).

    Args:
        ab_pd, lp, py: each a Prinz 2004 model name (``"AB/PD 1"`` ... ``"PY 6"``, the keys of
            :data:`~jaxneuron.PRINZ2004_CELLS`), the 8 maximal conductances (mS/cm^2, order of
            :data:`~jaxneuron.STG_CONDUCTANCES`; an ``(..., 8)`` array batches networks), or a cell model.
        g_AB_LP ... g_PY_LP: synapse strengths (nS total, >= 0; arrays batch networks).
        stimulated: cells receiving the stimulus (default all).

    Defaults: the "Fig. 2e" network of :data:`PYLORIC_EXAMPLES` (AB/PD 2, LP 4, PY 1; 30, 30, 10,
    3, 30, 1, 30 nS). Start it from :meth:`~jaxneuron.Network.warm_start` (Prinz's protocol) or
    give ``y0`` explicitly: the circuit is multistable.
    """

    def __init__(self, ab_pd="AB/PD 2", lp="LP 4", py="PY 1", g_AB_LP=30.0, g_PD_LP=30.0, g_AB_PY=10.0,
                 g_PD_PY=3.0, g_LP_PD=30.0, g_LP_PY=1.0, g_PY_LP=30.0, stimulated=None):  # fmt: skip
        cells = {"AB/PD": _cell(ab_pd, "ab_pd"), "LP": _cell(lp, "lp"), "PY": _cell(py, "py")}
        strengths = dict(g_AB_LP=g_AB_LP, g_PD_LP=g_PD_LP, g_AB_PY=g_AB_PY, g_PD_PY=g_PD_PY, g_LP_PD=g_LP_PD,
                         g_LP_PY=g_LP_PY, g_PY_LP=g_PY_LP)  # fmt: skip
        synapses = []
        for field, pre, post, transmitter in PYLORIC_SYNAPSES:
            make = GradedSynapse.glutamatergic if transmitter == "glutamate" else GradedSynapse.cholinergic
            try:
                synapses.append(make(pre, post, strengths[field]))
            except ValueError as e:
                raise ValueError(f"Pyloric2004.{field}: {e}") from None
        super().__init__(cells, synapses, (), stimulated)

    @property
    def ab_pd(self):
        return self.cells[0]

    @property
    def lp(self):
        return self.cells[1]

    @property
    def py(self):
        return self.cells[2]

    def synapse_strengths(self) -> dict:
        """``{field: g (nS)}`` for the seven synapses."""
        return {field: syn.g for (field, *_), syn in zip(PYLORIC_SYNAPSES, self.synapses)}

    @property
    def g_AB_LP(self):
        """Strength (nS) of synapse AB -> LP."""
        return self.synapses[0].g

    @property
    def g_PD_LP(self):
        """Strength (nS) of synapse PD -> LP."""
        return self.synapses[1].g

    @property
    def g_AB_PY(self):
        """Strength (nS) of synapse AB -> PY."""
        return self.synapses[2].g

    @property
    def g_PD_PY(self):
        """Strength (nS) of synapse PD -> PY."""
        return self.synapses[3].g

    @property
    def g_LP_PD(self):
        """Strength (nS) of synapse LP -> PD."""
        return self.synapses[4].g

    @property
    def g_LP_PY(self):
        """Strength (nS) of synapse LP -> PY."""
        return self.synapses[5].g

    @property
    def g_PY_LP(self):
        """Strength (nS) of synapse PY -> LP."""
        return self.synapses[6].g
