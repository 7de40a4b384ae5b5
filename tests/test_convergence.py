"""Observed convergence orders against the Fuchs-Sondheimer closed form.

The x discretisation (exact characteristics with a linear source in each
cell, trapezoidal moments) is second order: doubling n_x divides the error
by about 4 (observed order >= 1.8 on the graded grid). The angular
quadrature (Gauss-Legendre on each half, double Gauss in 3D) converges
faster than any power until the x error takes over.
"""
import numpy as np
import pytest

from slabqkt import Simulation
from slabqkt.analytic import fuchs_sondheimer


@pytest.mark.parametrize("dim", [3, 2])
def test_second_order_in_x(parabolic_case, dim):
    exact = fuchs_sondheimer(1.0, 0.0, dim)
    errs = []
    for nx in (25, 50, 100, 200):
        case = parabolic_case(model={"dimension": dim}, slab={"n_x": nx, "grading": 0.5},
                              fermi_surface={"n_angles": 128 if dim == 2 else 16, "n_polar": 48})
        errs.append(abs(Simulation(case).run().conductivity_ratio - exact))
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(orders > 1.8), orders


@pytest.mark.parametrize("dim", [3, 2])
def test_angular_convergence(parabolic_case, dim):
    exact = fuchs_sondheimer(1.0, 0.0, dim)
    errs = []
    for n in (2, 4, 8):
        case = parabolic_case(model={"dimension": dim}, slab={"n_x": 800},
                              fermi_surface={"n_angles": 4 * n if dim == 2 else 16, "n_polar": n})
        errs.append(abs(Simulation(case).run().conductivity_ratio - exact))
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    # faster than second order per doubling of Fermi points
    assert np.all(orders > 2.0), orders
