"""`jaxneuron simulate pyloric2004`: cells and synapses by --set, warm/cold start, --analyze, --plot."""

import re

import numpy as np
import pytest

import jaxneuron as jn
import jaxneuron.plot
from jaxneuron.cli import main

T_END, T_SETTLE, TRANSIENT = 6000.0, 1000.0, 1500.0  # default --transient: min(6000 / 4, 2000) ms


def _row(out, label):
    m = re.search(rf"^  {re.escape(label)} +(.*)$", out, re.M)
    return m.group(1).split()


@pytest.mark.slow
def test_fig2e_network_output_equals_the_api(tmp_path, capsys, monkeypatch):
    # the Fig. 2e network (the defaults), with every cell and two synapses given on the command line
    figures = []
    real_plot = jaxneuron.plot.plot_network
    monkeypatch.setattr(jaxneuron.plot, "plot_network", lambda *a, **k: figures.append(real_plot(*a, **k)))
    png, npz = tmp_path / "net.png", tmp_path / "net.npz"
    rc = main(["simulate", "pyloric2004", "--set", "AB/PD=AB/PD 2", "--set", "lp=lp4", "--set", "PY=1",
               "--set", "g_LP_PD=30", "--set", "g_py_lp=30", "--t-end", f"{T_END:g}", "--t-settle", f"{T_SETTLE:g}",
               "--analyze", "--plot", str(png), "--out", str(npz)])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0, out
    assert ("Pyloric2004: AB/PD = AB/PD 2; LP = LP 4; PY = PY 1; synapses (nS): g_AB_LP 30, g_PD_LP 30, g_AB_PY 10, "
            "g_PD_PY 3, g_LP_PD 30, g_LP_PY 1, g_PY_LP 30") in out  # fmt: skip
    assert "initial state: warm start (Prinz et al. 2004: each cell settled alone for 1000 ms" in out
    assert "analysed window: [1500, 6000] ms" in out

    # the same network, start and saving through the API (same compiled solve: identical numbers)
    net = jn.Pyloric2004(**jn.PYLORIC_EXAMPLES["fig2e"])
    y0 = net.warm_start(t_settle=T_SETTLE)
    sol = jn.simulate(net, t_end=T_END, y0=y0, save=jn.SaveAt(save_dt=0.1, spikes=True))
    r = jn.rhythm_from_spikes(sol.spike_times, sol.n_spikes, TRANSIENT, T_END)  # rhythm_from_solution's window
    data = np.load(npz)
    np.testing.assert_allclose(data["y0"], np.asarray(y0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(data["V_mV"], np.asarray(sol.V), rtol=0, atol=1e-9)
    assert data["V_mV"].shape == (3, 60001) and list(data["cell_names"]) == list(jn.PYLORIC_CELLS)

    assert bool(r.triphasic) and bool(r.pyloric_like)  # Fig. 2e: triphasic, pyloric-like
    assert (f"rhythm: period {float(r.cycle_period):.5g} ms; triphasic: yes; pyloric-like: yes "
            f"({int(r.n_periods)} AB/PD periods, {int(r.n_triphasic)} triphasic)") in out  # fmt: skip
    assert 1500.0 < float(r.cycle_period) < 2100.0
    assert _row(out, "") == list(jn.PYLORIC_CELLS)
    assert _row(out, "spikes") == [str(int(n)) for n in r.n_spikes]
    assert _row(out, "bursts") == [str(int(n)) for n in r.n_bursts]
    assert _row(out, "burst duration (ms)") == [f"{float(x):.5g}" for x in r.burst_durations]
    assert _row(out, "duty cycle") == [f"{float(x):.3g}" for x in r.duty_cycles]
    assert _row(out, "start phase") == ["0"] + [f"{float(x):.3g}" for x in r.start_phases]
    for cell in jn.PYLORIC_CELLS:
        assert re.search(rf"^{re.escape(cell)} activity: (silent|tonic|bursting|irregular|undetermined)", out, re.M)

    (fig,) = figures
    axes = fig.axes
    assert len(axes) == 3 and [ax.get_ylabel() for ax in axes] == [f"{c}\nV (mV)" for c in jn.PYLORIC_CELLS]
    assert all(axes[0].get_shared_x_axes().joined(axes[0], ax) for ax in axes[1:])
    for ax, v in zip(axes, np.asarray(sol.V)):
        np.testing.assert_allclose(ax.lines[0].get_ydata(), v)
    assert png.stat().st_size > 10_000


class _Stop(Exception):
    pass


def test_initial_state_choice_is_used_and_announced(capsys, monkeypatch):
    seen = {}

    def fake_simulate(model, **kw):
        seen.update(model=model, y0=kw["y0"])
        raise _Stop

    def fake_warm_start(self, t_settle=20000.0, *, solver=None):
        seen["t_settle"] = t_settle
        return self.default_y0() + 1.0

    monkeypatch.setattr(jn, "simulate", fake_simulate)
    monkeypatch.setattr(jn.Pyloric2004, "warm_start", fake_warm_start)
    argv = ["simulate", "pyloric2004", "--set", "LP=3", "--set", "py=" + ",".join(["1"] * 8), "--set", "G_LP_PD=10"]
    with pytest.raises(_Stop):
        main(argv + ["--start", "cold"])
    out = capsys.readouterr().out
    assert "PY = 1,1,1,1,1,1,1,1;" in out and "LP = LP 3;" in out and "g_LP_PD 10," in out
    assert "initial state: cold start" in out and "multistable" in out and "t_settle" not in seen
    net = seen["model"]
    assert float(net.g_LP_PD) == 10.0 and float(net.lp.g_Na) == jn.PRINZ2004_CELLS["LP 3"][0]
    np.testing.assert_array_equal(seen["y0"], net.default_y0())
    with pytest.raises(_Stop):
        main(argv)  # default: the warm start, 20 s
    assert seen["t_settle"] == 20000.0 and "initial state: warm start" in capsys.readouterr().out
    np.testing.assert_array_equal(seen["y0"], net.default_y0() + 1.0)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "LP=LP 9"], r"--set LP: unknown cell 'LP 9'; valid cells: AB/PD 1, .*, PY 6 \(or 8 comma-separated"),
        (["--set", "ab_pd=1,2,3"], r"--set AB/PD: expected 8 comma-separated conductances .* got 3"),
        (["--set", "PY=1,1,1,1,1,1,1,-2"], r"--set PY: conductances must be finite and >= 0 mS/cm\^2, got g_leak = -2"),
        (["--set", "g_LP_AB=3"], r"unknown parameter 'g_LP_AB' for Pyloric2004; valid parameters: cells AB/PD, LP, PY "
                                 r"\(or ab_pd, lp, py\) = a Prinz 2004 cell name \(AB/PD 1, .*\); synapses \(nS, >= 0\): "
                                 r"g_AB_LP, g_PD_LP, g_AB_PY, g_PD_PY, g_LP_PD, g_LP_PY, g_PY_LP$"),
        (["--set", "g_LP_PD=-5"], r"--set g_LP_PD: a synapse strength must be finite and >= 0 nS, got -5"),
        (["--set", "g_AB_LP=strong"], r"--set g_AB_LP: 'strong' is not a number \(synapse strength, nS\)"),
        (["--start", "cold", "--t-settle", "500"], "--t-settle sets the warm start; it does not apply with --start cold"),
        (["--t-settle", "0"], "--t-settle must be a finite duration > 0 ms, got 0"),
        (["--t-end", "-3"], "t_end must be a finite time"),
    ],
)
def test_bad_network_input_exits_with_clear_message(args, message):
    with pytest.raises(SystemExit, match=message):
        main(["simulate", "pyloric2004"] + args)


def test_start_options_are_for_networks_only():
    with pytest.raises(SystemExit, match=r"--start and --t-settle apply to network models \(pyloric2004\)"):
        main(["simulate", "hh", "--start", "cold"])
