"""Integrate-and-fire cells: LIF, AdEx (Brette & Gerstner 2005) and Izhikevich (2003).

Each is a smooth vector field plus a threshold-and-reset :class:`~jaxneuron.models.interface.Event`
(spec section 5): engines stop a member at its located threshold crossing, apply the reset
(and the adaptation jump), record the crossing as the spike and go on; during a refractory
period the membrane potential is held at its reset value. Spikes are the events: simulate with
``SaveAt(spikes=True)`` (a saved trace shows the reset, not a spike waveform).

Units differ by model, as their sources write them (each class says which):

* :class:`LIF`: the package's per-area units (uF/cm^2, mS/cm^2, mV, ms; stimulus uA/cm^2).
* :class:`AdEx`: Brette & Gerstner's (pF, nS, pA, mV, ms; stimulus pA).
* :class:`Izhikevich`: the model's own dimensionless units (v in mV, t in ms, I and u in mV/ms).
"""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp
import numpy as np

from .._batching import is_concrete
from .base import check_parameters, parameter, stack_states
from .interface import AbstractModel, Event

__all__ = ["AbstractIntegrateFire", "LIF", "AdEx", "Izhikevich", "IZHIKEVICH_PRESETS"]


class AbstractIntegrateFire(AbstractModel):
    """Base of the integrate-and-fire cells: parameter checks (every field in range, and the
    field pairs of :attr:`ordered` strictly ordered) and a one-state border (V)."""

    n_border: ClassVar[int] = 1
    ordered: ClassVar[tuple[tuple[str, str], ...]] = ()
    """``(low, high)`` field pairs that must satisfy ``low < high`` (e.g. reset below threshold)."""

    def __check_init__(self):
        check_parameters(self)
        for low, high in self.ordered:
            a, b = getattr(self, low), getattr(self, high)
            if is_concrete(a, b) and not np.all(np.asarray(a) < np.asarray(b)):
                raise ValueError(f"{type(self).__name__}: {low} must be below {high} (mV); got {low} = "
                                 f"{np.asarray(a).min()!r} and {high} = {np.asarray(b).max()!r} (at some member)")  # fmt: skip

    def border_rows(self, y, I_ext):
        A, B = self.linear_form(y, I_ext)
        return A[..., :1], B[..., :1]


class LIF(AbstractIntegrateFire):
    """Leaky integrate-and-fire (Lapicque; spec 5.1), per unit area.

    ``C dV/dt = -g_L (V - E_L) + I``, i.e. ``tau_m dV/dt = -(V - E_L) + R I`` with
    ``tau_m = C / g_L`` (ms) and ``R I = I / g_L`` (mV for I in uA/cm^2). When V reaches
    ``V_th`` a spike is recorded at the crossing, V is reset to ``V_reset`` and held there for
    ``t_ref``. Defaults: NEST's ``iaf_psc_*`` (tau_m 10 ms, E_L -70, V_th -55, V_reset -70 mV,
    t_ref 2 ms) with C = 1 uF/cm^2. Under a constant current with ``V_inf = E_L + R I > V_th``
    the period is ``t_ref + tau_m ln((V_inf - V_reset) / (V_inf - V_th))``; the rheobase is
    ``g_L (V_th - E_L)`` (1.5 uA/cm^2 with the defaults). State ``(V,)``, default ``V = E_L``.
    """

    C: jnp.ndarray = parameter(1.0, "uF/cm^2", "specific membrane capacitance", positive=True)
    g_L: jnp.ndarray = parameter(0.1, "mS/cm^2", "leak conductance (tau_m = C / g_L)", positive=True)
    E_L: jnp.ndarray = parameter(-70.0, "mV", "leak reversal (resting) potential")
    V_th: jnp.ndarray = parameter(-55.0, "mV", "spike threshold")
    V_reset: jnp.ndarray = parameter(-70.0, "mV", "reset potential")
    t_ref: jnp.ndarray = parameter(2.0, "ms", "absolute refractory period (V held at V_reset)", minimum=0.0)

    state_names: ClassVar[tuple[str, ...]] = ("V",)
    ordered: ClassVar = (("V_reset", "V_th"),)

    @property
    def tau_m(self):
        """Membrane time constant ``C / g_L`` (ms)."""
        return self.C / self.g_L

    def linear_form(self, y, I_ext):
        V = y[..., 0]
        A = (self.g_L * self.E_L + I_ext) / self.C
        B = self.g_L / self.C
        return stack_states([A + 0.0 * V]), stack_states([B + 0.0 * V])

    def event(self):
        return Event(0, self.V_th, lambda y: y.at[0].set(self.V_reset), self.t_ref, (0,))

    def steady_state(self, V=None):
        """State ``(V,)``: ``V`` (mV), default ``E_L``."""
        return stack_states([jnp.asarray(self.E_L if V is None else V, dtype=float)])

    def default_y0(self):
        return self.steady_state()


