"""Activity analysis on synthetic traces with known answers, against the numpy reference.

Spikes are piecewise-linear: V rises at 90 mV/ms through -10 mV exactly at the prescribed spike
time (so the linearly interpolated crossing is exact up to rounding), peaks at +30 mV and decays
back to the baseline in 2 ms.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference_analysis as ref

import jaxneuron as jn
from jaxneuron.analysis import format_activity

DT = 0.1
T_END = 20000.0
BASE = -60.0
SLOPE = 90.0  # mV/ms on the upstroke
FIELDS = jn.Activity.feature_names


def make_trace(spikes, t_end=T_END, dt=DT, base=BASE, t0=0.0):
    t = t0 + dt * np.arange(int(round((t_end - t0) / dt)) + 1)
    v = np.full(t.shape, base)
    rise_start = (-10.0 - base) / SLOPE  # ms before the crossing
    rise_end = (30.0 + 10.0) / SLOPE  # ms after the crossing
    for ts in spikes:
        i0 = np.searchsorted(t, ts - rise_start - 1e-9)
        i1 = np.searchsorted(t, ts + rise_end + 2.0 + 1e-9)
        tt = t[i0:i1]
        up = -10.0 + SLOPE * (tt - ts)
        down = 30.0 - (30.0 - base) * (tt - ts - rise_end) / 2.0
        v[i0:i1] = np.maximum(v[i0:i1], np.where(tt <= ts + rise_end, up, down))
    return t, v


def burst_train(starts, n_spikes, isi):
    starts = np.atleast_1d(starts)
    n_spikes = np.broadcast_to(n_spikes, starts.shape)
    return np.concatenate([s + isi * np.arange(n) for s, n in zip(starts, n_spikes)])


def as_dict(act, i=None):
    out = {}
    for name in FIELDS:
        x = np.asarray(getattr(act, name))
        out[name] = x if i is None else x[i]
    return out


def assert_same(jax_row, ref_row, where=""):
    for name in FIELDS:
        a, b = np.asarray(jax_row[name]), np.asarray(ref_row[name])
        if a.dtype.kind in "biu":
            assert int(a) == int(b), f"{where} {name}: jax {a} vs reference {b}"
        else:
            # the slow wave differences two running integrals of ~1e6 mV ms: rounding ~1e-9 mV
            atol = 1e-6 if name == "slow_wave_amplitude" else 1e-9
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=atol, equal_nan=True, err_msg=f"{where} {name}")


def analyse_both(t, v, **opts):
    act = jn.activity(t, v, **opts)
    row = ref.analyze(t, v, **opts)
    assert_same(as_dict(act), row)
    return act, row


# --- known constructions -------------------------------------------------------------------------


def test_tonic_train_known_values():
    spikes = 7.3 + 50.0 * np.arange(400)  # 20 Hz through the whole window
    t, v = make_trace(spikes)
    act, row = analyse_both(t, v)
    assert int(act.label) == jn.analysis.TONIC
    assert int(act.n_spikes) == 400
    np.testing.assert_allclose(float(act.spike_rate), 400 / 20.0, rtol=1e-12)
    np.testing.assert_allclose(float(act.isi_mean), 50.0, rtol=1e-10)
    assert float(act.isi_cv) < 1e-10
    assert np.isnan(float(act.burst_period)) and int(act.n_bursts) == 0
    np.testing.assert_allclose(float(act.v_max), 30.0, atol=SLOPE * DT)
    np.testing.assert_allclose(float(act.v_min), BASE)
    st = jn.spike_times(t, v, max_spikes=512)
    np.testing.assert_allclose(np.asarray(st.times[:400]), spikes, atol=1e-9)
    assert np.all(np.isnan(np.asarray(st.times[400:]))) and int(st.count) == 400 and not bool(st.overflow)
    np.testing.assert_allclose(np.asarray(row["spikes"]), spikes, atol=1e-9)


def test_periodic_bursts_known_values():
    # 20 bursts of 6 spikes (ISI 20 ms) every 1000 ms from t = 300 ms.
    spikes = burst_train(300.0 + 1000.0 * np.arange(20), 6, 20.0)
    t, v = make_trace(spikes)
    act, _ = analyse_both(t, v)
    assert int(act.label) == jn.analysis.BURSTING and not bool(act.too_short)
    # theta = 0.5 * 900 ms = 450 ms: the lead gap (300 ms) is shorter, so the first burst counts as
    # possibly cut by the window start; the trailing 600 ms gap makes the last one complete.
    assert int(act.n_bursts) == 19
    assert int(act.bursts_per_period) == 1
    np.testing.assert_allclose(float(act.burst_period), 1000.0, rtol=1e-10)
    np.testing.assert_allclose(float(act.burst_duration), 100.0, rtol=1e-10)
    np.testing.assert_allclose(float(act.duty_cycle), 0.1, rtol=1e-10)
    np.testing.assert_allclose(float(act.spikes_per_burst), 6.0)
    np.testing.assert_allclose(float(act.interburst_interval), 900.0, rtol=1e-10)
    np.testing.assert_allclose(float(act.spike_rate), 120 / 20.0)


def test_window_starting_inside_a_burst():
    spikes = burst_train(-40.0 + 800.0 * np.arange(26), 5, 25.0)
    spikes = spikes[(spikes > 0.5) & (spikes < T_END - 5)]
    t, v = make_trace(spikes)
    act, _ = analyse_both(t, v)
    assert int(act.label) == jn.analysis.BURSTING
    # bursts start at -40 (cut: 3 of 5 spikes inside), 760, ..., 19960 (cut by the end: 1 spike at 19960)
    assert int(act.n_bursts) == 24
    np.testing.assert_allclose(float(act.burst_period), 800.0, rtol=1e-10)
    np.testing.assert_allclose(float(act.spikes_per_burst), 5.0)
    np.testing.assert_allclose(float(act.burst_duration), 100.0, rtol=1e-10)


def test_period_two_pattern():
    # alternating bursts of 4 and 7 spikes, start-to-start intervals alternating 700 / 1100 ms
    starts = 200.0 + np.cumsum(np.r_[0.0, np.tile([700.0, 1100.0], 11)])[:22]
    spikes = burst_train(starts, np.tile([4, 7], 11), 15.0)
    t, v = make_trace(spikes)
    act, _ = analyse_both(t, v)
    assert int(act.label) == jn.analysis.BURSTING
    assert int(act.bursts_per_period) == 2
    complete = starts[1:]  # lead 200 ms < theta = 505 ms: the first burst is not counted
    assert int(act.n_bursts) == complete.size
    np.testing.assert_allclose(float(act.burst_period), np.mean(np.diff(complete)), rtol=1e-10)
    counts = np.tile([4, 7], 11)[1:]
    np.testing.assert_allclose(float(act.spikes_per_burst), counts.mean())
    np.testing.assert_allclose(float(act.burst_duration), np.mean(15.0 * (counts - 1)), rtol=1e-10)


def test_doublets_are_bursts():
    spikes = burst_train(10.0 + 100.0 * np.arange(200), 2, 10.0)
    t, v = make_trace(spikes)
    act, _ = analyse_both(t, v)
    assert int(act.label) == jn.analysis.BURSTING
    np.testing.assert_allclose(float(act.burst_period), 100.0, rtol=1e-10)
    np.testing.assert_allclose(float(act.duty_cycle), 0.1, rtol=1e-9)
    np.testing.assert_allclose(float(act.spikes_per_burst), 2.0)


def test_silence_and_subthreshold_slow_wave():
    t = DT * np.arange(int(T_END / DT) + 1)
    period, amp, w = 1000.0, 5.0, 50.0
    v = -55.0 + amp * np.sin(2 * np.pi * t / period)
    act, _ = analyse_both(t, v)
    assert int(act.label) == jn.analysis.SILENT and int(act.n_spikes) == 0
    assert float(act.spike_rate) == 0.0
    for name in ("isi_mean", "isi_cv", "burst_period", "duty_cycle", "spikes_per_burst"):
        assert np.isnan(float(getattr(act, name))), name
    # running mean of a sine over w ms: amplitude times sinc(pi w / period)
    x = np.pi * w / period
    np.testing.assert_allclose(float(act.slow_wave_amplitude), 2 * amp * np.sin(x) / x, rtol=1e-5)
    np.testing.assert_allclose([float(act.v_min), float(act.v_max)], [-60.0, -50.0], atol=1e-6)


def test_single_spike_is_silent():
    t, v = make_trace([5000.0])
    act, _ = analyse_both(t, v)
    assert int(act.label) == jn.analysis.SILENT and int(act.n_spikes) == 1 and np.isnan(float(act.isi_mean))


def test_jittered_train_is_irregular():
    rng = np.random.default_rng(0)
    isis = 50.0 * (1.0 + rng.uniform(-0.3, 0.3, 450))
    spikes = 20.0 + np.concatenate([[0.0], np.cumsum(isis)])
    spikes = spikes[spikes < T_END - 10]
    t, v = make_trace(spikes)
    act, _ = analyse_both(t, v)
    assert int(act.label) == jn.analysis.IRREGULAR and not bool(act.too_short)
    true_isis = np.diff(spikes)
    np.testing.assert_allclose(float(act.isi_cv), np.std(true_isis) / np.mean(true_isis), rtol=1e-8)
    np.testing.assert_allclose(float(act.isi_mean), np.mean(true_isis), rtol=1e-10)


def test_jittered_bursts_are_irregular():
    rng = np.random.default_rng(1)
    starts = 150.0 + np.cumsum(1000.0 * (1.0 + rng.uniform(-0.2, 0.2, 19)))
    spikes = burst_train(np.r_[150.0, starts], 6, 20.0)
    t, v = make_trace(spikes[spikes < T_END - 10])
    act, _ = analyse_both(t, v)
    assert int(act.label) == jn.analysis.IRREGULAR and not bool(act.too_short)
    assert int(act.n_bursts) == 0 and np.isnan(float(act.burst_period))


def test_slow_burster_is_undetermined():
    spikes = burst_train(5000.0 + 8000.0 * np.arange(2), 8, 30.0)  # period 8 s: 2 bursts in 20 s
    t, v = make_trace(spikes)
    act, _ = analyse_both(t, v)
    assert int(act.label) == jn.analysis.UNDETERMINED and bool(act.too_short)
    assert act.label_name == "undetermined" and int(act.n_bursts) == 0 and np.isnan(float(act.burst_period))
    # the same rhythm in an 80-s window is a burster
    spikes = burst_train(3000.0 + 8000.0 * np.arange(10), 8, 30.0)
    t, v = make_trace(spikes, t_end=80000.0)
    act, _ = analyse_both(t, v)
    assert int(act.label) == jn.analysis.BURSTING and not bool(act.too_short)
    np.testing.assert_allclose(float(act.burst_period), 8000.0, rtol=1e-10)


def test_burster_1500ms_short_window_undetermined_long_window_bursting():
    # 6 spikes 20 ms apart every 1500 ms from t = 300 ms (a Prinz-like burster)
    def train(t_end):
        spikes = burst_train(300.0 + 1500.0 * np.arange(int(t_end // 1500) + 1), 6, 20.0)
        return make_trace(spikes[spikes < t_end - 1.0], t_end=t_end)

    # 5-s window: theta = min(0.5 * 1400, 500) = 500 ms; lead 300 ms and trail 100 ms < theta, so
    # only the bursts at 1800 and 3300 ms are complete: 2 < 3
    act, row = analyse_both(*train(5000.0))
    assert int(act.label) == jn.analysis.UNDETERMINED and bool(act.too_short) and row["label"] == 4
    assert int(act.n_spikes) == 24 and np.isnan(float(act.burst_period))
    text = format_activity(act)
    assert text.splitlines()[0].startswith("activity: undetermined (window too short: 24 spikes in 5 s")
    assert "make the window longer" in text and "irregular" not in text
    # 30-s window: 19 complete bursts (the first is cut by the 300 ms lead)
    act, _ = analyse_both(*train(30000.0))
    assert int(act.label) == jn.analysis.BURSTING and not bool(act.too_short)
    assert int(act.n_bursts) == 19 and int(act.bursts_per_period) == 1
    np.testing.assert_allclose(float(act.burst_period), 1500.0, rtol=1e-10)
    np.testing.assert_allclose(float(act.burst_duration), 100.0, rtol=1e-10)
    np.testing.assert_allclose(float(act.spikes_per_burst), 6.0)


def test_regular_burster_is_never_irregular_whatever_the_window():
    # a regular burster (6 spikes 20 ms apart) with periods P from 0.5 to 6 s, cut anywhere by a
    # 6-s window (3 phases): undetermined or bursting, never irregular; bursting once the window
    # holds 5 periods, undetermined while it holds fewer than 2 (one compile: all in one batch)
    W = 6000.0
    periods = np.linspace(500.0, 6000.0, 23)
    cases = [(p, f * p) for p in periods for f in (0.0, 0.27, 0.97)]
    V = []
    for p, phase in cases:
        spikes = burst_train(phase - p + p * np.arange(int(W // p) + 3), 6, 20.0)
        t, v = make_trace(spikes[(spikes > 0.5) & (spikes < W - 0.5)], t_end=W)
        V.append(v)
    act = jn.activity(t, np.stack(V))
    labels = np.asarray(act.label)
    for i, (p, phase) in enumerate(cases):
        assert_same(as_dict(act, i), ref.analyze(t, V[i]), where=f"P={p}, phase={phase}")
        if labels[i] == jn.analysis.BURSTING:
            np.testing.assert_allclose(float(act.burst_period[i]), p, rtol=1e-10)
        assert labels[i] in (jn.analysis.UNDETERMINED, jn.analysis.BURSTING), (p, phase, act.label_name[i])
        if p <= W / 5:
            assert labels[i] == jn.analysis.BURSTING, (p, phase)
        if p > W / 2:
            assert labels[i] == jn.analysis.UNDETERMINED and bool(act.too_short[i]), (p, phase)
    assert np.array_equal(np.asarray(act.too_short), labels == jn.analysis.UNDETERMINED)


def test_two_burst_pattern_needs_two_periods():
    # start-to-start intervals alternating 700 / 1100 ms: 3 complete bursts test only k = 1
    # (which fails); k = 2 needs 2 periods, i.e. 4 complete bursts
    starts = 200.0 + np.cumsum(np.r_[0.0, np.tile([700.0, 1100.0], 3)])  # 200, 900, 2000, 2700, 3800, ...
    spikes = burst_train(starts, 4, 15.0)
    for t_end, label in ((3300.0, jn.analysis.UNDETERMINED), (4400.0, jn.analysis.BURSTING)):
        t, v = make_trace(spikes[spikes < t_end - 1.0], t_end=t_end)
        act, _ = analyse_both(t, v)
        assert int(act.label) == label, (t_end, act.label_name)
    # lead 200 ms < theta = 500 ms: the first burst is cut; complete: 900, 2000, 2700, 3800 ms
    assert int(act.bursts_per_period) == 2 and int(act.n_bursts) == 4
    np.testing.assert_allclose(float(act.burst_period), (1100.0 + 700.0 + 1100.0) / 3, rtol=1e-10)


def test_random_isis_are_irregular_in_a_long_window():
    # Poisson-like train (seeded): 5 ms dead time + exponential ISIs of mean 150 ms, 20-s window
    rng = np.random.default_rng(7)
    spikes = 40.0 + np.cumsum(5.0 + rng.exponential(150.0, 200))
    spikes = spikes[spikes < T_END - 10]
    t, v = make_trace(spikes)
    act, row = analyse_both(t, v)
    isis = np.diff(spikes)
    assert isis.max() > 5 * isis.min()  # long silences: not modulated tonic
    assert int(act.label) == jn.analysis.IRREGULAR and not bool(act.too_short) and row["label"] == 3
    assert int(act.n_spikes) == spikes.size
    np.testing.assert_allclose(float(act.isi_mean), isis.mean(), rtol=1e-10)
    np.testing.assert_allclose(float(act.isi_cv), isis.std() / isis.mean(), rtol=1e-8)
    # the first second of the same train (5 spikes, 1 complete burst) is too short to decide
    n = int(round(1000.0 / DT)) + 1
    short, _ = analyse_both(t[:n], v[:n])
    assert int(short.label) == jn.analysis.UNDETERMINED and int(short.n_spikes) == 5


def test_three_spikes_are_undetermined():
    t, v = make_trace([1000.0, 1200.0, 1400.0])  # 2 ISIs: regularity untestable
    act, _ = analyse_both(t, v)
    assert int(act.label) == jn.analysis.UNDETERMINED and bool(act.too_short)
    assert "3 spikes in 20 s, fewer than 4 needed to test regularity" in format_activity(act)


def test_firing_that_stops_is_undetermined():
    # 5 s of regular firing, then 15 s of silence: one episode of firing, neither tonic nor (yet)
    # bursting; a burster with a > 15 s silence or a transient: undetermined, not irregular
    spikes = 5.0 + 50.0 * np.arange(100)
    t, v = make_trace(spikes)
    act, _ = analyse_both(t, v)
    assert int(act.label) == jn.analysis.UNDETERMINED and bool(act.too_short)
    # the same firing through the whole window is tonic
    t, v = make_trace(5.0 + 50.0 * np.arange(400))
    assert int(jn.activity(t, v).label) == jn.analysis.TONIC


def test_overflow_keeps_count_and_classifies_stored_spikes():
    spikes = 3.0 + 10.0 * np.arange(1999)
    t, v = make_trace(spikes)
    act, row = analyse_both(t, v, max_spikes=500)
    assert bool(act.overflow) and int(act.n_spikes) == 1999
    assert int(act.label) == jn.analysis.TONIC
    np.testing.assert_allclose(float(act.isi_mean), 10.0, rtol=1e-10)
    st = jn.spike_times(t, v, max_spikes=500)
    assert bool(st.overflow) and int(st.count) == 1999 and not np.any(np.isnan(np.asarray(st.times)))


def test_options_change_the_rule():
    # ISIs alternating 50 / 53 ms: spread 5.8 % > 5 %: not tonic by default, tonic with a 10 % tolerance
    spikes = 5.0 + np.cumsum(np.r_[0.0, np.tile([50.0, 53.0], 200)])
    t, v = make_trace(spikes[spikes < T_END - 0.5])
    default, _ = analyse_both(t, v)
    loose, _ = analyse_both(t, v, regularity_tol=0.1)
    # Prinz's "modulated tonic" rule splits at ISIs > 99 % of the longest: periodic doublets
    assert int(default.label) == jn.analysis.BURSTING and int(default.spikes_per_burst) == 2
    assert int(loose.label) == jn.analysis.TONIC
    # a higher threshold sees no spike at all
    high, _ = analyse_both(t, v, threshold=35.0)
    assert int(high.label) == jn.analysis.SILENT


def test_non_finite_trace_is_flagged():
    t, v = make_trace(7.3 + 50.0 * np.arange(400))
    v[1000] = np.nan
    act = jn.activity(t, v)
    assert not bool(act.finite) and np.isnan(float(act.v_min))


# --- batching, jit, vmap, memory -----------------------------------------------------------------


def _population(n, t_end=1000.0, seed=0):
    """n traces of mixed kinds: tonic at random rates, bursters, jittered trains, silence."""
    rng = np.random.default_rng(seed)
    V = []
    for i in range(n):
        kind = i % 5
        if kind == 0:
            spikes = rng.uniform(0, 20) + rng.uniform(8, 40) * np.arange(200)
        elif kind == 1:
            p = rng.uniform(150, 250)
            spikes = burst_train(rng.uniform(0, 100) + p * np.arange(10), rng.integers(2, 6), 8.0)
        elif kind == 2:
            spikes = 5 + np.cumsum(rng.uniform(10, 40, 200))
        elif kind == 3:
            spikes = []
        else:  # one or two bursts of a slow burster: undetermined
            spikes = burst_train(rng.uniform(100, 400) + rng.uniform(450, 600) * np.arange(2), 4, 8.0)
        spikes = np.asarray(spikes)
        V.append(make_trace(spikes[spikes < t_end - 0.5], t_end=t_end)[1])
    t = make_trace([], t_end=t_end)[0]
    return t, np.stack(V)


@pytest.fixture(scope="module")
def population():
    t, V = _population(1000)
    batched = jax.jit(lambda V: jn.activity(t, V, max_spikes=256))(V)
    return t, V, batched


def test_batched_equals_loop_and_reference_on_1000_members(population):
    t, V, batched = population
    assert batched.label.shape == (1000,)
    counts = np.bincount(np.asarray(batched.label), minlength=5)
    assert counts.size == 5 and np.all(counts >= 150), counts  # every class is represented
    one = jax.jit(lambda v: jn.activity(t, v, max_spikes=256))
    vm = jax.vmap(lambda v: jn.activity(t, v, max_spikes=256))(V[:64])
    # small blocks (the last one overlaps the previous) and a 2-D batch shape
    blocks = jn.activity(t, V[:63].reshape(9, 7, -1), max_spikes=256, batch_size=5)
    assert blocks.label.shape == (9, 7) and blocks.burst_period.shape == (9, 7)
    blocks = jax.tree_util.tree_map(lambda x: x.reshape(63), blocks)
    for i in range(0, 1000, 83):
        assert_same(as_dict(batched, i), as_dict(one(V[i])), where=f"member {i} loop")
        assert_same(as_dict(batched, i), ref.analyze(t, V[i], max_spikes=256), where=f"member {i} reference")
    for i in range(63):
        assert_same(as_dict(batched, i), as_dict(vm, i), where=f"member {i} vmap")
        assert_same(as_dict(batched, i), as_dict(blocks, i), where=f"member {i} blocks")


def test_spike_times_under_vmap_matches_batched():
    t, V = _population(40)
    a = jn.spike_times(t, V, max_spikes=128)
    b = jax.vmap(lambda v: jn.spike_times(t, v, max_spikes=128))(V)
    np.testing.assert_array_equal(np.asarray(a.times), np.asarray(b.times))
    np.testing.assert_array_equal(np.asarray(a.count), np.asarray(b.count))
    for i in range(0, 40, 7):
        np.testing.assert_allclose(np.asarray(a.times[i, : int(a.count[i])]), ref.crossing_times(t, V[i]), atol=1e-9)


def test_memory_of_large_batch_is_bounded():
    # 1,000 traces of 200,000 samples (20 s at 0.1 ms): compile only, nothing is allocated.
    n, m = 1000, 200_000
    t = jax.ShapeDtypeStruct((m,), jnp.float64)
    V = jax.ShapeDtypeStruct((n, m), jnp.float64)
    input_bytes = n * m * 8
    for fn in (jn.activity, jn.spike_times):
        mem = jax.jit(fn).lower(t, V).compile().memory_analysis()
        assert mem.temp_size_in_bytes < 0.5 * input_bytes, (fn.__name__, mem.temp_size_in_bytes / input_bytes)
        assert mem.output_size_in_bytes < 0.05 * input_bytes


def test_format_activity_summarises(population):
    spikes = burst_train(300.0 + 1000.0 * np.arange(20), 6, 20.0)
    t, v = make_trace(spikes)
    text = format_activity(jn.activity(t, v))
    assert text.splitlines()[0] == "activity: bursting"
    assert "period 1000 ms" in text and "duty cycle 0.1" in text and "6 spikes per burst" in text
    batched = population[2]
    first = jax.tree_util.tree_map(lambda x: x[:4], batched)
    lines = format_activity(first).splitlines()
    labels = [jn.ACTIVITY_LABELS[i] for i in np.asarray(first.label)]
    assert lines[0] == "4 traces: " + ", ".join(f"{labels.count(n)} {n}" for n in jn.ACTIVITY_LABELS)
    assert lines[1] == f"[0] activity: {labels[0]}"
    text = format_activity(batched)
    n_und = int(np.sum(np.asarray(batched.label) == jn.analysis.UNDETERMINED))
    assert text.startswith("1000 traces: ") and f", {n_und} undetermined" in text.splitlines()[0]
    assert text.splitlines()[1] == "(undetermined: window too short to classify them; make the window longer)"


def test_labels_and_feature_names():
    assert jn.ACTIVITY_LABELS == ("silent", "tonic", "bursting", "irregular", "undetermined")
    a = jn.analysis
    assert [a.SILENT, a.TONIC, a.BURSTING, a.IRREGULAR, a.UNDETERMINED] == [0, 1, 2, 3, 4]
    import dataclasses

    assert tuple(f.name for f in dataclasses.fields(jn.Activity)) == jn.Activity.feature_names
    with pytest.raises(ValueError, match="n_times"):
        jn.activity(np.arange(10.0), np.zeros((3, 11)))
    assert math.isclose(jn.analysis.CLASSIFY_DEFAULTS["regularity_tol"], 0.05)
