"""Independent scipy references for the integrate-and-fire cells (spec section 5).

Each solves the model's ODE with ``scipy.integrate.solve_ivp`` (DOP853) and a terminal event at
the threshold, applies the reset at the located event time and restarts: the textbook way,
written from the spec's equations, sharing nothing with jaxneuron's engines.
"""

import math

import numpy as np
from scipy.integrate import solve_ivp


def event_loop(rhs, y0, t_end, threshold, reset, *, refractory=0.0, held=(), rtol=1e-10, atol=1e-10, max_spikes=100000):
    """Spike times (ms) of ``dy/dt = rhs(t, y, refractory_flag)`` from 0 to ``t_end`` with a reset
    ``y <- reset(y)`` when ``y[0]`` crosses ``threshold`` upwards; after each spike the states
    ``held`` are frozen for ``refractory`` ms."""
    t, y, spikes = 0.0, np.asarray(y0, float), []

    def crossing(t, y):
        return y[0] - threshold

    crossing.terminal, crossing.direction = True, 1
    while t < t_end and len(spikes) < max_spikes:
        sol = solve_ivp(rhs, (t, t_end), y, method="DOP853", rtol=rtol, atol=atol, events=crossing)
        if sol.status != 1:  # reached t_end
            break
        t = float(sol.t_events[0][0])
        spikes.append(t)
        y = reset(np.array(sol.y_events[0][0]))
        if refractory > 0 and held:
            t_free = min(t + refractory, t_end)
            frozen = list(held)

            def held_rhs(tt, yy):
                d = np.asarray(rhs(tt, yy), float)
                d[frozen] = 0.0
                return d

            if t_free > t:
                y = solve_ivp(held_rhs, (t, t_free), y, method="DOP853", rtol=rtol, atol=atol).y[:, -1]
            t = t_free
    return np.asarray(spikes)


def lif_period(C, g_L, E_L, V_th, V_reset, t_ref, I):
    """Closed-form LIF period (ms) under constant current ``I`` (uA/cm^2), spec 5.1."""
    tau, V_inf = C / g_L, E_L + I / g_L
    return t_ref + tau * math.log((V_inf - V_reset) / (V_inf - V_th))


def adex_spikes(I, t_end, *, C=281.0, g_L=30.0, E_L=-70.6, V_T=-50.4, Delta_T=2.0, tau_w=144.0, a=4.0, b=80.5,
                V_r=-70.6, V_peak=-40.4, y0=None):
    """AdEx spike times under constant ``I`` (pA), Brette & Gerstner 2005 in their units."""

    def rhs(t, y):
        V, w = y
        dV = (-g_L * (V - E_L) + g_L * Delta_T * math.exp((min(V, V_peak) - V_T) / Delta_T) - w + I) / C
        return [dV, (a * (V - E_L) - w) / tau_w]

    return event_loop(rhs, [E_L, 0.0] if y0 is None else y0, t_end, V_peak, lambda y: np.array([V_r, y[1] + b]))


def izhikevich_spikes(a, b, c, d, I, t_end, t_on=0.0, v0=-65.0, v_peak=30.0):
    """Izhikevich (2003) spike times under a step of ``I`` from ``t_on`` (ms)."""

    def rhs(t, y):
        v, u = y
        return [0.04 * v * v + 5 * v + 140 - u + (I if t >= t_on else 0.0), a * (b * v - u)]

    if t_on > 0:  # the step is a discontinuity: integrate up to it first
        pre = event_loop(lambda t, y: rhs(0.0 if t < t_on else t_on - 1.0, y), [v0, b * v0], t_on, v_peak,
                         lambda y: np.array([c, y[1] + d]))  # fmt: skip
        assert len(pre) == 0
        y_on = solve_ivp(lambda t, y: [0.04 * y[0] ** 2 + 5 * y[0] + 140 - y[1], a * (b * y[0] - y[1])], (0, t_on),
                         [v0, b * v0], method="DOP853", rtol=1e-11, atol=1e-11).y[:, -1]  # fmt: skip
        after = event_loop(lambda t, y: rhs(t + t_on, y), y_on, t_end - t_on, v_peak, lambda y: np.array([c, y[1] + d]))
        return after + t_on
    return event_loop(rhs, [v0, b * v0], t_end, v_peak, lambda y: np.array([c, y[1] + d]))


def network_event_loop(rhs, y0, t_end, events, *, rtol=1e-10, atol=1e-10):
    """Spike times per event of a system with several threshold events (a network of
    integrate-and-fire cells): ``events`` is a list of ``(state, threshold, reset, t_ref, held)``;
    after event ``e`` its ``held`` states are frozen for ``t_ref`` ms. The solve stops at the
    earliest crossing of any event (terminal events) and at each refractory end, and restarts."""
    t, y = 0.0, np.asarray(y0, float)
    r_end = [-np.inf] * len(events)
    spikes = [[] for _ in events]
    while t < t_end:
        frozen = sorted({i for e, ev in enumerate(events) if r_end[e] > t for i in ev[4]})
        t_stop = min([t_end] + [r for r in r_end if r > t])

        def fun(tt, yy, frozen=frozen):
            d = np.asarray(rhs(tt, yy), float)
            d[frozen] = 0.0
            return d

        def make(e):
            state, thr = events[e][0], events[e][1]
            f = lambda tt, yy: yy[state] - thr  # noqa: E731
            f.terminal, f.direction = True, 1
            return f

        sol = solve_ivp(fun, (t, t_stop), y, method="DOP853", rtol=rtol, atol=atol, events=[make(e) for e in range(len(events))])
        if sol.status == 1:
            e = min((float(te[0]), e) for e, te in enumerate(sol.t_events) if len(te))[1]
            t = float(sol.t_events[e][0])
            y = events[e][2](np.array(sol.y_events[e][0]))
            spikes[e].append(t)
            r_end[e] = t + events[e][3]
        else:
            t, y = t_stop, sol.y[:, -1]
    return [np.asarray(s) for s in spikes]
