"""Sweep specification: parsing, every kind of bad input, and the parameter spaces."""

import glob
import os

import numpy as np
import pytest

from jaxneuron.survey import SweepError, SweepSpecError, load_spec, parse_shard, parse_spec

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BASE = """
model = "prinz2003"
preset = "ptm2003_burster"
seed = 1
chunk_size = 8
[protocol]
transient_ms = 100.0
window_ms = 200.0
[solver]
name = "expeuler"
dt = 0.05
[space]
kind = "grid"
[space.axes]
g_CaS = {linspace = [0.0, 10.0, 3]}
g_KCa = {values = [0.0, 5.0]}
"""


def spec_with(replace=None, extra=""):
    text = BASE
    for old, new in (replace or {}).items():
        assert old in text
        text = text.replace(old, new)
    return parse_spec(text + extra, path="test.toml")


def test_valid_spec_and_grid_order():
    s = spec_with()
    assert s.n_members == 6 and s.n_chunks == 1 and s.space.names == ("g_CaS", "g_KCa")
    v = s.space.values(np.arange(6))
    np.testing.assert_array_equal(v["g_CaS"], [0, 0, 5, 5, 10, 10])  # last axis fastest
    np.testing.assert_array_equal(v["g_KCa"], [0, 5, 0, 5, 0, 5])
    params = s.model_parameters()
    assert params["g_Na"] == 200.0 and params["g_leak"] == 0.01  # the preset


def test_shipped_specs_parse():
    files = sorted(glob.glob(os.path.join(ROOT, "sweeps", "*.toml")))
    assert {"demo.toml", "prinz2003.toml"} <= {os.path.basename(f) for f in files}
    sizes = {os.path.basename(f): load_spec(f).n_members for f in files}
    assert sizes["prinz2003.toml"] == 6**8 == 1_679_616
    assert sizes["demo.toml"] == 256


def test_prinz2003_grid_values():
    s = load_spec(os.path.join(ROOT, "sweeps", "prinz2003.toml"))
    top = {a.name: a.grid_values() for a in s.space.axes}
    step = {"g_Na": 100, "g_CaT": 2.5, "g_CaS": 2, "g_A": 10, "g_KCa": 5, "g_Kd": 25, "g_H": 0.01, "g_leak": 0.01}
    for name, d in step.items():
        np.testing.assert_allclose(top[name], d * np.arange(6), rtol=0, atol=1e-12)
    last = s.space.values([6**8 - 1])
    assert last["g_Na"][0] == 500 and last["g_leak"][0] == pytest.approx(0.05)


@pytest.mark.parametrize(
    "replace, extra, match",
    [
        ({"[space]": "[space"}, "", r"test.toml: malformed TOML: .*line \d+"),
        ({"seed = 1": "seed = 1\ncolour = 3"}, "", r"unknown key\(s\) \['colour'\]; valid keys: description, model"),
        ({'"prinz2003"': '"prinz2005"'}, "", r"unknown model 'prinz2005'; valid models"),
        ({"g_KCa = {": "g_KCaX = {"}, "", r"unknown parameter 'g_KCaX' for Prinz2003; valid parameters: g_Na"),
        ({"[0.0, 10.0, 3]": "[10.0, 0.0, 3]"}, "", r"space.axes.g_CaS.linspace: empty or inverted range"),
        ({"[0.0, 5.0]": "[]"}, "", r"space.axes.g_KCa.values: .*empty range"),
        ({"[0.0, 10.0, 3]": "[-2.0, 10.0, 3]"}, "", r"space.axes.g_CaS: negative conductance: g_CaS must be >= 0"),
        ({}, "[fixed]\ng_Na = -5.0\n", r"fixed.g_Na: negative conductance"),
        ({"[0.0, 10.0, 3]": "[0.0, 10.0, 0]"}, "", r"linspace.num: must be > 0"),
        ({"linspace = [0.0, 10.0, 3]": "uniform = [0.0, 10.0]"}, "", r"'uniform' belongs to random/lhs/sobol"),
        ({'name = "expeuler"': 'name = "rk4"'}, "", r"unknown solver 'rk4'; valid solvers: kvaerno5"),
        ({"dt = 0.05": "dt = -0.05"}, "", r"ExpEuler.dt must be a positive"),
        ({"dt = 0.05": "rtol = 1e-6"}, "", r"\[solver\] \(ExpEuler\): unknown key\(s\) \['rtol'\]; valid keys: dt"),
        ({"window_ms = 200.0": ""}, "", r"missing required key 'window_ms'"),
        ({'preset = "ptm2003_burster"': 'preset = "nope"'}, "", r"unknown preset 'nope'; valid presets: fig2c_bursting"),
        ({}, "[fixed]\ng_CaS = 1.0\n", r"both fixed and swept"),
        ({}, "[features]\nnames = ['burst_frequency']\n", r"unknown feature\(s\) \['burst_frequency'\]; valid features: label"),
        ({}, "[features.options]\nthreshhold = 0.0\n", r"unknown key\(s\) \['threshhold'\]; valid keys: threshold"),
        ({}, "[traces]\nsave_dt_ms = 0.25\n", r"whole multiple of protocol.save_dt_ms"),
        ({'kind = "grid"': 'kind = "halton"'}, "", r"unknown space 'halton'; valid kinds: grid, random, lhs, sobol, table"),
        ({'kind = "grid"': 'kind = "random"'}, "", r"a random space needs 'n'"),
        ({"window_ms = 200.0": "window_ms = 200.0\nstimulus = {kind = 'ramp'}"}, "", r"unknown stimulus 'ramp'; valid kinds: constant"),
    ],
)
def test_bad_input_is_named(replace, extra, match):
    with pytest.raises(SweepSpecError, match=match):
        spec_with(replace, extra)


