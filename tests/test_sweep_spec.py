"""Sweep specification: parsing, every kind of bad input, and the parameter spaces."""

import glob
import os

import numpy as np
import pytest

import jaxneuron as jn
from jaxneuron.survey import SweepError, SweepSpecError, load_spec, parse_shard, parse_spec

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BASE = """
model = "prinz2003"
preset = "ptm2003_burster"
seed = 1
chunk_size = 8
[protocol]
transient = 100.0
window = 200.0
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
    p = s.protocol
    assert (p.t0, p.transient, p.window, p.save_dt, p.t_end) == (0.0, 100.0, 200.0, 0.1, 300.0)
    assert s.traces_save_dt == 0.1  # default: the protocol's
    assert s.solver() == jn.ExpEuler(dt=0.05) and s.engine == "queue"  # fixed step on the queue engine: accepted
    v = s.space.values(np.arange(6))
    np.testing.assert_array_equal(v["g_CaS"], [0, 0, 5, 5, 10, 10])  # last axis fastest
    np.testing.assert_array_equal(v["g_KCa"], [0, 5, 0, 5, 0, 5])
    params = s.model_parameters()
    assert params["g_Na"] == 200.0 and params["g_leak"] == 0.01  # the preset


def test_shipped_specs_parse():
    files = sorted(glob.glob(os.path.join(ROOT, "sweeps", "*.toml")))
    assert {"demo.toml", "prinz2003.toml"} <= {os.path.basename(f) for f in files}
    specs = {os.path.basename(f): load_spec(f) for f in files}
    assert specs["prinz2003.toml"].n_members == 6**8 == 1_679_616
    assert specs["demo.toml"].n_members == 256
    assert all(s.engine == "queue" for s in specs.values())  # the default everywhere
    demo, prinz = specs["demo.toml"], specs["prinz2003.toml"]
    assert demo.solver() == jn.Tsit5(rtol=1e-6, atol=1e-6) and demo.protocol.t_end == 20000.0 and demo.traces_save_dt == 0.5
    assert prinz.solver() == jn.Tsit5(rtol=1e-6, atol=1e-6) and (prinz.protocol.transient, prinz.protocol.window) == (20000.0, 20000.0)


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
        ({"window = 200.0": ""}, "", r"missing required key 'window' \(analysed duration after the transient, ms\)"),
        ({'preset = "ptm2003_burster"': 'preset = "nope"'}, "", r"unknown preset 'nope'; valid presets: fig2c_bursting"),
        ({}, "[fixed]\ng_CaS = 1.0\n", r"both fixed and swept"),
        ({}, "[features]\nnames = ['burst_frequency']\n", r"unknown feature\(s\) \['burst_frequency'\]; valid features: label"),
        ({}, "[features.options]\nthreshhold = 0.0\n", r"unknown key\(s\) \['threshhold'\]; valid keys: threshold"),
        ({}, "[traces]\nsave_dt = 0.25\n", r"traces.save_dt: must be a whole multiple of protocol.save_dt = 0.1 ms, got 0.25"),
        ({"window = 200.0": "window = 200.0\nsave_dt = 300.0"}, "", r"protocol.save_dt: 300.0 ms is longer than the analysed window"),
        ({"transient = 100.0": "transient = -1.0"}, "", r"protocol.transient: must be >= 0.0"),
        ({'name = "expeuler"\ndt = 0.05': 'engine = "vmap"'}, "",
         r"solver.engine: unknown engine 'vmap'; valid engines: queue, diffrax \(the engine once called \"vmap\" is now \"diffrax\"\)"),
        ({'dt = 0.05': 'dt = 0.05\nengine = "fast"'}, "", r"solver.engine: unknown engine 'fast'; valid engines: queue, diffrax$"),
        ({'kind = "grid"': 'kind = "halton"'}, "", r"unknown space 'halton'; valid kinds: grid, random, lhs, sobol, table"),
        ({'kind = "grid"': 'kind = "random"'}, "", r"a random space needs 'n'"),
        ({"window = 200.0": "window = 200.0\nstimulus = {kind = 'ramp'}"}, "", r"unknown stimulus 'ramp'; valid kinds: constant"),
    ],
)
def test_bad_input_is_named(replace, extra, match):
    with pytest.raises(SweepSpecError, match=match):
        spec_with(replace, extra)


SAMPLED = """
model = "prinz2003"
seed = {seed}
[protocol]
window = 100.0
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
window = 100.0
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


