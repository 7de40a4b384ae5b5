"""T > 0: independent energy slices weighted by -df/de (elastic scattering)."""
import numpy as np
import pytest

from slabqkt import CaseError, Simulation
from slabqkt.units import KB


def test_weights_are_the_fermi_window(rashba_case):
    sim = Simulation(rashba_case(temperature={"kelvin": 50.0, "n_energies": 24}))
    e, w = sim.energy_slices()
    kT = KB * 50.0
    assert w.sum() == pytest.approx(1.0)
    # -df/de has mean mu and variance (pi kT)^2 / 3
    assert np.sum(w * e) == pytest.approx(0.1, abs=1e-12)
    assert np.sum(w * (e - 0.1) ** 2) == pytest.approx((np.pi * kT) ** 2 / 3, rel=1e-3)


def test_rashba_bulk_at_finite_temperature(rashba_case):
    """Edelstein is independent of eps_F, and sigma is linear in eps_F (n linear in eps):
    both are unchanged by the symmetric thermal window; tau is fixed by n_i v0^2."""
    cold = Simulation(rashba_case()).run_bulk()
    warm = Simulation(rashba_case(temperature={"kelvin": 40.0})).run_bulk()
    assert warm.observables["spin_x"]["total"] == pytest.approx(
        cold.observables["spin_x"]["total"], rel=1e-9)
    assert warm.observables["current_y"]["total"] == pytest.approx(
        cold.observables["current_y"]["total"], rel=1e-6)


def test_slab_at_finite_temperature_is_the_weighted_sum(parabolic_case):
    case = parabolic_case(temperature={"kelvin": 300.0, "n_energies": 4},
                          slab={"n_x": 60}, fermi_surface={"n_polar": 8})
    sim = Simulation(case)
    warm = sim.run()
    energies, weights = sim.energy_slices()
    j = 0.0
    for e, w in zip(energies, weights):
        j = j + w * sim._slice(e).run().profile("current_y")
    assert np.allclose(warm.profile("current_y"), j, rtol=1e-10)
    assert warm.attrs["temperature_K"] == 300.0


def test_window_outside_the_bands_names_temperature(rashba_case):
    with pytest.raises(CaseError, match="^temperature.kelvin"):
        Simulation(rashba_case(temperature={"kelvin": 300.0})).run()
