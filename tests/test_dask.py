"""Sweeps on Dask (jaxneuron.survey.distributed): every run is compared with the single-process
database bitwise (tests/sweep_helpers.assert_same_database); kills, a lost scheduler and
concurrent shards included. Bad input leaves what was written untouched (file hashes)."""

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr
from sweep_helpers import MANY_CHUNKS, assert_same_database, write

import jaxneuron as jn
from jaxneuron.cli import main
from jaxneuron.survey import store
from jaxneuron.survey.spec import SweepSpecError, parse_spec

distributed = pytest.importorskip("distributed")
BIN = os.path.dirname(sys.executable)
KILL_AT = 5  # of MANY_CHUNKS' 18 chunks of 2 members


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("dask")
    spec = write(d, MANY_CHUNKS)
    jn.sweep(spec, str(d / "ref.zarr"))  # single process, every core
    env = dict(os.environ, JAXNEURON_COMPILATION_CACHE=str(d / "jax-cache"), JAX_NUM_CPU_DEVICES="1")
    return d, spec, str(d / "ref.zarr"), env


def tree_hash(path) -> dict:
    """{relative file: sha256} of a directory (what 'nothing written is lost' compares)."""
    out = {}
    for root, _, files in os.walk(path):
        for f in files:
            p = os.path.join(root, f)
            out[os.path.relpath(p, path)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return out


def metadata(path) -> dict:
    """Every zarr.json of a database, without the attributes that record when and where."""
    out = {}
    for rel in tree_hash(path):
        if rel.endswith("zarr.json"):
            doc = json.load(open(os.path.join(path, rel)))
            for attrs in [doc.get("attributes", {})] + [m.get("attributes", {}) for m in doc.get("consolidated_metadata", {}).get("metadata", {}).values()]:
                for k in ("created_utc", "device", "spec_path"):
                    attrs.pop(k, None)
            out[rel] = doc
    return out


def test_dask_local_2_equals_single_process(setup, tmp_path, capsys):
    d, spec, ref, _ = setup
    out = str(tmp_path / "dask.zarr")
    assert main(["sweep", spec, "--out", out, "--dask", "local:2"]) == 0
    text = capsys.readouterr().out
    assert "18/18 chunks done (complete)" in text and "this run: 36 members" in text
    assert "on 2 Dask worker process(es) (1 cpu device(s) each)" in text  # local:2 on 2 cores: 1 device per worker
    assert_same_database(ref, out)
    # concurrent writers never touched the metadata: it is byte-for-byte the template's
    fresh = str(tmp_path / "fresh.zarr")
    from jaxneuron.survey.engine import output_structure

    s = jn.load_spec(spec)
    assert store.create_store(fresh, s, output_structure(s))
    assert metadata(out) == metadata(fresh)
    assert not [f for f in tree_hash(out) if f.endswith(".partial")]


class KillWhileWriting(distributed.WorkerPlugin):
    """On a worker: SIGKILL the worker process while it writes chunk ``k`` (data written, done
    flag not yet), once (the marker file records the pid that died)."""

    def __init__(self, k, marker):
        self.k, self.marker = k, marker

    def setup(self, worker):
        import zarr

        import jaxneuron.survey.store as st

        original, k_kill, marker = st.write_chunk, self.k, self.marker

        def write_chunk(path, spec, k, *args, **kwargs):
            if k == k_kill:
                try:
                    fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:  # killed once already: the rerun writes normally
                    return original(path, spec, k, *args, **kwargs)
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                open_array = zarr.open_array

                def die(*a, **kw):
                    if str(kw.get("path", "")).endswith("chunk_done") and kw.get("mode") != "r":
                        os.kill(os.getpid(), signal.SIGKILL)
                    return open_array(*a, **kw)

                zarr.open_array = die
            return original(path, spec, k, *args, **kwargs)

        st.write_chunk = write_chunk


class FailChunk(distributed.WorkerPlugin):
    """On a worker: writing chunk ``k`` raises OSError (a full disk)."""

    def __init__(self, k):
        self.k = k

    def setup(self, worker):
        import jaxneuron.survey.store as st

        original, k_fail = st.write_chunk, self.k

        def write_chunk(path, spec, k, *args, **kwargs):
            if k == k_fail and path.endswith("failed.zarr"):
                raise OSError(f"disk full at chunk {k}")
            return original(path, spec, k, *args, **kwargs)

        st.write_chunk = write_chunk


def test_worker_killed_mid_chunk_sweep_completes(setup, tmp_path, monkeypatch):
    import cloudpickle

    from jaxneuron.survey.cluster import local_cluster

    d, spec, ref, _ = setup
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this test module
    cluster, restore = local_cluster(2, 1)
    try:
        with distributed.Client(cluster) as client:
            marker = str(tmp_path / "killed.pid")
            client.register_plugin(KillWhileWriting(KILL_AT, marker))
            monkeypatch.chdir(tmp_path)  # a relative --out: the workers were started elsewhere
            summary = jn.sweep(spec, "killed.zarr", client=client)
            # a chunk whose task keeps raising: the error after the retries, the others kept
            client.register_plugin(FailChunk(KILL_AT))
            with pytest.raises(jn.SweepError, match=r"a chunk task failed after 1 retries \(OSError: disk full at chunk 5\)"):
                jn.sweep(spec, "failed.zarr", client=client, retries=1)
    finally:
        cluster.close()
        restore()
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    failed = store.done_chunks(str(tmp_path / "failed.zarr"))
    assert not failed[KILL_AT] and failed.sum() > 0
    assert main(["sweep", spec, "--out", str(tmp_path / "failed.zarr"), "--resume"]) == 0
    assert_same_database(ref, str(tmp_path / "failed.zarr"))
    pid = int(open(marker).read())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the worker that wrote chunk KILL_AT's data is dead ...
    assert summary.path == str(tmp_path / "killed.zarr") and summary.complete and summary.members_run == 36
    assert_same_database(ref, str(tmp_path / "killed.zarr"))  # ... and its chunk was rerun elsewhere


def test_two_shards_started_at_once_into_one_new_database(setup, tmp_path):
    d, spec, ref, env = setup
    out = str(tmp_path / "sharded.zarr")
    cmd = [sys.executable, "-m", "jaxneuron.cli", "sweep", spec, "--out", out, "--shard"]
    procs = [subprocess.Popen(cmd + [f"{i}/2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr
        assert "this run: 18 members" in stdout  # each shard ran its 9 chunks
    assert store.done_chunks(out).all()
    assert_same_database(ref, out)
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".sharded.zarr.tmp")]  # the loser's template is gone


BLOCK = """
import os, time
import jaxneuron.survey.store as st
original = st.__dict__.setdefault("_unblocked_write_chunk", st.write_chunk)  # the preload may run twice
def write_chunk(path, spec, k, *args, **kwargs):
    if k == {k}:
        open({waiting!r}, "w").close()
        while True:  # hold chunk {k} until the test kills this worker
            time.sleep(0.1)
    return original(path, spec, k, *args, **kwargs)
st.write_chunk = write_chunk
"""


def _start(args, env, **kw):
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, **kw)


def _stop(p):
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGKILL)
    p.communicate(timeout=60)


