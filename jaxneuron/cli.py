"""The ``jaxneuron`` command: a thin layer over the pure functions of the package.

Subcommands register themselves through ``add_commands(subparsers)`` functions (one per
concept module); each sets ``func`` on its parser, called with the parsed arguments.
"""

from __future__ import annotations

import argparse
import sys

from .survey.cli import add_commands as add_sweep_commands

__all__ = ["main"]


def _parse_set(items, model_cls):
    from .models import parameter_info

    valid = parameter_info(model_cls)
    params = {}
    for item in items or []:
        if "=" not in item:
            raise SystemExit(f"--set expects NAME=VALUE, got {item!r}")
        name, value = item.split("=", 1)
        if name not in valid:
            raise SystemExit(f"unknown parameter {name!r} for {model_cls.__name__}; valid parameters: {', '.join(valid)}")
        try:
            params[name] = float(value)
        except ValueError:
            raise SystemExit(f"--set {name}: {value!r} is not a number ({valid[name]['unit']})") from None
    return params


_STIMULI = {
    # kind (the TOML name): (maker from positional numbers, usage); fields as in jaxneuron.stimulus
    "constant": (lambda s: lambda a: s.Constant(a), "constant:AMPLITUDE"),
    "step": (lambda s: lambda a, on=0.0, off=float("inf"): s.Step(a, on, off), "step:AMPLITUDE[,T_ON[,T_OFF]]"),
    "pulse_train": (lambda s: lambda a, w, p, n, start=0.0: s.PulseTrain(a, w, p, _count(n), start),
                    "pulse_train:AMPLITUDE,WIDTH,PERIOD,N_PULSES[,T_START]"),
    "sine": (lambda s: lambda a, f, ph=0.0, off=0.0, on=0.0: s.Sine(a, f, ph, off, on),
             "sine:AMPLITUDE,FREQUENCY[,PHASE[,OFFSET[,T_ON]]]"),
}  # fmt: skip
_RENAMED_STIMULI = {"const": "constant", "pulses": "pulse_train"}
STIM_HELP = ("stimulus, KIND:VALUES (uA/cm^2, ms, Hz, rad): " + " | ".join(u for _, u in _STIMULI.values())
             + "; e.g. step:5,100,900")  # fmt: skip


def _count(n):
    if not (n == n and abs(n) != float("inf") and n == int(n) and n >= 1):
        raise ValueError(f"N_PULSES must be a positive integer, got {n:g}")
    return int(n)


def _parse_stimulus(text):
    from . import stimulus as s

    if text is None:
        return None
    kind, _, rest = text.partition(":")
    if kind not in _STIMULI:
        hint = f" ({kind!r} is now {_RENAMED_STIMULI[kind]!r})" if kind in _RENAMED_STIMULI else ""
        raise SystemExit(f"--stim kind {kind!r} unknown{hint}; valid kinds: {', '.join(_STIMULI)} "
                         f"({' | '.join(u for _, u in _STIMULI.values())})")  # fmt: skip
    make, usage = _STIMULI[kind]
    try:
        vals = [float(v) for v in rest.split(",")] if rest else []
    except ValueError:
        raise SystemExit(f"--stim {text!r}: values must be numbers; expected {usage} (uA/cm^2, ms, Hz, rad)") from None
    try:
        return make(s)(*vals)
    except TypeError:
        raise SystemExit(f"--stim {text!r}: expected {usage} (uA/cm^2, ms, Hz, rad)") from None
    except ValueError as e:
        raise SystemExit(f"--stim {text!r}: {e}") from None


DEFAULT_TRANSIENT_FRACTION, DEFAULT_TRANSIENT_MAX = 0.25, 2000.0
"""``--transient`` default: a quarter of the simulated duration, at most 2000 ms."""


def _transient(args) -> float | None:
    """The transient (ms) that ``--analyze`` discards, validated; ``None`` when the times are
    invalid (``simulate`` then reports them)."""
    import math

    duration = args.t_end - args.t0
    if not (math.isfinite(args.t0) and math.isfinite(duration) and duration > 0):
        return None
    if args.transient is None:
        transient = min(DEFAULT_TRANSIENT_FRACTION * duration, DEFAULT_TRANSIENT_MAX)
    elif not (math.isfinite(args.transient) and 0.0 <= args.transient < duration):
        raise SystemExit(f"--transient must be a duration in [0, t_end - t0) = [0, {duration:g}) ms, got {args.transient:g}")
    else:
        transient = float(args.transient)
    if args.save_dt > 0 and _window_samples(duration, transient, args.save_dt) < 2:
        raise SystemExit(f"the analysed window [{args.t0 + transient:g}, {args.t_end:g}] ms holds fewer than 2 samples "
                         f"at --save-dt {args.save_dt:g} ms; shorten --transient or lengthen --t-end")  # fmt: skip
    return transient


def _window_samples(duration, transient, save_dt):
    """Saved samples (every ``save_dt`` from t0) at or after ``t0 + transient``."""
    import math

    if not math.isfinite(duration / save_dt):
        return 0
    n_saved = math.floor(duration / save_dt + 1e-9) + 1  # as SaveAt.times
    return n_saved - math.ceil(transient / save_dt - 1e-9)


