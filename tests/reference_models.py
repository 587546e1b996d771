"""Independent plain-numpy right-hand sides of the models, written from ../shared/spec/models.md.

They share no code with jaxneuron, so a scipy ``solve_ivp`` on them is an independent reference.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp


def _bz(V, a, k):
    return 1.0 / (1.0 + np.exp((V + a) / k))


# --- Hodgkin-Huxley (spec section 1) ----------------------------------------------------------


def hh_rates(V):
    x_m = (V + 40.0) / 10.0
    x_n = (V + 55.0) / 10.0
    am = 1.0 if abs(x_m) < 1e-9 else 0.1 * (V + 40.0) / (1.0 - np.exp(-x_m))
    an = 0.1 if abs(x_n) < 1e-9 else 0.01 * (V + 55.0) / (1.0 - np.exp(-x_n))
    bm = 4.0 * np.exp(-(V + 65.0) / 18.0)
    ah = 0.07 * np.exp(-(V + 65.0) / 20.0)
    bh = 1.0 / (1.0 + np.exp(-(V + 35.0) / 10.0))
    bn = 0.125 * np.exp(-(V + 65.0) / 80.0)
    return am, bm, ah, bh, an, bn


def hh_rhs(t, y, I_fn, g=(120.0, 36.0, 0.3)):
    V, m, h, n = y
    am, bm, ah, bh, an, bn = hh_rates(V)
    gNa, gK, gL = g
    dV = -gNa * m**3 * h * (V - 50.0) - gK * n**4 * (V + 77.0) - gL * (V + 54.387) + I_fn(t)
    return [dV, am * (1 - m) - bm * m, ah * (1 - h) - bh * h, an * (1 - n) - bn * n]


def hh_steady(V):
    am, bm, ah, bh, an, bn = hh_rates(V)
    return [V, am / (am + bm), ah / (ah + bh), an / (an + bn)]


# --- Prinz 2003 (spec section 2) ---------------------------------------------------------------

NERNST_MV = 1e3 * 8.314462618 * 283.15 / (2 * 96485.33212)
CA_FLUX = 14.96 * 1000.0 * 0.628e-3  # uM per (uA/cm^2)


def prinz_inf_tau(V, Ca):
    """(x_inf, tau) of the 11 gates in jaxneuron's state order (Prinz 2003 table, spec 2.3)."""
    return [
        (_bz(V, 25.5, -5.29), 2.64 - 2.52 * _bz(V, 120.0, -25.0)),
        (_bz(V, 48.9, 5.18), 1.34 * _bz(V, 62.9, -10.0) * (1.5 + _bz(V, 34.9, 3.6))),
        (_bz(V, 27.1, -7.2), 43.4 - 42.6 * _bz(V, 68.1, -20.5)),
        (_bz(V, 32.1, 5.5), 210.0 - 179.6 * _bz(V, 55.0, -16.9)),
        (_bz(V, 33.0, -8.1), 2.8 + 14.0 / (np.exp((V + 27.0) / 10.0) + np.exp((V + 70.0) / -13.0))),
        (_bz(V, 60.0, 6.2), 120.0 + 300.0 / (np.exp((V + 55.0) / 9.0) + np.exp((V + 65.0) / -16.0))),
        (_bz(V, 27.2, -8.7), 23.2 - 20.8 * _bz(V, 32.9, -15.2)),
        (_bz(V, 56.9, 4.9), 77.2 - 58.4 * _bz(V, 38.9, -26.5)),
        (Ca / (Ca + 3.0) * _bz(V, 28.3, -12.6), 180.6 - 150.2 * _bz(V, 46.0, -22.7)),
        (_bz(V, 12.3, -11.8), 14.4 - 12.8 * _bz(V, 28.3, -19.2)),
        (_bz(V, 75.0, 5.5), 2.0 / (np.exp((V + 169.7) / -11.6) + np.exp((V - 26.7) / 14.3))),
    ]


