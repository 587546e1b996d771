"""The sweep commands: kill -9 then --resume, two concurrent --shard processes, and what a
user sees (errors with exit code 2, info, plot, export). Subprocesses are fresh interpreters."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow  # noqa: F401  (a declared dependency: `jaxneuron export --parquet`)
import pytest
import xarray as xr
from sweep_helpers import MANY_CHUNKS, assert_same_database, write

import jaxneuron as jn
from jaxneuron.cli import main
from jaxneuron.survey import store

KILL_HELPER = os.path.join(os.path.dirname(__file__), "_kill_helper.py")
KILL_AT = 5  # of MANY_CHUNKS' 18 chunks of 2 members


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    spec = write(d, MANY_CHUNKS)
    jn.sweep(spec, str(d / "ref.zarr"))
    env = dict(os.environ, JAXNEURON_COMPILATION_CACHE=str(d / "jax-cache"))
    return d, spec, str(d / "ref.zarr"), env


def start(env, *args):
    cmd = [sys.executable, "-m", "jaxneuron.cli", "sweep", *args]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_kill_9_then_resume_equals_uninterrupted_run(setup):
    d, spec, ref, env = setup
    out = str(d / "killed.zarr")
    # the process kills itself (SIGKILL) while writing chunk KILL_AT: its data region and kept
    # traces are written, its done flag is not (_kill_helper.py); no timing involved
    r = subprocess.run([sys.executable, KILL_HELPER, str(KILL_AT), spec, "--out", out],
                       env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == -9, f"expected death by SIGKILL, got exit status {r.returncode}: {r.stderr[-2000:]}"
    done = store.done_chunks(out)
    expected = np.arange(done.size) < KILL_AT  # chunks run in order; the one being written is not done
    np.testing.assert_array_equal(done, expected)
    assert 0 < done.sum() < done.size
    killed = xr.open_zarr(out)
    status = killed["status"].values
    cs = killed.attrs["chunk_size"]
    assert np.all(status[KILL_AT * cs:(KILL_AT + 1) * cs] >= 0)  # chunk KILL_AT's data were written ...
    assert np.all(status[(KILL_AT + 1) * cs:] == -1)  # ... and nothing after it
    r = subprocess.run([sys.executable, "-m", "jaxneuron.cli", "sweep", spec, "--out", out, "--resume"],
                       env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "18/18 chunks done (complete)" in r.stdout and "classes of 36 computed members" in r.stdout
    assert f"this run: {36 - 2 * KILL_AT} members" in r.stdout  # chunk KILL_AT is redone, the done ones are not
    assert "member/s" not in r.stderr  # no progress bar when stderr is not a terminal
    assert_same_database(ref, out)


@pytest.mark.slow
def test_two_shards_equal_one_process(setup):
    d, spec, ref, env = setup
    out = str(d / "sharded.zarr")
    procs = [start(env, spec, "--out", out, "--shard", f"{i}/2") for i in range(2)]
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr
    assert store.done_chunks(out).all()
    assert_same_database(ref, out)


def test_cli_errors_exit_2_with_a_clear_message(setup, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("JAXNEURON_COMPILATION_CACHE", "off")
    d, spec, ref, _ = setup
    bad = write(tmp_path, MANY_CHUNKS.replace("[space]", "[space"), "bad.toml")
    assert main(["sweep", bad, "--out", str(tmp_path / "x.zarr")]) == 2
    assert "malformed TOML" in capsys.readouterr().err
    assert main(["sweep", spec, "--out", ref]) == 2
    assert "already exists: pass --resume" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["sweep", spec, "--out", str(tmp_path / "x.zarr"), "--shard", "3/2"])
    assert e.value.code == 2 and "need 0 <= I < N" in capsys.readouterr().err
    assert main(["info", str(tmp_path)]) == 2
    assert not os.path.exists(tmp_path / "x.zarr")


def test_info_plot_export(setup, tmp_path, capsys):
    _, _, ref, _ = setup
    assert main(["info", ref]) == 0
    out = capsys.readouterr().out
    assert "18/18 chunks, 36/36 members" in out and "silent" in out and "versions: jaxneuron" in out
    for kind in ("summary", "classmap", "hist", "traces"):
        assert main(["plot", ref, "--kind", kind, "--out", str(tmp_path / f"{kind}.png")]) == 0
        assert (tmp_path / f"{kind}.png").stat().st_size > 10_000
    assert main(["plot", ref, "--x", "g_Na", "--out", str(tmp_path / "no.png")]) == 2
    assert "not a swept parameter" in capsys.readouterr().err
    assert main(["export", ref, "--csv", str(tmp_path / "t.csv")]) == 0
    table = pd.read_csv(tmp_path / "t.csv")
    assert len(table) == 36 and {"member", "g_K", "stimulus.amplitude", "status", "label", "burst_period"} <= set(table)
    assert main(["export", ref, "--parquet", str(tmp_path / "t.parquet")]) == 0
    pq = pd.read_parquet(tmp_path / "t.parquet")
    np.testing.assert_array_equal(pq["spike_rate"].values, xr.open_zarr(ref)["spike_rate"].values)
