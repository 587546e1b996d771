"""The sweep engine in-process: results equal simulation through the public API (another batch
shape, no chunks), chunk-size invariance, one compilation per sweep, refusals, write failures,
failed members. (Queue against diffrax engine and an independent tight solve: test_sweep_queue.)"""

import json

import jax.numpy as jnp
import jax
import numpy as np
import pytest
import xarray as xr
from sweep_helpers import SMALL, assert_same_database, write

import jaxneuron as jn
from jaxneuron.solvers.status import STATUS, Status
from jaxneuron.survey import SweepError, engine, run, store


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    d = tmp_path_factory.mktemp("ref")
    spec = write(d, SMALL)
    summary = jn.sweep(spec, str(d / "ref.zarr"))
    return spec, str(d / "ref.zarr"), summary


def test_database_layout_and_summary(reference):
    _, db, summary = reference
    assert summary.complete and summary.members_run == 9 and summary.chunks_run == 3
    ds = xr.open_zarr(db)
    assert ds.sizes["member"] == 9 and list(ds["member"].values) == list(range(9))
    assert ds["g_K"].attrs["units"] == "mS/cm^2" and ds["stimulus.amplitude"].attrs["units"] == "uA/cm^2"
    assert set(jn.Activity.feature_names) <= set(ds.data_vars) and ds["status"].dtype == np.int8
    assert ds["V"].dims == ("trace_member", "time") and ds.sizes["trace_member"] == 4
    assert ds.attrs["seed"] == 5 and "jax" in ds.attrs["versions"] and ds.attrs["device"].startswith("cpu")
    assert "stimulus.amplitude" in ds.attrs["spec_toml"]
    assert (ds["status"].values == 0).all()
    assert ds["status"].attrs["flag_values"] == [-1] + sorted(STATUS)
    assert ds["status"].attrs["flag_meanings"] == "not_computed " + " ".join(STATUS[c] for c in sorted(STATUS))
    assert summary.class_counts["silent"] + summary.class_counts["tonic"] == 9
    assert json.loads(ds.attrs["spec_json"])["solver"] == {"name": "expeuler", "dt": 0.025, "engine": "queue"}
    assert np.isnan(ds["slow_wave_amplitude"].values).all()  # the queue engine saves no trace of the window
    np.testing.assert_allclose(ds["time"].values, 20.0 + 0.2 * np.arange(751), rtol=0, atol=1e-9)  # t0 + transient .. t_end


def test_matches_simulate_through_the_public_api(reference):
    """The database equals one ``jn.simulate`` of all 9 members (one batch: no chunks, no padding)
    saving spike times + ``jn.activity_from_spikes``, and, for the kept members, one saving V."""
    _, db, _ = reference
    ds = xr.open_zarr(db)
    amp, gk = ds["stimulus.amplitude"].values, ds["g_K"].values
    kw = dict(t_end=170.0, solver=jn.ExpEuler(dt=0.025), engine=jn.QueueEngine())
    sol = jn.simulate(jn.HodgkinHuxley(g_K=jnp.asarray(gk)), stimulus=jn.Constant(jnp.asarray(amp)),
                      save=jn.SaveAt(transient=20.0, states=None, spikes=True), **kw)  # fmt: skip
    act = jn.activity_from_spikes(sol)
    np.testing.assert_array_equal(ds["status"].values, np.asarray(sol.status))
    np.testing.assert_array_equal(ds["num_steps"].values, np.asarray(sol.num_steps))
    assert (np.asarray(sol.num_steps) == 6800).all()  # 170 ms / 0.025 ms
    for name in jn.Activity.feature_names:
        np.testing.assert_allclose(ds[name].values, np.asarray(getattr(act, name)), rtol=1e-10, err_msg=name)
    assert sorted(ds["n_spikes"].values) == sorted(np.asarray(sol.n_spikes)) and ds["n_spikes"].values.max() >= 8
    kept = ds["trace_member"].values
    tr = jn.simulate(jn.HodgkinHuxley(g_K=jnp.asarray(gk[kept])), stimulus=jn.Constant(jnp.asarray(amp[kept])),
                     save=jn.SaveAt(transient=20.0, save_dt=0.1), **kw)  # fmt: skip
    np.testing.assert_allclose(ds["time"].values, np.asarray(tr.t)[::2], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ds["V"].values, np.asarray(tr.V)[:, ::2].astype(np.float32), rtol=1e-6)