def _wait_for(cond, what, timeout=120):
    t0 = time.time()
    while not cond():
        assert time.time() - t0 < timeout, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_scheduler_gone_client_exits_clearly_then_resume_finishes(setup, tmp_path, capsys):
    d, spec, ref, env = setup
    out, sfile, waiting = str(tmp_path / "gone.zarr"), str(tmp_path / "scheduler.json"), str(tmp_path / "waiting")
    preload = tmp_path / "block.py"
    preload.write_text(BLOCK.format(k=KILL_AT, waiting=waiting))
    scheduler = _start([f"{BIN}/dask", "scheduler", "--port", "0", "--no-dashboard", "--scheduler-file", sfile], env)
    worker = client = None
    try:
        _wait_for(lambda: os.path.exists(sfile) and os.path.getsize(sfile) > 0, "the scheduler file")
        address = json.load(open(sfile))["address"]
        worker = _start([f"{BIN}/dask", "worker", address, "--nthreads", "1", "--no-dashboard", "--preload", str(preload)], env)
        client = _start([sys.executable, "-m", "jaxneuron.cli", "sweep", spec, "--out", out, "--dask", address], env)
        _wait_for(lambda: os.path.exists(waiting), f"the worker to reach chunk {KILL_AT}")
        done = store.done_chunks(out)
        assert KILL_AT <= done.sum() < done.size and not done[KILL_AT]
        os.killpg(scheduler.pid, signal.SIGKILL)
        stdout, stderr = client.communicate(timeout=120)
    finally:
        for p in (client, worker, scheduler):
            if p is not None:
                _stop(p)
    assert client.returncode == 2, stderr
    assert f"lost the Dask scheduler {address}" in stderr and "run again with --resume" in stderr
    before = store.done_chunks(out)
    assert main(["sweep", spec, "--out", out, "--resume"]) == 0  # single process
    text = capsys.readouterr().out
    assert "18/18 chunks done (complete)" in text and f"this run: {2 * int((~before).sum())} members" in text
    assert_same_database(ref, out)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_and_dask_with_shard_write_nothing(setup, tmp_path, capsys):
    import dask

    d, spec, ref, _ = setup
    kept = str(tmp_path / "kept.zarr")
    shutil.copytree(ref, kept)
    before = tree_hash(kept)
    new = str(tmp_path / "new.zarr")
    t0 = time.time()
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        for out in (new, kept):
            assert main(["sweep", spec, "--out", out, "--resume", "--dask", f"tcp://127.0.0.1:{_free_port()}"]) == 2
            err = capsys.readouterr().err
            assert "cannot reach the Dask scheduler tcp://127.0.0.1:" in err and "nothing was written" in err
    assert time.time() - t0 < 30
    assert main(["sweep", spec, "--out", kept, "--resume", "--dask", "local:2", "--shard", "0/2"]) == 2
    assert "--dask and --shard 0/2 do not combine" in capsys.readouterr().err
    with pytest.raises(jn.SweepError, match="do not combine"):
        jn.sweep(spec, kept, resume=True, client=object(), shard="1/2")
    assert main(["sweep", spec, "--out", new, "--dask", "local:0"]) == 2
    assert "expected local:N" in capsys.readouterr().err
    assert not os.path.exists(new) and tree_hash(kept) == before


