"""``Network``: single-compartment cells coupled by synapses and gap junctions, as one model.

A network implements the same declared interface as a cell
(:class:`~jaxneuron.models.interface.AbstractModel`), so every engine, ``vmap``, sweeps and
``jax.grad`` run it unchanged; all its parameters (the cells' conductances, the synapses'
strengths and constants) are array leaves.

**State layout.** The border comes first: each cell's border states in cell order (``V`` and
``Ca`` for an STG cell, ``V`` for Hodgkin-Huxley), then each cell's other states (gates) in cell
order, then one activation ``s`` per (presynaptic cell, transmitter) pair: synapses with the same
presynaptic cell and transmitter share one state, since ``s`` depends only on ``V_pre`` (4 states
for the pyloric circuit, 3 x 13 + 4 = 43 in all; spec 3.2), then one state per spike-driven
:class:`~jaxneuron.ExponentialSynapse`. State names are ``"<cell>.<state>"`` (``"LP.Ca"``),
``"<cell>.s_<transmitter>"`` (``"AB/PD.s_glutamate"``) and ``"<pre>-><post>.s"``.

**Integrate-and-fire cells.** Each cell with an event (LIF, AdEx, Izhikevich) gives the network
one event (:meth:`Network.events`): its threshold on that cell's V, its reset applied to that
cell's states plus ``s += 1`` on every exponential synapse it drives, and its refractory period.
The engines stop a member at the earliest crossing of any cell, so every spike is located and
delivered exactly.

**Jacobian.** A gate's row depends on itself and its own cell's border; a synaptic state's row
on itself and its presynaptic V (a border column); synaptic and gap-junction currents enter only
the postsynaptic V rows (border rows). So the Jacobian stays an arrowhead with every V and Ca in
the border, and the implicit engines' Newton solves stay O(n).

**Stimulus.** The injected current (uA/cm^2, inward positive) goes to the cells named in
``stimulated`` (default: every cell).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._batching import batch_shape_of, flatten_members, is_concrete
from .base import parameter_info
from .interface import AbstractModel, stack_states
from .interface import Event
from .synapses import ExponentialSynapse, GapJunction, GradedSynapse, per_area

__all__ = ["Network"]


def _add_at(x, i, dx):
    """``x`` with ``dx`` added to ``x[..., i]`` (batch shapes broadcast)."""
    if isinstance(dx, float) and dx == 0.0:
        return x
    shape = jnp.broadcast_shapes(jnp.shape(x)[:-1], jnp.shape(dx))
    return jnp.broadcast_to(x, shape + jnp.shape(x)[-1:]).at[..., i].add(dx)


def _concat(parts):
    shape = jnp.broadcast_shapes(*(jnp.shape(p)[:-1] for p in parts))
    return jnp.concatenate([jnp.broadcast_to(p, shape + jnp.shape(p)[-1:]) for p in parts], axis=-1)


class Network(AbstractModel):
    """Cells and synapses as one model (see the module docstring for the state layout).

    Args:
        cells: ``{name: cell}`` (or a sequence of ``(name, cell)``) of single-compartment cells
            (any jaxneuron cell, kinds may be mixed, integrate-and-fire cells included). A cell
            receiving graded synapses or gap junctions needs a membrane ``area`` (cm^2) and
            capacitance ``C`` (uF/cm^2), as the conductance-based cells have.
        synapses: :class:`~jaxneuron.GradedSynapse` and :class:`~jaxneuron.ExponentialSynapse`
            objects naming their ``pre`` and ``post`` cells (an exponential synapse's ``pre`` must
            be an integrate-and-fire cell).
        gap_junctions: :class:`~jaxneuron.GapJunction` objects naming cells ``a`` and ``b``.
        stimulated: names of the cells the stimulus is injected into (default: all).

    Parameter batch shapes of all cells and synapses must broadcast together (one network per member).
    """

    cells: tuple
    synapses: tuple
    gap_junctions: tuple
    cell_names: tuple = eqx.field(static=True)
    stimulated: tuple = eqx.field(static=True)

    def __init__(self, cells, synapses=(), gap_junctions=(), stimulated=None):
        items = list(cells.items()) if isinstance(cells, dict) else [tuple(c) for c in cells]
        self.cell_names = tuple(str(n) for n, _ in items)
        self.cells = tuple(c for _, c in items)
        self.synapses = tuple(synapses)
        self.gap_junctions = tuple(gap_junctions)
        self.stimulated = self.cell_names if stimulated is None else tuple(stimulated)

    def __check_init__(self):
        names = self.cell_names
        if not names:
            raise ValueError("Network needs at least one cell")
        if len(set(names)) != len(names):
            raise ValueError(f"Network cell names must be distinct, got {names}")
        for name, cell in zip(names, self.cells):
            if not isinstance(cell, AbstractModel) or isinstance(cell, Network):
                raise TypeError(f"Network cell {name!r} must be a jaxneuron cell, got {type(cell).__name__}")
            if len(cell.voltage_states) != 1 or cell.voltage_states[0] >= cell.n_border:
                raise ValueError(f"Network cell {name!r} must have one membrane potential among its border states")
        per_area_cells = {s.post for s in self.synapses if isinstance(s, GradedSynapse)}
        per_area_cells |= {c for g in self.gap_junctions for c in (g.a, g.b)}
        for syn in self.synapses:
            if not isinstance(syn, (GradedSynapse, ExponentialSynapse)):
                raise TypeError(f"Network synapses must be jaxneuron.GradedSynapse or ExponentialSynapse, got {type(syn).__name__}")
            for end in ("pre", "post"):
                if getattr(syn, end) not in names:
                    raise ValueError(f"synapse {syn.pre!r} -> {syn.post!r}: {end} cell {getattr(syn, end)!r} is not in the network; cells: {names}")
            if isinstance(syn, ExponentialSynapse) and not self.cells[names.index(syn.pre)].events():
                raise ValueError(f"ExponentialSynapse {syn.pre!r} -> {syn.post!r}: its presynaptic cell "
                                 f"({type(self.cells[names.index(syn.pre)]).__name__}) has no spike events; use an "
                                 "integrate-and-fire cell (LIF, AdEx, Izhikevich) or a GradedSynapse")  # fmt: skip
        for name in sorted(per_area_cells & set(names)):
            cell = self.cells[names.index(name)]
            missing = {"C", "area"} - set(parameter_info(type(cell)))
            if missing:
                raise TypeError(f"Network cell {name!r} ({type(cell).__name__}) receives graded synapses or gap junctions "
                                f"(total conductances in nS) but has no {sorted(missing)} parameter")  # fmt: skip
        for gj in self.gap_junctions:
            if not isinstance(gj, GapJunction):
                raise TypeError(f"Network gap_junctions must be jaxneuron.GapJunction, got {type(gj).__name__}")
            for end in ("a", "b"):
                if getattr(gj, end) not in names:
                    raise ValueError(f"gap junction {gj.a!r} - {gj.b!r}: cell {getattr(gj, end)!r} is not in the network; cells: {names}")
        for s in self.stimulated:
            if s not in names:
                raise ValueError(f"stimulated cell {s!r} is not in the network; cells: {names}")
        self._check_shared_kinetics()
        try:
            batch_shape_of(self)
        except ValueError:
            shapes = {f"cell {n}": c.batch_shape for n, c in zip(names, self.cells)}
            shapes.update({f"synapse {s.pre}->{s.post} ({type(s).__name__})": batch_shape_of(s) for s in self.synapses})
            shapes.update({f"gap junction {g.a}-{g.b}": batch_shape_of(g) for g in self.gap_junctions})
            raise ValueError(f"Network parameter batch shapes do not broadcast: {shapes}") from None

    def _check_shared_kinetics(self):
        for key, members in self._synapse_groups().items():
            first = self.synapses[members[0]]
            for i in members[1:]:
                other = self.synapses[i]
                for f in ("k_minus", "V_th", "Delta"):
                    a, b = getattr(first, f), getattr(other, f)
                    if is_concrete(a, b) and not np.array_equal(np.asarray(a), np.asarray(b)):
                        raise ValueError(
                            f"synapses from {key[0]!r} with transmitter {key[1]!r} share one state and must have the same {f}; "
                            f"got {np.asarray(a)} and {np.asarray(b)} (give one a different transmitter name)"
                        )

    # --- layout ------------------------------------------------------------------------------

    def _synapse_groups(self) -> dict:
        """``{(pre, transmitter): [synapse indices]}`` in order of first appearance."""
        groups: dict = {}
        for i, s in enumerate(self.synapses):
            if isinstance(s, GradedSynapse):
                groups.setdefault((s.pre, s.transmitter), []).append(i)
        return groups

    def _spike_synapses(self) -> list[int]:
        """Indices of the spike-driven (exponential) synapses, in order: one state each, after
        the graded synapses' states."""
        return [i for i, s in enumerate(self.synapses) if isinstance(s, ExponentialSynapse)]

    def _offsets(self):
        """Per cell ``(border start, inner start)`` in the network state, and the first synaptic state."""
        nb = sum(c.n_border for c in self.cells)
        out, b, g = [], 0, nb
        for c in self.cells:
            out.append((b, g))
            b += c.n_border
            g += c.n_states - c.n_border
        return out, g

    @property
    def n_border(self) -> int:
        return sum(c.n_border for c in self.cells)

    @property
    def state_names(self) -> tuple[str, ...]:
        border = [f"{n}.{s}" for n, c in zip(self.cell_names, self.cells) for s in c.state_names[: c.n_border]]
        inner = [f"{n}.{s}" for n, c in zip(self.cell_names, self.cells) for s in c.state_names[c.n_border :]]
        syn = [f"{pre}.s_{tr}" for pre, tr in self._synapse_groups()]
        spike = [f"{self.synapses[i].pre}->{self.synapses[i].post}.s" for i in self._spike_synapses()]
        return tuple(border + inner + syn + spike)

    @property
    def voltage_states(self) -> tuple[int, ...]:
        """The cells' membrane potentials, in cell order."""
        offsets, _ = self._offsets()
        return tuple(b + c.voltage_states[0] for (b, _), c in zip(offsets, self.cells))

    @property
    def n_cells(self) -> int:
        return len(self.cells)

    def cell(self, name: str):
        """The cell called ``name``."""
        try:
            return self.cells[self.cell_names.index(name)]
        except ValueError:
            raise ValueError(f"no cell {name!r} in the network; cells: {self.cell_names}") from None

    def cell_state(self, y, name_or_index):
        """One cell's state vector ``(..., n_states of the cell)`` from the network state ``y``."""
        c = name_or_index if isinstance(name_or_index, int) else self.cell_names.index(name_or_index)
        (b, g), cell = self._offsets()[0][c], self.cells[c]
        return jnp.concatenate([y[..., b : b + cell.n_border], y[..., g : g + cell.n_states - cell.n_border]], axis=-1)

    def state_from_cells(self, cell_states, s=0.0):
        """The network state from each cell's state (a list in cell order, ``(..., n_c)`` each;
        batch shapes broadcast) and the synaptic activations ``s`` (default 0)."""
        if len(cell_states) != self.n_cells:
            raise ValueError(f"expected {self.n_cells} cell states ({self.cell_names}), got {len(cell_states)}")
        cs = [jnp.asarray(x, dtype=float) for x in cell_states]
        for n, c, x in zip(self.cell_names, self.cells, cs):
            if x.shape[-1:] != (c.n_states,):
                raise ValueError(f"state of cell {n!r} must have its {c.n_states} states on the last axis, got shape {x.shape}")
        n_syn = len(self._synapse_groups()) + len(self._spike_synapses())
        s_arr = jnp.asarray(s, dtype=float)
        if s_arr.ndim == 0:
            s_arr = jnp.broadcast_to(s_arr, (n_syn,))
        elif s_arr.shape[-1] != n_syn:
            raise ValueError(f"s must have the {n_syn} synaptic states on its last axis, got shape {s_arr.shape}")
        if n_syn == 0:
            s_arr = s_arr[..., :0]
        border = [x[..., : c.n_border] for x, c in zip(cs, self.cells)]
        inner = [x[..., c.n_border :] for x, c in zip(cs, self.cells)]
        return _concat(border + inner + [s_arr])

    # --- dynamics ----------------------------------------------------------------------------

    def _couplings(self, y):
        """Per cell, the ``(dA, dB)`` synapses and gap junctions add to its V row (1/ms, mV/ms)."""
        offsets, s0 = self._offsets()
        V = [y[..., i] for i in self.voltage_states]
        idx = {n: i for i, n in enumerate(self.cell_names)}
        dA = [0.0] * self.n_cells
        dB = [0.0] * self.n_cells
        for k, members in enumerate(self._synapse_groups().values()):
            s = y[..., s0 + k]
            for i in members:
                syn = self.synapses[i]
                p = idx[syn.post]
                post = self.cells[p]
                g = per_area(syn.g, post.area) * s / post.C
                dA[p] = dA[p] + g * syn.E_s
                dB[p] = dB[p] + g
        for gj in self.gap_junctions:
            a, b = idx[gj.a], idx[gj.b]
            g = gj.conductance(V[a], V[b])
            for here, there in ((a, b), (b, a)):
                cell = self.cells[here]
                gh = per_area(g, cell.area) / cell.C
                dA[here] = dA[here] + gh * V[there]
                dB[here] = dB[here] + gh
        first = s0 + len(self._synapse_groups())
        for k, i in enumerate(self._spike_synapses()):
            syn = self.synapses[i]
            p = idx[syn.post]
            g = syn.g * y[..., first + k] / _capacitance(self.cells[p])
            dA[p] = dA[p] + g * syn.E_s
            dB[p] = dB[p] + g
        return dA, dB

    def _I(self, name, I_ext):
        return I_ext if name in self.stimulated else 0.0

    def _coupled(self, parts, y):
        """Each cell's ``(A, B)`` (border part first) with the couplings added to its V row."""
        dA, dB = self._couplings(y)
        out = []
        for c, ((A, B), cell) in enumerate(zip(parts, self.cells)):
            v = cell.voltage_states[0]
            out.append((_add_at(A, v, dA[c]), _add_at(B, v, dB[c])))
        return out

    def linear_form(self, y, I_ext):
        parts = [cell.linear_form(self.cell_state(y, c), self._I(n, I_ext)) for c, (n, cell) in enumerate(zip(self.cell_names, self.cells))]
        parts = self._coupled(parts, y)
        syn_A, syn_B = [], []
        for members in self._synapse_groups().values():
            syn = self.synapses[members[0]]
            A, B = syn.rates(y[..., self.voltage_states[self.cell_names.index(syn.pre)]])
            syn_A.append(A)
            syn_B.append(B)
        nbs = [c.n_border for c in self.cells]
        A = [a[..., :nb] for (a, _), nb in zip(parts, nbs)] + [a[..., nb:] for (a, _), nb in zip(parts, nbs)]
        B = [b[..., :nb] for (_, b), nb in zip(parts, nbs)] + [b[..., nb:] for (_, b), nb in zip(parts, nbs)]
        for i in self._spike_synapses():
            syn = self.synapses[i]
            syn_A.append(0.0 * y[..., 0])
            syn_B.append(1.0 / syn.tau + 0.0 * y[..., 0])
        if syn_A:
            A.append(stack_states(syn_A))
            B.append(stack_states(syn_B))
        return _concat(A), _concat(B)

    def events(self) -> tuple[Event, ...]:
        """One event per integrate-and-fire cell, in cell order: the cell's own threshold on its
        V, its reset on its states, ``s += 1`` on each exponential synapse it drives, and its
        refractory period (its held states)."""
        offsets, s0 = self._offsets()
        first = s0 + len(self._synapse_groups())
        spike = self._spike_synapses()
        out = []
        for c, (name, cell) in enumerate(zip(self.cell_names, self.cells)):
            (ev,) = cell.events() or (None,)
            if ev is None:
                continue
            b, g = offsets[c]
            glob = np.array([b + i if i < cell.n_border else g + i - cell.n_border for i in range(cell.n_states)])
            driven = np.array([first + k for k, i in enumerate(spike) if self.synapses[i].pre == name], dtype=np.int64)

            def reset(y, ev=ev, glob=glob, driven=driven):
                y = jnp.asarray(y)
                y = y.at[glob].set(ev.reset(y[glob]))
                return y.at[driven].add(1.0) if driven.size else y

            out.append(Event(int(glob[ev.state]), ev.threshold, reset, ev.refractory, tuple(int(glob[i]) for i in ev.held)))
        return tuple(out)

    def border_rows(self, y, I_ext):
        """Every cell's border rows (from the cells' own :meth:`border_rows`) with the synaptic and
        gap-junction currents added to the V rows; no gate or synapse kinetics."""
        parts = [cell.border_rows(self.cell_state(y, c), self._I(n, I_ext)) for c, (n, cell) in enumerate(zip(self.cell_names, self.cells))]
        parts = self._coupled(parts, y)
        return _concat([a for a, _ in parts]), _concat([b for _, b in parts])

    def currents(self, y) -> dict:
        """Each cell's ionic currents (``"LP.Na"``, uA/cm^2 of that cell, outward positive) and
        each synapse's current per area of its postsynaptic cell
        (``"LP.syn(AB/PD, glutamate)"``); gap-junction currents as ``"LP.gap(AB/PD)"``."""
        out = {}
        for c, (n, cell) in enumerate(zip(self.cell_names, self.cells)):
            for k, v in cell.currents(self.cell_state(y, c)).items():
                out[f"{n}.{k}"] = v
        _, s0 = self._offsets()
        V = {n: y[..., i] for n, i in zip(self.cell_names, self.voltage_states)}
        for k, members in enumerate(self._synapse_groups().values()):
            for i in members:
                syn = self.synapses[i]
                post = self.cell(syn.post)
                g = per_area(syn.g, post.area) * y[..., s0 + k]
                out[f"{syn.post}.syn({syn.pre}, {syn.transmitter})"] = g * (V[syn.post] - syn.E_s)
        for gj in self.gap_junctions:
            g = gj.conductance(V[gj.a], V[gj.b])
            for here, there in ((gj.a, gj.b), (gj.b, gj.a)):
                out[f"{here}.gap({there})"] = per_area(g, self.cell(here).area) * (V[here] - V[there])
        first = s0 + len(self._synapse_groups())
        for k, i in enumerate(self._spike_synapses()):
            syn = self.synapses[i]
            out[f"{syn.post}.syn({syn.pre}, exponential)"] = syn.g * y[..., first + k] * (V[syn.post] - syn.E_s)
        return out

    # --- initial states ----------------------------------------------------------------------

    def default_y0(self):
        """Cold start: each cell's documented default state (for STG cells V = -50 mV,
        Ca = 0.05 uM, gates at steady state) and every ``s = 0``. The circuit is multistable: see
        :meth:`warm_start` for the Prinz et al. 2004 protocol."""
        return self.state_from_cells([c.default_y0() for c in self.cells])

    def warm_start(self, t_settle: float = 20000.0, *, solver=None):
        """The initial state of Prinz, Bucher & Marder 2004 (spec 3.5): each cell simulated *alone*
        (no synapses, no stimulus) for ``t_settle`` ms from its default state (STG cells: V =
        -50 mV, Ca = 0.05 uM, gates at steady state), then every synaptic ``s = 0``.

        Cells that appear several times in a batch (equal parameters) are settled once. ``solver``:
        as for :func:`jaxneuron.simulate` (default Kvaerno5). Returns ``(*batch, n_states)``.
        Raises if a cell's settling solve fails."""
        from ..simulate import SaveAt, simulate

        if not t_settle > 0:
            raise ValueError(f"t_settle must be > 0 ms, got {t_settle!r}")
        finals = []
        for name, cell in zip(self.cell_names, self.cells):
            unique, inverse, batch = _unique_members(cell)
            sol = simulate(unique, t_end=float(t_settle), save=SaveAt(states=None), solver=solver)
            if not bool(jnp.all(sol.status == 0)):
                raise RuntimeError(f"warm_start: settling cell {name!r} alone failed (status {np.unique(np.asarray(sol.status))})")
            y = sol.y_final.reshape((-1, cell.n_states))
            finals.append(y[inverse].reshape(batch + (cell.n_states,)) if inverse is not None else y.reshape(batch + (cell.n_states,)))
        return self.state_from_cells(finals)