class AdEx(AbstractIntegrateFire):
    """Adaptive exponential integrate-and-fire (Brette & Gerstner 2005, J Neurophysiol 94:3637; spec 5.2).

    ``C dV/dt = -g_L (V - E_L) + g_L Delta_T exp((V - V_T) / Delta_T) - w + I``,
    ``tau_w dw/dt = a (V - E_L) - w``; when V reaches ``V_peak``: ``V <- V_r``, ``w <- w + b``.

    **Units (Brette & Gerstner's, not the package's per-area ones):** C in pF, g_L and a in nS,
    b, w and the stimulus I in pA, voltages in mV, tau_w and t_ref in ms. Defaults: the paper's
    (C 281 pF, g_L 30 nS, E_L -70.6, V_T -50.4, Delta_T 2 mV, tau_w 144 ms, a 4 nS, b 80.5 pA,
    reset to E_L). ``V_peak`` (the detection level; sources disagree: NEST 0 mV, Brian2's
    examples V_T + 5 Delta_T) defaults to -40.4 mV = V_T + 5 Delta_T: V diverges in finite time
    above V_T, so the spike time moves little with V_peak (w integrates during the upswing, so
    the reset w does slightly). Inside the exponential V is capped at ``V_peak`` (as NEST does),
    so a trial step past the peak cannot overflow. ``t_ref`` (default 0, NEST's) holds V at V_r.
    State ``(V, w)``; default: rest, ``V = E_L, w = 0``.
    """

    C: jnp.ndarray = parameter(281.0, "pF", "membrane capacitance", positive=True)
    g_L: jnp.ndarray = parameter(30.0, "nS", "leak conductance", positive=True)
    E_L: jnp.ndarray = parameter(-70.6, "mV", "leak reversal potential")
    V_T: jnp.ndarray = parameter(-50.4, "mV", "threshold of the exponential term")
    Delta_T: jnp.ndarray = parameter(2.0, "mV", "slope factor of the exponential term", positive=True)
    tau_w: jnp.ndarray = parameter(144.0, "ms", "adaptation time constant", positive=True)
    a: jnp.ndarray = parameter(4.0, "nS", "subthreshold adaptation")
    b: jnp.ndarray = parameter(80.5, "pA", "spike-triggered adaptation jump")
    V_r: jnp.ndarray = parameter(-70.6, "mV", "reset potential")
    V_peak: jnp.ndarray = parameter(-40.4, "mV", "spike detection (cut-off) potential")
    t_ref: jnp.ndarray = parameter(0.0, "ms", "refractory period (V held at V_r)", minimum=0.0)

    state_names: ClassVar[tuple[str, ...]] = ("V", "w")
    stimulus_unit: ClassVar[str] = "pA"
    ordered: ClassVar = (("V_r", "V_peak"), ("V_T", "V_peak"))

    def linear_form(self, y, I_ext):
        V, w = y[..., 0], y[..., 1]
        spike = self.g_L * self.Delta_T * jnp.exp((jnp.minimum(V, self.V_peak) - self.V_T) / self.Delta_T)
        A_V = (self.g_L * self.E_L + spike - w + I_ext) / self.C
        B_V = self.g_L / self.C + 0.0 * V
        A_w = self.a * (V - self.E_L) / self.tau_w
        B_w = 1.0 / self.tau_w + 0.0 * V
        return stack_states([A_V, A_w]), stack_states([B_V, B_w])

    def event(self):
        return Event(0, self.V_peak, lambda y: y.at[0].set(self.V_r).at[1].add(self.b), self.t_ref, (0,))

    def steady_state(self, V=None):
        """State ``(V, w)`` with w at its steady state ``a (V - E_L)`` for ``V`` (mV, default E_L)."""
        V = jnp.asarray(self.E_L if V is None else V, dtype=float)
        return stack_states([V, self.a * (V - self.E_L)])

    def default_y0(self):
        return self.steady_state()

    def bifurcation_current(self):
        """The closed-form current (pA) where rest loses stability (the rheobase of a slow ramp).

        The fixed points satisfy ``I = (g_L + a)(V - E_L) - g_L Delta_T exp((V - V_T)/Delta_T)``.
        With ``tau_m = C / g_L``: if ``a / g_L < tau_m / tau_w`` rest disappears in a saddle-node
        at ``exp((V - V_T)/Delta_T) = 1 + a/g_L``; otherwise it loses stability in an
        Andronov-Hopf bifurcation at ``exp((V - V_T)/Delta_T) = 1 + tau_m/tau_w`` (Touboul & Brette
        2008, Biol Cybern 99:319). The published defaults are in the Hopf case."""
        tau_m = self.C / self.g_L
        e = jnp.where(self.a / self.g_L < tau_m / self.tau_w, 1.0 + self.a / self.g_L, 1.0 + tau_m / self.tau_w)
        V = self.V_T + self.Delta_T * jnp.log(e)
        return (self.g_L + self.a) * (V - self.E_L) - self.g_L * self.Delta_T * e


