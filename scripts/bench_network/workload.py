"""Pyloric-circuit benchmark workload and metrics, in plain numpy (no JAX: the orchestrating
process never imports JAX; the scipy and pyloric workers must not need it either).

Workload: random members of the Prinz, Bucher & Marder 2004 network grid (spec 3.4): 5 AB/PD x
5 LP x 6 PY model cells (``PRINZ2004_CELLS``, spec 3.3) and seven synapses, the three onto PY
from {0, 1, 3, 10, 30, 100} nS and the other four from {0, 3, 10, 30, 100} nS, 20,250,000
networks in all. A member is a number in [0, 20,250,000) read as mixed-radix digits in the order
of :data:`GRID_AXES`, so the sample depends only on the seed.

State layout (jaxneuron's, 43 states): the border first (V, Ca of AB/PD, LP, PY), then the 11
gates of each cell (mNa, hNa, mCaT, hCaT, mCaS, hCaS, mA, hA, mKCa, mKd, mH), then 4 shared
synaptic activations: glutamate(AB/PD), acetylcholine(AB/PD), glutamate(LP), glutamate(PY).
"""

from __future__ import annotations

import importlib.util
import math
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

# Prinz 2004 model cells, from jaxneuron's JAX-free table module, loaded by path (no JAX import).
_spec = importlib.util.spec_from_file_location("_jaxneuron_published", os.path.join(HERE, "..", "..", "jaxneuron", "models", "published.py"))
_published = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_published)
CELLS = dict(_published.PRINZ2004_CELLS)
AB_PD = [k for k in CELLS if k.startswith("AB/PD")]
LP = [k for k in CELLS if k.startswith("LP")]
PY = [k for k in CELLS if k.startswith("PY")]

SYNAPSES = ("g_AB_LP", "g_PD_LP", "g_AB_PY", "g_PD_PY", "g_LP_PD", "g_LP_PY", "g_PY_LP")
# (pre cell, post cell, E_s mV, k_minus 1/ms, shared state) per synapse (spec 3.1-3.2)
SYN_TABLE = ((0, 1, -70.0, 1 / 40, 0), (0, 1, -80.0, 1 / 100, 1), (0, 2, -70.0, 1 / 40, 0), (0, 2, -80.0, 1 / 100, 1),
             (1, 0, -70.0, 1 / 40, 2), (1, 2, -70.0, 1 / 40, 2), (2, 1, -70.0, 1 / 40, 3))  # fmt: skip
S_PRE = np.array([0, 0, 1, 2])  # presynaptic cell of each shared state
S_KMINUS = np.array([1 / 40, 1 / 100, 1 / 40, 1 / 40])
ONTO_PY = (0.0, 1.0, 3.0, 10.0, 30.0, 100.0)
OTHER = (0.0, 3.0, 10.0, 30.0, 100.0)
GRID_AXES = (("ab_pd", AB_PD), ("lp", LP), ("py", PY), ("g_AB_LP", OTHER), ("g_PD_LP", OTHER), ("g_AB_PY", ONTO_PY),
             ("g_PD_PY", ONTO_PY), ("g_LP_PD", OTHER), ("g_LP_PY", ONTO_PY), ("g_PY_LP", OTHER))  # fmt: skip
GRID_SIZE = math.prod(len(v) for _, v in GRID_AXES)
assert GRID_SIZE == 20_250_000
AREA = 0.628e-3  # cm^2


def grid_member(i):
    """``{axis: value}`` of grid member ``i`` (cell names, synapse strengths in nS)."""
    out = {}
    for name, values in reversed(GRID_AXES):
        i, d = divmod(int(i), len(values))
        out[name] = values[d]
    return {k: out[k] for k, _ in GRID_AXES}