def _capacitance(cell):
    """The capacitance a synaptic current is divided by: the cell's ``C`` (uF/cm^2 for per-area
    cells, pF for AdEx), or 1 for a cell without one (Izhikevich's currents are in mV/ms)."""
    return cell.C if "C" in parameter_info(type(cell)) else 1.0


def _unique_members(cell):
    """``(cell with one member per distinct parameter set, inverse index or None, batch shape)``."""
    batch = cell.batch_shape
    if not batch:
        return cell, None, ()
    flat, axes = flatten_members(cell, batch)
    leaves = [x for x in _batched_leaves(flat, axes)]
    if not leaves or not is_concrete(*leaves):
        return cell, None, batch
    table = np.concatenate([np.asarray(x, dtype=float).reshape(x.shape[0], -1) for x in leaves], axis=1)
    _, first, inverse = np.unique(table, axis=0, return_index=True, return_inverse=True)
    unique = jax.tree_util.tree_map(lambda a, x: x[first] if a == 0 else x, axes, flat, is_leaf=lambda v: v is None)
    return unique, np.asarray(inverse).reshape(-1), batch


def _batched_leaves(flat, axes):
    out = []
    jax.tree_util.tree_map(lambda a, x: out.append(x) if a == 0 else None, axes, flat, is_leaf=lambda v: v is None)
    return out