def test_documented_schema_examples_parse_and_agree():
    import textwrap

    from jaxneuron.survey import spec as spec_module

    doc = spec_module.__doc__
    block = textwrap.dedent(doc.split(".. code-block:: toml")[1].split("Keys renamed")[0])
    s = parse_spec(block)
    assert s.protocol.stimulus_kind == "step" and s.feature_names == ("burst_period", "duty_cycle")
    assert s.n_members == 48 and dict(s.fixed) == {"g_leak": 0.01}
    assert (s.protocol.transient, s.protocol.window, s.protocol.save_dt, s.traces_save_dt) == (10000.0, 10000.0, 0.1, 0.5)
    assert s.solver() == jn.Tsit5() and s.engine == "queue"
    with open(os.path.join(ROOT, "sweeps", "README.md"), encoding="utf-8") as f:
        readme = f.read().split("```toml")[1].split("```")[0]
    assert parse_spec(readme).canonical() == s.canonical()  # README and docstring: the same schema


@pytest.mark.parametrize(
    "table, old, new",
    [("protocol", "transient_ms", "transient"), ("protocol", "window_ms", "window"),
     ("protocol", "save_dt_ms", "save_dt"), ("traces", "save_dt_ms", "save_dt")],
)  # fmt: skip
def test_old_keys_are_refused_with_their_new_name(table, old, new):
    text = BASE.replace("[protocol]\n", "[protocol]\nwindow_ms = 200.0\n" if old == "window_ms" else "[protocol]\n")
    if table == "protocol" and old != "window_ms":
        text = text.replace("[protocol]\n", f"[protocol]\n{old} = 0.2\n")
    if table == "traces":
        text += f"[traces]\n{old} = 0.2\n"
    with pytest.raises(SweepSpecError) as e:
        parse_spec(text, path="old.toml")
    assert str(e.value) == f"old.toml: {table}.{old}: renamed: use `{new}` (ms)"


def test_solver_defaults_kvaerno5_on_the_queue_engine():
    no_solver = BASE.replace('[solver]\nname = "expeuler"\ndt = 0.05\n', "")
    s = parse_spec(no_solver)
    assert s.solver_name == "kvaerno5" and s.solver_options == () and s.engine == "queue"
    assert s.solver() == jn.Kvaerno5() and (s.solver().rtol, s.solver().atol) == (1e-6, 1e-6)
    assert s.canonical()["solver"] == {"name": "kvaerno5", "engine": "queue"}
    # a [solver] table of settings only: still Kvaerno5; engine diffrax
    t = parse_spec(no_solver + '[solver]\nrtol = 1e-8\nengine = "diffrax"\n')
    assert t.solver() == jn.Kvaerno5(rtol=1e-8) and t.engine == "diffrax"
    assert t.canonical()["solver"] == {"name": "kvaerno5", "rtol": 1e-8, "engine": "diffrax"}
    for name, cls in [("tsit5", jn.Tsit5), ("kvaerno3", jn.Kvaerno3), ("expeuler", jn.ExpEuler), ("KVAERNO5", jn.Kvaerno5)]:
        u = parse_spec(no_solver + f'[solver]\nname = "{name}"\nengine = "queue"\n')
        assert u.solver() == cls() and u.engine == "queue"


def test_canonical_spec_uses_the_new_names():
    c = spec_with({}, "[traces]\nsave_dt = 0.5\n").canonical()
    assert c["schema"] == 2
    assert c["protocol"] == {"t0": 0.0, "transient": 100.0, "window": 200.0, "save_dt": 0.1, "stimulus": None, "initial_state": None}
    assert c["solver"] == {"name": "expeuler", "dt": 0.05, "engine": "queue"}
    assert c["traces"]["save_dt"] == 0.5


def test_status_flags_come_from_the_status_enum():
    from jaxneuron.solvers.status import STATUS_NOT_COMPUTED, Status
    from jaxneuron.survey.store import status_attrs

    a = status_attrs()
    assert a["flag_values"] == [-1, 0, 1, 2, 3, 4] and STATUS_NOT_COMPUTED == -1
    assert a["flag_meanings"].split() == ["not_computed", "ok", "max_steps", "non_finite", "step_collapsed", "solver_failure"]
    assert dict(zip(a["flag_values"][1:], a["flag_meanings"].split()[1:])) == {int(s): s.name.lower() for s in Status}


def test_database_of_the_old_schema_is_refused(tmp_path):
    import json

    import zarr

    from jaxneuron.survey.store import check_store

    path = str(tmp_path / "old.zarr")
    group = zarr.open_group(path, mode="w", zarr_format=3)
    group.create_group("progress")
    old = {"protocol": {"transient_ms": 100.0, "window_ms": 200.0, "save_dt_ms": 0.1}, "solver": {"name": "expeuler", "dt": 0.05}}
    group.attrs.update({"spec_json": json.dumps(old), "chunk_size": 4})
    with pytest.raises(SweepError, match=r"old.zarr was written with sweep spec schema 1 \(keys transient_ms, window_ms, "
                                         r"save_dt_ms; engine \"vmap\"\); .* cannot be resumed\. Use --overwrite"):
        check_store(path, spec_with(), chunk_size_given=False)
    group.attrs["spec_json"] = json.dumps(spec_with().canonical())
    assert check_store(path, spec_with(), chunk_size_given=False).chunk_size == 4  # the store's
