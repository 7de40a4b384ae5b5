"""Kubo-Bastin on lattice models (slabqkt.kubo.lattice) and at T > 0 (slabqkt.kubo.temperature).

- the zone rule integrates the Lorentzian-broadened density of states of the square and
  cubic lattices to their closed form (a Bessel-function integral), where the plain zone
  grid fails;
- the lattice spin-orbit acceptance test: a square-lattice Rashba model with next-nearest
  hopping t' (non-degenerate bands, time reversal: no 1/Gamma part), its Kubo spin Hall
  conductivity with ladder vertex corrections against the kinetic theory's bulk value
  (intrinsic + disorder), within 2 % after Gamma -> 0;
- the nearest-neighbour lattice Rashba model (builder rashba_square): the dressed spin Hall
  conductivity vanishes (d sigma_x/dt is proportional to the spin current there), in the
  Kubo ladder as in the kinetic theory, and the bare parts match the QKT's parts;
- T > 0: the Rashba Edelstein response is independent of eps_F (both bands occupied), so
  it is unchanged by the -df/deps average (closed form); on one fixed zone rule the
  response approaches T = 0 as T^2 (Sommerfeld).
"""
import json

import numpy as np
import pytest
from scipy.special import j0

from slabqkt.case import resolve
from slabqkt.errors import SlabQKTError
from slabqkt.kubo import kubo_response
from slabqkt.kubo.driver import SampleOptions, run_kubo
from slabqkt.kubo.lattice import lattice_sample
from slabqkt.kubo.temperature import kubo_at_temperature
from slabqkt.lattice.builders import build_lattice_model
from slabqkt.simulation import Simulation
from slabqkt.units import HBAR, HBAR2_OVER_2ME


def rashba_tprime(t=0.847, tp=-0.3, alpha=0.2, a=0.3):
    """[model] table: h = -2t (cos k_x a + cos k_y a) - 4t' cos k_x a cos k_y a
    + (alpha/a)(sigma_x sin k_y a - sigma_y sin k_x a) + const (tight_binding kind)."""
    c = alpha / (2 * a)
    e = np.eye(2)
    hop = [{"R": [0, 0], "real": (4 * (t + tp) * e).tolist()},
           {"R": [1, 0], "real": (-t * e + c * np.array([[0, 1], [-1, 0]])).tolist()},
           {"R": [0, 1], "real": (-t * e).tolist(), "imag": (-c * np.array([[0, 1], [1, 0]])).tolist()},
           {"R": [1, 1], "real": (-tp * e).tolist()}, {"R": [1, -1], "real": (-tp * e).tolist()}]
    return {"kind": "tight_binding", "lattice_vectors": [[a, 0.0], [0.0, a]], "hoppings": hop,
            "basis": [{"site": 0, "orbital": "s", "spin": "up"},
                      {"site": 0, "orbital": "s", "spin": "down"}]}


def spin_hall_case(model, mu, tau, sea_grid=256):
    return resolve({"name": "lattice_soc_shc", "model": model,
                    "fermi_surface": {"fermi_level_eV": mu, "lattice_grid": 64, "n_points": 256,
                                      "sea_grid": sea_grid},
                    "disorder": {"tau_fs": tau}, "field": {"direction": [0.0, 1.0, 0.0]},
                    "observables": {"names": ["spin_current_zx"]}})


def lorentzian_dos_closed_form(E, t, a, d, eta):
    """nu_eta(E) = -Im G(E + i eta)/pi per nm^d of h = -2t sum_i cos(k_i a) + 2dt:
    (1/(pi a^d)) Re int_0^inf exp(i (E - 2dt) s - eta s) J0(2 t s)^d ds (composite Gauss)."""
    S = 40.0 / eta
    x, wx = np.polynomial.legendre.leggauss(16)
    edges = np.linspace(0.0, S, int(4 * t * S) + 2)[:, None]
    s = (0.5 * (edges[:-1] + edges[1:]) + 0.5 * np.diff(edges, axis=0) * x).ravel()
    w = (0.5 * np.diff(edges, axis=0) * wx).ravel()
    f = np.exp(1j * (E - 2 * d * t) * s - eta * s) * j0(2 * t * s) ** d
    return float(np.real(np.sum(w * f)) / (np.pi * a ** d))