def test_chunk_size_invariance_and_one_compilation(reference, tmp_path, monkeypatch):
    spec, db, _ = reference
    compiles, chunks = [], []
    run = engine.run_chunk

    def counted(*args):  # XLA compilations per chunk
        chunks.append(len(compiles))
        return run(*args)

    def listener(event, duration, **kw):
        if event == "/jax/core/compile/backend_compile_duration":
            compiles.append(duration)

    monkeypatch.setattr(engine, "run_chunk", counted)
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        summary = jn.sweep(spec, str(tmp_path / "c2.zarr"), chunk_size=2)  # 5 chunks, the last padded
    finally:
        from jax._src import monitoring

        monitoring._unregister_event_duration_listener_by_callback(listener)
    # calls: the database layout (an abstract evaluation, nothing compiled), then the 5 chunks
    assert summary.chunks_run == 5 and len(chunks) == 6 and chunks[1] == 0
    assert len(compiles) > 0 and chunks[2] == len(compiles)  # every program compiled for the first chunk only
    # another chunk shape vectorises differently: equal to rounding (measured <= 6e-12 relative)
    assert_same_database(db, str(tmp_path / "c2.zarr"), rtol=1e-9)


def test_refusals_leave_the_database_alone(reference, tmp_path):
    spec, _, _ = reference
    out = str(tmp_path / "db.zarr")
    jn.sweep(spec, out, chunk_size=2)
    with pytest.raises(SweepError, match="already exists: pass --resume to continue it, or --overwrite"):
        jn.sweep(spec, out)
    other = write(tmp_path, SMALL.replace("window = 150.0", "window = 100.0"), "other.toml")
    with pytest.raises(SweepError, match=r"(?s)spec differs.*protocol.window: stored 150.0, given 100.0"):
        jn.sweep(other, out, resume=True)
    with pytest.raises(SweepError, match="created with chunk size 2"):
        jn.sweep(spec, out, resume=True, chunk_size=4)
    with pytest.raises(SweepError, match="--overwrite with --shard"):
        jn.sweep(spec, out, overwrite=True, shard="0/2")
    assert jn.sweep(spec, out, resume=True).chunks_run == 0  # nothing left: resume is a no-op
    (tmp_path / "notadb").mkdir()
    (tmp_path / "notadb" / "precious.txt").write_text("keep me")
    with pytest.raises(SweepError, match="not a jaxneuron sweep database; refusing to delete"):
        jn.sweep(spec, str(tmp_path / "notadb"), overwrite=True)
    assert (tmp_path / "notadb" / "precious.txt").exists()


def test_write_failure_leaves_chunk_not_done_and_resume_redoes_it(reference, tmp_path, monkeypatch):
    spec, db, _ = reference
    out = str(tmp_path / "db.zarr")
    real_write = store.write_chunk

    def failing_before_flag(path, spec_, k, *args):
        if k == 1:
            raise OSError(28, "No space left on device")
        return real_write(path, spec_, k, *args)

    monkeypatch.setattr(run, "write_chunk", failing_before_flag)
    with pytest.raises(SweepError, match=r"writing chunk 1 .* failed .*No space left.*--resume"):
        jn.sweep(spec, out)
    done = store.done_chunks(out)
    assert done[0] and not done[1]
    monkeypatch.setattr(run, "write_chunk", real_write)
    summary = jn.sweep(spec, out, resume=True)
    assert summary.complete and summary.chunks_run == 2  # chunk 1 redone, chunk 2 never started
    assert_same_database(db, out)


def test_failed_members_are_flagged_and_the_sweep_goes_on(tmp_path):
    # Too few steps for the spiking members (each spike costs Tsit5 many steps), enough for rest.
    text = SMALL.replace('name = "expeuler"\ndt = 0.025', 'name = "tsit5"\nmax_steps = 400')
    summary = jn.sweep(write(tmp_path, text), str(tmp_path / "f.zarr"))
    ds = xr.open_zarr(str(tmp_path / "f.zarr"))
    status, label = ds["status"].values, ds["label"].values
    assert summary.complete and (status == 1).any() and (status == 0).any()
    assert (label[status == 1] == -1).all() and np.isnan(ds["spike_rate"].values[status == 1]).all()
    assert summary.status_counts[STATUS[Status.MAX_STEPS]] == int((status == Status.MAX_STEPS).sum())