def _stg_rhs(y, g, inf_tau, ca_flux, tau_ca, I_ext):
    """The STG cell of spec sections 2 and 4 per unit capacitance, dynamic E_Ca; ``inf_tau`` the
    gate kinetics, ``ca_flux`` uM per (uA/cm^2), ``tau_ca`` ms."""
    V, Ca = y[0], y[1]
    mNa, hNa, mCaT, hCaT, mCaS, hCaS, mA, hA, mKCa, mKd, mH = y[2:]
    gNa, gCaT, gCaS, gA, gKCa, gKd, gH, gL = g
    ECa = NERNST_MV * np.log(3000.0 / Ca)
    iCa = (gCaT * mCaT**3 * hCaT + gCaS * mCaS**3 * hCaS) * (V - ECa)
    i = (
        gNa * mNa**3 * hNa * (V - 50.0)
        + iCa
        + (gA * mA**3 * hA + gKCa * mKCa**4 + gKd * mKd**4) * (V + 80.0)
        + gH * mH * (V + 20.0)
        + gL * (V + 50.0)
    )
    dy = [-i + I_ext, (-ca_flux * iCa - Ca + 0.05) / tau_ca]
    for x, (xi, tau) in zip(y[2:], inf_tau(V, Ca)):
        dy.append((xi - x) / tau)
    return dy


def prinz_rhs(t, y, g, I_ext=0.0):
    return _stg_rhs(y, g, prinz_inf_tau, CA_FLUX, 200.0, I_ext)


def prinz_steady(g, V=-50.0, Ca=0.05):
    return np.array([V, Ca] + [xi for xi, _ in prinz_inf_tau(V, Ca)])



# --- Liu 1998 (spec section 4) -----------------------------------------------------------------

LIU_CA_FLUX = 0.94  # uM per (uA/cm^2): (20 ms) d[Ca]/dt = -0.94 i_Ca - [Ca] + 0.05
LIU_XOLOTL_BURSTER = (183.1, 2.3, 2.7, 24.6, 98.0, 61.0, 1.01, 0.099)  # xolotl BurstingNeuron('liu'), mS/cm^2


def liu_inf_tau(V, Ca):
    """(x_inf, tau) of the 11 gates in jaxneuron's state order (Liu 1998 table, spec section 4;
    steady states as Prinz's except H)."""
    return [
        (_bz(V, 25.5, -5.29), 1.32 - 1.26 * _bz(V, 120.0, -25.0)),
        (_bz(V, 48.9, 5.18), 0.67 * _bz(V, 62.9, -10.0) * (1.5 + _bz(V, 34.9, 3.6))),
        (_bz(V, 27.1, -7.2), 21.7 - 21.3 * _bz(V, 68.1, -20.5)),
        (_bz(V, 32.1, 5.5), 105.0 - 89.8 * _bz(V, 55.0, -16.9)),
        (_bz(V, 33.0, -8.1), 1.4 + 7.0 / (np.exp((V + 27.0) / 10.0) + np.exp((V + 70.0) / -13.0))),
        (_bz(V, 60.0, 6.2), 60.0 + 150.0 / (np.exp((V + 55.0) / 9.0) + np.exp((V + 65.0) / -16.0))),
        (_bz(V, 27.2, -8.7), 11.6 - 10.4 * _bz(V, 32.9, -15.2)),
        (_bz(V, 56.9, 4.9), 38.6 - 29.2 * _bz(V, 38.9, -26.5)),
        (Ca / (Ca + 3.0) * _bz(V, 28.3, -12.6), 90.3 - 75.1 * _bz(V, 46.0, -22.7)),
        (_bz(V, 12.3, -11.8), 7.2 - 6.4 * _bz(V, 28.3, -19.2)),
        (_bz(V, 70.0, 6.0), 272.0 + 1499.0 * _bz(V, 42.2, -8.73)),
    ]


def liu_rhs(t, y, g, I_ext=0.0):
    """Liu 1998 with fixed conductances (per unit capacitance), tau_Ca = 20 ms, dynamic E_Ca."""
    return _stg_rhs(y, g, liu_inf_tau, LIU_CA_FLUX, 20.0, I_ext)


def liu_steady(V=-50.0, Ca=0.05):
    return np.array([V, Ca] + [xi for xi, _ in liu_inf_tau(V, Ca)])