@pytest.mark.parametrize("d, kind, mu, eta, n_k, controls, tol", [
    (2, "square", 1.0, 2e-3, 64, {}, 1e-4),
    (3, "cubic", 2.0, 0.2, 12, {"margin": 2.0, "resolution": 1.0, "window": 4.0}, 1e-3)])
def test_zone_rule_integrates_the_broadened_dos(d, kind, mu, eta, n_k, controls, tol):
    """sum_k w eta/pi/((mu - eps_k)^2 + eta^2) = the closed form (square 2D within 1e-4,
    cubic 3D within 1e-3); the weights sum to V_BZ/(2 pi)^d; the plain base grid is more
    than ten times worse (2D: 140 %, 3D: 2.4 %)."""
    t, a = 1.0, 0.3
    model = build_lattice_model({"kind": kind, "dimension": d, "t_eV": t, "a_nm": a})
    ref = lorentzian_dos_closed_form(mu, t, a, d, eta)
    smp = lattice_sample(model, n_k, mu, eta, **controls)
    assert smp.w.sum() == pytest.approx(model.zone.volume / (2 * np.pi) ** d, rel=1e-12)
    assert smp.info["levels"] >= 2

    def dos(s):
        eps = np.linalg.eigvalsh(model.h(s.k))[:, 0]
        return np.sum(s.w * eta / np.pi / ((mu - eps) ** 2 + eta ** 2))
    assert dos(smp) == pytest.approx(ref, rel=tol)
    assert abs(dos(lattice_sample(model, n_k)) / ref - 1) > 10 * tol


def test_band_slopes_give_the_same_dos_with_fewer_points():
    """slope = 'band' (each band's Hellmann-Feynman velocity instead of the bound on all
    slopes): the broadened DOS of the two-band SOC lattice model (Rashba + t') is the same
    within 1e-4, on no more points (for the sp3d5 + SOC fcc model, N = 18, at Gamma = 0.2 eV:
    7e4 points against more than 3e6 with the bound, docs/kubo.md)."""
    model = build_lattice_model(rashba_tprime())
    mu, eta = 2.5, 0.02

    def dos(s):
        eps = np.linalg.eigvalsh(model.h(s.k))
        return np.sum(s.w[:, None] * eta / np.pi / ((mu - eps) ** 2 + eta ** 2))
    bound = lattice_sample(model, 32, mu, eta)
    band = lattice_sample(model, 32, mu, eta, slope="band")
    assert band.size <= bound.size
    assert dos(band) == pytest.approx(dos(bound), rel=1e-4)
    with pytest.raises(SlabQKTError, match="slope"):
        lattice_sample(model, 16, mu, eta, slope="fast")


def test_zone_rule_bad_controls():
    model = build_lattice_model({"kind": "square", "dimension": 2})
    with pytest.raises(SlabQKTError, match="n_k"):
        lattice_sample(model, 0, 0.5, 0.01)
    with pytest.raises(SlabQKTError, match="resolution"):
        lattice_sample(model, 16, 0.5, 0.01, resolution=-1)
    with pytest.raises(SlabQKTError, match="max_points"):
        lattice_sample(model, 16, 0.5, 1e-6, max_points=10_000)


def _poly_b(scales, values):
    """Gamma -> 0 of a clean-limit-finite part: chi(s) = b + c s (+ d s^2) through the points."""
    s = np.asarray(scales, float)
    A = np.stack([s ** j for j in range(len(s))], axis=-1)
    return float(np.linalg.solve(A, np.asarray(values, float))[0])


def test_lattice_soc_spin_hall_vs_qkt():
    """Acceptance: square-lattice Rashba with t' = -0.3 eV (alpha_R = 0.2 eV nm, mu = 2.5 eV,
    tau = 10 fs, E along y): the Kubo spin Hall density spin_current_zx with ladder vertex
    corrections equals the kinetic theory's bulk value (intrinsic + disorder) within 2 %,
    Gamma -> 0 by the line through s = 1, 1/2 (no 1/Gamma part: time reversal); the bare
    bubble (I + II) is the QKT intrinsic part and the vertex correction its disorder part,
    each within 2 %. The vertex correction is -0.69 of the intrinsic part: a real test."""
    case = spin_hall_case(rashba_tprime(), 2.5, 10.0)
    scales = (1.0, 0.5)
    res = run_kubo(case, scales, SampleOptions(lattice={"resolution": 1.0, "window": 4.0}))
    name = "spin_current_zx"
    q = res.qkt[name]
    assert abs(q["disorder"]) > 0.5 * abs(q["intrinsic"])  # vertex corrections matter here
    assert abs(q["intra"]) < 1e-10 * abs(q["intrinsic"])
    v = res.values[name]
    total = _poly_b(res.scales, v["total"])
    assert total == pytest.approx(q["total"], rel=2e-2)
    assert _poly_b(res.scales, v["total_bare"]) == pytest.approx(q["intrinsic"], rel=2e-2)
    assert _poly_b(res.scales, v["vertex"]) == pytest.approx(q["disorder"], rel=2e-2)
    # non-degenerate bands with in-plane spin: no intraband spin current, all is interband
    assert np.abs(v["total_intra"]).max() < 1e-10 * abs(total)
    runs = json.loads(res.attrs["runs"])
    assert all(r["zero_modes"] == 1 for r in runs)  # the Ward identity on the zone rule


