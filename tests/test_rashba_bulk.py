"""Validation anchor 3: Rashba 2DEG in the bulk."""
import numpy as np
import pytest

from slabqkt import Simulation
from slabqkt.analytic import rashba_density
from slabqkt.units import HBAR, HBAR2_OVER_2ME


@pytest.mark.parametrize("eF", [0.05, 0.1, 0.3])
def test_rigid_shift_and_drude(rashba_case, eF):
    ms, aR, tau = 0.5, 0.05, 20.0
    sim = Simulation(rashba_case(fermi_surface={"fermi_level_eV": eF}))
    fs = sim.fs
    # every state has the same 1/tau
    assert np.ptp(sim.coll.inv_tau) < 1e-12 * sim.coll.inv_tau.mean()
    assert sim.tau == pytest.approx(tau, rel=1e-12)
    phi, obs = sim.bulk()
    # rigid shift of both Fermi circles by the same delta k = e tau E / hbar:
    # phi = e tau (hbar/m*) E.k on both sheets (not e tau E.v: the in-scattering
    # of the spin texture, the vertex correction, makes up the difference)
    E = sim.field[:2]
    mstar = HBAR ** 2 * ms / (2 * HBAR2_OVER_2ME)  # eV fs^2 / nm^2
    assert np.allclose(phi, -tau * HBAR / mstar * (fs.k @ E), rtol=1e-10,
                       atol=1e-12 * np.abs(phi).max())
    assert not np.allclose(phi, -tau * fs.v @ E, rtol=1e-3)
    # Drude with the Rashba density
    n = rashba_density(eF, ms, aR)
    sigma = obs["current_y"]["total"] / np.linalg.norm(sim.field)
    assert sigma == pytest.approx(n * tau / mstar, rel=1e-3)
    assert fs.n_sheets == 2


def test_fermi_level_below_crossing_is_an_error(rashba_case):
    from slabqkt import CaseError
    with pytest.raises(CaseError, match="^fermi_surface.fermi_level_eV.*star-shaped"):
        Simulation(rashba_case(fermi_surface={"fermi_level_eV": -0.001}))