def sample(n, seed=0):
    """``n`` distinct random grid members: ``(index (n,), cells (n, 3, 8) mS/cm^2, syn (n, 7) nS, names)``."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(GRID_SIZE, size=n, replace=False)
    members = [grid_member(i) for i in idx]
    cells = np.array([[CELLS[m[c]] for c in ("ab_pd", "lp", "py")] for m in members], dtype=float)
    syn = np.array([[m[s] for s in SYNAPSES] for m in members], dtype=float)
    names = [f"{m['ab_pd']}/{m['lp']}/{m['py']}" for m in members]
    return idx, cells, syn, names


# --- the network in numpy, written from the spec (sections 2 and 3), jaxneuron's state layout ----

NERNST = 1e3 * 8.314462618 * 283.15 / (2 * 96485.33212)  # RT/2F at 10 degC, mV
CA_FLUX = 14.96 * 1000.0 * AREA  # uM per (uA/cm^2)


def _b(V, a, k):
    return 1.0 / (1.0 + np.exp((V + a) / k))


def _inf_tau(V, Ca):
    """(11, 3) steady states and time constants (ms) of the gates of the three cells."""
    inf = np.array([
        _b(V, 25.5, -5.29), _b(V, 48.9, 5.18), _b(V, 27.1, -7.2), _b(V, 32.1, 5.5), _b(V, 33.0, -8.1),
        _b(V, 60.0, 6.2), _b(V, 27.2, -8.7), _b(V, 56.9, 4.9), Ca / (Ca + 3.0) * _b(V, 28.3, -12.6),
        _b(V, 12.3, -11.8), _b(V, 75.0, 5.5),
    ])  # fmt: skip
    tau = np.array([
        2.64 - 2.52 * _b(V, 120.0, -25.0),
        1.34 * _b(V, 62.9, -10.0) * (1.5 + _b(V, 34.9, 3.6)),
        43.4 - 42.6 * _b(V, 68.1, -20.5),
        210.0 - 179.6 * _b(V, 55.0, -16.9),
        2.8 + 14.0 / (np.exp((V + 27.0) / 10.0) + np.exp((V + 70.0) / -13.0)),
        120.0 + 300.0 / (np.exp((V + 55.0) / 9.0) + np.exp((V + 65.0) / -16.0)),
        23.2 - 20.8 * _b(V, 32.9, -15.2),
        77.2 - 58.4 * _b(V, 38.9, -26.5),
        180.6 - 150.2 * _b(V, 46.0, -22.7),
        14.4 - 12.8 * _b(V, 28.3, -19.2),
        2.0 / (np.exp((V + 169.7) / -11.6) + np.exp((V - 26.7) / 14.3)),
    ])  # fmt: skip
    return inf, tau


def make_rhs(cells, syn):
    """dy/dt of one network (``cells`` (3, 8) mS/cm^2, ``syn`` (7,) nS) for scipy's ``solve_ivp``."""
    g = np.asarray(cells, float).T  # (8, 3)
    g_syn = np.asarray(syn, float) * 1e-6 / AREA  # mS/cm^2 on the postsynaptic cell
    post = np.array([p for _, p, _, _, _ in SYN_TABLE])
    E_s = np.array([e for _, _, e, _, _ in SYN_TABLE])
    shared = np.array([k for *_, k in SYN_TABLE])

    def rhs(t, y):
        V, Ca = y[0:6:2], y[1:6:2]
        x = y[6:39].reshape(3, 11).T  # (11, 3)
        s = y[39:43]
        mNa, hNa, mCaT, hCaT, mCaS, hCaS, mA, hA, mKCa, mKd, mH = x
        eca = NERNST * np.log(3000.0 / Ca)
        iCa = (g[1] * mCaT**3 * hCaT + g[2] * mCaS**3 * hCaS) * (V - eca)
        i_ion = (g[0] * mNa**3 * hNa * (V - 50.0) + iCa + (g[3] * mA**3 * hA + g[4] * mKCa**4 + g[5] * mKd**4) * (V + 80.0)
                 + g[6] * mH * (V + 20.0) + g[7] * (V + 50.0))  # fmt: skip
        i_syn = np.zeros(3)
        np.add.at(i_syn, post, g_syn * s[shared] * (V[post] - E_s))
        inf, tau = _inf_tau(V, Ca)
        Vpre = V[S_PRE]
        z = np.exp((-35.0 - Vpre) / 5.0)  # s' = k_minus (exp((V_pre - V_th)/Delta)(1 - s) - s), spec 3.2
        ds = S_KMINUS * ((1.0 - s) / z - s)
        out = np.empty(43)
        out[0:6:2] = -(i_ion + i_syn)  # C = 1 uF/cm^2
        out[1:6:2] = (-CA_FLUX * iCa - Ca + 0.05) / 200.0
        out[6:39] = ((inf - x) / tau).T.reshape(-1)
        out[39:43] = ds
        return out

    return rhs


# --- mackelab/pyloric (Cython, exponential Euler, dt 0.025 ms) ------------------------------------