IZHIKEVICH_PRESETS = {
    "RS": (0.02, 0.2, -65.0, 8.0),
    "IB": (0.02, 0.2, -55.0, 4.0),
    "CH": (0.02, 0.2, -50.0, 2.0),
    "FS": (0.1, 0.2, -65.0, 2.0),
    "LTS": (0.02, 0.25, -65.0, 2.0),
}
"""Izhikevich (2003) Fig. 2 cortical classes: ``name: (a, b, c, d)`` (spec 5.3): regular spiking,
intrinsically bursting, chattering, fast spiking, low-threshold spiking."""


class Izhikevich(AbstractIntegrateFire):
    """Izhikevich's simple model (2003, IEEE Trans Neural Netw 14:1569; spec 5.3).

    ``dv/dt = 0.04 v^2 + 5 v + 140 - u + I``, ``du/dt = a (b v - u)``; when ``v >= v_peak``
    (30 mV): ``v <- c``, ``u <- u + d``. Units are the model's own: v in mV, t in ms, u and the
    stimulus I in mV/ms (the paper's "I = 10" is 10 here). Named sets: :meth:`preset` (RS, IB,
    CH, FS, LTS; :data:`IZHIKEVICH_PRESETS`). State ``(v, u)``; default ``v = -65 mV``, ``u = b v``.
    The paper integrates with forward-Euler half steps of 0.5 ms; here the engines' solvers are
    used (validate any fixed step against an adaptive solve).
    """

    a: jnp.ndarray = parameter(0.02, "1/ms", "recovery rate")
    b: jnp.ndarray = parameter(0.2, "1/ms", "sensitivity of u to v")
    c: jnp.ndarray = parameter(-65.0, "mV", "reset of v")
    d: jnp.ndarray = parameter(8.0, "mV/ms", "jump of u at a spike")
    v_peak: jnp.ndarray = parameter(30.0, "mV", "spike cut-off")

    state_names: ClassVar[tuple[str, ...]] = ("V", "u")
    stimulus_unit: ClassVar[str] = "mV/ms"
    ordered: ClassVar = (("c", "v_peak"),)

    @classmethod
    def preset(cls, name: str, **overrides) -> Izhikevich:
        """The published set ``name`` (RS, IB, CH, FS, LTS; case-insensitive)."""
        key = str(name).upper()
        if key not in IZHIKEVICH_PRESETS:
            raise ValueError(f"unknown Izhikevich set {name!r}; valid sets: {list(IZHIKEVICH_PRESETS)}")
        a, b, c, d = IZHIKEVICH_PRESETS[key]
        return cls(**{"a": a, "b": b, "c": c, "d": d, **overrides})

    def linear_form(self, y, I_ext):
        v, u = y[..., 0], y[..., 1]
        A_v = 0.04 * v * v + 5.0 * v + 140.0 - u + I_ext
        return stack_states([A_v, self.a * self.b * v]), stack_states([0.0 * v, self.a + 0.0 * v])

    def event(self):
        return Event(0, self.v_peak, lambda y: y.at[0].set(self.c).at[1].add(self.d))

    def steady_state(self, V=-65.0):
        """State ``(v, u = b v)`` at ``V`` (mV, default -65)."""
        V = jnp.asarray(V, dtype=float)
        return stack_states([V, self.b * V])

    def default_y0(self):
        return self.steady_state()
