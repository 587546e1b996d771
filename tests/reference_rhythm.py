"""Independent plain-python/numpy reference of jaxneuron's pyloric rhythm analysis (spec section 3.6).

Written from the rules of spec 3.6 and the choices stated in the docstrings of
``jaxneuron.analysis.rhythm`` (strict ``> min_burst_duration``, ``min_periods``, peaks with a
strict rise and a non-strict fall at ``t[i]``, truncated buffers), with Python lists and loops
instead of fixed-size masked arrays; it shares no code with the package. One circuit at a time.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import savgol_filter

DEFAULTS = dict(burst_isi=150.0, min_burst_duration=40.0, triphasic_fraction=0.9, pyloric_fraction=0.7, min_periods=2)
NAN = float("nan")


def smooth(t, v, window=0.5):
    """Cubic Savitzky-Golay filter over floor(window / dt) samples (+1 if even); none below 5 samples."""
    t = np.asarray(t, dtype=float)
    dt = (t[-1] - t[0]) / (t.size - 1)
    w = int(math.floor(window / dt + 1e-6))
    if w % 2 == 0:
        w += 1
    v = np.asarray(v, dtype=float)
    if w < 5:
        return v.copy()
    return savgol_filter(v, w, 3)  # default mode="interp"


def peak_times(t, v, threshold=-10.0, t_start=-math.inf, window=0.5):
    """Times t[i] of the local maxima of the smoothed v: vs[i] > threshold, vs[i] > vs[i-1], vs[i] >= vs[i+1]."""
    vs = smooth(t, v, window)
    out = []
    for i in np.flatnonzero(vs > threshold):
        if 1 <= i <= vs.size - 2 and vs[i] > vs[i - 1] and vs[i] >= vs[i + 1] and t[i] >= t_start:
            out.append(float(t[i]))
    return out


def bursts(spikes, burst_isi, min_burst_duration):
    """[(first, last)] of the runs of spikes separated by ISIs >= burst_isi, kept if last - first > min."""
    groups = []
    for s in spikes:
        if groups and s - groups[-1][-1] < burst_isi:
            groups[-1].append(s)
        else:
            groups.append([s])
    return [(g[0], g[-1]) for g in groups if g[-1] - g[0] > min_burst_duration]


def _mean(xs):
    return sum(xs) / len(xs) if xs else NAN


def rhythm(cells, t_start, t_end, max_spikes=None, **options):
    """Rhythm features of one circuit from three sorted spike-time lists (AB/PD, LP, PY).

    ``max_spikes``: size of the buffer holding the first spikes of each list (None: unlimited);
    a cell with more spikes truncates the analysis window at its last stored spike.
    Returns a dict with the field names of ``jaxneuron.analysis.Rhythm`` (numpy values).
    """
    o = dict(DEFAULTS, **options)
    cells = [list(map(float, c)) for c in cells]
    stop = t_end
    overflow = False
    if max_spikes is not None:
        for i, c in enumerate(cells):
            if len(c) > max_spikes:
                overflow = True
                stop = min(stop, c[max_spikes - 1])
            cells[i] = c[:max_spikes]
    used = [[s for s in c if t_start <= s <= stop] for c in cells]
    bs = [bursts(u, o["burst_isi"], o["min_burst_duration"]) for u in used]
    durations = [_mean([e - s for s, e in b]) for b in bs]
    ref = bs[0]
    T = _mean([ref[i + 1][0] - ref[i][0] for i in range(len(ref) - 1)]) if len(ref) >= 2 else NAN
    duty = [d / T for d in durations]

    n_periods = max(len(ref) - 1, 0)
    period_data = []  # (start, end) of AB/PD, LP, PY in each triphasic period
    for i in range(n_periods):
        a, b = ref[i][0], ref[i + 1][0]
        inside = [[(s, e) for s, e in bs[c] if a <= s < b] for c in range(3)]
        if all(len(x) == 1 for x in inside):
            period_data.append([x[0] for x in inside])
    n_tri = len(period_data)
    triphasic = n_periods >= o["min_periods"] and n_tri / n_periods >= o["triphasic_fraction"]
    if triphasic:
        (s0, e0), (s1, e1), (s2, e2) = _unzip(period_data)
        sts = [_mean([y - x for x, y in zip(s0, s1)]), _mean([y - x for x, y in zip(s1, s2)])]
        ets = [_mean([y - x for x, y in zip(e0, s1)]), _mean([y - x for x, y in zip(e1, s2)])]
        phases = [_mean([y - x for x, y in zip(s0, s1)]) / T, _mean([y - x for x, y in zip(s0, s2)]) / T]
        gaps = [x / T for x in ets]
        good = sum(1 for p in period_data if p[1][0] <= p[2][0] and p[1][1] <= p[2][1] and p[0][1] <= p[1][0])
        pyloric = good / n_tri >= o["pyloric_fraction"]
    else:
        sts = ets = phases = gaps = [NAN, NAN]
        pyloric = False
    return dict(
        cycle_period=np.float64(T), burst_durations=np.array(durations), duty_cycles=np.array(duty),
        n_spikes=np.array([len(u) for u in used]), n_bursts=np.array([len(b) for b in bs]),
        start_phases=np.array(phases), starts_to_starts=np.array(sts), ends_to_starts=np.array(ets),
        phase_gaps=np.array(gaps), triphasic=np.bool_(triphasic), pyloric_like=np.bool_(pyloric),
        n_periods=np.int64(n_periods), n_triphasic=np.int64(n_tri), overflow=np.bool_(overflow),
    )  # fmt: skip


def _unzip(period_data):
    """[(s0, e0), (s1, e1), (s2, e2)] lists over the periods."""
    out = []
    for c in range(3):
        out.append(([p[c][0] for p in period_data], [p[c][1] for p in period_data]))
    return out


def pyloric_features(t, V, threshold=-10.0, max_spikes=None, transient=0.0, window=0.5, **options):
    """Rhythm features of one circuit's traces V (3, n_times) sampled at t (ms)."""
    t = np.asarray(t, dtype=float)
    t_start = t[0] + transient
    cells = [peak_times(t, v, threshold, t_start, window) for v in np.asarray(V, dtype=float)]
    return rhythm(cells, t_start, t[-1], max_spikes=max_spikes, **options)
