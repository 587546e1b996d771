"""Network sweeps (``model = "pyloric2004"``): the database equals an independent computation
(networks built from the cell names, Prinz's warm start, ``simulate`` + ``activity_from_spikes`` +
``rhythm_from_solution``), cells given by conductances in a table, resume after an interruption,
layout and figures, bad input, the full Prinz 2004 grid.

Every sweep here shares the chunk shape (4 members) and the swept synapses, so the compiled
programs (network, kept traces, settling one cell) are compiled once for the module."""

import os

import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr
from sweep_helpers import assert_same_database, write

import jaxneuron as jn
from jaxneuron.analysis.rhythm import rhythm_from_solution
from jaxneuron.survey import SweepSpecError, load_spec, parse_spec, run, store
from jaxneuron.survey import network as survey_network

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T_SETTLE, TRANSIENT, WINDOW = 2000.0, 500.0, 2500.0

# 8 networks of the Fig. 2e circuit in 2 chunks: LP 4 / LP 1 x two strengths of LP->PD and PY->LP.
NET = f"""
description = "small network test sweep"
model = "pyloric2004"
preset = "fig2e"
seed = 3
chunk_size = 4
[protocol]
transient = {TRANSIENT}
window = {WINDOW}
t_settle = {T_SETTLE}
[features]
rhythm = {{min_periods = 1}}
[traces]
members = [1]                  # chunk 0 only: chunk 1 skips the trace solve
save_dt = 0.5
[space]
kind = "grid"
[space.axes]
lp = {{values = ["LP 4", "LP 1"]}}
g_LP_PD = {{values = [3.0, 30.0]}}
g_PY_LP = {{values = [1.0, 30.0]}}
"""


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    d = tmp_path_factory.mktemp("net")
    spec = write(d, NET)
    summary = jn.sweep(spec, str(d / "ref.zarr"), progress=False)
    return spec, str(d / "ref.zarr"), summary


def _networks(lp_names, g_lp_pd, g_py_lp):
    """The Fig. 2e networks with these LP cells (by name) and strengths, as one batch."""
    fig2e = jn.PYLORIC_EXAMPLES["fig2e"]
    n = len(lp_names)
    cell = lambda name: np.tile(np.asarray(jn.PRINZ2004_CELLS[name], float), (n, 1))  # noqa: E731
    lp = np.stack([np.asarray(jn.PRINZ2004_CELLS[str(name)], float) for name in lp_names])
    fixed = {k: float(v) for k, v in fig2e.items() if k.startswith("g_") and k not in ("g_LP_PD", "g_PY_LP")}
    return jn.Pyloric2004(ab_pd=cell(fig2e["ab_pd"]), lp=lp, py=cell(fig2e["py"]), g_LP_PD=jnp.asarray(g_lp_pd),
                          g_PY_LP=jnp.asarray(g_py_lp), **fixed)  # fmt: skip


def _warm(lp_names):
    """Prinz's warm start of each network through the public API (``Network.warm_start``; it does
    not depend on the synapses: one per LP cell)."""
    y0 = {str(n): jn.Pyloric2004(lp=str(n)).warm_start(T_SETTLE) for n in set(lp_names.tolist())}
    return jnp.stack([y0[str(n)] for n in lp_names])


