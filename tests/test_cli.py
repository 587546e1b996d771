"""The `jaxneuron simulate` command."""

import re

import numpy as np
import pytest

import jaxneuron as jn
from jaxneuron.cli import _parse_stimulus, main


def test_simulate_writes_npz_and_plot_equal_to_api(tmp_path):
    out, png = tmp_path / "hh.npz", tmp_path / "hh.png"
    rc = main(["simulate", "hh", "--set", "g_K=30", "--t-end", "50", "--save-dt", "0.5", "--stim", "step:10,5,45",
               "--solver", "tsit5", "--out", str(out), "--plot", str(png)])  # fmt: skip
    assert rc == 0
    data = np.load(out)
    api = jn.simulate(jn.HodgkinHuxley(g_K=30.0), t_end=50.0, stimulus=jn.Step(10.0, 5.0, 45.0),
                      save=jn.SaveAt(save_dt=0.5), solver=jn.Tsit5(), engine=jn.QueueEngine())  # fmt: skip
    np.testing.assert_allclose(data["t_ms"], 0.5 * np.arange(101), atol=1e-12)
    np.testing.assert_allclose(data["V_mV"], np.asarray(api.V), atol=1e-10)
    assert list(data["state_names"]) == ["V", "m", "h", "n"]
    assert png.stat().st_size > 10_000


def _period(text):
    m = re.search(r"period ([0-9.]+) ms", text)
    return float(m.group(1)) if m else None


def test_analyze_discards_the_default_transient_and_finds_the_burster(capsys):
    # Prinz 2003 with g_CaS = 6 bursts with a ~1.5 s period from about t = 1.4 s on. 9 s: the
    # default transient is min(9000 / 4, 2000) = 2000 ms, and [2000, 9000] holds 4 complete bursts.
    rc = main(["simulate", "prinz2003", "--set", "g_CaS=6", "--t-end", "9000", "--analyze"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "analysed window: [2000, 9000] ms (7000 ms after a 2000 ms transient" in out
    assert "activity: bursting" in out and "irregular" not in out and "undetermined" not in out
    assert 1480.0 < _period(out) < 1510.0, out
    assert int(re.search(r"bursts: (\d+) complete", out).group(1)) >= 3


def test_analyze_too_short_window_is_undetermined(capsys):
    # the user's command: 5 s, default transient 1250 ms, a 3.75-s window holds < 3 complete
    # bursts of the 1.5-s burster: undetermined, with the advice to lengthen the window
    rc = main(["simulate", "prinz2003", "--set", "g_CaS=6", "--t-end", "5000", "--analyze"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "analysed window: [1250, 5000] ms (3750 ms after a 1250 ms transient" in out
    assert "activity: undetermined (window too short:" in out and "make the window longer" in out
    assert "irregular" not in out and _period(out) is None


def test_transient_sets_the_window_and_pulse_train_parses(capsys):
    # 3 pulses of 40 uA/cm^2 x 1 ms at 10, 40, 70 ms each fire one HH spike; --transient 30
    # leaves the last two in the analysed window [30, 100] ms
    stim = _parse_stimulus("pulse_train:40,1,30,3,10")
    assert isinstance(stim, jn.PulseTrain) and stim.n_pulses == 3
    np.testing.assert_allclose([stim.amplitude, stim.width, stim.period, stim.t_start], [40.0, 1.0, 30.0, 10.0])
    argv = ["simulate", "hh", "--t-end", "100", "--stim", "pulse_train:40,1,30,3,10", "--analyze"]
    assert main(argv + ["--transient", "0"]) == 0
    out = capsys.readouterr().out
    assert "analysed window: [0, 100] ms (100 ms after a 0 ms transient" in out and "spikes: 3 (30 Hz)" in out
    assert "activity: undetermined (window too short: 3 spikes in 0.1 s, fewer than 4 needed" in out
    assert main(argv + ["--transient", "30"]) == 0
    out = capsys.readouterr().out
    assert "analysed window: [30, 100] ms (70 ms after a 30 ms transient" in out and "spikes: 2 (" in out


def test_stimulus_kinds_use_the_toml_names():
    assert isinstance(_parse_stimulus("constant:1.5"), jn.Constant)
    step = _parse_stimulus("step:5,100")
    assert isinstance(step, jn.Step) and float(step.t_on) == 100.0 and float(step.t_off) == np.inf
    sine = _parse_stimulus("sine:2,10,0.5,1,20")
    np.testing.assert_allclose([sine.amplitude, sine.frequency, sine.phase, sine.offset, sine.t_on], [2, 10, 0.5, 1, 20])
    for old, new in (("const:1", "constant"), ("pulses:1,2,3,4", "pulse_train")):
        kind = old.split(":")[0]
        with pytest.raises(SystemExit, match=f"--stim kind '{kind}' unknown \\('{kind}' is now '{new}'\\); "
                                             "valid kinds: constant, step, pulse_train, sine"):  # fmt: skip
            _parse_stimulus(old)
    with pytest.raises(SystemExit, match=r"expected pulse_train:AMPLITUDE,WIDTH,PERIOD,N_PULSES\[,T_START\]"):
        _parse_stimulus("pulse_train:1,2")
    with pytest.raises(SystemExit, match="N_PULSES must be a positive integer, got 2.5"):
        _parse_stimulus("pulse_train:1,2,3,2.5")


def test_engine_option(capsys):
    argv = ["simulate", "hh", "--t-end", "30", "--stim", "constant:10", "--save-dt", "1", "--solver", "tsit5"]
    assert main(argv + ["--engine", "diffrax"]) == 0
    assert "with Tsit5 (diffrax engine)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(argv + ["--engine", "scipy"])
    assert "invalid choice: 'scipy' (choose from 'queue', 'diffrax')" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["simulate", "prinz2004"], "unknown model 'prinz2004'"),
        (["simulate", "hh", "--set", "g_X=1"], "unknown parameter 'g_X' for HodgkinHuxley; valid parameters: g_Na"),
        (["simulate", "hh", "--set", "g_Na=-1"], "g_Na must be finite and >= 0"),
        (["simulate", "hh", "--solver", "rk4"], "unknown solver 'rk4'"),
        (["simulate", "hh", "--t-end", "-3"], "t_end must be a finite time"),
        (["simulate", "hh", "--stim", "ramp:1"], "--stim kind 'ramp' unknown; valid kinds: constant, step, pulse_train, sine"),
        (["simulate", "hh", "--t-end", "100", "--analyze", "--transient", "100"],
         r"--transient must be a duration in \[0, t_end - t0\) = \[0, 100\) ms, got 100"),
        (["simulate", "hh", "--t-end", "100", "--analyze", "--transient", "99.95"], "holds fewer than 2 samples"),
    ],
)
def test_bad_cli_input_exits_with_clear_message(argv, message):
    with pytest.raises(SystemExit, match=message):
        main(argv)
