"""``jaxneuron fit TARGET.toml [--db survey.zarr] --out fit.json``: a fit described in a TOML file.

```toml
model = "prinz2003"
preset = "fig2c_bursting"          # optional: a published set (jaxneuron.PRINZ2003_SETS)
[fixed]                            # optional: other parameter values
g_leak = 0.03
[target]                           # features (names of jaxneuron.activity) ...
features = {burst_period = 736.0, duty_cycle = 0.175, spikes_per_burst = 5}
# trace = "trace.npz"              # ... or a trace file from `jaxneuron simulate --out` (t, V)
[protocol]                         # ms; the trace's grid must be this protocol's save times
t_end = 4000.0
transient = 1000.0
save_dt = 0.1
stimulus = 0.0                     # constant, uA/cm^2
[fit]
bounds = {g_CaS = [0.0, 10.0], g_KCa = [0.0, 25.0], g_H = [1e-4, 0.05, "log"]}
starts = 16                        # random within bounds, or the nearest members of --db
steps = 30
seed = 0
dt = 0.025                         # ExpEuler step (ms)
```
"""

from __future__ import annotations

import json
import sys

__all__ = ["add_command", "run_toml"]


def _fail(msg) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def run_toml(path, db=None):
    """Parse the file, run :func:`jaxneuron.fit`, return ``(result, summary dict)``."""
    import tomllib

    import jax
    import numpy as np

    import jaxneuron as jn

    from .nearest import nearest

    with open(path, "rb") as f:
        spec = tomllib.load(f)
    known = {"model", "preset", "fixed", "target", "protocol", "fit"}
    if set(spec) - known:
        raise ValueError(f"{path}: unknown keys {sorted(set(spec) - known)}; valid: {sorted(known)}")
    values = dict(spec.get("fixed", {}))
    if "preset" in spec:
        sets = {**jn.PRINZ2003_SETS, **jn.PRINZ2004_CELLS}
        if spec["preset"] not in sets:
            raise ValueError(f"{path}: unknown preset {spec['preset']!r}; valid: {sorted(sets)}")
        values = {**dict(zip(jn.STG_CONDUCTANCES, sets[spec["preset"]])), **values}
    model = jn.make_model(spec.get("model", ""), **values)
    p, fit_spec, tgt = spec.get("protocol", {}), spec.get("fit", {}), spec.get("target", {})
    if "t_end" not in p:
        raise ValueError(f"{path}: [protocol] t_end (ms) is required")
    save = jn.SaveAt(transient=float(p.get("transient", 0.0)), save_dt=float(p.get("save_dt", 0.1)))
    bounds = {k: tuple(v) for k, v in fit_spec.get("bounds", {}).items()}
    if not bounds:
        raise ValueError(f"{path}: [fit] bounds = {{name = [low, high]}} names the fitted parameters")
    if ("features" in tgt) == ("trace" in tgt):
        raise ValueError(f"{path}: [target] needs exactly one of features = {{...}} or trace = 'file.npz'")
    if "features" in tgt:
        loss = jn.losses.features(dict(tgt["features"]))
        target_features = dict(tgt["features"])
    else:
        data = np.load(tgt["trace"])
        loss = jn.losses.trace(data["t"], data["V"])
        act = jn.activity(data["t"], data["V"])
        target_features = {f: float(getattr(act, f)) for f in ("burst_period", "duty_cycle", "spikes_per_burst", "spike_rate")
                           if np.isfinite(float(getattr(act, f)))}  # fmt: skip
    k = int(fit_spec.get("starts", 8))
    starts = k
    if db is not None:
        starts = nearest(db, {f: v for f, v in target_features.items() if f != "spike_rate" or len(target_features) == 1},
                         k, params=list(bounds), bounds=bounds)  # fmt: skip
    r = jn.fit(model, loss=loss, params=list(bounds), bounds=bounds, starts=starts, steps=int(fit_spec.get("steps", 30)),
               key=jax.random.key(int(fit_spec.get("seed", 0))), t_end=float(p["t_end"]), save=save,
               stimulus=float(p.get("stimulus", 0.0)), solver=jn.ExpEuler(dt=float(fit_spec.get("dt", 0.025))))  # fmt: skip
    summary = dict(spec=path, db=db, params={n: v.tolist() for n, v in r.params.items()},
                   starts={n: np.asarray(v).tolist() for n, v in r.starts.items()},
                   loss=[None if not np.isfinite(x) else float(x) for x in r.loss], status=r.status_names,
                   best=r.best, best_index=r.best_index, steps=r.steps, wall_time_s=r.wall_time,
                   history_best=[None if not np.isfinite(x) else float(x) for x in r.history[:, max(r.best_index, 0)]])  # fmt: skip
    return r, summary


def _cmd_fit(args) -> int:
    try:
        r, summary = run_toml(args.target, args.db)
    except (ValueError, TypeError, OSError, KeyError) as e:
        return _fail(e)
    with open(args.out, "w") as f:
        json.dump(summary, f, indent=1)
    ok = int(sum(s == "ok" for s in summary["status"]))
    print(f"{len(summary['status'])} starts ({ok} ok), {r.steps} steps, {r.wall_time:.1f} s; best loss "
          f"{summary['loss'][r.best_index] if r.best_index >= 0 else 'none'}: {r.best}\nwrote {args.out}")  # fmt: skip
    if args.plot:
        from .plots import plot_fit

        plot_fit(r, args.plot)
        print(f"wrote {args.plot}")
    return 0


def add_command(sub) -> None:
    """Register ``jaxneuron fit`` on the ``jaxneuron`` subparsers."""
    p = sub.add_parser("fit", help="fit model parameters to target features or a trace (TOML), optionally seeded from a survey",
                       description=__doc__.split("```")[0].strip())  # fmt: skip
    p.add_argument("target", help="fit description (TOML): model, target, protocol, bounds (see `jaxneuron.fit.cli`)")
    p.add_argument("--db", help="sweep database (.zarr): start from its members nearest to the target features")
    p.add_argument("--out", required=True, help="results (.json): parameters, loss and status of every start, best")
    p.add_argument("--plot", help="figure (.png): loss curves and parameters of every start")
    p.set_defaults(func=_cmd_fit)
