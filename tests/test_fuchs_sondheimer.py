"""Validation anchor 1: Fuchs-Sondheimer size effect of a single parabolic band."""
import numpy as np
import pytest

from slabqkt import Simulation
from slabqkt.analytic import fuchs_profile, fuchs_sondheimer


def _fs(dim):
    return {"fermi_surface": {"n_angles": 64 if dim == 2 else 16, "n_polar": 24},
            "model": {"dimension": dim}}


@pytest.mark.parametrize("dim", [3, 2])
@pytest.mark.parametrize("kappa", [0.1, 1.0, 10.0])
@pytest.mark.parametrize("p", [0.0, 0.5, 0.9])
def test_conductivity_ratio_closed_form(parabolic_case, dim, kappa, p):
    case = parabolic_case(**_fs(dim), slab={"thickness_mfp": kappa, "n_x": 120},
                          boundaries={"left": {"specularity": p}, "right": {"specularity": p}})
    ratio = Simulation(case).run().conductivity_ratio
    exact = fuchs_sondheimer(kappa, p, dim)
    assert abs(ratio / exact - 1) < 5e-3


@pytest.mark.parametrize("dim", [3, 2])
def test_asymmetric_surfaces_lucas(parabolic_case, dim):
    """p1 != p2: Lucas's generalisation."""
    case = parabolic_case(**_fs(dim), slab={"thickness_mfp": 1.0, "n_x": 120},
                          boundaries={"left": {"specularity": 0.2}, "right": {"specularity": 0.8}})
    ratio = Simulation(case).run().conductivity_ratio
    assert abs(ratio / fuchs_sondheimer(1.0, 0.2, dim, p2=0.8) - 1) < 5e-3


def test_closed_form_limits():
    """The closed forms themselves: thick-film limits and p = 1."""
    for dim, c in ((3, 3 / 8), (2, 4 / (3 * np.pi))):
        k = 1000.0
        assert fuchs_sondheimer(k, 0.0, dim) == pytest.approx(1 - c / k, rel=1e-6)
        assert fuchs_sondheimer(0.3, 1.0, dim) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("dim,ref", [
    (3, [0.45317524, 0.71234952, 0.75789845]),
    (2, [0.44242322, 0.67947397, 0.72327978]),
])
def test_local_current_profile(parabolic_case, dim, ref):
    case = parabolic_case(**_fs(dim), slab={"thickness_mfp": 1.0, "n_x": 200})
    res = Simulation(case).run()
    j = res.profile("current_y") / res.bulk["current_y"]["total"]
    d = res.x[-1]
    got = np.interp([0.0, 0.25 * d, 0.5 * d], res.x, j)
    assert np.allclose(got, ref, rtol=1e-2)
    # the closed-form profile agrees with the reference numbers too
    assert np.allclose([fuchs_profile(t, 1.0, dim) for t in (0, 0.25, 0.5)], ref, rtol=1e-7)


def test_roughness_limits(parabolic_case):
    """Ziman-Soffer: r = 0 is specular (p = 1), large r is diffuse (p = 0)."""
    smooth = Simulation(parabolic_case(boundaries={"left": {"roughness_nm": 0.0},
                                                   "right": {"roughness_nm": 0.0}})).run()
    assert smooth.conductivity_ratio == pytest.approx(1.0, abs=1e-10)
    rough = Simulation(parabolic_case(boundaries={"left": {"roughness_nm": 50.0},
                                                  "right": {"roughness_nm": 50.0}})).run()
    assert rough.conductivity_ratio == pytest.approx(fuchs_sondheimer(1.0, 0.0, 3), rel=5e-3)
    mid = Simulation(parabolic_case(boundaries={"left": {"roughness_nm": 0.05},
                                                "right": {"roughness_nm": 0.05}})).run()
    assert rough.conductivity_ratio < mid.conductivity_ratio < 1.0