def test_nearest_neighbour_lattice_rashba_spin_hall_vanishes():
    """rashba_square (nearest neighbours only): d sigma_x/dt = (2 alpha/hbar a) sigma_z sin k_y a
    is proportional to the spin current {sigma_z, v_y}, so the dressed spin Hall conductivity
    vanishes: Kubo |total| < 2e-3 of its bare part (one disorder strength) and the kinetic
    theory's total < 2e-2 of its intrinsic part; the bare part is the QKT intrinsic part and the
    vertex correction the QKT disorder part within 2 %."""
    model = {"kind": "rashba_square", "dimension": 2, "effective_mass": 0.5, "alpha_R": 0.1,
             "a_nm": 0.3}
    case = spin_hall_case(model, 1.5, 10.0, sea_grid=128)
    sim = Simulation(case, "scipy")
    q = sim.run_bulk().observables["spin_current_zx"]
    E = np.linalg.norm(sim.field)
    gamma = HBAR / (2 * sim.tau)
    smp = lattice_sample(sim.model, energy_eV=1.5, broadening_eV=gamma, resolution=1.0,
                         window=4.0)
    r = kubo_response(sim.model, smp, 1.5, sim.n_i_v0_sq, sim.field, ["spin_current_zx"],
                      real_part="full").parts["spin_current_zx"]
    assert abs(r["total"]) < 2e-3 * abs(r["total_bare"])
    assert abs(q["total"]) < 2e-2 * abs(q["intrinsic"])
    assert r["total_bare"] * E == pytest.approx(q["intrinsic"], rel=2e-2)
    assert r["vertex"] * E == pytest.approx(q["disorder"], rel=2e-2)


def test_rashba_edelstein_unchanged_at_room_temperature():
    """Rashba 2DEG at mu = 0.5 eV, T = 300 K (window mu +- 12 kT inside the two-band region):
    the Edelstein response is independent of eps_F and n_i v0^2 is fixed, so the ladder 1/Gamma
    part of <sigma_x> at T = 300 K equals that at T = 0 within 1e-3, and both the closed form
    q tau m* alpha_R/(pi hbar^3) within 0.5 %."""
    mass, alpha, tau = 0.5, 0.05, 20.0
    base = {"name": "rashba_T", "model": {"kind": "rashba", "dimension": 2, "effective_mass": mass,
                                          "alpha_R": alpha},
            "fermi_surface": {"fermi_level_eV": 0.5, "n_angles": 32},
            "disorder": {"tau_fs": tau}, "field": {"direction": [0.0, 1.0, 0.0]},
            "observables": {"names": ["spin_x"]}}
    scales = (1.0, 0.5, 0.25)
    opts = SampleOptions(n_angles=16)
    cold = run_kubo(resolve(base), scales, opts, qkt=False)
    warm = run_kubo(resolve(dict(base, temperature={"kelvin": 300.0, "n_energies": 4})), scales,
                    opts, qkt=False)
    assert warm.attrs["energy_slices"] >= 4 and warm.attrs["temperature_K"] == 300.0
    E = float(np.linalg.norm(warm.attrs["field_V_per_nm"]))  # the driver's densities are at |E|
    mstar = HBAR ** 2 / (2 * HBAR2_OVER_2ME / mass)
    edelstein = tau * mstar * alpha / (np.pi * HBAR ** 3) * E
    a_warm = warm.fits["spin_x"]["total"]["a"]
    assert a_warm == pytest.approx(cold.fits["spin_x"]["total"]["a"], rel=1e-3)
    assert a_warm == pytest.approx(edelstein, rel=5e-3)


