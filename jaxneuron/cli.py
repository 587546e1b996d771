"""The ``jaxneuron`` command: a thin layer over the pure functions of the package.

Subcommands register themselves through ``add_commands(subparsers)`` functions (one per
concept module); each sets ``func`` on its parser, called with the parsed arguments.
"""

from __future__ import annotations

import argparse
import sys

from .survey.cli import add_commands as add_sweep_commands

__all__ = ["main"]

from .cli_analysis import _analyze, _analyze_events, _analyze_network

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


# --- networks (pyloric2004) -----------------------------------------------------------------------


def _norm(name: str) -> str:
    return "".join(name.lower().split())


def _cell_slots():
    """``{normalised --set name: (constructor keyword, cell)}``: AB/PD, ab_pd -> ab_pd; LP, lp -> lp..."""
    from .models import PYLORIC_CELLS

    return {c.lower().replace("/", "_"): (c.lower().replace("/", "_"), c) for c in PYLORIC_CELLS}


def _network_help() -> str:
    from .models import PRINZ2004_CELLS, PYLORIC_CELLS, PYLORIC_SYNAPSES, STG_CONDUCTANCES

    return (f"valid parameters: cells {', '.join(PYLORIC_CELLS)} (or {', '.join(_cell_slots())}) = a Prinz 2004 cell "
            f"name ({', '.join(PRINZ2004_CELLS)}) or 8 comma-separated conductances (mS/cm^2: {', '.join(STG_CONDUCTANCES)}); "
            f"synapses (nS, >= 0): {', '.join(f for f, *_ in PYLORIC_SYNAPSES)}")  # fmt: skip


def _parse_cell(cell: str, value: str):
    """A Prinz 2004 cell name (case and spaces ignored; a bare number k means "<cell> k") or 8 conductances."""
    import math

    from .models import PRINZ2004_CELLS, STG_CONDUCTANCES

    names = {_norm(n): n for n in PRINZ2004_CELLS}
    v = value.strip()
    for candidate in (v, f"{cell} {v}"):
        if _norm(candidate) in names:
            return names[_norm(candidate)]
    if "," in v:
        try:
            g = [float(x) for x in v.split(",")]
        except ValueError:
            raise SystemExit(f"--set {cell}: {value!r} is not 8 comma-separated numbers (mS/cm^2: "
                             f"{', '.join(STG_CONDUCTANCES)})") from None  # fmt: skip
        if len(g) != 8:
            raise SystemExit(f"--set {cell}: expected 8 comma-separated conductances (mS/cm^2: {', '.join(STG_CONDUCTANCES)}), "
                             f"got {len(g)}")  # fmt: skip
        bad = [f"{n} = {x:g}" for n, x in zip(STG_CONDUCTANCES, g) if not (math.isfinite(x) and x >= 0)]
        if bad:
            raise SystemExit(f"--set {cell}: conductances must be finite and >= 0 mS/cm^2, got {', '.join(bad)}")
        return tuple(g)
    raise SystemExit(f"--set {cell}: unknown cell {value!r}; valid cells: {', '.join(PRINZ2004_CELLS)} "
                     f"(or 8 comma-separated conductances, mS/cm^2: {', '.join(STG_CONDUCTANCES)})")  # fmt: skip


def _parse_network_set(items, cls):
    """Constructor keywords of a network model (:class:`~jaxneuron.Pyloric2004`) from ``--set`` items."""
    import math

    from .models import PYLORIC_SYNAPSES

    slots = _cell_slots()
    synapses = {f.lower(): f for f, *_ in PYLORIC_SYNAPSES}
    params = {}
    for item in items or []:
        if "=" not in item:
            raise SystemExit(f"--set expects NAME=VALUE, got {item!r}")
        name, value = item.split("=", 1)
        key = _norm(name).replace("/", "_")
        if key in slots:
            kw, cell = slots[key]
            params[kw] = _parse_cell(cell, value)
        elif key in synapses:
            field = synapses[key]
            try:
                g = float(value)
            except ValueError:
                raise SystemExit(f"--set {field}: {value!r} is not a number (synapse strength, nS)") from None
            if not (math.isfinite(g) and g >= 0):
                raise SystemExit(f"--set {field}: a synapse strength must be finite and >= 0 nS, got {value}")
            params[field] = g
        else:
            raise SystemExit(f"unknown parameter {name!r} for {cls.__name__}; {_network_help()}")
    return params


