"""Integrate-and-fire cells in the rest of the package: firing patterns, f-I curves, sweeps, the CLI."""

import math

import numpy as np
import pytest
import xarray as xr

import jaxneuron as jn
from jaxneuron.analysis.patterns import FIRING_PATTERNS, firing_pattern, patterns_of
from jaxneuron.cli import main
from reference_if import lif_period


# --- firing patterns on hand-made spike trains (the rules of jaxneuron.analysis.patterns) ---------


def _buffer(spikes, K=64):
    buf = np.full(K, np.nan)
    buf[: len(spikes)] = spikes
    return buf


def _pattern(spikes, t_end=1000.0):
    fp = patterns_of(_buffer(spikes)[None], np.array([len(spikes)]), 0.0, t_end)
    return FIRING_PATTERNS[int(fp.pattern[0])], float(fp.adaptation[0])


def test_firing_patterns_of_synthetic_trains():
    tonic = 5.0 + 20.0 * np.arange(50)
    isi = 10.0 + 40.0 * (1 - np.exp(-np.arange(30) / 4.0))  # 10 ms growing to 50 ms
    adapting = 5.0 + np.concatenate([[0.0], np.cumsum(isi)])
    adapting = adapting[adapting < 1000.0]
    bursts = np.concatenate([s + np.array([0.0, 4.0, 8.0]) for s in 20.0 + 100.0 * np.arange(10)])
    rng = np.random.default_rng(1)
    irregular = np.cumsum(rng.exponential(25.0, 39))
    irregular = irregular[irregular < 1000.0]
    transient = np.array([10.0, 20.0, 35.0, 60.0])
    assert _pattern([])[0] == "silent" and _pattern([100.0, 200.0])[0] == "silent"
    assert _pattern(tonic) == ("tonic", pytest.approx(1.0))
    name, ratio = _pattern(adapting)
    assert name == "adapting" and ratio == pytest.approx((adapting[-1] - adapting[-2]) / 10.0)
    assert _pattern(bursts)[0] == "bursting"
    assert _pattern(irregular)[0] == "irregular"
    assert _pattern(transient)[0] == "transient"


# AdEx sets giving each pattern (after Naud, Marcille, Clopath & Gerstner 2008, Biol Cybern 99:335)
NAUD = {
    "tonic": (dict(C=200.0, g_L=10.0, E_L=-70.0, tau_w=30.0, a=2.0, b=0.0, V_r=-58.0), 500.0),
    "adapting": (dict(C=200.0, g_L=12.0, E_L=-70.0, tau_w=300.0, a=2.0, b=60.0, V_r=-58.0), 500.0),
    "bursting": (dict(C=200.0, g_L=10.0, E_L=-58.0, tau_w=120.0, a=2.0, b=100.0, V_r=-46.0), 210.0),
    "irregular": (dict(C=100.0, g_L=12.0, E_L=-60.0, tau_w=130.0, a=-11.0, b=30.0, V_r=-48.0), 160.0),
}


def test_adex_sets_fire_the_patterns_they_are_known_for():
    names = list(NAUD)
    batch = {k: np.array([NAUD[n][0][k] for n in names]) for k in NAUD["tonic"][0]}
    sol = jn.simulate(jn.AdEx(**batch, V_T=-50.0, Delta_T=2.0, V_peak=0.0), t_end=1000.0,
                      stimulus=np.array([NAUD[n][1] for n in names]), save=jn.SaveAt(states=None, spikes=True, max_spikes=300))  # fmt: skip
    assert list(firing_pattern(sol).pattern_name) == names


# --- f-I curves -----------------------------------------------------------------------------------


def test_lif_fi_curve_matches_the_closed_form_rate_and_rheobase():
    currents = np.arange(0.0, 5.01, 0.5)
    fi = jn.fi_curve(jn.LIF(), currents, t_end=1000.0, transient=200.0, refine=3)
    expected = [1000.0 / lif_period(1.0, 0.1, -70.0, -55.0, -70.0, 2.0, I) if I > 1.5 else 0.0 for I in currents]
    np.testing.assert_allclose(np.asarray(fi.rate), expected, rtol=1e-5)
    assert float(fi.rheobase) - float(fi.rheobase_resolution) <= 1.5 <= float(fi.rheobase)
    assert float(fi.rheobase_resolution) < 1e-3


def test_adex_fi_onset_is_the_bifurcation_current():
    m = jn.AdEx()
    fi = jn.fi_curve(m, np.arange(500.0, 1001.0, 50.0), t_end=2000.0, transient=1000.0, refine=3)
    # a step from rest fires a single spike from ~577 pA; repetitive firing needs rest to be gone
    assert float(fi.onset_resolution) < 0.1 and abs(float(fi.onset) - float(m.bifurcation_current())) < 0.4
    assert float(fi.rheobase) < float(fi.onset) - 20.0
    assert np.all(np.diff(np.asarray(fi.rate)[np.asarray(fi.repetitive)]) > 0)


