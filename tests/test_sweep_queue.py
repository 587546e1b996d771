"""``[solver] engine = "queue"``: the sweep runs jaxneuron.simulate_spikes and gives the labels and
spike features of the trace-based (vmap) engine with the same solver."""

import numpy as np
import pytest
import xarray as xr
from sweep_helpers import SMALL, write

import jaxneuron as jn

TSIT5 = SMALL.replace('name = "expeuler"\ndt = 0.025', 'name = "tsit5"\nrtol = 1e-8\natol = 1e-8')
QUEUE = TSIT5.replace("atol = 1e-8", 'atol = 1e-8\nengine = "queue"')


def test_queue_engine_matches_the_vmap_engine(tmp_path):
    a = jn.sweep(write(tmp_path, TSIT5, "a.toml"), str(tmp_path / "a.zarr"))
    b = jn.sweep(write(tmp_path, QUEUE, "b.toml"), str(tmp_path / "b.zarr"))
    assert a.complete and b.complete
    da, db = xr.open_zarr(str(tmp_path / "a.zarr")), xr.open_zarr(str(tmp_path / "b.zarr"))
    assert (db["status"].values == 0).all()
    np.testing.assert_array_equal(db["label"].values, da["label"].values)
    assert set(db["label"].values) == {jn.analysis.SILENT, jn.analysis.TONIC}
    np.testing.assert_array_equal(db["n_spikes"].values, da["n_spikes"].values)
    np.testing.assert_allclose(db["isi_mean"].values, da["isi_mean"].values, rtol=1e-4)
    assert np.isnan(db["slow_wave_amplitude"].values).all()
    np.testing.assert_allclose(db["V"].values, da["V"].values, rtol=1e-6, atol=1e-3)  # kept traces: same simulate
    assert db.attrs["spec_toml"].count('engine = "queue"') == 1


def test_queue_engine_refuses_fixed_step_solvers(tmp_path):
    bad = SMALL.replace("dt = 0.025", 'dt = 0.025\nengine = "queue"')
    with pytest.raises(jn.SweepSpecError, match="solver.engine"):
        jn.load_spec(write(tmp_path, bad))
    with pytest.raises(jn.SweepSpecError, match="solver.engine"):
        jn.load_spec(write(tmp_path, TSIT5.replace("atol = 1e-8", 'atol = 1e-8\nengine = "fast"')))
