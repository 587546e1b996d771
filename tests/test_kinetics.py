"""Gate kinetics against the spec's formulas, including exactly at the removable singularities."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxneuron as jn
from jaxneuron.channels import common, hh, stg
from reference_models import hh_rates, liu_inf_tau, prinz_inf_tau

V_GRID = np.concatenate([np.linspace(-100.0, 60.0, 161), [-40.0, -55.0, -40.0 + 1e-7, -55.0 - 1e-8]])


def test_hh_rates_match_spec_formulas():
    V = V_GRID[:-2]  # the naive formula itself loses ~1e-9 within 1e-7 mV of the singularity
    ref = np.array([hh_rates(v) for v in V]).T
    ours = [hh.alpha_m(V), hh.beta_m(V), hh.alpha_h(V), hh.beta_h(V), hh.alpha_n(V), hh.beta_n(V)]
    for r, o in zip(ref, ours):
        np.testing.assert_allclose(np.asarray(o), r, rtol=1e-12)
    # next to the singularities, against the cancellation-free form x / -expm1(-x)
    for v, f, scale, v0 in ((-40.0 + 1e-7, hh.alpha_m, 1.0, -40.0), (-55.0 - 1e-8, hh.alpha_n, 0.1, -55.0)):
        x = (v - v0) / 10.0
        assert float(f(v)) == pytest.approx(scale * x / -math.expm1(-x), rel=1e-14)


def test_removable_singularities_exact_with_finite_gradients():
    assert float(hh.alpha_m(-40.0)) == 1.0
    assert float(hh.alpha_n(-55.0)) == 0.1
    # psi'(0) = 1/2: d alpha_m/dV = 1/20 at -40 mV, d alpha_n/dV = 0.1 * 1/2 / 10 at -55 mV
    assert float(jax.grad(hh.alpha_m)(-40.0)) == pytest.approx(0.05, rel=1e-12)
    assert float(jax.grad(hh.alpha_n)(-55.0)) == pytest.approx(0.005, rel=1e-12)
    # continuity across the switch to the series
    for v0, f in ((-40.0, hh.alpha_m), (-55.0, hh.alpha_n)):
        d = np.array([1e-7, 1e-6 * 9, 1e-5 * 11])
        left, right = np.asarray(f(v0 - d)), np.asarray(f(v0 + d))
        slope = float(jax.grad(f)(v0))
        np.testing.assert_allclose(right - left, 2 * d * slope, rtol=1e-4)


def test_simulation_through_singularity_has_finite_gradient():
    model = jn.HodgkinHuxley()
    y = model.steady_state(V=-40.0)
    J = jax.jacfwd(lambda y: model.vector_field(0.0, y))(y)
    assert np.all(np.isfinite(np.asarray(J)))


def test_exprel_phi1_series_and_regular_agree():
    x = np.array([-1e-3, -1e-6, 0.0, 1e-7, 1e-5, 0.3, -2.0])
    np.testing.assert_allclose(np.asarray(common.exprel(x)), [v / -np.expm1(-v) if v else 1.0 for v in x], rtol=1e-12)
    np.testing.assert_allclose(np.asarray(common.phi1(x)), [np.expm1(v) / v if v else 1.0 for v in x], rtol=1e-12)


def test_prinz_gates_match_spec_table_and_liu_is_half():
    Ca = 0.7
    model = jn.Prinz2003()
    for V in (-80.0, -50.0, -20.0, 10.0):
        ref = prinz_inf_tau(V, Ca)
        ours = model._gates_inf_tau(jnp.asarray(V), jnp.asarray(Ca))
        for (ri, rt), (oi, ot) in zip(ref, ours):
            assert float(oi) == pytest.approx(ri, rel=1e-12)
            assert float(ot) == pytest.approx(rt, rel=1e-12)
        liu = jn.Liu1998()._gates_inf_tau(jnp.asarray(V), jnp.asarray(Ca))
        for (pi, pt), (li, lt) in zip(ours[:-1], liu[:-1]):  # all but I_H: same x_inf, half the tau
            assert float(li) == pytest.approx(float(pi), rel=1e-14)
            assert float(lt) == pytest.approx(float(pt) / 2, rel=1e-14)
    # Liu's own I_H (spec section 4)
    assert float(stg.m_H_tau_liu(-42.2)) == pytest.approx(272.0 + 1499.0 / 2, rel=1e-14)
    assert float(stg.m_H_inf_liu(-70.0)) == pytest.approx(0.5, rel=1e-14)


@pytest.mark.parametrize("model, reference", [(jn.Prinz2003(), prinz_inf_tau), (jn.Liu1998(), liu_inf_tau)],
                         ids=["prinz2003", "liu1998"])  # fmt: skip
def test_table_kinetics_match_spec_table(model, reference):
    # what tabulated solves look up: V-only (x_inf, tau) per gate, m_KCa's x_inf times the [Ca] factor
    kin = model.table_kinetics()
    V = np.array([-120.0, -80.0, -50.0, -20.0, 10.0, 60.0])
    gates = kin.gates(jnp.asarray(V))
    assert len(gates) == model.n_states - model.n_border
    for Ca in (0.05, 0.7, 5.0):
        factor = np.asarray(kin.modulation(jnp.stack([jnp.asarray(V), jnp.full(V.shape, Ca)], axis=-1)))
        for j, (x_inf, tau) in enumerate(gates):
            x_inf = np.broadcast_to(np.asarray(x_inf), V.shape) * (factor if j == kin.modulated else 1.0)
            ref = np.array([reference(v, Ca)[j] for v in V])  # (len(V), 2)
            np.testing.assert_allclose(x_inf, ref[:, 0], rtol=1e-12, err_msg=f"gate {j} x_inf, Ca {Ca}")
            np.testing.assert_allclose(np.broadcast_to(np.asarray(tau), V.shape), ref[:, 1], rtol=1e-12,
                                       err_msg=f"gate {j} tau")  # fmt: skip
    assert jn.HodgkinHuxley().table_kinetics() is None  # HH's rates are not tabulated


def test_nernst_factor_and_calcium_reversal():
    from jaxneuron.channels.calcium import E_Ca, nernst_factor_mV

    assert float(nernst_factor_mV(10.0)) == pytest.approx(12.2000, abs=5e-5)
    assert float(E_Ca(0.05, 3000.0, 10.0)) == pytest.approx(12.2 * np.log(60000.0), abs=0.01)