def test_database_equals_an_independent_computation(reference):
    _, db, summary = reference
    ds = xr.open_zarr(db)
    lp, a, b = ds["lp"].values, ds["g_LP_PD"].values, ds["g_PY_LP"].values
    assert list(lp) == ["LP 4"] * 4 + ["LP 1"] * 4 and list(a) == [3, 3, 30, 30] * 2 and list(b) == [1, 30] * 4
    for rows in (slice(0, 4), slice(4, 8)):  # the sweep's chunks: the same batch shape
        net = _networks(lp[rows], a[rows], b[rows])
        y0 = _warm(lp[rows])
        sol = jn.simulate(net, y0=y0, t_end=TRANSIENT + WINDOW, save=jn.SaveAt(transient=TRANSIENT, states=None, spikes=True))
        act, rh = jn.activity_from_spikes(sol), rhythm_from_solution(sol, min_periods=1)
        np.testing.assert_array_equal(ds["status"].values[rows], np.asarray(sol.status))
        np.testing.assert_array_equal(ds["num_steps"].values[rows], np.asarray(sol.num_steps))
        for name in jn.Activity.feature_names:
            np.testing.assert_array_equal(ds[name].values[rows], np.asarray(getattr(act, name)), err_msg=name)
        for name, field in survey_network.RHYTHM_FEATURES.items():
            np.testing.assert_array_equal(ds[name].values[rows], np.asarray(getattr(rh, field)), err_msg=name)
        cls = np.where(np.asarray(rh.pyloric_like), 2, np.where(np.asarray(rh.triphasic), 1, 0))
        np.testing.assert_array_equal(ds["rhythm_class"].values[rows], cls)
    assert (ds["status"].values == 0).all() and (ds["n_spikes"].values > 0).any(axis=0).all()
    assert (ds["rhythm_class"].values == 2).any() and np.isfinite(ds["cycle_period"].values).any()
    for i, m in enumerate(ds["trace_member"].values):  # kept traces: the member simulated alone, V of 3 cells
        tr = jn.simulate(_networks(lp[[m]], a[[m]], b[[m]]), y0=_warm(lp[[m]]), t_end=TRANSIENT + WINDOW,
                         save=jn.SaveAt(transient=TRANSIENT, save_dt=0.5))  # fmt: skip
        np.testing.assert_array_equal(ds["V"].values[i], np.asarray(tr.V[0], dtype=np.float32))
    np.testing.assert_allclose(ds["time"].values, TRANSIENT + 0.5 * np.arange(ds.sizes["time"]), rtol=0, atol=1e-9)
    assert summary.class_counts["pyloric-like"] == int((ds["rhythm_class"].values == 2).sum())


def test_layout_summary_export_and_figures(reference, tmp_path, capsys):
    from jaxneuron.cli import main

    _, db, summary = reference
    ds = xr.open_zarr(db)
    assert list(ds["cell"].values) == ["AB/PD", "LP", "PY"] and list(ds["pair"].values) == ["AB/PD->LP", "LP->PY"]
    assert ds["label"].dims == ("member", "cell") and ds["cycle_period"].dims == ("member",)
    assert ds["start_phases"].dims == ("member", "pair") and ds["duty_cycles"].dims == ("member", "cell")
    assert ds["V"].dims == ("trace_member", "cell", "time") and list(ds["trace_member"].values) == [1]
    assert ds["lp"].attrs["categories"] == ["LP 4", "LP 1"] and ds["g_LP_PD"].attrs["units"] == "nS"
    assert ds["cycle_period"].attrs["units"] == "ms" and ds["rhythm_class"].attrs["flag_values"] == [-1, 0, 1, 2]
    assert ds.attrs["t_settle"] == T_SETTLE and ds.attrs["initial_state"].startswith("warm")
    assert summary.complete and set(summary.class_counts) == set(survey_network.RHYTHM_CLASSES)
    assert main(["info", db]) == 0
    assert "rhythm classes of 8 computed networks" in capsys.readouterr().out
    assert main(["export", db, "--csv", str(tmp_path / "m.csv")]) == 0
    header = (tmp_path / "m.csv").read_text().splitlines()[0].split(",")
    assert {"member", "lp", "g_LP_PD", "cycle_period", "label[LP]", "start_phases[LP->PY]"} <= set(header)
    for kind in ("summary", "traces"):
        assert main(["plot", db, "--out", str(tmp_path / f"{kind}.png"), "--kind", kind]) == 0
        assert (tmp_path / f"{kind}.png").stat().st_size > 10_000


