"""Benchmark workload and metrics, in plain numpy (no JAX: the orchestrating process must never
import JAX, because it spawns one fresh process per engine).

Workload: Prinz 2003 neurons (per-area form, jaxneuron spec section 2) whose eight maximal
conductances are a bursting base set (Prinz 2004 AB/PD 2, jaxneuron's default) each scaled by an
independent U[0.5, 1.5] factor, started from the documented default state (gates at steady state
at V = -50 mV, Ca = 0.05 uM). Accuracy is judged on spikes (upward crossings of -10 mV) and on
the burst period computed from them, against a tight reference.
"""

from __future__ import annotations

import importlib.util
import math
import os

import numpy as np

STG_CONDUCTANCES = ("g_Na", "g_CaT", "g_CaS", "g_A", "g_KCa", "g_Kd", "g_H", "g_leak")
BASE_SET = (100.0, 2.5, 6.0, 50.0, 5.0, 100.0, 0.01, 0.0)  # Prinz 2004 AB/PD 2 (mS/cm^2)
SPIKE_THRESHOLD_MV = -10.0

# Published cells (spec sections 2.9 and 3.3), loaded from jaxneuron's JAX-free table module by
# path, so this orchestrator-side module never imports JAX. AB/PD 4 is the same set as fig9e.
_spec = importlib.util.spec_from_file_location(
    "_jaxneuron_published", os.path.join(os.path.dirname(__file__), "..", "..", "jaxneuron", "models", "published.py")
)
_published = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_published)
PUBLISHED = {**_published.PRINZ2003_SETS, **{k: v for k, v in _published.PRINZ2004_CELLS.items() if k != "AB/PD 4"}}
GRID_STEP = (100.0, 2.5, 2.0, 10.0, 5.0, 25.0, 0.01, 0.01)  # Prinz 2003 database levels 0..5


def scaled_sets(n, seed=0):
    """``n`` conductance sets: BASE_SET with each conductance scaled by U[0.5, 1.5]."""
    rng = np.random.default_rng(seed)
    return np.asarray(BASE_SET) * rng.uniform(0.5, 1.5, size=(n, 8))


def grid_sets(n, seed=0):
    """``n`` random members of the 6^8 Prinz 2003 database grid (very different difficulties)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 6, size=(n, 8)) * np.asarray(GRID_STEP)


def published_sets():
    return list(PUBLISHED), np.array(list(PUBLISHED.values()))


# --- the model in numpy (independent of jaxneuron; used by the scipy engine) -----------------

TAU_SCALE = 2.0
E_NA, E_K, E_H, E_LEAK, C_M = 50.0, -80.0, -20.0, -50.0, 1.0
TAU_CA, CA_0, CA_OUT, F_CA, AREA = 200.0, 0.05, 3000.0, 14.96, 0.628e-3
NERNST = 1e3 * 8.314462618 * 283.15 / (2 * 96485.33212)  # RT/2F at 10 degC, mV


def _b(V, a, k):
    return 1.0 / (1.0 + np.exp((V + a) / k))


def gates_inf_tau(V, Ca):
    s = TAU_SCALE
    inf = (
        _b(V, 25.5, -5.29), _b(V, 48.9, 5.18), _b(V, 27.1, -7.2), _b(V, 32.1, 5.5), _b(V, 33.0, -8.1),
        _b(V, 60.0, 6.2), _b(V, 27.2, -8.7), _b(V, 56.9, 4.9), Ca / (Ca + 3.0) * _b(V, 28.3, -12.6),
        _b(V, 12.3, -11.8), _b(V, 75.0, 5.5),
    )  # fmt: skip
    tau = (
        s * (1.32 - 1.26 * _b(V, 120.0, -25.0)),
        s * 0.67 * _b(V, 62.9, -10.0) * (1.5 + _b(V, 34.9, 3.6)),
        s * (21.7 - 21.3 * _b(V, 68.1, -20.5)),
        s * (105.0 - 89.8 * _b(V, 55.0, -16.9)),
        s * (1.4 + 7.0 / (np.exp((V + 27.0) / 10.0) + np.exp((V + 70.0) / -13.0))),
        s * (60.0 + 150.0 / (np.exp((V + 55.0) / 9.0) + np.exp((V + 65.0) / -16.0))),
        s * (11.6 - 10.4 * _b(V, 32.9, -15.2)),
        s * (38.6 - 29.2 * _b(V, 38.9, -26.5)),
        s * (90.3 - 75.1 * _b(V, 46.0, -22.7)),
        s * (7.2 - 6.4 * _b(V, 28.3, -19.2)),
        2.0 / (np.exp((V + 169.7) / -11.6) + np.exp((V - 26.7) / 14.3)),
    )
    return inf, tau


def rhs(y, g):
    """dy/dt of one Prinz 2003 neuron; ``y`` (13,) as jaxneuron's state order, ``g`` (8,)."""
    V, Ca = y[0], y[1]
    mNa, hNa, mCaT, hCaT, mCaS, hCaS, mA, hA, mKCa, mKd, mH = y[2:]
    eca = NERNST * math.log(CA_OUT / max(Ca, 1e-9))
    iNa = g[0] * mNa**3 * hNa * (V - E_NA)
    iCa = g[1] * mCaT**3 * hCaT * (V - eca) + g[2] * mCaS**3 * hCaS * (V - eca)
    iK = (g[3] * mA**3 * hA + g[4] * mKCa**4 + g[5] * mKd**4) * (V - E_K)
    iH = g[6] * mH * (V - E_H)
    iL = g[7] * (V - E_LEAK)
    inf, tau = gates_inf_tau(V, Ca)
    out = np.empty(13)
    out[0] = -(iNa + iCa + iK + iH + iL) / C_M
    out[1] = (-F_CA * 1000.0 * AREA * iCa - Ca + CA_0) / TAU_CA
    out[2:] = (np.asarray(inf) - y[2:]) / np.asarray(tau)
    return out


