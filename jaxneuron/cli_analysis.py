"""Analysis printed by ``jaxneuron simulate --analyze``: a cell's activity, an integrate-and-fire
cell's spikes and firing pattern, a network's rhythm."""

from __future__ import annotations

def _window(sol, t0, transient):
    """``(t, V)`` of the saved samples in the window ``[t0 + transient, t_end]``, which it prints."""
    import numpy as np

    t = np.asarray(sol.t)
    keep = t - t0 >= transient - 1e-9 * max(1.0, transient)  # as _window_samples, checked before simulating
    tw, V = t[keep], np.asarray(sol.V)[..., keep]
    print(f"analysed window: [{tw[0]:g}, {tw[-1]:g}] ms ({tw[-1] - tw[0]:g} ms after a {transient:g} ms transient; "
          f"--transient to change, --t-end to lengthen)")  # fmt: skip
    return tw, V


def _analyze(sol, t0, transient):
    """Activity of the saved trace over the window ``[t0 + transient, t_end]``."""
    from .analysis import activity, format_activity

    print(format_activity(activity(*_window(sol, t0, transient))))


def _analyze_network(sol, t0, t_end, transient, cell_names):
    """Rhythm features (:func:`jaxneuron.rhythm_from_spikes` on the recorded spike times, as
    :func:`jaxneuron.rhythm_from_solution`) and each cell's activity over ``[t0 + transient, t_end]``."""
    import numpy as np

    from .analysis import activity, format_activity, rhythm_from_spikes

    tw, V = _window(sol, t0, transient)
    r = rhythm_from_spikes(sol.spike_times, sol.n_spikes, t0 + transient, t_end)
    yes = lambda b: "yes" if bool(b) else "no"  # noqa: E731
    g = lambda x, d=4, unit="": f"{float(x):.{d}g}{unit}" if np.isfinite(float(x)) else "n/a"  # noqa: E731
    print(f"rhythm: period {g(r.cycle_period, 5, ' ms')}; triphasic: {yes(r.triphasic)}; pyloric-like: "
          f"{yes(r.pyloric_like)} ({int(r.n_periods)} AB/PD periods, {int(r.n_triphasic)} triphasic)"
          + ("  [overflow: spike buffer full, window cut short]" if bool(r.overflow) else ""))  # fmt: skip
    rows = [("", cell_names), ("burst duration (ms)", [g(x, 5) for x in r.burst_durations]),
            ("duty cycle", [g(x, 3) for x in r.duty_cycles]), ("spikes", [str(int(x)) for x in r.n_spikes]),
            ("bursts", [str(int(x)) for x in r.n_bursts]),
            ("start phase", ["0" if r.triphasic else "n/a"] + [g(x, 3) for x in r.start_phases])]  # fmt: skip
    for label, cols in rows:
        print(f"  {label:<20}" + "".join(f"{c:>10}" for c in cols))
    print(f"  phase gaps (end -> next start): AB/PD->LP {g(r.phase_gaps[0], 3)}, LP->PY {g(r.phase_gaps[1], 3)}")
    if int(r.n_periods) < 2:
        print("  fewer than 2 AB/PD periods in the window: lengthen --t-end (or shorten --transient) to judge the rhythm")
    act = activity(tw, V)
    for i, name in enumerate(cell_names):
        one = format_activity(type(act)(**{f: np.asarray(getattr(act, f))[i] for f in act.feature_names}))
        print(f"{name} " + one.replace("\n", "\n" + " " * (len(name) + 1)))


def _analyze_events(sol, t0, transient):
    """Integrate-and-fire cells: the spikes (the engine's events) of the window, their activity
    class and the firing pattern of the whole run (:mod:`jaxneuron.analysis.patterns`)."""
    import numpy as np

    from .analysis import format_activity
    from .analysis.patterns import FIRING_PATTERNS, patterns_of
    from .spiking import activity_from_spikes

    times, count = np.asarray(sol.spike_times).reshape(-1), int(np.asarray(sol.n_spikes))
    t_first, t_end = t0 + transient, float(sol.t_end)
    print(f"analysed window: [{t_first:g}, {t_end:g}] ms ({t_end - t_first:g} ms after a {transient:g} ms transient)")
    print(format_activity(activity_from_spikes(sol, t_start=t_first)))
    fp = patterns_of(times[None], np.asarray([count]), t0, t_end)
    print(f"firing pattern of the whole run [{t0:g}, {t_end:g}] ms: {FIRING_PATTERNS[int(fp.pattern[0])]} "
          f"(last ISI / first ISI = {float(fp.adaptation[0]):.3g})")
