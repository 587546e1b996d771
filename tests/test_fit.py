"""jaxneuron.fit: bounded reparameterisation, fits that stay at / converge to the truth, K starts
as one batch equal K separate fits, flagged starts, and clear errors for bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxneuron as jn
from jaxneuron.fit.transforms import parse_bounds, to_params, to_unconstrained

HH = jn.HodgkinHuxley()
TRUTH = {"g_Na": 120.0, "g_K": 36.0, "g_L": 0.3}
BOUNDS = {"g_Na": (50.0, 200.0), "g_K": (10.0, 80.0), "g_L": (0.05, 1.0, "log")}
PROTOCOL = dict(t_end=60.0, stimulus=10.0, save=jn.SaveAt(save_dt=0.25), solver=jn.ExpEuler(dt=0.025))


@pytest.fixture(scope="module")
def hh_target():
    return jn.simulate(HH, **PROTOCOL)


def test_reparameterisation_never_leaves_the_bounds():
    bounds = parse_bounds({"a": (-3.0, 7.0), "b": (1e-4, 0.05, "log"), "c": (2.0, np.inf), "d": (0.0, 1e-300 * 1e10)},
                          ["a", "b", "c", "d"])  # fmt: skip
    rng = np.random.default_rng(0)
    extremes = np.array([np.inf, -np.inf, 1e308, -1e308, 1e3, -1e3, 40.0, -40.0, 0.0])
    u = np.concatenate([rng.normal(0, 1e3, (2000, 4)), rng.standard_cauchy((2000, 4)) * 1e6,
                        np.repeat(extremes[:, None], 4, axis=1)])  # fmt: skip
    theta = {k: np.asarray(v) for k, v in to_params(jnp.asarray(u), bounds).items()}
    for name, b in bounds.items():
        assert np.all(np.isfinite(theta[name])) and np.all(theta[name] >= b.low) and np.all(theta[name] <= b.high), name
    # the inverse maps interior values back (independent check: the closed forms)
    u_mod = rng.normal(0, 3, (100, 4))
    back = np.asarray(to_unconstrained(to_params(jnp.asarray(u_mod), bounds), bounds))
    np.testing.assert_allclose(back[:, :3], u_mod[:, :3], rtol=1e-9, atol=1e-9)
    s = 1 / (1 + np.exp(-u_mod))
    np.testing.assert_allclose(np.asarray(to_params(jnp.asarray(u_mod), bounds)["b"]),
                               np.exp(np.log(1e-4) + (np.log(0.05) - np.log(1e-4)) * s[:, 1]), rtol=1e-12)  # fmt: skip
    np.testing.assert_allclose(np.asarray(to_params(jnp.asarray(u_mod), bounds)["c"]), 2.0 + np.log1p(np.exp(u_mod[:, 2])), rtol=1e-12)


def test_fit_from_the_truth_stays_there(hh_target):
    r = jn.fit(HH, hh_target, params=list(TRUTH), bounds=BOUNDS, starts={k: [v, v] for k, v in TRUTH.items()}, steps=5,
               stimulus=10.0, solver=PROTOCOL["solver"])  # fmt: skip
    assert np.all(r.status == 0)
    assert np.all(r.loss < 1e-20) and np.all(r.history < 1e-20)
    for k, v in TRUTH.items():
        np.testing.assert_allclose(r.params[k], v, rtol=1e-10)


def test_fit_of_three_conductances_converges_to_the_truth(hh_target):
    # perturbed starts (+-5 %, seeded; from +-10 % about 1 start in 6 ends in another local minimum of the trace MSE), Levenberg-Marquardt with forward-mode Jacobians, bounded steps
    rng = np.random.default_rng(1)
    starts = {k: v * (1 + rng.uniform(-0.05, 0.05, 4)) for k, v in TRUTH.items()}
    r = jn.fit(HH, hh_target, params=list(TRUTH), bounds=BOUNDS, starts=starts, steps=25, stimulus=10.0,
               solver=PROTOCOL["solver"])  # fmt: skip
    assert np.all(r.status == 0)
    for k, v in TRUTH.items():
        assert np.all(np.abs(r.params[k] / v - 1) < 0.01), (k, r.params[k])
        assert np.max(np.abs(r.starts[k] / v - 1)) > 0.02  # they did move
    assert np.all(np.diff(r.history, axis=0) <= 0)  # accepted losses never rise
    assert r.best_index >= 0 and r.loss[r.best_index] == r.loss.min()


def test_k_starts_equal_k_separate_fits(hh_target):
    starts = {"g_Na": [100.0, 130.0, 115.0, 140.0], "g_K": [30.0, 40.0, 38.0, 33.0]}
    kw = dict(params=["g_Na", "g_K"], bounds={k: BOUNDS[k] for k in ("g_Na", "g_K")}, stimulus=10.0, t_end=30.0,
              save=jn.SaveAt(save_dt=0.25), solver=jn.ExpEuler(dt=0.025), steps=6)  # fmt: skip
    target = (np.asarray(hh_target.t[:121]), np.asarray(hh_target.V[:121]))
    for optimizer in ("lm", optax.adam(0.1)):
        batch = jn.fit(HH, target, starts=starts, optimizer=optimizer, **kw)
        for i in range(4):
            one = jn.fit(HH, target, starts={k: v[i : i + 1] for k, v in starts.items()}, optimizer=optimizer, **kw)
            for k in starts:
                np.testing.assert_allclose(batch.params[k][i], one.params[k][0], rtol=1e-9)
            np.testing.assert_allclose(batch.history[:, i], one.history[:, 0], rtol=1e-9)


def test_a_non_finite_start_is_flagged_and_the_others_go_on(hh_target):
    # log of the peak above -10 mV: NaN where the cell does not spike (g_Na = 30 cannot)
    def loss(sol):
        return (jnp.log(jnp.max(sol.V) + 10.0) - jnp.log(40.0)) ** 2

    kw = dict(params=["g_Na"], bounds={"g_Na": (20.0, 200.0)}, loss=loss, t_end=20.0, stimulus=10.0,
              save=jn.SaveAt(save_dt=0.25), solver=jn.ExpEuler(dt=0.025), steps=5, optimizer=optax.adam(0.05))  # fmt: skip
    r = jn.fit(HH, starts={"g_Na": [30.0, 120.0]}, **kw)
    assert list(r.status_names) == ["non_finite_loss", "ok"]
    assert r.params["g_Na"][0] == pytest.approx(30.0, rel=1e-12)  # frozen at its start
    alone = jn.fit(HH, starts={"g_Na": [120.0]}, **kw)
    np.testing.assert_allclose(r.params["g_Na"][1], alone.params["g_Na"][0], rtol=1e-10)
    assert r.best_index == 1 and np.isfinite(r.loss[1]) and np.isnan(r.loss[0])


def test_bad_input_gets_clear_errors(hh_target):
    kw = dict(bounds={"g_Na": (50.0, 200.0)}, starts=2, steps=1, stimulus=10.0)
    with pytest.raises(ValueError, match=r"not fittable leaves.*valid: \[.*'g_K'"):
        jn.fit(HH, hh_target, params=["g_Nat"], **kw)
    with pytest.raises(ValueError, match="inverted"):
        jn.fit(HH, hh_target, params=["g_Na"], bounds={"g_Na": (200.0, 50.0)}, starts=2, steps=1, stimulus=10.0)
    with pytest.raises(ValueError, match="exclude start 1"):
        jn.fit(HH, hh_target, params=["g_Na"], bounds={"g_Na": (50.0, 200.0)}, starts={"g_Na": [100.0, 250.0]}, steps=1)
    with pytest.raises(ValueError, match="time grid"):
        jn.fit(HH, hh_target, params=["g_Na"], save=jn.SaveAt(save_dt=0.5), **kw)
    with pytest.raises(ValueError, match="time grid"):
        jn.fit(HH, (hh_target.t, hh_target.V), params=["g_Na"], t_end=50.0, save=jn.SaveAt(save_dt=0.25), **kw)
    with pytest.raises(ValueError, match="scalar"):
        jn.fit(HH, params=["g_Na"], loss=lambda sol: sol.V[:3], t_end=10.0, **kw)
    with pytest.raises(ValueError, match="optimizer='lm'"):
        jn.fit(HH, params=["g_Na"], loss=lambda sol: jnp.mean(sol.V), t_end=10.0, optimizer="lm", **kw)
    with pytest.raises(ValueError, match="no range given"):
        jn.fit(HH, hh_target, params=["g_Na", "g_K"], **kw)


def test_nearest_returns_the_closest_members_of_a_database(tmp_path):
    import xarray as xr

    from jaxneuron.fit import nearest

    rng = np.random.default_rng(0)
    n = 50
    g = rng.uniform(0.0, 10.0, n)
    period = rng.uniform(400.0, 1600.0, n)
    duty = rng.uniform(0.1, 0.5, n)
    period[3] = np.nan  # not bursting: never chosen
    status = np.zeros(n, np.int8)
    status[7] = 2  # failed: never chosen
    ds = xr.Dataset({"burst_period": ("member", period), "duty_cycle": ("member", duty), "status": ("member", status)},
                    coords={"member": np.arange(n), "g_CaS": ("member", g)})  # fmt: skip
    ds.to_zarr(tmp_path / "db.zarr", consolidated=False)
    target = {"burst_period": 1000.0, "duty_cycle": 0.3}
    seeds, d = nearest(str(tmp_path / "db.zarr"), target, 5, return_distance=True, bounds={"g_CaS": (0.0, 10.0)})
    brute = [((period[i] - 1000.0) / 1000.0) ** 2 + ((duty[i] - 0.3) / 0.3) ** 2 if i not in (3, 7) else np.inf for i in range(n)]
    order = np.argsort(brute)[:5]
    np.testing.assert_allclose(seeds["g_CaS"], np.clip(g[order], 1e-8, 10 - 1e-8))
    np.testing.assert_allclose(d, np.asarray(brute)[order])
    with pytest.raises(ValueError, match="no feature"):
        nearest(str(tmp_path / "db.zarr"), {"spikes_per_burst": 4.0}, 2)


def test_cli_fits_a_trace_file(tmp_path, hh_target):
    import json

    from jaxneuron.cli import main

    sol = jn.simulate(HH, t_end=30.0, stimulus=10.0, save=jn.SaveAt(save_dt=0.25), solver=jn.ExpEuler(dt=0.025))
    np.savez(tmp_path / "trace.npz", t=np.asarray(sol.t), V=np.asarray(sol.V))
    (tmp_path / "fit.toml").write_text(f"""model = "hh"
[target]
trace = "{tmp_path / 'trace.npz'}"
[protocol]
t_end = 30.0
save_dt = 0.25
stimulus = 10.0
[fit]
bounds = {{g_K = [33.0, 39.0]}}
starts = 2
steps = 15
""")
    assert main(["fit", str(tmp_path / "fit.toml"), "--out", str(tmp_path / "fit.json")]) == 0
    out = json.loads((tmp_path / "fit.json").read_text())
    assert out["status"] == ["ok", "ok"]
    assert out["best"]["g_K"] == pytest.approx(36.0, rel=1e-6)
