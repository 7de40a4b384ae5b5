"""T > 0 for the Kubo path: every part as a -df/deps average of T = 0 responses.

Elastic (impurity) scattering conserves energy, so the Kubo-Bastin response at
temperature T is an energy integral of T = 0 quantities:

- Fermi-surface part I: chi^I(T) = int d eps (-df/deps) chi^I_0(eps), with chi^I_0(eps)
  the T = 0 bubble (self-consistent Born Sigma and ladder at the energy eps) and f the
  Fermi function of (mu, T);
- Fermi-sea part II: chi^II(T) = int d eps f(eps) g(eps) with g the integrand of the T = 0
  sea integral, chi^II_0(mu) = int_{-inf}^{mu} g; an integration by parts (f(+inf) = 0,
  chi^II_0(-inf) = 0) gives chi^II(T) = int d eps (-df/deps) chi^II_0(eps): the same
  average, each chi^II_0(eps) evaluated with the self-energy of its own energy.

So one energy rule serves both parts: the nodes and weights of -df/deps of
slabqkt.thermal (the rule of the kinetic theory's T > 0 runs, :meth:`Simulation.
energy_slices`: the window mu +- energy_window_kT kT split at the band edges and clipped at
the band bottom, temperature.n_energies nodes per panel), so that the Kubo and the kinetic
theory at T > 0 average over the same energies. The disorder strength n_i v0^2 (the
impurities) is the same at every energy; the broadening Gamma(eps) follows the density of
states.
"""
import numpy as np


def energy_rule(case, sim=None):
    """Energies (eV) and weights of the temperature average of a resolved case.

    Parameters
    ----------
    case : dict
        A resolved case; ``temperature.kelvin`` = 0 gives the Fermi level alone.
    sim : slabqkt.simulation.Simulation, optional
        The case's simulation (its band edges and -df/de rule); built if not given.

    Returns
    -------
    energies, weights : (M,) arrays; weights sum to 1 unless the window is clipped at the
        band bottom (no states below).
    """
    mu = float(case["fermi_surface"]["fermi_level_eV"])
    if case.get("temperature", {}).get("kelvin", 0.0) <= 0:
        return np.array([mu]), np.array([1.0])
    if sim is None:
        from ..simulation import Simulation
        sim = Simulation(case, "scipy")
    e, w = sim.energy_slices()
    return np.asarray(e, float), np.asarray(w, float)


def thermal_average(responses, weights):
    """Sum_j w_j parts_j of KuboResponse.parts dicts (name -> part -> float)."""
    out = {}
    for r, w in zip(responses, weights):
        for name, parts in r.items():
            o = out.setdefault(name, {p: 0.0 for p in parts})
            for p, v in parts.items():
                o[p] += w * v
    return out


def kubo_at_temperature(model, sample, energy_eV, kT_eV, n_i_v0_sq, field_direction,
                        observables, n_energies=8, window_kT=12.0, edges=(), **kwargs):
    """The -df/deps average of :func:`slabqkt.kubo.kubo_response` on one k rule.

    Parameters
    ----------
    model, sample, n_i_v0_sq, field_direction, observables, kwargs
        As :func:`slabqkt.kubo.response.kubo_response` (one rule for every energy: build
        it for the interval energy_eV +- window_kT kT, e.g. slabqkt.kubo.lattice.
        lattice_sample with energy_eV = (lo, hi)).
    energy_eV : float
        Chemical potential mu (eV).
    kT_eV : float
        k_B T (eV); 0: the T = 0 response at mu.
    n_energies : int
        Nodes per panel of the -df/de Gauss rule (slabqkt.thermal.fermi_window_rule).
    window_kT : float
        Half width of the energy window in kT.
    edges : sequence of float
        Band edges (eV) inside the window (the rule splits its panels there).

    Returns
    -------
    parts : dict name -> part -> float (the weighted sums of KuboResponse.parts)
    energies, weights : (M,) the rule
    """
    from ..thermal import fermi_window_rule
    from .response import kubo_response
    mu = float(energy_eV)
    if kT_eV <= 0:
        e, w = np.array([mu]), np.array([1.0])
    else:
        inside = [(x - mu) / kT_eV for x in edges]
        x, w = fermi_window_rule(int(n_energies), float(window_kT), inside)
        e = mu + kT_eV * x
    runs = [kubo_response(model, sample, ej, n_i_v0_sq, field_direction, observables,
                          **kwargs).parts for ej in e]
    return thermal_average(runs, w), e, w