def _describe_network(model, params) -> str:
    """``AB/PD = AB/PD 2; LP = LP 3; PY = PY 1; synapses (nS): g_AB_LP 30, ...`` (defaults filled in)."""
    import inspect

    given = {**{k: p.default for k, p in inspect.signature(type(model).__init__).parameters.items()}, **params}
    cells = []
    for name in model.cell_names:
        value = given[name.lower().replace("/", "_")]
        cells.append(f"{name} = {value if isinstance(value, str) else ','.join(f'{x:g}' for x in value)}")
    syn = ", ".join(f"{f} {float(g):g}" for f, g in model.synapse_strengths().items())
    return f"{'; '.join(cells)}; synapses (nS): {syn}"


def _initial_state(model, args, solver):
    """``y0`` of a network: Prinz et al. 2004's warm start (default) or the cold start; says which."""
    import math

    if args.start == "cold":
        if args.t_settle is not None:
            raise SystemExit("--t-settle sets the warm start; it does not apply with --start cold")
        print("initial state: cold start (each cell's default state: V = -50 mV, Ca = 0.05 uM, gates at steady state; "
              "synapses s = 0). The circuit is multistable: the default warm start may settle into another rhythm")  # fmt: skip
        return model.default_y0()
    t_settle = DEFAULT_T_SETTLE if args.t_settle is None else args.t_settle
    if not (math.isfinite(t_settle) and t_settle > 0):
        raise SystemExit(f"--t-settle must be a finite duration > 0 ms, got {t_settle:g}")
    print(f"initial state: warm start (Prinz et al. 2004: each cell settled alone for {t_settle:g} ms from its default "
          f"state, then synapses s = 0; --t-settle to change; the circuit is multistable: --start cold for the cold start)")  # fmt: skip
    try:
        return model.warm_start(t_settle, solver=solver)
    except (RuntimeError, ValueError) as e:
        raise SystemExit(f"error: {e}") from None


