"""Stomatogastric-ganglion (STG) model neurons: Prinz et al. 2003 and Liu et al. 1998.

Eight currents (Na, CaT, CaS, A, KCa, Kd, H, leak), intracellular calcium with first-order
buffering and a dynamic Nernst calcium reversal potential (jaxneuron spec sections 2 and 4).

State vector (13): ``V`` (mV), ``Ca`` (uM), then the gates ``m_Na, h_Na, m_CaT, h_CaT, m_CaS,
h_CaS, m_A, h_A, m_KCa, m_Kd, m_H``. Everything is per unit area (mS/cm^2, uF/cm^2, uA/cm^2); the
membrane area only enters the calcium flux: ``tau_Ca dCa/dt = -f_Ca * 1000 * area * i_Ca - Ca + Ca_0``
with ``i_Ca = i_CaT + i_CaS`` in uA/cm^2.
"""

from __future__ import annotations

from typing import Callable, ClassVar

import jax.numpy as jnp

from ..channels import stg as k
from ..channels.calcium import E_Ca
from .base import AbstractNeuron, parameter, stack_states
from .interface import TableKinetics
from .published import PRINZ2003_SETS, PRINZ2004_CELLS

__all__ = ["Prinz2003", "Liu1998", "PRINZ2003_SETS", "PRINZ2004_CELLS", "STG_CONDUCTANCES"]

STG_CONDUCTANCES = ("g_Na", "g_CaT", "g_CaS", "g_A", "g_KCa", "g_Kd", "g_H", "g_leak")

# (exponent p, exponent q, reversal) per current; reversal names refer to fields or "E_Ca".
_CURRENTS = (
    ("Na", "g_Na", 3, 1, "E_Na"),
    ("CaT", "g_CaT", 3, 1, "E_Ca"),
    ("CaS", "g_CaS", 3, 1, "E_Ca"),
    ("A", "g_A", 3, 1, "E_K"),
    ("KCa", "g_KCa", 4, 0, "E_K"),
    ("Kd", "g_Kd", 4, 0, "E_K"),
    ("H", "g_H", 1, 0, "E_H"),
    ("leak", "g_leak", 0, 0, "E_leak"),
)
_GATE_INDEX = {"Na": (2, 3), "CaT": (4, 5), "CaS": (6, 7), "A": (8, 9), "KCa": (10, None), "Kd": (11, None), "H": (12, None), "leak": (None, None)}

def _g(default, name):
    return parameter(default, "mS/cm^2", f"maximal {name} conductance", minimum=0.0)