def _analyze(sol, t0, transient):
    """Activity of the saved trace over the window ``[t0 + transient, t_end]``."""
    import numpy as np

    from .analysis import activity, format_activity

    t = np.asarray(sol.t)
    keep = t - t0 >= transient - 1e-9 * max(1.0, transient)  # as _window_samples, checked before simulating
    tw, V = t[keep], np.asarray(sol.V)[..., keep]
    print(f"analysed window: [{tw[0]:g}, {tw[-1]:g}] ms ({tw[-1] - tw[0]:g} ms after a {transient:g} ms transient; "
          f"--transient to change, --t-end to lengthen)")  # fmt: skip
    print(format_activity(activity(tw, V)))


def _cmd_simulate(args):
    import numpy as np

    import jaxneuron as jn
    from .models import get_model_class
    from .solvers import ENGINES, SOLVERS

    try:
        cls = get_model_class(args.model)
    except ValueError as e:
        raise SystemExit(str(e)) from None
    if args.solver.lower() not in SOLVERS:
        raise SystemExit(f"unknown solver {args.solver!r}; valid solvers: {', '.join(SOLVERS)}")
    transient = _transient(args) if args.analyze else None
    try:
        model = cls(**_parse_set(args.set, cls))
        solver_cls = SOLVERS[args.solver.lower()]
        solver = solver_cls(dt=args.dt) if solver_cls is jn.ExpEuler else solver_cls(rtol=args.rtol, atol=args.atol)
        engine = ENGINES[args.engine]()
        save = jn.SaveAt(transient=0.0, save_dt=args.save_dt, states="all" if args.all_states else "V")
        sol = jn.simulate(model, t_end=args.t_end, t0=args.t0, stimulus=_parse_stimulus(args.stim), save=save,
                          solver=solver, engine=engine)  # fmt: skip
    except (ValueError, TypeError) as e:
        raise SystemExit(f"error: {e}") from None
    status = int(np.asarray(sol.status))
    print(f"{cls.__name__}: simulated [{args.t0:g}, {args.t_end:g}] ms with {type(solver).__name__} ({args.engine} engine) "
          f"in {int(sol.num_steps)} steps; status: {jn.STATUS[status]}")  # fmt: skip
    if args.out:
        out = {"t_ms": np.asarray(sol.t), "V_mV": np.asarray(sol.V), "y_final": np.asarray(sol.y_final),
               "status": np.asarray(sol.status), "state_names": np.array(sol.state_names)}  # fmt: skip
        if sol.ys is not None:
            out["ys"] = np.asarray(sol.ys)
        np.savez(args.out, **out)
        print(f"wrote {args.out}")
    if args.analyze:
        _analyze(sol, args.t0, transient)
    if args.plot:
        from .plot import plot_trace

        plot_trace(sol, args.plot, title=f"{cls.__name__}")
        print(f"wrote {args.plot}")
    return 0 if status == 0 else 1


def _add_simulate(sub):
    from .solvers import ENGINES, SOLVERS

    p = sub.add_parser("simulate", help="simulate one model neuron and save/plot/analyse its trace",
                       description="Simulate one model neuron from t0 to t_end (ms); the whole run is saved and "
                                   "plotted, --analyze classifies the window [t0 + transient, t_end].")  # fmt: skip
    p.add_argument("model", help="model name: hh, prinz2003, liu1998")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="set a parameter (repeatable), e.g. g_Na=200")
    p.add_argument("--t0", type=float, default=0.0, metavar="MS", help="start of the simulation (ms, default 0)")
    p.add_argument("--t-end", type=float, default=1000.0, metavar="MS", help="end of the simulation (ms, default 1000)")
    p.add_argument("--transient", type=float, default=None, metavar="MS",
                   help="with --analyze: the first MS ms after t0 are simulated and saved but not analysed; the "
                        "analysed window is [t0 + transient, t_end] (default: a quarter of t_end - t0, at most "
                        "2000 ms). A burster needs a window of >= 4-6 periods, else it is 'undetermined'")  # fmt: skip
    p.add_argument("--save-dt", type=float, default=0.1, metavar="MS", help="sampling interval of the saved trace (ms, default 0.1)")
    p.add_argument("--stim", metavar="KIND:VALUES", help=STIM_HELP)
    p.add_argument("--solver", default="kvaerno5", help=f"{' | '.join(SOLVERS)} (default kvaerno5)")
    p.add_argument("--engine", default="queue", choices=tuple(ENGINES),
                   help="queue (default: jaxneuron.QueueEngine) | diffrax (jaxneuron.DiffraxEngine)")  # fmt: skip
    p.add_argument("--rtol", type=float, default=1e-6, help="relative tolerance of the adaptive solvers (default 1e-6)")
    p.add_argument("--atol", type=float, default=1e-6, help="absolute tolerance of the adaptive solvers (default 1e-6)")
    p.add_argument("--dt", type=float, default=0.025, metavar="MS", help="expeuler step (ms, default 0.025)")
    p.add_argument("--all-states", action="store_true", help="save every state, not only V")
    p.add_argument("--out", help="write t, V, final state and status to this .npz file")
    p.add_argument("--plot", help="write a figure of the trace to this .png file")
    p.add_argument("--analyze", action="store_true",
                   help="print the activity class and features of the window after --transient")  # fmt: skip
    p.set_defaults(func=_cmd_simulate)


def build_parser():
    parser = argparse.ArgumentParser(prog="jaxneuron", description="Simulate, analyse and sweep conductance-based neuron models.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_simulate(sub)
    add_sweep_commands(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