# --- sweeps ---------------------------------------------------------------------------------------

ADEX_SWEEP = """
description = "AdEx patterns (test)"
model = "adex"
seed = 0
chunk_size = 8
[fixed]
C = 200.0
g_L = 10.0
E_L = -58.0
tau_w = 120.0
V_r = -46.0
[protocol]
transient = 0.0
window = 600.0
save_dt = 0.1
stimulus = {kind = "constant"}
[solver]
name = "tsit5"
[features]
names = ["label", "n_spikes", "spike_rate", "pattern", "adaptation"]
options = {max_spikes = 300}
[traces]
keep = 2
[space]
kind = "grid"
[space.axes]
a = {values = [-8.0, 2.0]}
b = {values = [0.0, 100.0]}
"stimulus.amplitude" = {values = [150.0, 210.0, 400.0]}
"""


def test_adex_sweep_stores_firing_patterns_equal_to_simulate(tmp_path):
    spec_path = tmp_path / "adex.toml"
    spec_path.write_text(ADEX_SWEEP)
    db, png = tmp_path / "adex.zarr", tmp_path / "adex.png"
    assert main(["sweep", str(spec_path), "--out", str(db), "--plot", str(png)]) == 0
    ds = xr.open_zarr(db)
    assert ds["stimulus.amplitude"].attrs["units"] == "pA" and "tonic" in ds["pattern"].attrs["flag_meanings"]
    a, b, I = (ds[k].values for k in ("a", "b", "stimulus.amplitude"))
    sol = jn.simulate(jn.AdEx(C=200.0, g_L=10.0, E_L=-58.0, tau_w=120.0, V_r=-46.0, a=a, b=b), t_end=600.0, stimulus=I,
                      solver=jn.Tsit5(), save=jn.SaveAt(states=None, spikes=True, max_spikes=300))  # fmt: skip
    fp = firing_pattern(sol)
    np.testing.assert_array_equal(ds["pattern"].values, np.asarray(fp.pattern))
    np.testing.assert_array_equal(ds["n_spikes"].values, np.asarray(sol.n_spikes))
    assert len(set(ds["pattern"].values)) >= 3 and png.stat().st_size > 10_000


def test_pattern_features_are_only_for_cells_and_named_in_errors(tmp_path):
    bad = ADEX_SWEEP.replace('"pattern", "adaptation"', '"patern"')
    with pytest.raises(jn.SweepSpecError, match="unknown feature.*patern.*pattern, adaptation"):
        from jaxneuron.survey.spec import parse_spec

        parse_spec(bad)


# --- CLI ------------------------------------------------------------------------------------------


def test_cli_simulates_adex_and_reports_spikes_and_pattern(capsys, tmp_path):
    out = tmp_path / "adex.npz"
    rc = main(["simulate", "adex", "--set", "a=4", "--set", "b=80", "--stim", "constant:700", "--t-end", "1000",
               "--analyze", "--out", str(out)])  # fmt: skip
    text = capsys.readouterr().out
    assert rc == 0, text
    sol = jn.simulate(jn.AdEx(a=4.0, b=80.0), t_end=1000.0, stimulus=700.0, save=jn.SaveAt(spikes=True, transient=250.0))
    n = int(sol.n_spikes)
    assert f"spikes: {n} (" in text and "activity: tonic" in text
    assert "firing pattern of the whole run [0, 1000] ms: adapting" in text
    np.testing.assert_allclose(np.load(out)["V_mV"][0], -70.6)


def test_cli_rejects_an_unknown_izhikevich_parameter(capsys):
    with pytest.raises(SystemExit, match="unknown parameter"):
        main(["simulate", "izhikevich", "--set", "e=1"])


def test_lif_stimulus_unit_is_per_area_and_adex_is_pa():
    assert jn.LIF.stimulus_unit == "uA/cm^2" and jn.AdEx.stimulus_unit == "pA"
    assert jn.HodgkinHuxley.stimulus_unit == "uA/cm^2" and math.isclose(float(jn.LIF().tau_m), 10.0)


def test_activity_of_a_later_window_equals_a_run_recorded_from_it():
    kw = dict(t_end=1500.0, stimulus=np.array([700.0, 1000.0]), solver=jn.Tsit5())
    whole = jn.simulate(jn.AdEx(), save=jn.SaveAt(states=None, spikes=True), **kw)
    later = jn.simulate(jn.AdEx(), save=jn.SaveAt(states=None, spikes=True, transient=500.0), **kw)
    a, b = jn.activity_from_spikes(whole, t_start=500.0), jn.activity_from_spikes(later)
    for name in ("label", "n_spikes", "spike_rate", "isi_mean", "isi_cv"):
        np.testing.assert_allclose(np.asarray(getattr(a, name)), np.asarray(getattr(b, name)), rtol=1e-12, err_msg=name)
    with pytest.raises(ValueError, match="t_start must lie in the recorded window"):
        jn.activity_from_spikes(later, t_start=100.0)
