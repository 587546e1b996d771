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


def _parse_stimulus(text):
    from . import stimulus as s

    if text is None:
        return None
    kind, _, rest = text.partition(":")
    try:
        vals = [float(v) for v in rest.split(",")] if rest else []
    except ValueError:
        raise SystemExit(f"--stim {text!r}: values must be numbers") from None
    makers = {
        "const": (lambda a: s.Constant(a), "const:AMP"),
        "step": (lambda a, on=0.0, off=float("inf"): s.Step(a, on, off), "step:AMP[,T_ON[,T_OFF]]"),
        "pulses": (lambda a, w, p, n, t0=0.0: s.PulseTrain(a, w, p, int(n), t0), "pulses:AMP,WIDTH,PERIOD,N[,T_START]"),
        "sine": (lambda a, f, ph=0.0, off=0.0: s.Sine(a, f, ph, off), "sine:AMP,FREQ_HZ[,PHASE[,OFFSET]]"),
    }
    if kind not in makers:
        raise SystemExit(f"--stim kind {kind!r} unknown; use one of: {', '.join(u for _, u in makers.values())}")
    fn, usage = makers[kind]
    try:
        return fn(*vals)
    except TypeError:
        raise SystemExit(f"--stim {text!r}: expected {usage} (uA/cm^2, ms, Hz)") from None


def _cmd_simulate(args):
    import numpy as np

    import jaxneuron as jn
    from .models import get_model_class
    from .solvers import SOLVERS

    try:
        cls = get_model_class(args.model)
    except ValueError as e:
        raise SystemExit(str(e)) from None
    if args.solver.lower() not in SOLVERS:
        raise SystemExit(f"unknown solver {args.solver!r}; valid solvers: {', '.join(SOLVERS)}")
    try:
        model = cls(**_parse_set(args.set, cls))
        solver_cls = SOLVERS[args.solver.lower()]
        solver = solver_cls(dt=args.dt) if solver_cls is jn.ExpEuler else solver_cls(rtol=args.rtol, atol=args.atol)
        sol = jn.simulate(model, t_end=args.t_end, stimulus=_parse_stimulus(args.stim),
                          save=jn.SaveAt(dt=args.save_dt, states="all" if args.all_states else "V"), solver=solver)  # fmt: skip
    except (ValueError, TypeError) as e:
        raise SystemExit(f"error: {e}") from None
    status = int(np.asarray(sol.status))
    print(f"{cls.__name__}: simulated {args.t_end:g} ms with {type(solver).__name__} in {int(sol.num_steps)} steps; status: {jn.STATUS[status]}")
    if args.out:
        out = {"t_ms": np.asarray(sol.t), "V_mV": np.asarray(sol.V), "y_final": np.asarray(sol.y_final),
               "status": np.asarray(sol.status), "state_names": np.array(sol.state_names)}  # fmt: skip
        if sol.ys is not None:
            out["ys"] = np.asarray(sol.ys)
        np.savez(args.out, **out)
        print(f"wrote {args.out}")
    if args.analyze:
        from .analysis import activity, format_activity

        print(format_activity(activity(sol.t, sol.V)))
    if args.plot:
        from .plot import plot_trace

        plot_trace(sol, args.plot, title=f"{cls.__name__}")
        print(f"wrote {args.plot}")
    return 0 if status == 0 else 1


def _add_simulate(sub):
    p = sub.add_parser("simulate", help="simulate one model neuron and save/plot its trace")
    p.add_argument("model", help="model name: hh, prinz2003, liu1998")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="set a parameter (repeatable), e.g. g_Na=200")
    p.add_argument("--t-end", type=float, default=1000.0, help="simulated time (ms)")
    p.add_argument("--save-dt", type=float, default=0.1, help="sampling interval of the saved trace (ms)")
    p.add_argument("--stim", help="stimulus: const:AMP | step:AMP,T_ON,T_OFF | pulses:AMP,WIDTH,PERIOD,N | sine:AMP,FREQ")
    p.add_argument("--solver", default="kvaerno5", help="kvaerno5 (default), kvaerno3, tsit5, expeuler")
    p.add_argument("--rtol", type=float, default=1e-6)
    p.add_argument("--atol", type=float, default=1e-6)
    p.add_argument("--dt", type=float, default=0.025, help="ExpEuler step (ms)")
    p.add_argument("--all-states", action="store_true", help="save every state, not only V")
    p.add_argument("--out", help="write t, V, final state and status to this .npz file")
    p.add_argument("--plot", help="write a figure of the trace to this .png file")
    p.add_argument("--analyze", action="store_true", help="print the activity features of the trace")
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
