"""The Fermi-sea (intrinsic) part of Eq. (1) on a Brillouin-zone grid (lattice models).

Anchors: the lattice Rashba model at low filling has the continuum's universal intrinsic
spin Hall conductivity |e|/8 pi (both Rashba bands occupied); the Rashba ferromagnet's
intrinsic damping-like spin density has the closed form q E alpha Delta m*/(2 pi hbar
(2 m* alpha^2 eps_F + Delta^2)) (DESIGN 4.4), which the lattice model approaches as k_F a -> 0.
"""
import numpy as np
import pytest

from slabqkt.lattice.fermi_sea import grid_sum, intrinsic_lattice, zone_grid
from slabqkt.observables import make_observable
from slabqkt.units import E_CHARGE, HBAR

from lattice_toys import ToyRashbaSquare

E_X = np.array([1.0, 0.0, 0.0])  # V/nm


def test_zone_grid_weights_sum_to_the_zone():
    m = ToyRashbaSquare(a=0.4)
    k, w = zone_grid(m.zone, 16)
    assert len(k) == 256
    assert w * len(k) * (2 * np.pi) ** 2 == pytest.approx((2 * np.pi / 0.4) ** 2, rel=1e-14)
    # the density of a filled band: 1 state per cell
    assert w * len(k) == pytest.approx(1 / 0.4 ** 2, rel=1e-14)


def test_lattice_rashba_spin_hall_is_universal_at_low_filling():
    m = ToyRashbaSquare(a=0.4, t=1.0, alpha=0.1)
    obs = [make_observable("spin_current_zy", m)]
    val, err = intrinsic_lattice(obs, m, 0.05, E_X, 256, 1e-9)
    sigma = val[0] / E_X[0] * HBAR
    assert sigma == pytest.approx(1 / (8 * np.pi), rel=1e-2)
    # the two-grid error estimate is of the size of the actual error
    assert err[0] / E_X[0] * HBAR < 2e-2 / (8 * np.pi)


def test_lattice_rashba_ferromagnet_intrinsic_spin_density():
    t, a, alpha, J, mu = 1.0, 0.4, 0.1, 0.01, 0.05
    m = ToyRashbaSquare(a=a, t=t, alpha=alpha, J=J)
    obs = [make_observable("spin_x", m)]
    val = grid_sum(obs, m, mu, E_X, 256, 1e-9)[0]
    mstar = HBAR ** 2 / (2 * t * a ** 2)  # eV fs^2 / nm^2
    al = alpha / HBAR
    # <sigma> density; the closed form is for the spin density s = <sigma> (DESIGN 4.4, E || x)
    closed = E_CHARGE * 1.0 * al * J * mstar / (2 * np.pi * HBAR * (2 * mstar * al ** 2 * mu + J ** 2))
    assert val == pytest.approx(closed, rel=1e-2)


def test_refined_fermi_surface_cells_beat_the_plain_midpoint_rule():
    """The occupation jump limits the plain rule; refining the cells it crosses fixes that."""
    t, a, alpha, J, mu = 1.0, 0.4, 0.1, 0.01, 0.05
    m = ToyRashbaSquare(a=a, t=t, alpha=alpha, J=J)
    obs = [make_observable("spin_x", m)]
    mstar = HBAR ** 2 / (2 * t * a ** 2)
    al = alpha / HBAR
    closed = E_CHARGE * al * J * mstar / (2 * np.pi * HBAR * (2 * mstar * al ** 2 * mu + J ** 2))
    plain = grid_sum(obs, m, mu, E_X, 128, 1e-9, refine=1)[0]
    refined = grid_sum(obs, m, mu, E_X, 128, 1e-9, refine=8)[0]
    assert abs(refined / closed - 1) < 0.2 * abs(plain / closed - 1)


def test_partition_over_ranks_adds_up():
    m = ToyRashbaSquare(a=0.4, alpha=0.1)
    obs = [make_observable("spin_current_zy", m), make_observable("current_x", m)]
    whole = grid_sum(obs, m, 0.05, E_X, 64, 1e-9)
    parts = []
    for rank in range(3):
        def part(n, rank=rank):
            return np.arange((n * rank) // 3, (n * (rank + 1)) // 3)
        parts.append(grid_sum(obs, m, 0.05, E_X, 64, 1e-9, partition=part,
                              allreduce=lambda a: a))
    np.testing.assert_allclose(np.sum(parts, axis=0), whole, rtol=1e-12, atol=1e-15)