CLUSTER = """
[cluster]
jobs = 4
cpus_per_job = 16
gpus_per_job = 1
memory = "32GB"
walltime = "02:00:00"
queue = "gpu"
job_script_prologue = ["source /opt/venv/bin/activate"]
"""


def test_cluster_table_is_validated_and_builds_the_slurm_job(setup, tmp_path, capsys):
    d, spec, ref, _ = setup
    bad = write(tmp_path, MANY_CHUNKS + CLUSTER.replace("jobs = 4", "nodes = 4"), "bad.toml")
    for args in (["--dask", "slurm", "--out", str(tmp_path / "x.zarr")], ["--dry-run"]):
        assert main(["sweep", bad, *args]) == 2
        err = capsys.readouterr().err
        assert "[cluster]: unknown key(s) ['nodes']; valid keys: jobs, cpus_per_job, workers_per_job, gpus_per_job, memory" in err
    assert not os.path.exists(tmp_path / "x.zarr")
    for extra, msg in ((CLUSTER.replace('memory = "32GB"', ""), 'missing required key "memory"'),
                       (CLUSTER + "workers_per_job = 2\n", "set workers_per_job = 1"),
                       (CLUSTER.replace('"02:00:00"', '"2h"'), "expected SLURM time"),
                       (CLUSTER.replace("jobs = 4", "jobs = 0"), "cluster.jobs: must be >= 1")):  # fmt: skip
        with pytest.raises(SweepSpecError, match=msg):
            parse_spec(MANY_CHUNKS + extra)
    good = parse_spec(MANY_CHUNKS + CLUSTER)
    assert good.canonical() == parse_spec(MANY_CHUNKS).canonical()  # not part of the results: a resume may change it
    pytest.importorskip("dask_jobqueue")
    import tomllib

    from jaxneuron.survey.cluster import slurm_kwargs

    kw, jobs = slurm_kwargs(tomllib.loads(CLUSTER)["cluster"])
    assert jobs == 4 and kw["cores"] == 1 and kw["processes"] == 1 and kw["job_cpu"] == 16
    from dask_jobqueue import SLURMCluster

    with SLURMCluster(**kw, scheduler_options={"dashboard_address": None}) as cluster:
        script = cluster.job_script()
    for line in ("#SBATCH --cpus-per-task=16", "#SBATCH --gres=gpu:1", "#SBATCH -p gpu", "#SBATCH -t 02:00:00",
                 "export JAX_NUM_CPU_DEVICES=16", "source /opt/venv/bin/activate", "--nthreads 1"):  # fmt: skip
        assert line in script, (line, script)