def default_y0():
    inf, _ = gates_inf_tau(np.float64(-50.0), np.float64(0.05))
    return np.array([-50.0, 0.05, *inf])


# --- metrics -----------------------------------------------------------------------------------


def spike_times(t, V, threshold=SPIKE_THRESHOLD_MV):
    """Upward crossings of ``threshold`` (mV), linearly interpolated between samples."""
    t, V = np.asarray(t, float), np.asarray(V, float)
    i = np.nonzero((V[:-1] < threshold) & (V[1:] >= threshold))[0]
    frac = (threshold - V[i]) / (V[i + 1] - V[i])
    return t[i] + frac * (t[i + 1] - t[i])


def period(ts):
    """Burst period (mean interval between burst onsets) or, for tonic spiking, the mean ISI (ms).

    A spike is a burst onset when the interval before it exceeds half the largest interval and
    the largest interval exceeds 3x the median one (else the train counts as tonic).
    ``nan`` when fewer than 3 spikes or fewer than 2 burst onsets.
    """
    ts = np.asarray(ts, float)
    if ts.size < 3:
        return math.nan
    isi = np.diff(ts)
    if isi.max() > 3.0 * np.median(isi):
        onsets = np.concatenate([ts[:1], ts[1:][isi > 0.5 * isi.max()]])
        return float(np.mean(np.diff(onsets))) if onsets.size >= 2 else math.nan
    return float(np.mean(isi))


def compare(trains, ref_trains):
    """Accuracy of spike trains against reference trains (lists of arrays, same members)."""
    n = len(ref_trains)
    count_ok = [len(a) == len(b) for a, b in zip(trains, ref_trains)]
    errs = []
    for a, b in zip(trains, ref_trains):
        pb = period(b)
        if math.isnan(pb):
            continue
        pa = period(a)
        errs.append(abs(pa - pb) / pb if not math.isnan(pa) else math.inf)
    errs = np.array(errs)
    finite = errs[np.isfinite(errs)]
    return {
        "n": n,
        "spike_counts_exact": int(np.sum(count_ok)),
        "n_with_period": int(errs.size),
        "period_err_median": float(np.median(errs)) if errs.size else math.nan,
        "period_err_max": float(np.max(errs)) if errs.size else math.nan,
        "period_err_mean_finite": float(np.mean(finite)) if finite.size else math.nan,
        "period_within_0.1pct": int(np.sum(errs <= 1e-3)),
    }