def pyloric_inputs(cells, syn, y0):
    """Arguments of pyloric's ``simulator.sim_time`` for one network: membrane conductances (mS:
    mS/cm^2 x 0.628e-3 cm^2), connections ``[post, pre, -g (mS), E_s, 1/k_minus (ms), V_th,
    Delta]`` (pyloric's interface passes minus the conductance), and ``init`` from jaxneuron's
    43-state ``y0`` (per cell V, Ca, mNa, mCaT, mCaS, mA, mKCa, mKd, mH, unused, hNa, hCaT, hCaS,
    hA; then one s per synapse)."""
    modelx = np.asarray(cells, float) * AREA
    conns = np.array([[post, pre, -g * 1e-6, E_s, 1.0 / km, -35.0, 5.0]
                      for (pre, post, E_s, km, _), g in zip(SYN_TABLE, syn)], dtype=float)  # fmt: skip
    y0 = np.asarray(y0, float)
    init = []
    for c in range(3):
        x = y0[6 + 11 * c : 17 + 11 * c]  # mNa, hNa, mCaT, hCaT, mCaS, hCaS, mA, hA, mKCa, mKd, mH
        init.append([y0[2 * c], y0[2 * c + 1], x[0], x[2], x[4], x[6], x[8], x[9], x[10], 0.0, x[1], x[3], x[5], x[7]])
    init.append([float(y0[39 + k]) for *_, k in SYN_TABLE])
    return modelx, conns, init


def pyloric_final_state(data):
    """jaxneuron's 43-state layout from the last step of pyloric's ``sim_time`` output."""
    lg = data["logs"]
    y = np.empty(43)
    y[0:6:2] = data["Vs"][:, -1]
    y[1:6:2] = data["Cas"][:, -1]
    for c in range(3):
        y[6 + 11 * c : 17 + 11 * c] = [lg[k][c, -1] for k in ("mNa", "hNa", "mCaT", "hCaT", "mCaS", "hCaS", "mA", "hA", "mKCa", "mKd", "mH")]
    s = lg["s"][:, -1]
    y[39:43] = [s[0], s[1], s[4], s[6]]
    return y


# --- metrics ---------------------------------------------------------------------------------------


def crossings(t, V, threshold=-10.0):
    """Upward crossings of ``threshold`` (mV), linearly interpolated between samples."""
    t, V = np.asarray(t, float), np.asarray(V, float)
    i = np.nonzero((V[:-1] < threshold) & (V[1:] >= threshold))[0]
    return t[i] + (threshold - V[i]) * (t[i + 1] - t[i]) / (V[i + 1] - V[i])


def count_in(trains, t0, t1):
    """Spikes per cell with ``t0 <= t <= t1`` for a list of per-network ``[3 lists]`` spike trains."""
    return np.array([[sum(1 for x in cell if t0 <= x <= t1) for cell in net] for net in trains], dtype=int)


def _med_max(x):
    x = np.asarray(x, float)
    x = x[~np.isnan(x)]
    return (float(np.median(x)), float(np.max(x))) if x.size else (math.nan, math.nan)


def compare(got, ref, t_window):
    """Accuracy of one row (``got``) against the reference (``ref``), both dicts of per-network
    lists: ``y`` (final states), ``spikes`` ([3 spike-time lists] per network), and
    ``period``, ``triphasic``, ``pyloric_like`` (rhythm over ``t_window``)."""
    n = len(got["y"])
    y, yr = np.asarray(got["y"], float), np.asarray(ref["y"][:n], float)
    dV = np.max(np.abs(y[:, 0:6:2] - yr[:, 0:6:2]), axis=1)
    c0, c1 = t_window
    counts, counts_ref = count_in(got["spikes"], c0, c1), count_in(ref["spikes"][:n], c0, c1)
    out = {"n": n, "dV_median": _med_max(dV)[0], "dV_max": _med_max(dV)[1],
           "counts_exact": int(np.sum(np.all(counts == counts_ref, axis=1))),
           "count_err_median": float(np.median(np.sum(np.abs(counts - counts_ref), axis=1)))}  # fmt: skip
    if "period" in got:
        p, pr = np.asarray(got["period"], float), np.asarray(ref["period"][:n], float)
        has = ~np.isnan(pr)
        rel = np.where(np.isnan(p[has]), np.inf, np.abs(p[has] - pr[has]) / pr[has])
        out.update(n_with_period=int(has.sum()), period_err_median=float(np.median(rel)) if rel.size else math.nan,
                   period_err_max=float(np.max(rel)) if rel.size else math.nan,
                   period_within_1pct=int(np.sum(rel <= 0.01)))  # fmt: skip
        for lab in ("triphasic", "pyloric_like"):
            a, b = np.asarray(got[lab], bool), np.asarray(ref[lab][:n], bool)
            out[f"{lab}_mislabelled"] = int(np.sum(a != b))
            out[f"{lab}_ref"] = int(np.sum(b))
    return out