DEFAULT_T_SETTLE = 20000.0
"""``--t-settle`` default (ms): Prinz et al. 2004 settle each cell alone for 20 s."""


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
STIM_HELP = ("stimulus, KIND:VALUES (currents in the model's unit: uA/cm^2, adex pA; ms, Hz, rad): " + " | ".join(u for _, u in _STIMULI.values())
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


def _cmd_simulate(args):
    import math

    import numpy as np

    import jaxneuron as jn
    from .models import Network, get_model_class
    from .solvers import ENGINES, SOLVERS

    try:
        cls = get_model_class(args.model)
    except ValueError as e:
        raise SystemExit(str(e)) from None
    if args.solver.lower() not in SOLVERS:
        raise SystemExit(f"unknown solver {args.solver!r}; valid solvers: {', '.join(SOLVERS)}")
    network = issubclass(cls, Network)
    if not network and (args.start is not None or args.t_settle is not None):
        raise SystemExit(f"--start and --t-settle apply to network models (pyloric2004); {cls.__name__} starts from its default state")
    if network and not (math.isfinite(args.t0) and math.isfinite(args.t_end) and args.t_end > args.t0):  # before the warm start
        raise SystemExit(f"error: t_end must be a finite time (ms) greater than t0 = {args.t0:g}; got t_end = {args.t_end:g}")
    transient = _transient(args) if args.analyze else None
    params = _parse_network_set(args.set, cls) if network else _parse_set(args.set, cls)
    stimulus = _parse_stimulus(args.stim)
    try:
        model = cls(**params)
        solver_cls = SOLVERS[args.solver.lower()]
        solver = solver_cls(dt=args.dt) if solver_cls is jn.ExpEuler else solver_cls(rtol=args.rtol, atol=args.atol)
        engine = ENGINES[args.engine]()
        save = jn.SaveAt(transient=0.0, save_dt=args.save_dt, states="all" if args.all_states else "V",
                         spikes=bool(network and args.analyze) or bool(model.events()))  # fmt: skip
        if network:
            print(f"{cls.__name__}: {_describe_network(model, params)}")
        y0 = _initial_state(model, args, solver) if network else None
        sol = jn.simulate(model, t_end=args.t_end, t0=args.t0, y0=y0, stimulus=stimulus, save=save, solver=solver,
                          engine=engine)  # fmt: skip
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
        if network:
            out.update(y0=np.asarray(y0), cell_names=np.array(model.cell_names))
        np.savez(args.out, **out)
        print(f"wrote {args.out}")
    if args.analyze and network:
        _analyze_network(sol, args.t0, args.t_end, transient, model.cell_names)
    elif args.analyze and model.events():
        _analyze_events(sol, args.t0, transient)
    elif args.analyze:
        _analyze(sol, args.t0, transient)
    if args.plot:
        from . import plot

        if network:
            start = "cold start" if args.start == "cold" else "warm start"
            cells = _describe_network(model, params).split(";")[: model.n_cells]
            plot.plot_network(sol, args.plot, model.cell_names, title=f"{cls.__name__}:{','.join(cells)} ({start})")
        else:
            plot.plot_trace(sol, args.plot, title=f"{cls.__name__}")
        print(f"wrote {args.plot}")
    return 0 if status == 0 else 1


def _add_simulate(sub):
    from .solvers import ENGINES, SOLVERS

    p = sub.add_parser("simulate", help="simulate one model neuron or the pyloric network and save/plot/analyse it",
                       description="Simulate one model neuron, or the three-cell pyloric network (pyloric2004), from t0 "
                                   "to t_end (ms); the whole run is saved and plotted, --analyze classifies the window "
                                   "[t0 + transient, t_end] (for the network also its rhythm). A network's stimulus "
                                   "goes to every cell.")  # fmt: skip
    p.add_argument("model", help="model name: hh, prinz2003, liu1998, pyloric2004, lif, adex, izhikevich")
    p.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help="set a parameter (repeatable), e.g. g_Na=200; pyloric2004: a cell, AB/PD | LP | PY = a Prinz "
                        "2004 cell name ('LP=LP 3') or 8 comma-separated conductances (mS/cm^2), or a synapse "
                        "strength (nS), e.g. g_LP_PD=10")  # fmt: skip
    p.add_argument("--start", choices=("warm", "cold"), default=None,
                   help="networks: initial state, warm (default: Prinz et al. 2004, each cell settled alone for "
                        "--t-settle ms, synapses off) or cold (each cell's default state)")  # fmt: skip
    p.add_argument("--t-settle", type=float, default=None, metavar="MS",
                   help=f"networks, warm start: how long each cell settles alone (ms, default {DEFAULT_T_SETTLE:g})")
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
    p.add_argument("--plot", help="write a figure of the trace (networks: one panel per cell) to this .png file")
    p.add_argument("--analyze", action="store_true",
                   help="print the activity class and features of the window after --transient")  # fmt: skip
    p.set_defaults(func=_cmd_simulate)


def build_parser():
    parser = argparse.ArgumentParser(prog="jaxneuron", description="Simulate, analyse and sweep conductance-based neuron models.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_simulate(sub)
    add_sweep_commands(sub)
    from .fit.cli import add_command as add_fit_command

    add_fit_command(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
