"""Pyloric rhythm analysis (spec 3.6): closed-form cases, and jaxneuron against the numpy reference
(tests/reference_rhythm.py) on random spike trains and synthetic voltage traces."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference_rhythm as ref

import jaxneuron as jn
from jaxneuron.analysis import RHYTHM_DEFAULTS, Rhythm, pyloric_features, rhythm_from_solution, rhythm_from_spikes
from jaxneuron.analysis import rhythm_vector

FIELDS = Rhythm.feature_names
K = 128


# --- helpers ---------------------------------------------------------------------------------------


def burst(start, duration, isi):
    """Spikes every ``isi`` ms from ``start`` through ``start + duration``."""
    return start + isi * np.arange(int(round(duration / isi)) + 1)


def train(starts, duration, isi):
    return np.concatenate([burst(s, duration, isi) for s in np.atleast_1d(starts)]) if len(starts) else np.zeros(0)


def pack(cells, k=K):
    """``(3, k)`` NaN-padded buffer of the first k spikes of each list and the full counts."""
    buf = np.full((3, k), np.nan)
    count = np.zeros(3, np.int32)
    for c, x in enumerate(cells):
        x = np.sort(np.asarray(x, float))
        buf[c, : min(len(x), k)] = x[:k]
        count[c] = len(x)
    return buf, count


def member(r, i=None):
    return {name: np.asarray(getattr(r, name) if i is None else getattr(r, name)[i]) for name in FIELDS}


def assert_same(a, b, where="", rtol=1e-9):
    for name in FIELDS:
        x, y = np.asarray(a[name]), np.asarray(b[name])
        assert x.shape == y.shape, f"{where} {name}: shape {x.shape} vs {y.shape}"
        if y.dtype.kind in "biu":
            assert np.array_equal(x.astype(np.int64), y.astype(np.int64)), f"{where} {name}: {x} vs reference {y}"
        else:
            assert np.array_equal(np.isnan(x), np.isnan(y)), f"{where} {name}: NaN pattern {x} vs reference {y}"
            ok = ~np.isnan(y)
            np.testing.assert_allclose(x[ok], y[ok], rtol=rtol, atol=1e-9, err_msg=f"{where} {name}")


def assert_identical(a, b, where=""):
    for name in FIELDS:
        x, y = np.asarray(a[name]), np.asarray(b[name])
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), f"{where} {name}: {x} vs {y}"


# the closed-form circuit: T = 1000 ms; AB/PD [0, 300], LP [400, 600], PY [650, 890] ms after each
# cycle start; spikes every 20 ms; 10 cycles starting at 100 ms in a [0, 10000] ms window
STARTS = 100.0 + 1000.0 * np.arange(10)


def periodic_cells(starts=STARTS, lp_starts=None, py_starts=None):
    lp_starts = starts + 400.0 if lp_starts is None else lp_starts
    py_starts = starts + 650.0 if py_starts is None else py_starts
    return [train(starts, 300.0, 20.0), train(lp_starts, 200.0, 20.0), train(py_starts, 240.0, 20.0)]


def one(cells, t_start=0.0, t_end=10000.0, k=256, **options):
    buf, count = pack(cells, k)
    return member(rhythm_from_spikes(buf, count, t_start, t_end, **options))


# --- closed form -----------------------------------------------------------------------------------


def test_periodic_closed_form():
    r = one(periodic_cells())
    assert r["cycle_period"] == pytest.approx(1000.0, rel=1e-12)
    np.testing.assert_allclose(r["burst_durations"], [300.0, 200.0, 240.0], rtol=1e-12)
    np.testing.assert_allclose(r["duty_cycles"], [0.3, 0.2, 0.24], rtol=1e-12)
    np.testing.assert_array_equal(r["n_spikes"], [160, 110, 130])
    np.testing.assert_array_equal(r["n_bursts"], [10, 10, 10])
    np.testing.assert_allclose(r["start_phases"], [0.4, 0.65], rtol=1e-12)
    np.testing.assert_allclose(r["starts_to_starts"], [400.0, 250.0], rtol=1e-12)
    np.testing.assert_allclose(r["ends_to_starts"], [100.0, 50.0], rtol=1e-12)
    np.testing.assert_allclose(r["phase_gaps"], [0.1, 0.05], rtol=1e-12)
    assert r["triphasic"] and r["pyloric_like"] and not r["overflow"]
    assert (r["n_periods"], r["n_triphasic"]) == (9, 9)
    vec = np.asarray(rhythm_vector(rhythm_from_spikes(*pack(periodic_cells(), 256), 0.0, 10000.0)))
    expected = [1000, 300, 200, 240, 0.3, 0.2, 0.24, 0.4, 0.65, 400, 250, 100, 50, 0.1, 0.05]
    np.testing.assert_allclose(vec, expected, rtol=1e-12)
    assert len(Rhythm.vector_names) == 15 and vec.shape == (15,)
    assert_same(r, ref.rhythm(periodic_cells(), 0.0, 10000.0))


def test_window_cuts_bursts():
    # window [200, 9950]: the first AB/PD burst is cut to [200, 400] (duration 200; the cycle period
    # counts from its cut start), the last PY burst to [9750, 9950] (200 > 40 ms: kept)
    r = one(periodic_cells(), t_start=200.0, t_end=9950.0)
    assert r["cycle_period"] == pytest.approx((9100.0 - 200.0) / 9)
    np.testing.assert_allclose(r["burst_durations"], [(200 + 9 * 300) / 10, 200.0, (9 * 240 + 200) / 10])
    assert r["triphasic"] and r["pyloric_like"]
    assert_same(r, ref.rhythm(periodic_cells(), 200.0, 9950.0))


def test_boundaries_isi_and_duration():
    # ISI exactly burst_isi splits; exactly min_burst_duration is dropped (strictly greater kept)
    ab = [0.0, 20.0, 40.0, 190.0, 210.0, 230.0]  # gap 150: two bursts of 40 ms -> both dropped
    r = one([ab, [], []])
    np.testing.assert_array_equal(r["n_bursts"], [0, 0, 0])
    assert math.isnan(r["burst_durations"][0]) and math.isnan(r["cycle_period"])
    ab = [0.0, 20.0, 40.5, 190.0, 210.0, 230.0]  # gap 149.5: one burst [0, 230]
    r = one([ab, [], []])
    assert r["n_bursts"][0] == 1 and r["burst_durations"][0] == 230.0
    ab = [0.0, 20.0, 40.5, 190.5, 210.0, 230.5]  # gap 150.0: [0, 40.5] and [190.5, 230.5]: 40.5 and 40
    r = one([ab, [], []])
    assert r["n_bursts"][0] == 1 and r["burst_durations"][0] == 40.5
    r = one([ab, [], []], min_burst_duration=39.0)
    assert r["n_bursts"][0] == 2 and r["cycle_period"] == 190.5
    r = one([[5.0, 500.0, 1000.0], [], []], min_burst_duration=0.0)  # single spikes are never bursts
    assert r["n_bursts"][0] == 0


def test_triphasic_fraction():
    # 10 AB/PD bursts = 9 periods; LP missing in one: 8/9 < 0.9 -> not triphasic
    lp = np.delete(STARTS + 400.0, 4)
    r = one(periodic_cells(lp_starts=lp))
    assert (r["n_periods"], r["n_triphasic"]) == (9, 8) and not r["triphasic"] and not r["pyloric_like"]
    for name in ("start_phases", "starts_to_starts", "ends_to_starts", "phase_gaps"):
        assert np.all(np.isnan(r[name])), name
    assert r["cycle_period"] == 1000.0 and r["duty_cycles"][1] == pytest.approx(0.2)  # still computed
    # 11 AB/PD bursts = 10 periods, one without LP: 9/10 = 0.9 -> triphasic, means over the 9
    starts = 100.0 + 1000.0 * np.arange(11)
    r = one(periodic_cells(starts, lp_starts=np.delete(starts + 400.0, 4)), t_end=11000.0)
    assert (r["n_periods"], r["n_triphasic"]) == (10, 9) and r["triphasic"] and r["pyloric_like"]
    np.testing.assert_allclose(r["starts_to_starts"], [400.0, 250.0])
    np.testing.assert_allclose(r["start_phases"], [0.4, 0.65])
    # LP bursting twice in one period is not triphasic either
    lp = np.sort(np.append(STARTS + 400.0, STARTS[3] + 800.0))  # 2nd burst 200 ms after the 1st
    r = one(periodic_cells(lp_starts=lp))
    assert r["n_triphasic"] == 8 and not r["triphasic"]


def test_min_periods():
    cells = periodic_cells(STARTS[:3])  # 3 AB/PD bursts: 2 periods
    r = one(cells)
    assert r["triphasic"] and r["n_periods"] == 2
    cells = periodic_cells(STARTS[:2])  # 1 period: triphasic only with min_periods=1 (upstream's code)
    assert not one(cells)["triphasic"]
    r = one(cells, min_periods=1)
    assert r["triphasic"] and r["pyloric_like"] and r["starts_to_starts"][0] == 400.0
    assert_same(r, ref.rhythm(cells, 0.0, 10000.0, min_periods=1))


def test_order_criteria():
    # PY before LP: triphasic but not pyloric-like
    r = one(periodic_cells(lp_starts=STARTS + 650.0, py_starts=STARTS + 400.0))
    assert r["triphasic"] and not r["pyloric_like"]
    np.testing.assert_allclose(r["starts_to_starts"], [650.0, -250.0])
    np.testing.assert_allclose(r["ends_to_starts"], [350.0, -450.0])
    # LP starting before AB/PD ends in 3 of 9 periods: 6/9 < 0.7 -> not pyloric-like; 2 of 9: 7/9 >= 0.7
    for n_bad, pyloric in ((3, False), (2, True)):
        lp = STARTS + 400.0
        lp[:n_bad] = STARTS[:n_bad] + 250.0
        r = one(periodic_cells(lp_starts=lp))
        assert r["triphasic"] and bool(r["pyloric_like"]) is pyloric


def test_not_applicable_is_nan():
    r = one([train(STARTS, 300.0, 20.0), [], train(STARTS + 650.0, 240.0, 20.0)])  # LP silent
    assert r["n_spikes"][1] == 0 and r["n_bursts"][1] == 0 and not r["triphasic"]
    assert math.isnan(r["burst_durations"][1]) and math.isnan(r["duty_cycles"][1])
    assert r["duty_cycles"][2] == pytest.approx(0.24)
    r = one([np.arange(0.0, 10000.0, 25.0), [], []], k=512)  # tonic AB/PD: one burst, no period
    assert r["n_bursts"][0] == 1 and math.isnan(r["cycle_period"]) and math.isnan(r["duty_cycles"][0])
    assert r["burst_durations"][0] == pytest.approx(9975.0)
    r = one([[], [], []])
    assert np.all(np.isnan(np.asarray(rhythm_vector(rhythm_from_spikes(*pack([[], [], []]), 0.0, 10.0)))))
    assert not r["triphasic"] and r["n_periods"] == 0


def test_truncated_buffer():
    # only LP overflows: AB/PD 13 spikes per burst (130), LP 41 per burst (410 > 150), PY 13 (130);
    # LP's 150th spike is the 27th of its 4th burst, 3500 + 26 * 5 = 3630 ms: the window ends there
    cells = [train(STARTS, 300.0, 25.0), train(STARTS + 400.0, 200.0, 5.0), train(STARTS + 650.0, 240.0, 20.0)]
    r = one(cells, k=150)
    assert r["overflow"]
    np.testing.assert_array_equal(r["n_spikes"], [4 * 13, 150, 3 * 13])
    np.testing.assert_array_equal(r["n_bursts"], [4, 4, 3])
    np.testing.assert_allclose(r["burst_durations"], [300.0, (3 * 200 + 130) / 4, 240.0])
    assert r["triphasic"] and (r["n_periods"], r["n_triphasic"]) == (3, 3)
    assert_same(r, ref.rhythm(cells, 0.0, 10000.0, max_spikes=150))
    # every cell overflows with k = 48: AB/PD's 48th spike (2400 ms) ends the window
    r = one(periodic_cells(), k=48)
    np.testing.assert_array_equal(r["n_spikes"], [48, 22, 26])
    np.testing.assert_array_equal(r["n_bursts"], [3, 2, 2])
    assert r["overflow"] and r["triphasic"] and r["cycle_period"] == 1000.0
    assert_same(r, ref.rhythm(periodic_cells(), 0.0, 10000.0, max_spikes=48))


# --- random spike trains against the reference -----------------------------------------------------


def random_burst(rng, start, duration, isi_range=(8.0, 30.0)):
    out = [start]
    while True:
        nxt = out[-1] + rng.uniform(*isi_range)
        if nxt > start + duration:
            return out
        out.append(nxt)


def random_circuit(rng, kind):
    T = rng.uniform(600.0, 1800.0)
    n_cycles = rng.integers(2, 9)
    t0 = rng.uniform(-T, 0.0)
    cells = [[], [], []]
    phase = dict(ab=(0.0, 0.3), lp=(0.45, 0.2), py=(0.7, 0.25))
    if kind == "order":
        phase = dict(ab=(0.0, 0.3), lp=(0.7, 0.2), py=(0.45, 0.2))
    for i in range(n_cycles + 2):
        c0 = t0 + i * T + rng.normal(0.0, 0.03 * T)
        for c, key in enumerate(("ab", "lp", "py")):
            if kind == "lp_missing" and c == 1 and rng.random() < 0.3:
                continue
            ph, dur = phase[key]
            s = c0 + (ph + rng.normal(0.0, 0.04)) * T
            cells[c] += random_burst(rng, s, max(dur * T * rng.uniform(0.7, 1.3), 1.0))
            if kind == "double" and c == 1 and rng.random() < 0.4:
                cells[c] += random_burst(rng, cells[c][-1] + rng.uniform(150.0, 300.0), rng.uniform(30.0, 120.0))
    if kind == "silent":
        cells[rng.integers(3)] = []
    if kind == "tonic":
        cells[rng.integers(3)] = list(np.cumsum(rng.uniform(20.0, 40.0, 400)) + t0)
    if kind == "single":
        cells[rng.integers(1, 3)] = list(np.cumsum(rng.uniform(160.0, 400.0, 40)) + t0)
    if kind == "short":  # short bursts (some below 40 ms) and ISIs near 150 ms
        cells[1] = list(np.cumsum(rng.choice([10.0, 20.0, 149.0, 150.0, 151.0], 120)) + t0)
    t_end = t0 + (n_cycles + 2) * T
    cells = [np.sort(np.asarray(x)) for x in cells]
    t_start = rng.uniform(0.0, 0.5 * T)
    return cells, t_start, t_end - rng.uniform(0.0, 0.5 * T)


KINDS = ("pyloric", "pyloric", "lp_missing", "double", "silent", "tonic", "single", "order", "short")


def random_batch(seed, n):
    rng = np.random.default_rng(seed)
    circuits = [random_circuit(rng, KINDS[i % len(KINDS)]) for i in range(n)]
    bufs, counts = zip(*(pack(c) for c, _, _ in circuits))
    t_start = np.array([ts for _, ts, _ in circuits])
    t_end = np.array([te for _, _, te in circuits])
    return circuits, np.stack(bufs), np.stack(counts), t_start, t_end


def test_random_trains_match_reference():
    circuits, bufs, counts, t_start, t_end = random_batch(0, 180)
    r = rhythm_from_spikes(bufs, counts, t_start, t_end)
    assert np.asarray(r.cycle_period).shape == (180,) and np.asarray(r.n_spikes).shape == (180, 3)
    tri = pyl = over = 0
    for i, (cells, ts, te) in enumerate(circuits):
        expected = ref.rhythm(cells, ts, te, max_spikes=K)
        assert_same(member(r, i), expected, where=f"member {i} ({KINDS[i % len(KINDS)]})")
        tri += bool(expected["triphasic"])
        pyl += bool(expected["pyloric_like"])
        over += bool(expected["overflow"])
    assert 20 < tri < 160 and 10 < pyl < tri and over > 5  # every branch is exercised


def test_options_match_reference():
    circuits, bufs, counts, t_start, t_end = random_batch(1, 36)
    opts = dict(burst_isi=100.0, min_burst_duration=10.0, triphasic_fraction=0.6, pyloric_fraction=0.5, min_periods=1)
    r = rhythm_from_spikes(bufs, counts, t_start, t_end, **opts)
    for i, (cells, ts, te) in enumerate(circuits):
        assert_same(member(r, i), ref.rhythm(cells, ts, te, max_spikes=K, **opts), where=f"member {i}")


def test_vmap_jit_and_batch_shapes():
    _, bufs, counts, t_start, t_end = random_batch(2, 12)
    batched = rhythm_from_spikes(bufs, counts, t_start, t_end)
    f = jax.jit(lambda b, c, ts, te: rhythm_from_spikes(b, c, ts, te))
    vm = jax.vmap(f)(jnp.asarray(bufs), jnp.asarray(counts), jnp.asarray(t_start), jnp.asarray(t_end))
    two_d = rhythm_from_spikes(bufs.reshape(3, 4, 3, K), counts.reshape(3, 4, 3), t_start.reshape(3, 4),
                               t_end.reshape(3, 4))  # fmt: skip
    for i in range(12):
        single = member(f(bufs[i], counts[i], t_start[i], t_end[i]))
        assert_identical(single, member(batched, i), where=f"member {i}")
        assert_identical(single, member(vm, i), where=f"vmap member {i}")
        assert_identical(single, {k: v[i // 4, i % 4] for k, v in member(two_d).items()}, where=f"2-D member {i}")


def test_option_errors():
    buf, count = pack(periodic_cells())
    with pytest.raises(ValueError, match="unknown rhythm options"):
        rhythm_from_spikes(buf, count, 0.0, 1.0, burst_gap=3.0)
    with pytest.raises(ValueError, match="min_periods"):
        rhythm_from_spikes(buf, count, 0.0, 1.0, min_periods=0)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, K\)"):
        rhythm_from_spikes(buf[:2], count[:2], 0.0, 1.0)
    assert set(RHYTHM_DEFAULTS) >= {"burst_isi", "min_burst_duration", "triphasic_fraction", "pyloric_fraction"}


# --- voltage traces --------------------------------------------------------------------------------


def gaussian_trace(t, spikes, base=-60.0, height=70.0, sigma=0.3):
    """Symmetric spikes centred on ``spikes`` (on the sample grid: the smoothed peak stays there)."""
    v = np.full(t.shape, base)
    dt = t[1] - t[0]
    for s in spikes:
        i = int(round((s - t[0]) / dt))
        lo, hi = max(i - 30, 0), min(i + 31, t.size)
        v[lo:hi] += height * np.exp(-0.5 * ((t[lo:hi] - t[i]) / sigma) ** 2)
    return v


def test_traces_closed_form():
    t = 0.1 * np.arange(100001)
    V = np.stack([gaussian_trace(t, x) for x in periodic_cells()])
    r = member(pyloric_features(t, V, max_spikes=256))
    np.testing.assert_allclose(rhythm_vector(Rhythm(**{k: jnp.asarray(v) for k, v in r.items()})),
                               [1000, 300, 200, 240, 0.3, 0.2, 0.24, 0.4, 0.65, 400, 250, 100, 50, 0.1, 0.05],
                               rtol=1e-9)  # fmt: skip
    np.testing.assert_array_equal(r["n_spikes"], [160, 110, 130])
    assert r["triphasic"] and r["pyloric_like"]
    # transient: the window starts at 1150 ms (AB/PD's first burst cut to [1160, 1400])
    r = member(pyloric_features(t, V, max_spikes=256, transient=1150.0))
    assert r["n_bursts"][0] == 9 and r["burst_durations"][0] == pytest.approx((240 + 8 * 300) / 9)


def test_flat_tops_and_constant_traces():
    t = 0.1 * np.arange(2001)
    V = np.full((3, t.size), -60.0)
    V[0] = 0.0  # depolarised and constant: no spikes (upstream would find one per sample)
    V[1, 500:520] = 10.0  # a flat top (unsmoothed): one spike, at its first sample
    V[2, 800:803] = [0.0, 5.0, 0.0]
    r = member(pyloric_features(t, V, max_spikes=16, smoothing_window=0.0))
    np.testing.assert_array_equal(r["n_spikes"], [0, 1, 1])
    assert_same(r, ref.pyloric_features(t, V, max_spikes=16, window=0.0))
    r = member(pyloric_features(t, V, max_spikes=16))  # smoothed: the edges of the top overshoot
    assert r["n_spikes"][0] == 0
    assert_same(r, ref.pyloric_features(t, V, max_spikes=16))


def alpha_spike(t, s, height, tau_r=0.15, tau_d=0.6):
    x = np.clip(t - s, 0.0, None)
    peak = tau_r * tau_d / (tau_d - tau_r) * math.log(tau_d / tau_r)
    norm = math.exp(-peak / tau_d) - math.exp(-peak / tau_r)
    return height * (np.exp(-x / tau_d) - np.exp(-x / tau_r)) / norm


def random_traces(rng, t, n, noise=0.0):
    """Batch ``(n, 3, n_times)``: asymmetric spikes at random off-grid times riding on slow waves."""
    V = np.full((n, 3, t.size), -58.0)
    dt = t[1] - t[0]
    for m in range(n):
        cells, _, _ = random_circuit(rng, ("pyloric", "lp_missing", "double", "silent", "order")[m % 5])
        for c, spikes in enumerate(cells):
            spikes = spikes[(spikes > t[0] + 1.0) & (spikes < t[-1] - 5.0)]
            for s in spikes:  # slow depolarisation under each spike (sums to a plateau in bursts)
                lo, hi = int((s - 40.0 - t[0]) / dt), int((s + 40.0 - t[0]) / dt)
                lo, hi = max(lo, 0), min(hi, t.size)
                V[m, c, lo:hi] += 6.0 * np.exp(-0.5 * ((t[lo:hi] - s) / 12.0) ** 2)
            for s in spikes:
                lo, hi = int((s - t[0]) / dt), min(int((s + 6.0 - t[0]) / dt) + 1, t.size)
                V[m, c, lo:hi] += alpha_spike(t[lo:hi], s, rng.uniform(45.0, 75.0))
    V += noise * rng.standard_normal(V.shape)
    return V


@pytest.mark.parametrize("dt,t_end,noise", [(0.1, 9000.0, 0.0), (0.1, 6000.0, 1.5), (0.025, 4000.0, 0.0)])
def test_traces_match_reference(dt, t_end, noise):
    rng = np.random.default_rng(int(dt * 1000) + int(noise))
    t = dt * np.arange(int(round(t_end / dt)) + 1)
    V = random_traces(rng, t, 5, noise)
    r = pyloric_features(t, V, max_spikes=K, transient=300.0)
    for m in range(V.shape[0]):
        expected = ref.pyloric_features(t, V[m], max_spikes=K, transient=300.0)
        assert_same(member(r, m), expected, where=f"dt {dt} member {m}")
        assert member(r, m)["n_spikes"].sum() > 0
    if dt == 0.1 and noise == 0.0:  # a traced t needs dt; a member alone equals its batch row
        f = jax.jit(lambda tt, v: pyloric_features(tt, v, max_spikes=K, transient=300.0, dt=dt))
        assert_identical(member(f(t, V[1])), member(r, 1))
        with pytest.raises(ValueError, match="pass the sampling step dt"):
            jax.jit(lambda tt, v: pyloric_features(tt, v))(t, V[1])


def test_traces_truncated_and_coarse():
    rng = np.random.default_rng(7)
    t = 0.2 * np.arange(30001)  # dt = 0.2 ms: floor(0.5 / 0.2) = 2 -> 3 samples: no smoothing
    V = random_traces(rng, t, 3)
    r = pyloric_features(t, V, max_spikes=40)
    for m in range(3):
        expected = ref.pyloric_features(t, V[m], max_spikes=40)
        assert_same(member(r, m), expected, where=f"member {m}")
    assert np.any(np.asarray(r.overflow))


def test_rhythm_from_solution():
    circuits, bufs, counts, _, _ = random_batch(3, 4)
    n = 4
    sol = jn.Solution(
        t=jnp.zeros(0), V=None, ys=None, y_final=jnp.zeros((n, 1)), status=jnp.zeros(n, jnp.int32),
        num_steps=jnp.zeros(n, jnp.int32), num_accepted=jnp.zeros(n, jnp.int32), spike_times=jnp.asarray(bufs),
        n_spikes=jnp.asarray(counts), v_min=None, v_max=None, t0=-500.0, t_end=6000.0, transient=700.0,
        threshold=-10.0, state_names=("V",),
    )  # fmt: skip
    r = rhythm_from_solution(sol, pyloric_fraction=0.6)
    for i, (cells, _, _) in enumerate(circuits):
        assert_same(member(r, i), ref.rhythm(cells, 200.0, 6000.0, max_spikes=K, pyloric_fraction=0.6))
    with pytest.raises(ValueError, match="spike times"):
        rhythm_from_solution(sol.__class__(**{**{f: getattr(sol, f) for f in sol.__dataclass_fields__},
                                              "spike_times": None, "n_spikes": None}))  # fmt: skip
