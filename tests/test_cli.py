"""The `jaxneuron simulate` command."""

import numpy as np
import pytest

import jaxneuron as jn
from jaxneuron.cli import main


def test_simulate_writes_npz_and_plot_equal_to_api(tmp_path):
    out, png = tmp_path / "hh.npz", tmp_path / "hh.png"
    rc = main(["simulate", "hh", "--set", "g_K=30", "--t-end", "50", "--save-dt", "0.5", "--stim", "step:10,5,45",
               "--solver", "tsit5", "--out", str(out), "--plot", str(png)])  # fmt: skip
    assert rc == 0
    data = np.load(out)
    api = jn.simulate(jn.HodgkinHuxley(g_K=30.0), t_end=50.0, stimulus=jn.Step(10.0, 5.0, 45.0), save=jn.SaveAt(dt=0.5), solver=jn.Tsit5())
    np.testing.assert_allclose(data["V_mV"], np.asarray(api.V), atol=1e-10)
    assert list(data["state_names"]) == ["V", "m", "h", "n"]
    assert png.stat().st_size > 10_000


@pytest.mark.parametrize(
    "argv, message",
    [
        (["simulate", "prinz2004"], "unknown model 'prinz2004'"),
        (["simulate", "hh", "--set", "g_X=1"], "unknown parameter 'g_X' for HodgkinHuxley; valid parameters: g_Na"),
        (["simulate", "hh", "--set", "g_Na=-1"], "g_Na must be finite and >= 0"),
        (["simulate", "hh", "--solver", "rk4"], "unknown solver 'rk4'"),
        (["simulate", "hh", "--t-end", "-3"], "t_end must be a finite time"),
        (["simulate", "hh", "--stim", "ramp:1"], "--stim kind 'ramp' unknown"),
    ],
)
def test_bad_cli_input_exits_with_clear_message(argv, message):
    with pytest.raises(SystemExit, match=message):
        main(argv)