class _STGNeuron(AbstractNeuron):
    """Shared equations of the Prinz 2003 and Liu 1998 models (defaults are Prinz's)."""

    g_Na: jnp.ndarray = _g(100.0, "fast Na")
    g_CaT: jnp.ndarray = _g(2.5, "transient Ca")
    g_CaS: jnp.ndarray = _g(6.0, "slow Ca")
    g_A: jnp.ndarray = _g(50.0, "transient K (A-type)")
    g_KCa: jnp.ndarray = _g(5.0, "Ca-dependent K")
    g_Kd: jnp.ndarray = _g(100.0, "delayed-rectifier K")
    g_H: jnp.ndarray = _g(0.01, "hyperpolarisation-activated (H)")
    g_leak: jnp.ndarray = _g(0.0, "leak")
    E_Na: jnp.ndarray = parameter(50.0, "mV", "Na reversal potential")
    E_K: jnp.ndarray = parameter(-80.0, "mV", "K reversal potential (A, KCa, Kd)")
    E_H: jnp.ndarray = parameter(-20.0, "mV", "H-current reversal potential")
    E_leak: jnp.ndarray = parameter(-50.0, "mV", "leak reversal potential")
    C: jnp.ndarray = parameter(1.0, "uF/cm^2", "specific membrane capacitance", positive=True)
    tau_Ca: jnp.ndarray = parameter(200.0, "ms", "calcium buffering time constant", positive=True)
    Ca_0: jnp.ndarray = parameter(0.05, "uM", "resting intracellular [Ca]", minimum=0.0)
    Ca_out: jnp.ndarray = parameter(3000.0, "uM", "extracellular [Ca]", positive=True)
    f_Ca: jnp.ndarray = parameter(14.96, "uM/nA", "calcium influx per unit Ca current", minimum=0.0)
    area: jnp.ndarray = parameter(0.628e-3, "cm^2", "membrane area (enters only the Ca flux)", positive=True)
    T_celsius: jnp.ndarray = parameter(10.0, "degC", "temperature (Nernst factor RT/2F; 12.2 mV at 10 degC)")

    state_names: ClassVar[tuple[str, ...]] = (
        "V", "Ca", "m_Na", "h_Na", "m_CaT", "h_CaT", "m_CaS", "h_CaS", "m_A", "h_A", "m_KCa", "m_Kd", "m_H",
    )  # fmt: skip
    conductance_names: ClassVar[tuple[str, ...]] = STG_CONDUCTANCES
    tau_scale: ClassVar[float]
    m_H_inf: ClassVar[Callable]
    m_H_tau: ClassVar[Callable]

    @classmethod
    def from_conductances(cls, g, **kwargs):
        """Model from an array of the 8 maximal conductances (..., 8), order of ``STG_CONDUCTANCES``."""
        g = jnp.asarray(g, dtype=float)
        if g.shape[-1:] != (8,):
            raise ValueError(f"expected the 8 conductances {STG_CONDUCTANCES} on the last axis, got shape {g.shape}")
        return cls(**{n: g[..., i] for i, n in enumerate(STG_CONDUCTANCES)}, **kwargs)

    n_border: ClassVar[int] = 2
    calcium_gate: ClassVar[int] = 8
    """Index (among the gates) of the one gate whose steady state depends on [Ca] (m_KCa)."""

    def _gates_inf_tau_V(self, V):
        """Each gate's (steady state, time constant (ms)) as functions of V (mV) alone; for m_KCa
        the steady state's voltage factor (times :func:`kca_calcium_factor` gives the real one)."""
        s = self.tau_scale
        return (
            (k.m_Na_inf(V), s * k.m_Na_tau_liu(V)),
            (k.h_Na_inf(V), s * k.h_Na_tau_liu(V)),
            (k.m_CaT_inf(V), s * k.m_CaT_tau_liu(V)),
            (k.h_CaT_inf(V), s * k.h_CaT_tau_liu(V)),
            (k.m_CaS_inf(V), s * k.m_CaS_tau_liu(V)),
            (k.h_CaS_inf(V), s * k.h_CaS_tau_liu(V)),
            (k.m_A_inf(V), s * k.m_A_tau_liu(V)),
            (k.h_A_inf(V), s * k.h_A_tau_liu(V)),
            (k.m_KCa_inf_V(V), s * k.m_KCa_tau_liu(V)),
            (k.m_Kd_inf(V), s * k.m_Kd_tau_liu(V)),
            (type(self).m_H_inf(V), type(self).m_H_tau(V)),
        )

    def table_kinetics(self) -> TableKinetics:
        """The gates' V-only kinetics; m_KCa's steady state is modulated by the [Ca] factor."""
        return TableKinetics(self._gates_inf_tau_V, self.calcium_gate, lambda y: k.kca_calcium_factor(y[..., 1]))

    def _gates_inf_tau(self, V, Ca):
        gates = list(self._gates_inf_tau_V(V))
        x_inf, tau = gates[self.calcium_gate]
        gates[self.calcium_gate] = (k.kca_calcium_factor(Ca) * x_inf, tau)
        return tuple(gates)

    def _conductances(self, y):
        """``{current: (g, E)}`` with ``g`` the open conductance (mS/cm^2) and ``E`` its reversal (mV)."""
        e_ca = E_Ca(y[..., 1], self.Ca_out, self.T_celsius)
        out = {}
        for name, gname, p, q, ename in _CURRENTS:
            g = getattr(self, gname)
            im, ih = _GATE_INDEX[name]
            if im is not None:
                g = g * y[..., im] ** p
            if ih is not None:
                g = g * y[..., ih] ** q
            out[name] = (g, e_ca if ename == "E_Ca" else getattr(self, ename))
        return out

    def _ca_flux_coefficient(self):
        """uM of [Ca] change per (uA/cm^2 * ms / tau_Ca): ``f_Ca [uM/nA] * 1000 [nA/uA] * area``."""
        return self.f_Ca * 1000.0 * self.area

    def _border_lists(self, y, I_ext):
        """``(A, B)`` lists of the V and Ca rows of :meth:`linear_form`."""
        V = y[..., 0]
        gs = self._conductances(y)
        A_V, B_V = self._membrane_row(gs, I_ext)
        i_Ca = gs["CaT"][0] * (V - gs["CaT"][1]) + gs["CaS"][0] * (V - gs["CaS"][1])
        return [A_V, (self.Ca_0 - self._ca_flux_coefficient() * i_Ca) / self.tau_Ca], [B_V, 1.0 / self.tau_Ca]

    def border_rows(self, y, I_ext):
        """The V and Ca rows of :meth:`linear_form`, without the gate kinetics."""
        A, B = self._border_lists(y, I_ext)
        return stack_states(A), stack_states(B)

    def linear_form(self, y, I_ext):
        V, Ca = y[..., 0], y[..., 1]
        A, B = self._border_lists(y, I_ext)
        for x_inf, tau in self._gates_inf_tau(V, Ca):
            A.append(x_inf / tau)
            B.append(1.0 / tau)
        return stack_states(A), stack_states(B)

    def steady_state(self, V=-50.0, Ca=0.05):
        """State with ``V`` (mV) and ``Ca`` (uM) as given and every gate at its steady state."""
        V = jnp.asarray(V, dtype=float)
        Ca = jnp.asarray(Ca, dtype=float)
        return stack_states([V, Ca] + [x_inf for x_inf, _ in self._gates_inf_tau(V, Ca)])

    def default_y0(self):
        """Gates at steady state for V = -50 mV, Ca = 0.05 uM (spec section 2.6, recommended)."""
        return self.steady_state(V=-50.0, Ca=0.05)