@pytest.mark.slow
def test_resume_after_an_interruption_is_bitwise_equal(reference, tmp_path, monkeypatch):
    spec, db, _ = reference
    out = str(tmp_path / "db.zarr")
    real_write = store.write_chunk

    def interrupted(path, spec_, k, *args):
        if k == 1:
            raise KeyboardInterrupt
        return real_write(path, spec_, k, *args)

    monkeypatch.setattr(run, "write_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        jn.sweep(spec, out, progress=False)
    assert list(store.done_chunks(out)) == [True, False]
    monkeypatch.setattr(run, "write_chunk", real_write)
    survey_network.clear_settle_cache()  # a new process: every cell settled again
    summary = jn.sweep(spec, out, resume=True, progress=False)
    assert summary.complete and summary.chunks_run == 1
    assert_same_database(db, out)


@pytest.mark.slow
def test_cells_from_a_table_of_names_and_conductances(reference, tmp_path):
    """Four of the networks from a CSV: AB/PD by name, LP by its 8 conductances (settled per
    chunk, in a batch: equal to rounding)."""
    _, db, _ = reference
    some = [0, 3, 4, 7]  # LP 4 and LP 1
    ref = xr.open_zarr(db).isel(member=some)
    g = jn.STG_CONDUCTANCES
    rows = [",".join(["ab_pd"] + [f"lp.{x}" for x in g] + ["g_LP_PD", "g_PY_LP"])]
    for m in range(4):
        lp = jn.PRINZ2004_CELLS[str(ref["lp"].values[m])]
        rows.append(",".join(["AB/PD 2"] + [repr(float(x)) for x in lp] + [repr(float(ref[k].values[m])) for k in ("g_LP_PD", "g_PY_LP")]))
    (tmp_path / "nets.csv").write_text("\n".join(rows) + "\n")
    text = NET.split("[space]")[0].replace("members = [1]", "keep = 0  #") + '[space]\nkind = "table"\nfile = "nets.csv"\n'
    jn.sweep(write(tmp_path, text), str(tmp_path / "t.zarr"), progress=False)
    ds = xr.open_zarr(str(tmp_path / "t.zarr"))
    assert list(ds["ab_pd"].values) == ["AB/PD 2"] * 4 and ds["lp.g_CaS"].attrs["units"] == "mS/cm^2"
    np.testing.assert_array_equal(ds["rhythm_class"].values, ref["rhythm_class"].values)
    np.testing.assert_array_equal(ds["rhythm_n_spikes"].values, ref["rhythm_n_spikes"].values)
    np.testing.assert_allclose(ds["cycle_period"].values, ref["cycle_period"].values, rtol=1e-6)


NET_BASE = """
model = "pyloric2004"
[space]
kind = "grid"
[space.axes]
g_LP_PD = {values = [3.0, 30.0]}
"""


@pytest.mark.parametrize(
    "replace, extra, match",
    [
        ({"g_LP_PD": "g_PY_PD"}, "", r"space.axes.g_PY_PD: no synapse 'g_PY_PD' in Pyloric2004; its 7 synapses \(nS\): "
                                     r"g_AB_LP \(AB/PD -> LP\), g_PD_LP"),
        ({}, 'lp = {values = ["LP 1", "LP 9"]}\n', r"space.axes.lp.values: unknown Prinz 2004 cell 'LP 9'; valid names: "
                                                   r"AB/PD 1, AB/PD 2, .*PY 6 \(or \"all\": LP 1, LP 2, LP 3, LP 4, LP 5\)"),
        ({"[3.0, 30.0]": "[-3.0, 30.0]"}, "", r"space.axes.g_LP_PD: negative synapse strength: g_LP_PD must be >= 0 nS, got -3.0"),
        ({}, '"lp.g_CaS" = {linspace = [-1.0, 4.0, 3]}\n', r"negative conductance: lp.g_CaS must be >= 0 mS/cm\^2"),
        ({}, '"lp.g_Foo" = {values = [1.0]}\n', r"unknown conductance 'lp.g_Foo'; the conductances of cell slot 'lp' \(mS/cm\^2\): lp.g_Na"),
        ({}, "g_Na = {values = [1.0]}\n", r"unknown parameter 'g_Na' for Pyloric2004; valid: synapse strengths g_AB_LP"),
        ({}, 'py = "some"\n', r"space.axes.py: expected \"all\" or \{values = \[...\]\} of Prinz 2004 cell names"),
        ({'model = "pyloric2004"': 'model = "pyloric2004"\n[fixed]\nab_pd = "AB/PD 7"'}, "", r"fixed.ab_pd: unknown Prinz 2004 cell 'AB/PD 7'"),
        ({'model = "pyloric2004"': 'model = "pyloric2004"\n[fixed]\ng_AB_PY = -1.0'}, "", r"fixed.g_AB_PY: negative synapse strength"),
        ({'model = "pyloric2004"': 'model = "pyloric2004"\n[fixed]\ng_LP_PD = 1.0'}, "", r"both fixed and swept"),
        ({'model = "pyloric2004"': 'model = "pyloric2004"\npreset = "fig9"'}, "", r"unknown network 'fig9'; valid presets .*: fig2e, osb_fig3"),
        ({'model = "pyloric2004"': 'model = "pyloric2004"\n[protocol]\ninitial_state = "hot"'}, "", r"protocol.initial_state: a network starts \"warm\""),
        ({'model = "pyloric2004"': 'model = "pyloric2004"\n[protocol]\ninitial_state = "cold"\nt_settle = 10.0'}, "", r"protocol.t_settle: only a warm start"),
        ({'model = "pyloric2004"': 'model = "pyloric2004"\n[solver]\nengine = "diffrax"'}, "", r"network sweeps run on the queue engine"),
        ({'model = "pyloric2004"': 'model = "pyloric2004"\n[features]\nrhythm = {burst_gap = 1.0}'}, "", r"features.rhythm .*unknown key\(s\) \['burst_gap'\]; valid keys: burst_isi"),
    ],
)  # fmt: skip
def test_bad_network_input_is_named(replace, extra, match):
    text = NET_BASE
    for old, new in replace.items():
        text = text.replace(old, new)
    with pytest.raises(SweepSpecError, match=match):
        parse_spec(text + extra, path="net.toml")


def test_table_with_an_unknown_cell_name(tmp_path):
    (tmp_path / "t.csv").write_text("lp,g_LP_PD\nLP 1,3.0\nLP 6,30.0\n")
    text = 'model = "pyloric2004"\n[space]\nkind = "table"\nfile = "t.csv"\n'
    with pytest.raises(SweepSpecError, match=r"row 3, column 'lp': unknown Prinz 2004 cell 'LP 6'; valid names: AB/PD 1"):
        load_spec(write(tmp_path, text))


def test_network_defaults_and_sampled_cells():
    s = parse_spec(NET_BASE + 'lp = "all"\n')
    p = s.protocol
    assert (p.transient, p.window, p.t_end, p.initial_state, p.t_settle) == (1000.0, 10000.0, 11000.0, "warm", 20000.0)
    assert s.solver() == jn.Kvaerno5() and s.engine == "queue" and s.is_network and s.n_members == 10
    assert s.model_parameters()["lp"] == "LP 4"  # fig2e, Pyloric2004's default network
    r = parse_spec(NET_BASE.replace('kind = "grid"', 'kind = "sobol"\nn = 64').replace("values = [3.0, 30.0]", "loguniform = [1.0, 100.0]")
                   + 'py = {values = ["PY 1", "PY 2"]}\n')  # fmt: skip
    v = r.space.values(np.arange(64))
    assert set(v["py"]) == {"PY 1", "PY 2"} and 1.0 <= v["g_LP_PD"].min() and v["g_LP_PD"].max() <= 100.0


def test_full_prinz2004_grid_and_demo_parse():
    s = load_spec(os.path.join(ROOT, "sweeps", "pyloric2004.toml"))
    assert s.n_members == 20_250_000 == 5 * 5 * 6 * 5**4 * 6**3 and s.space.shape == (5, 5, 6, 5, 5, 6, 6, 5, 6, 5)
    assert s.protocol.t_end == 11000.0 and s.protocol.initial_state == "warm" and s.protocol.t_settle == 20000.0
    last = s.space.values([s.n_members - 1])
    assert (last["ab_pd"][0], last["lp"][0], last["py"][0], last["g_PY_LP"][0]) == ("AB/PD 5", "LP 5", "PY 6", 100.0)
    assert "20,250,000" in s.describe()
    demo = load_spec(os.path.join(ROOT, "sweeps", "pyloric_demo.toml"))
    assert demo.is_network and demo.n_members <= 64


def test_documented_network_schema_examples_parse():
    import textwrap

    block = textwrap.dedent(survey_network.__doc__.split(".. code-block:: toml")[1].split("A table space")[0])
    s = parse_spec(block)
    assert s.is_network and s.n_members == 5 * 2 * 5 and s.feature_names == ("cycle_period", "duty_cycles", "label")
    assert dict(s.fixed) == {"ab_pd": "AB/PD 1", "g_PY_LP": 10.0, "ab_pd.g_H": 0.02} and s.preset == "fig2e"
    with open(os.path.join(ROOT, "sweeps", "README.md"), encoding="utf-8") as f:
        readme = f.read().split("## Network sweeps")[1].split("```toml")[1].split("```")[0]
    r = parse_spec(readme)
    assert r.is_network and r.model_parameters()["py"] == (100.0, 2.5, 2.0, 50.0, 0.0, 125.0, 0.05, 0.01)
    assert r.protocol.t_settle == 20000.0 and dict(r.rhythm_options) == {"min_periods": 2}
    cells = survey_network.chunk_cells(r, r.space.values(np.arange(r.n_members)))
    assert cells["ab_pd"][0, 6] == 0.02 and cells["py"][0, 1] == 0.0  # overrides: g_H of AB/PD; py.g_CaT swept from 0
    np.testing.assert_array_equal(cells["lp"][0], jn.PRINZ2004_CELLS["LP 1"])