SAMPLED = """
model = "prinz2003"
seed = {seed}
[protocol]
window_ms = 100.0
[solver]
name = "tsit5"
[space]
kind = "{kind}"
n = 64
[space.axes]
g_Na = {{uniform = [0.0, 500.0]}}
g_H = {{loguniform = [0.001, 0.1]}}
"""


@pytest.mark.parametrize("kind", ["random", "lhs", "sobol"])
def test_sampled_spaces_reproducible_from_seed(kind):
    a = parse_spec(SAMPLED.format(seed=7, kind=kind)).space
    b = parse_spec(SAMPLED.format(seed=7, kind=kind)).space
    c = parse_spec(SAMPLED.format(seed=8, kind=kind)).space
    all_a = a.values(np.arange(64))
    # member i depends only on the spec and i: asking in pieces, or in any order, gives the same
    pieces = [b.values(np.arange(i, min(i + 5, 64))) for i in range(0, 64, 5)]
    np.testing.assert_array_equal(np.concatenate([p["g_Na"] for p in pieces]), all_a["g_Na"])
    np.testing.assert_array_equal(b.values([40, 3])["g_H"], all_a["g_H"][[40, 3]])
    assert not np.array_equal(c.values(np.arange(64))["g_Na"], all_a["g_Na"])
    assert all_a["g_Na"].min() >= 0 and all_a["g_Na"].max() <= 500
    g_h = all_a["g_H"]
    assert g_h.min() >= 0.001 and g_h.max() <= 0.1 and np.median(g_h) < 0.03  # log-uniform
    if kind == "lhs":  # one member in each of the 64 strata of every axis
        assert sorted((all_a["g_Na"] / 500 * 64).astype(int)) == list(range(64))


def test_random_members_do_not_depend_on_n():
    a = parse_spec(SAMPLED.format(seed=3, kind="random")).space.values(np.arange(10))
    b = parse_spec(SAMPLED.format(seed=3, kind="random").replace("n = 64", "n = 1000")).space.values(np.arange(10))
    np.testing.assert_array_equal(a["g_Na"], b["g_Na"])


def test_table_space(tmp_path):
    (tmp_path / "members.csv").write_text("g_Na,g_Kd\n100,50\n# a comment\n200,75.5\n")
    text = BASE.split("[space]")[0] + '[space]\nkind = "table"\nfile = "members.csv"\n'
    spec = parse_spec(text, path=str(tmp_path / "s.toml"))
    np.testing.assert_array_equal(spec.space.values([0, 1])["g_Kd"], [50, 75.5])
    (tmp_path / "members.csv").write_text("g_Na,g_Kd\n100,-50\n")
    with pytest.raises(SweepSpecError, match="negative conductance: g_Kd"):
        parse_spec(text, path=str(tmp_path / "s.toml"))
    (tmp_path / "members.csv").write_text("g_Na,g_Kd\n100,abc\n")
    with pytest.raises(SweepSpecError, match=r"row 2, column 'g_Kd': 'abc' is not a number"):
        parse_spec(text, path=str(tmp_path / "s.toml"))


def test_stimulus_amplitude_axis():
    text = """
model = "hh"
[protocol]
window_ms = 100.0
[solver]
name = "expeuler"
[space.axes.stimulus]
amplitude = {linspace = [0.0, 20.0, 5]}
"""
    spec = parse_spec(text)
    assert spec.space.names == ("stimulus.amplitude",) and spec.protocol.stimulus_kind == "constant"
    with pytest.raises(SweepSpecError, match=r"no swept field 'width'; valid: stimulus.amplitude"):
        parse_spec(text.replace("amplitude = {", "width = {"))


@pytest.mark.parametrize("bad", ["3/2", "2/2", "-1/2", "1", "a/b", "1/0"])
def test_bad_shard_strings(bad):
    with pytest.raises(SweepError, match="--shard"):
        parse_shard(bad)
    assert parse_shard("1/3") == (1, 3)


def test_documented_schema_example_parses():
    import textwrap

    from jaxneuron.survey import spec as spec_module

    doc = spec_module.__doc__
    block = textwrap.dedent(doc.split(".. code-block:: toml")[1].split('"""')[0])
    s = parse_spec(block)
    assert s.protocol.stimulus_kind == "step" and s.feature_names == ("burst_period", "duty_cycle")
    assert s.n_members == 48 and dict(s.fixed) == {"g_leak": 0.01}
