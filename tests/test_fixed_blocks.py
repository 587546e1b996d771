"""The work queue's fixed-step scan (ExpEuler) integrates more than FIXED_BLOCK = 1,024 members per
CPU device in blocks: the results equal those of the members simulated on their own (bitwise; 1e-12
with tables), whatever is saved, with per-member stimuli and with tabulated kinetics."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxneuron as jn
from jaxneuron.solvers.fixed import FIXED_BLOCK
from jaxneuron.solvers.members import n_devices


def _layout():
    """``(N, idx)``: a member count giving every device at least two blocks on CPU, and the first
    and last member of every block and of every device (blocks are near-equal, as in
    ``map_member_blocks``)."""
    n_dev = max(1, len(jax.local_devices()))
    N = max(2100, n_dev * (FIXED_BLOCK + 26))  # 2 devices: 1,050 members each, two blocks of 525
    n_dev = n_devices(N)
    per = -(-N // n_dev)
    nb = -(-per // FIXED_BLOCK) if jax.default_backend() == "cpu" else 1
    size = -(-per // nb)
    edges = set()
    for d in range(n_dev):
        for b in range(nb):
            lo, hi = d * per + b * size, min(d * per + min((b + 1) * size, per), N)
            if lo < hi:
                edges |= {lo, hi - 1}
    return N, np.array(sorted(edges)), nb


N, IDX, N_BLOCKS = _layout()


@pytest.mark.parametrize("save", [jn.SaveAt(save_dt=1.0), jn.SaveAt(save_dt=1.0, states="all"), jn.SaveAt(states=None)],
                         ids=["V", "all", "final"])  # fmt: skip
@pytest.mark.parametrize("tabulated", [False, "nearest", "linear"])
def test_blocks_equal_members_on_their_own(save, tabulated):
    if jax.default_backend() == "cpu":
        assert N_BLOCKS >= 2  # the test exercises the blocks
    rng = np.random.default_rng(0)
    g = np.asarray(jn.PRINZ2003_SETS["fig2c_bursting"]) * rng.uniform(0.7, 1.3, (N, 8))
    t = jnp.linspace(0.0, 50.0, 11)
    amp = jnp.asarray(rng.uniform(0.0, 3.0, (N, 11)))
    solver = jn.ExpEuler(tabulated=tabulated)
    big = jn.simulate(jn.Prinz2003.from_conductances(g), t_end=50.0, stimulus=jn.Sampled(t, amp), solver=solver, save=save)
    small = jn.simulate(jn.Prinz2003.from_conductances(g[IDX]), t_end=50.0, stimulus=jn.Sampled(t, amp[IDX]),
                        solver=solver, save=save)  # fmt: skip
    if save.states is None:
        assert big.V is None and big.ys is None
    else:
        out = (lambda s: s.ys) if save.states == "all" else (lambda s: s.V)
        assert np.ptp(np.asarray(big.V)[:, -1]) > 1.0  # the members differ
    # bitwise, except that XLA may contract the table interpolation differently for another batch
    # shape (measured: 1 ulp), as for sweeps with different chunk sizes
    tol = dict(rtol=1e-12, atol=1e-12) if tabulated else dict(rtol=0, atol=0)
    if save.states is not None:
        np.testing.assert_allclose(np.asarray(out(big))[IDX], np.asarray(out(small)), **tol)
    np.testing.assert_allclose(np.asarray(big.y_final)[IDX], np.asarray(small.y_final), **tol)
    assert np.ptp(np.asarray(big.y_final)[:, 0]) > 1.0
    np.testing.assert_array_equal(np.asarray(big.status), 0)


@pytest.mark.parametrize("block", [1, 3, 4, 7, 100])
def test_map_member_blocks_equals_a_loop_over_members(block):
    # per-member model field (g_Na), shared one (g_K), per-member stimulus and state; 7 members do
    # not divide into blocks of 3 or 4 (padding), blocks of 7 and 100 are a single call
    from jaxneuron._batching import flatten_members
    from jaxneuron.solvers.members import map_member_blocks

    n = 7
    rng = np.random.default_rng(1)
    model, m_axes = flatten_members(jn.HodgkinHuxley(g_Na=jnp.asarray(rng.uniform(80, 160, n))), (n,))
    stim, s_axes = flatten_members(jn.Constant(jnp.asarray(rng.uniform(0, 10, n))), (n,))
    y = jnp.asarray(np.asarray(jn.HodgkinHuxley().steady_state(V=-65.0)) + rng.uniform(-0.05, 0.05, (n, 4)))
    seen = []

    def fn(m, s, yy):
        seen.append(yy.shape[0])
        f = jax.vmap(lambda mm, ss, y1: mm.vector_field(0.0, y1, ss), in_axes=(m_axes, s_axes, 0))(m, s, yy)
        return dict(f=f, V=yy[:, 0])

    out = jax.jit(lambda m, s, yy: map_member_blocks(fn, m, s, (yy,), (m_axes, s_axes), block))(model, stim, y)
    assert max(seen) <= block
    ref = [np.asarray(jn.HodgkinHuxley(g_Na=model.g_Na[i]).vector_field(0.0, y[i], stim.amplitude[i])) for i in range(n)]
    assert out["f"].shape == (n, 4) and out["V"].shape == (n,)
    np.testing.assert_allclose(np.asarray(out["f"]), np.stack(ref), rtol=1e-13, atol=1e-13)
    np.testing.assert_array_equal(np.asarray(out["V"]), np.asarray(y[:, 0]))
