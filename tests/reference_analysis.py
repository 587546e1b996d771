"""Independent plain-python/numpy reference of jaxneuron's activity analysis.

Written from the rules stated in the docstring of ``jaxneuron.activity`` (spec section 2.8),
with Python lists and loops instead of fixed-size masked arrays; it shares no code with the
package. One trace at a time.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.integrate import cumulative_trapezoid

LABELS = ("silent", "tonic", "bursting", "irregular", "undetermined")

DEFAULTS = dict(
    threshold=-10.0, max_spikes=2048, min_spikes=2, min_isis=3, regularity_tol=0.05, modulation_ratio=5.0,
    modulated_fraction=0.99, largest_fraction=0.5, mean_factor=2.0, max_burst_isi=500.0, min_bursts=3,
    min_spikes_per_burst=2, max_bursts_per_period=3, periodicity_tol=0.05, slow_wave_window=50.0,
)  # fmt: skip

NAN = float("nan")


def crossing_times(t, v, threshold=-10.0):
    """All upward crossings ``v[i] < threshold <= v[i+1]``, linearly interpolated (list of floats)."""
    t = np.asarray(t, dtype=float)
    v = np.asarray(v, dtype=float)
    out = []
    for i in np.flatnonzero(v[1:] >= threshold):  # candidates; the left sample is checked below
        if v[i] < threshold:
            frac = (threshold - v[i]) / (v[i + 1] - v[i])
            out.append(float(t[i] + frac * (t[i + 1] - t[i])))
    return out


def _mean(xs):
    return sum(xs) / len(xs)


def _spread(xs):
    return (max(xs) - min(xs)) / _mean(xs)


def slow_wave_amplitude(t, v, threshold, window):
    """max - min of the trapezoid mean of min(v, threshold) over samples [i - h, i + h]."""
    t = np.asarray(t, dtype=float)
    vc = np.minimum(np.asarray(v, dtype=float), threshold)
    h = int(np.round(window / (2 * (t[-1] - t[0]) / (t.size - 1))))
    if h < 1 or 2 * h > t.size - 1:
        return NAN
    area = cumulative_trapezoid(vc, t, initial=0.0)
    running_mean = (area[2 * h :] - area[: -2 * h]) / (t[2 * h :] - t[: -2 * h])
    return float(running_mean.max() - running_mean.min())


def analyze(t, v, **options):
    """Activity features of one trace, as a dict with the field names of ``jaxneuron.Activity``."""
    o = dict(DEFAULTS, **options)
    t = np.asarray(t, dtype=float)
    v = np.asarray(v, dtype=float)
    tol, ptol = o["regularity_tol"], o["periodicity_tol"]
    spikes = crossing_times(t, v, o["threshold"])
    count = len(spikes)
    overflow = count > o["max_spikes"]
    s = spikes[: o["max_spikes"]]
    r = dict(
        label=0, n_spikes=count, spike_rate=count / ((t[-1] - t[0]) / 1000.0), isi_mean=NAN, isi_cv=NAN,
        n_bursts=0, bursts_per_period=0, burst_period=NAN, burst_duration=NAN, duty_cycle=NAN,
        spikes_per_burst=NAN, interburst_interval=NAN, v_min=float(np.min(v)), v_max=float(np.max(v)),
        slow_wave_amplitude=slow_wave_amplitude(t, v, o["threshold"], o["slow_wave_window"]),
        overflow=overflow, too_short=False, finite=bool(np.all(np.isfinite(v))),
        spikes=spikes,
    )  # fmt: skip
    isis = [b - a for a, b in zip(s[:-1], s[1:])]
    if isis:
        r["isi_mean"] = _mean(isis)
    if len(isis) >= 2:
        r["isi_cv"] = float(np.std(isis)) / _mean(isis)
    if count < o["min_spikes"]:
        return r  # silent

    end = s[-1] if overflow else float(t[-1])
    lead, trail = s[0] - float(t[0]), end - s[-1]

    # tonic
    if len(isis) >= o["min_isis"]:
        longest = max(isis)
        if _spread(isis) < tol and lead <= (1 + tol) * longest and trail <= (1 + tol) * longest:
            r["label"] = 1
            return r

    # burst segmentation
    modulated = bool(isis) and max(isis) < o["modulation_ratio"] * min(isis)
    if not isis:
        theta = -math.inf
    elif modulated:
        theta = o["modulated_fraction"] * max(isis)
    elif o["largest_fraction"] * max(isis) > o["mean_factor"] * _mean(isis):
        theta = o["largest_fraction"] * max(isis)
    else:
        theta = _mean(isis)
    theta = min(theta, o["max_burst_isi"])
    bursts = [[s[0]]]
    for prev, cur in zip(s[:-1], s[1:]):
        if cur - prev > theta:
            bursts.append([cur])
        else:
            bursts[-1].append(cur)
    first = 0 if lead > theta else 1
    last = len(bursts) - 1 if trail > theta else len(bursts) - 2
    complete = bursts[first : last + 1] if last >= first else []

    starts = [b[0] for b in complete]
    k_found = 0
    for k in range(1, o["max_bursts_per_period"] + 1):
        pk = [starts[j + k] - starts[j] for j in range(len(starts) - k)]
        if len(pk) >= 2 and _spread(pk) < ptol:
            k_found = k
            break
    periods = [b - a for a, b in zip(starts[:-1], starts[1:])]
    bursting = (
        len(complete) >= o["min_bursts"]
        and min(len(b) for b in complete) >= o["min_spikes_per_burst"]
        and k_found > 0
        and lead <= (1 + ptol) * max(periods)
        and trail <= (1 + ptol) * max(periods)
    )
    if bursting:
        durations = [b[-1] - b[0] for b in complete]
        r.update(
            label=2, n_bursts=len(complete), bursts_per_period=k_found, burst_period=_mean(periods),
            burst_duration=_mean(durations), spikes_per_burst=_mean([len(b) for b in complete]),
            interburst_interval=_mean([nxt[0] - prv[-1] for prv, nxt in zip(complete[:-1], complete[1:])]),
        )  # fmt: skip
        r["duty_cycle"] = r["burst_duration"] / r["burst_period"]
        return r
    # undetermined: too few ISIs; or ISIs within a factor 5 and an edge silence that long (one
    # episode of firing); or long silences between spikes (not modulated tonic) and too few complete
    # bursts, or every other bursting test passed but a 2- or 3-burst pattern had < 2 periods to compare
    other_tests_pass = (
        len(complete) >= 2
        and min(len(b) for b in complete) >= o["min_spikes_per_burst"]
        and lead <= (1 + ptol) * max(periods)
        and trail <= (1 + ptol) * max(periods)
    )
    untested = other_tests_pass and len(complete) < o["max_bursts_per_period"] + 2
    one_episode = modulated and max(lead, trail) >= o["modulation_ratio"] * min(isis)
    too_short = (
        len(isis) < o["min_isis"]
        or one_episode
        or (not modulated and (len(complete) < o["min_bursts"] or untested))
    )
    r["label"] = 4 if too_short else 3
    r["too_short"] = too_short
    return r


def analyze_batch(t, V, **options):
    """``analyze`` on every row of ``V (n_members, n_times)``: dict of numpy arrays (``spikes`` as a list)."""
    rows = [analyze(t, v, **options) for v in np.asarray(V)]
    return {k: ([r[k] for r in rows] if k == "spikes" else np.array([r[k] for r in rows])) for k in rows[0]}