def solve_reference(rhs, y0, t_end, t_eval, args=(), rtol=1e-10, atol=1e-10, method="LSODA"):
    """Tight scipy solve; returns (t, Y) with Y of shape (n_states, n_times)."""
    sol = solve_ivp(rhs, (0.0, t_end), y0, method=method, t_eval=t_eval, args=args, rtol=rtol, atol=atol)
    assert sol.success, sol.message
    return sol.t, sol.y


def upward_crossings(t, V, threshold=-10.0):
    """Linearly interpolated upward crossing times of ``threshold``."""
    t = np.asarray(t)
    V = np.asarray(V)
    i = np.nonzero((V[:-1] < threshold) & (V[1:] >= threshold))[0]
    return t[i] + (threshold - V[i]) * (t[i + 1] - t[i]) / (V[i + 1] - V[i])


def burst_stats(spikes, gap_ms):
    """(median burst period, spikes per burst of complete bursts) splitting at ISIs > gap_ms."""
    spikes = np.asarray(spikes)
    breaks = np.nonzero(np.diff(spikes) > gap_ms)[0]
    starts = spikes[np.r_[0, breaks + 1]]
    counts = np.diff(np.r_[0, breaks + 1, spikes.size])
    return np.diff(starts[1:]), counts[1:-1]  # drop the possibly truncated first/last bursts


def reference_spike_times(rhs, y0, t_end, args=(), threshold=-10.0, rtol=1e-10, atol=1e-10, method="LSODA"):
    """Upward crossings of ``threshold`` by V (state 0), located by scipy's event root finding on
    a tight solve (accurate to the solve's tolerance, not to a save grid)."""

    def crossing(t, y, *a):
        return y[0] - threshold

    crossing.direction = 1.0
    sol = solve_ivp(rhs, (0.0, t_end), y0, method=method, args=args, rtol=rtol, atol=atol, events=crossing)
    assert sol.success, sol.message
    return sol.t_events[0]


# --- Prinz 2004 pyloric network (spec section 3) ------------------------------------------------

AREA_CM2 = 0.628e-3
# (pre, post, E_s mV, k_minus 1/ms) per synapse, in Prinz 2004's order AB-LP, PD-LP, AB-PY, PD-PY,
# LP-PD, LP-PY, PY-LP; cells 0 = AB/PD, 1 = LP, 2 = PY.
PYLORIC_SYNAPSE_TABLE = [
    (0, 1, -70.0, 1 / 40), (0, 1, -80.0, 1 / 100), (0, 2, -70.0, 1 / 40), (0, 2, -80.0, 1 / 100),
    (1, 0, -70.0, 1 / 40), (1, 2, -70.0, 1 / 40), (2, 1, -70.0, 1 / 40),
]  # fmt: skip


def pyloric_rhs(t, y, cells_g, syn_nS):
    """The three-cell network of spec 3.1-3.2 in the spec's own tau form, one s per synapse
    (7 states, no sharing): ``y`` = 3 x 13 cell states (each V, Ca, gates), then s_1..s_7."""
    out = []
    V = [y[13 * c] for c in range(3)]
    I_syn = [0.0, 0.0, 0.0]
    for k, (pre, post, E_s, k_minus) in enumerate(PYLORIC_SYNAPSE_TABLE):
        g_area = syn_nS[k] * 1e-6 / AREA_CM2  # mS/cm^2
        I_syn[post] += g_area * y[39 + k] * (V[post] - E_s)
    for c in range(3):
        dy = prinz_rhs(t, y[13 * c : 13 * c + 13], cells_g[c])
        dy[0] -= I_syn[c]  # C = 1 uF/cm^2
        out.extend(dy)
    for k, (pre, post, E_s, k_minus) in enumerate(PYLORIC_SYNAPSE_TABLE):
        z = np.exp((-35.0 - V[pre]) / 5.0)
        s_inf = 1.0 / (1.0 + z)
        tau = (z / (1.0 + z)) / k_minus  # (1 - s_inf) / k_minus, without cancellation
        out.append((s_inf - y[39 + k]) / tau)
    return out