def _can_hide_a_directory(tmp_path) -> bool:
    hidden = tmp_path / "probe-hidden"
    hidden.mkdir()
    r = subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t tmpfs tmpfs {hidden} && test ! -e {hidden}/x"],
                       capture_output=True)  # fmt: skip
    (hidden / "x").write_text("")
    return r.returncode == 0


def test_database_path_the_workers_cannot_see(setup, tmp_path):
    """A worker whose /tmp is not ours (a private mount namespace with a tmpfs over the database's
    directory: what a node-local /tmp is to a cluster worker)."""
    d, spec, ref, env = setup
    if shutil.which("unshare") is None or not _can_hide_a_directory(tmp_path):
        pytest.skip("needs unshare -m and mount (root) to give a worker a private directory")
    shared = tmp_path / "node-local"
    shared.mkdir()
    kept = str(shared / "kept.zarr")
    shutil.copytree(ref, kept)
    before = tree_hash(kept)
    with distributed.LocalCluster(n_workers=0, protocol="tcp", dashboard_address=None, scheduler_port=0) as cluster:
        hide = f"mount -t tmpfs tmpfs {shared} && exec {BIN}/dask worker {cluster.scheduler_address} --nthreads 1 --no-dashboard"
        worker = _start(["unshare", "-m", "sh", "-c", hide], env)
        try:
            with distributed.Client(cluster) as client:
                client.wait_for_workers(1, timeout=60)
                for out, kw in ((str(shared / "new.zarr"), {}), (kept, {"resume": True})):
                    with pytest.raises(jn.SweepError, match=f"(?s)1 of 1 Dask worker.*cannot use the database path {out}.*cannot read the probe"):
                        jn.sweep(spec, out, client=client, **kw)
        finally:
            _stop(worker)
    assert sorted(os.listdir(shared)) == ["kept.zarr"] and tree_hash(kept) == before  # no probe left, nothing written
    assert np.all(store.done_chunks(kept))


@pytest.mark.slow
def test_adaptive_solver_bitwise_with_the_same_devices_per_process(tmp_path, capsys):
    """Kvaerno5 (adaptive, work queue): the member-to-device split changes the last bits, so the
    Dask database equals the 2-device single-process one bitwise when each worker has 2 devices
    too (local:2x2); with 1 device per worker (local:2) only the labels and the status are exact."""
    import re

    import jax

    text = re.sub(r'\[solver\]\nname = "expeuler"\ndt = 0.025\n', "", MANY_CHUNKS).replace("chunk_size = 2", "chunk_size = 6")
    spec = write(tmp_path, text)
    ref = str(tmp_path / "ref.zarr")
    assert jax.local_device_count() == 2, "run on a 2-core machine (or JAX_NUM_CPU_DEVICES=2)"
    jn.sweep(spec, ref)
    assert main(["sweep", spec, "--out", str(tmp_path / "2x2.zarr"), "--dask", "local:2x2"]) == 0
    assert "(2 cpu device(s) each)" in capsys.readouterr().out
    assert_same_database(ref, str(tmp_path / "2x2.zarr"))
    assert main(["sweep", spec, "--out", str(tmp_path / "2x1.zarr"), "--dask", "local:2x1"]) == 0
    a, b = xr.open_zarr(ref), xr.open_zarr(str(tmp_path / "2x1.zarr"))
    for name in ("label", "status", "n_spikes"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    np.testing.assert_allclose(a["spike_rate"].values, b["spike_rate"].values, rtol=1e-2)