def test_low_temperature_limit_is_sommerfeld():
    """On one zone rule (refined for the whole window), the -df/deps average of the Kubo
    conductivity of the square lattice (Gamma = 0.055 eV) approaches T = 0 as T^2:
    chi(2T) - chi(0) = 4 (chi(T) - chi(0)) within 5 % at kT = 10 meV, where the change is
    below 1e-3 of chi; at kT = 0 the average is the T = 0 response itself."""
    model = build_lattice_model({"kind": "square", "dimension": 2, "t_eV": 1.0, "a_nm": 0.3})
    mu, nv, kT, window = 1.0, 0.02, 0.01, 8.0
    smp = lattice_sample(model, 48, (mu - 2 * window * kT, mu + 2 * window * kT), 0.05,
                         window=4.0)
    kw = dict(n_energies=6, window_kT=window, real_part="full")

    def chi(x):
        parts, e, w = kubo_at_temperature(model, smp, mu, x, nv, [0, 1, 0], ["current_y"], **kw)
        assert w.sum() == pytest.approx(1.0, rel=1e-12)
        return parts["current_y"]["total"]
    c0, c1, c2 = chi(0.0), chi(kT), chi(2 * kT)
    d1, d2 = c1 - c0, c2 - c0
    assert 0 < abs(d1) < 1e-3 * abs(c0)
    assert d2 / d1 == pytest.approx(4.0, rel=5e-2)
    r0 = kubo_response(model, smp, mu, nv, [0, 1, 0], ["current_y"], real_part="full")
    assert c0 == pytest.approx(r0.parts["current_y"]["total"], rel=1e-12)


def test_driver_temperature_is_the_weighted_sum_of_slices():
    """slabqkt kubo at T > 0 (parabolic band, 30 K) = the -df/de weighted sum of T = 0 runs at
    the energies of the kinetic theory's rule (Simulation.energy_slices), same impurities."""
    base = {"model": {"kind": "parabolic", "dimension": 2, "effective_mass": 0.5},
            "fermi_surface": {"fermi_level_eV": 0.1, "n_angles": 16},
            "disorder": {"tau_fs": 20.0}, "observables": {"names": ["current_y"]},
            "field": {"direction": [0.0, 1.0, 0.0]}}
    warm_case = resolve(dict(base, temperature={"kelvin": 30.0, "n_energies": 2}))
    opts = SampleOptions(n_angles=8)
    warm = run_kubo(warm_case, [1.0], opts, qkt=False)
    sim = Simulation(warm_case, "scipy")
    energies, weights = sim.energy_slices()
    assert warm.attrs["energy_slices"] == len(energies) >= 2
    total = 0.0
    for e, w in zip(energies, weights):
        cold = resolve(dict(base, fermi_surface={"fermi_level_eV": float(e), "n_angles": 16},
                            disorder={"n_i_v0_sq": sim.n_i_v0_sq}))
        r = run_kubo(cold, [1.0], SampleOptions(n_angles=8), qkt=False)
        total += w * r.values["current_y"]["total"][0]
    assert warm.values["current_y"]["total"][0] == pytest.approx(total, rel=1e-10)


def test_cubic_lattice_drude_vs_boltzmann():
    """3D cubic lattice, one band, scalar point disorder (mu = 1 eV, tau = 2 fs): the ladder
    vertex correction of the current vanishes (v is odd in k, the kernel k independent), so the
    1/Gamma part of the Kubo conductivity (fit a/s + b through s = 1, 1/2) is the Boltzmann
    (QKT intra) conductivity within 1 %, and the vertex part is below 1e-8 of it."""
    case = resolve({"name": "cubic", "model": {"kind": "cubic", "dimension": 3},
                    "fermi_surface": {"fermi_level_eV": 1.0, "lattice_grid": 12, "sea_grid": 8},
                    "disorder": {"tau_fs": 2.0}, "field": {"direction": [0.0, 1.0, 0.0]},
                    "observables": {"names": ["current_y"]}})
    res = run_kubo(case, (1.0, 0.5), SampleOptions(lattice={"n_k": 8, "resolution": 0.5,
                                                            "window": 2.0}))
    f = res.fits["current_y"]
    assert f["total"]["a"] == pytest.approx(res.qkt["current_y"]["intra"], rel=1e-2)
    assert np.abs(res.values["current_y"]["vertex"]).max() < 1e-8 * f["total"]["a"]