class Prinz2003(_STGNeuron):
    """Prinz, Billimoria & Marder (2003) J Neurophysiol 90:3998 single-compartment STG neuron.

    Kinetics of Liu et al. 1998 with every time constant doubled, I_H of Huguenard & McCormick,
    ``tau_Ca = 200 ms``, ``f_Ca = 14.96 uM/nA`` on a 0.628e-3 cm^2 membrane, ``Ca_0 = 0.05 uM``,
    dynamic ``E_Ca`` with ``RT/2F = 12.2 mV`` (10 degC) and ``Ca_out = 3 mM``.
    Default conductances: the Prinz, Bucher & Marder 2004 AB/PD 2 cell (100, 2.5, 6, 50, 5, 100,
    0.01, 0 mS/cm^2), a published burster (``PRINZ2004_CELLS["AB/PD 2"]``). Default initial
    state: gates at steady state at V = -50 mV, Ca = 0.05 uM.
    """

    tau_scale: ClassVar[float] = 2.0
    m_H_inf: ClassVar[Callable] = staticmethod(k.m_H_inf_prinz)
    m_H_tau: ClassVar[Callable] = staticmethod(k.m_H_tau_prinz)


class Liu1998(_STGNeuron):
    """Liu, Golowasch, Marder & Abbott (1998) J Neurosci 18:2309 STG neuron with fixed conductances.

    Liu's own kinetics (time constants half of Prinz's; its own I_H), ``tau_Ca = 20 ms`` and
    ``Ca`` influx ``0.94 uM per uA/cm^2`` (``f_Ca = 0.94/0.628 uM/nA`` on 0.628e-3 cm^2). Liu's
    conductances were activity-regulated; jaxneuron fixes them. Default set: the bursting cell
    of xolotl's ``BurstingNeuron('liu')`` (Na 183.1, CaT 2.3, CaS 2.7, A 24.6, KCa 98, Kd 61,
    H 1.01, leak 0.099 mS/cm^2), which bursts with these kinetics (see tests).
    """

    g_Na: jnp.ndarray = _g(183.1, "fast Na")
    g_CaT: jnp.ndarray = _g(2.3, "transient Ca")
    g_CaS: jnp.ndarray = _g(2.7, "slow Ca")
    g_A: jnp.ndarray = _g(24.6, "transient K (A-type)")
    g_KCa: jnp.ndarray = _g(98.0, "Ca-dependent K")
    g_Kd: jnp.ndarray = _g(61.0, "delayed-rectifier K")
    g_H: jnp.ndarray = _g(1.01, "hyperpolarisation-activated (H)")
    g_leak: jnp.ndarray = _g(0.099, "leak")
    tau_Ca: jnp.ndarray = parameter(20.0, "ms", "calcium buffering time constant", positive=True)
    f_Ca: jnp.ndarray = parameter(0.94 / 0.628, "uM/nA", "calcium influx per unit Ca current", minimum=0.0)

    tau_scale: ClassVar[float] = 1.0
    m_H_inf: ClassVar[Callable] = staticmethod(k.m_H_inf_liu)
    m_H_tau: ClassVar[Callable] = staticmethod(k.m_H_tau_liu)
