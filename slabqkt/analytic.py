"""Closed forms used as validation anchors (DESIGN section 4)."""
import numpy as np
from scipy import integrate

from .units import HBAR2_OVER_2ME


def fuchs_sondheimer(kappa, p=0.0, dimension=3, p2=None):
    """sigma_film / sigma_bulk of a single parabolic band, kappa = d/l.

    Symmetric surfaces (specularity p): the angular factor is
    (1-p)(1-E)/(1-pE), E = exp(-kappa/cos theta). Different surfaces p, p2
    (M. S. P. Lucas, J. Appl. Phys. 36, 1632 (1965)): it becomes
    (1-E) [2 - p - p2 + (p + p2 - 2 p p2) E] / (2 (1 - p p2 E^2)),
    which reduces to the symmetric one for p2 = p.
    """
    if p2 is None:
        p2 = p

    def g(E):
        # thickness-averaged reduction for one angle, E = exp(-kappa/cos)
        return ((1 - E) * (2 - p - p2 + E * (p + p2 - 2 * p * p2))) / (2 * (1 - p * p2 * E * E))

    if dimension == 3:
        f = lambda t: (t ** -3 - t ** -5) * g(np.exp(-kappa * t))  # noqa: E731
        val, _ = integrate.quad(f, 1, np.inf, limit=400, epsabs=1e-14, epsrel=1e-12)
        return 1 - 3 / (2 * kappa) * val
    f = lambda th: np.sin(th) ** 2 * np.cos(th) * g(np.exp(-kappa / max(np.cos(th), 1e-300)))  # noqa: E731
    val, _ = integrate.quad(f, 0, np.pi / 2, limit=400, epsabs=1e-14, epsrel=1e-12)
    return 1 - 4 / (np.pi * kappa) * val


def fuchs_profile(x_over_d, kappa, dimension=3):
    """Local current j(x)/j_bulk for diffuse walls (p = 0), kappa = d/l."""
    x = x_over_d * kappa
    y = (1 - x_over_d) * kappa
    if dimension == 3:
        # average over mu in (0,1) of 1 - exp(-x/mu) weighted by (3/2)(1-mu^2) (half of each side)
        f = lambda mu: 0.75 * (1 - mu * mu) * (np.exp(-x / mu) + np.exp(-y / mu))  # noqa: E731
        val, _ = integrate.quad(f, 0, 1, limit=400, epsabs=1e-14)
        return 1 - val
    f = lambda th: (2 / np.pi) * np.sin(th) ** 2 * (np.exp(-x / np.cos(th)) + np.exp(-y / np.cos(th)))  # noqa: E731
    val, _ = integrate.quad(f, 0, np.pi / 2, limit=400, epsabs=1e-14)
    return 1 - val


def rashba_density(fermi_level, effective_mass, alpha_R):
    """n = m*(eps_F + m* alpha_R^2/hbar^2)/(pi hbar^2) in nm^-2 (both bands occupied)."""
    c = HBAR2_OVER_2ME / effective_mass  # hbar^2/2m*
    # m*/hbar^2 = 1/(2c)
    return (fermi_level + alpha_R ** 2 / (2 * c)) / (2 * c * np.pi)
