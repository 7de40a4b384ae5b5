"""k-space samples for the Kubo-Bastin sums: sum_i w_i g(k_i) ~ int d^dk/(2pi)^d g(k).

:class:`KSample` is the one interface every Kubo k-sum goes through (continuum models:
:func:`continuum_sample`, a radial x angular product rule refined around the Fermi
surface; lattice models: ``slabqkt.kubo.lattice.lattice_sample``, a zone grid).

Continuum rule (docs/kubo.md, "k-space sampling"). Directions: 2D uniform angles
theta_j = 2 pi (j + 1/2)/n_angles (spectral for periodic integrands, symmetric under
k -> -k and k_x -> -k_x for even n_angles); 3D Gauss-Legendre in cos(theta) (n_polar)
times uniform azimuths (n_angles). Along every direction the radial integral
int_0^{k_cut} k^{d-1} dk is a composite Gauss-Legendre rule (n_gauss nodes per panel) on
panels whose breakpoints are

- a uniform set on [0, 1.25 k_F,max] (n_base panels: the Fermi sea),
- k_F +- w r^j, j = -1..J, at every Fermi crossing k_F of the direction, with the
  Lorentzian half width w = broadening / |d eps / dk| in k and ratio r = panel_ratio: the
  products of Green's functions of width ``broadening`` are resolved on geometric panels
  (exponential convergence, cost logarithmic in 1/broadening),
- geometric panels (ratio 1.5) from 1.25 k_F,max to the cutoff k_cut, the largest crossing
  of the energy energy + tail_eV (above it every band lies more than tail_eV above the
  Fermi level: the Lorentzian tails beyond it, a relative error ~ broadening/(pi tail_eV),
  are dropped; an error linear in the broadening, removed by the Gamma -> 0 extrapolation).
"""
import dataclasses

import numpy as np

from ..errors import ModelError


@dataclasses.dataclass
class KSample:
    """k points and weights of a k-space rule.

    Attributes
    ----------
    k : ndarray (Nk, d)
        Wavevectors, nm^-1.
    w : ndarray (Nk,)
        Weights, nm^-d: sum_i w_i g(k_i) ~ int d^dk/(2 pi)^d g(k).
    dimension : int
        d = 2 or 3.
    info : dict
        How the rule was built (kind, parameters); written to the result file.
    """

    k: np.ndarray
    w: np.ndarray
    dimension: int
    info: dict = dataclasses.field(default_factory=dict)

    @property
    def size(self):
        return len(self.w)

    def local(self, rank, size):
        """The share of rank ``rank`` of ``size``: a contiguous block of points."""
        n = len(self.w)
        lo, hi = (n * rank) // size, (n * (rank + 1)) // size
        info = dict(self.info, rank=rank, ranks=size, global_size=n)
        return KSample(self.k[lo:hi], self.w[lo:hi], self.dimension, info)

    def total_weight(self):
        return float(self.w.sum())


def gauss_panels(edges, n_gauss):
    """Composite Gauss-Legendre nodes and weights on the panels between sorted ``edges``."""
    x, wx = np.polynomial.legendre.leggauss(n_gauss)
    a, b = edges[:-1, None], edges[1:, None]
    nodes = 0.5 * (a + b) + 0.5 * (b - a) * x
    weights = 0.5 * (b - a) * wx
    return nodes.ravel(), weights.ravel()


def directions(dimension, n_angles, n_polar=None):
    """Unit vectors (M, d) and their solid-angle weights (M,) (sum 2 pi or 4 pi)."""
    if dimension == 2:
        th = 2 * np.pi * (np.arange(n_angles) + 0.5) / n_angles
        return np.stack([np.cos(th), np.sin(th)], axis=-1), np.full(n_angles, 2 * np.pi / n_angles)
    n_polar = n_polar or max(n_angles // 2, 2)
    ct, wct = np.polynomial.legendre.leggauss(n_polar)
    ph = 2 * np.pi * (np.arange(n_angles) + 0.5) / n_angles
    st = np.sqrt(1 - ct * ct)
    u = np.stack([st[:, None] * np.cos(ph), st[:, None] * np.sin(ph),
                  np.broadcast_to(ct[:, None], (n_polar, n_angles))], axis=-1).reshape(-1, 3)
    return u, (wct[:, None] * np.full(n_angles, 2 * np.pi / n_angles)).ravel()


def _eigs(model, k):
    return np.linalg.eigvalsh(model.h(k))


def radial_crossings(model, u, energy, k_search, n_scan=2048, n_bisect=60):
    """Crossings of ``energy`` by the sorted eigenvalues along rays k = t u, 0 < t < k_search.

    Returns
    -------
    ray : (C,) int, index of the direction
    t : (C,) crossing radius, nm^-1
    slope : (C,) |d eps/dt| at the crossing, eV nm
    """
    t = np.linspace(0.0, k_search, n_scan + 1)
    eps = _eigs(model, t[None, :, None] * u[:, None, :]) - energy  # (M, n, N)
    s = np.sign(eps)
    s[s == 0] = 1.0
    ray, it, band = np.nonzero(s[:, :-1, :] != s[:, 1:, :])
    lo, hi = t[it].copy(), t[it + 1].copy()
    f_lo = eps[ray, it, band]
    uu = u[ray]
    for _ in range(n_bisect):
        mid = 0.5 * (lo + hi)
        f = _eigs(model, mid[:, None] * uu)[np.arange(len(mid)), band] - energy
        same = np.sign(f) == np.sign(f_lo)
        lo, f_lo = np.where(same, mid, lo), np.where(same, f, f_lo)
        hi = np.where(same, hi, mid)
    tc = 0.5 * (lo + hi)
    dt = 1e-6 * max(k_search, 1e-12)
    ep = _eigs(model, (tc + dt)[:, None] * uu)[np.arange(len(tc)), band]
    em = _eigs(model, np.maximum(tc - dt, 0)[:, None] * uu)[np.arange(len(tc)), band]
    slope = np.abs(ep - em) / (tc + dt - np.maximum(tc - dt, 0))
    return ray, tc, slope


def continuum_sample(model, energy_eV, broadening_eV, n_angles=64, n_polar=None, n_gauss=10,
                     panel_ratio=3.0, n_base=8, tail_eV=30.0, k_search=None):
    """Radial x angular k rule of a continuum model, refined around the Fermi surface.

    Parameters
    ----------
    model : slabqkt.models.Model
        A continuum model (``model.k_max`` gives the search bound).
    energy_eV : float
        The energy of the Fermi-surface terms (eV).
    broadening_eV : float
        The Lorentzian half width Gamma (eV) to resolve (-Im Sigma of the self-energy).
    n_angles : int
        2D: angles; 3D: azimuths.
    n_polar : int, optional
        3D: Gauss nodes in cos(theta) (default n_angles // 2).
    n_gauss : int
        Gauss-Legendre nodes per radial panel.
    panel_ratio : float
        Ratio of successive panel widths away from a Fermi crossing.
    n_base : int
        Uniform panels of the Fermi sea [0, 1.25 k_F,max].
    tail_eV : float
        The rule extends to where every band lies tail_eV above ``energy_eV``.
    k_search : float, optional
        Upper bound (nm^-1) of the crossing search (default: the model's k_max).

    Returns
    -------
    KSample
    """
    d = model.dimension
    u, wu = directions(d, n_angles, n_polar)
    e_cut = energy_eV + tail_eV
    ks = k_search or model.k_max(e_cut)
    if ks is None or not np.isfinite(ks):
        raise ModelError("continuum_sample needs a model with a finite k_max (a band that rises "
                         "without bound)")
    rc, tc, _ = radial_crossings(model, u, e_cut, ks)
    k_cut = np.zeros(len(u))
    np.maximum.at(k_cut, rc, tc)
    if np.any(k_cut <= 0):
        raise ModelError(f"no band reaches energy + tail_eV = {e_cut:g} eV below k = {ks:g} nm^-1")
    ray, kf, slope = radial_crossings(model, u, energy_eV, ks)
    width = broadening_eV / np.maximum(slope, 1e-300)
    kfmax = np.zeros(len(u))
    np.maximum.at(kfmax, ray, kf)
    ks_all, ws_all = [], []
    steps = panel_ratio ** np.arange(-1, 40)
    for j in range(len(u)):
        top = k_cut[j]
        k_hi = min(1.25 * kfmax[j], top) if kfmax[j] > 0 else min(top, 0.5 * top)
        edges = [np.linspace(0.0, k_hi, n_base + 1)]
        g = k_hi * 1.5 ** np.arange(1, 200)
        edges.append(g[g < top])
        edges.append([top])
        for kj, wj in zip(kf[ray == j], width[ray == j]):
            st = wj * steps
            st = st[st < 2 * top]
            edges.append(kj + st)
            edges.append(kj - st)
            edges.append([kj])
        e = np.concatenate(edges)
        e = np.unique(e[(e >= 0) & (e <= top)])
        # drop panels far narrower than their neighbourhood needs (duplicates of the base grid)
        keep = np.concatenate([[True], np.diff(e) > 1e-12 * top])
        e = e[keep]
        r, wr = gauss_panels(e, n_gauss)
        ks_all.append(r[:, None] * u[j])
        ws_all.append(wr * r ** (d - 1) * wu[j])
    k = np.concatenate(ks_all)
    w = np.concatenate(ws_all) / (2 * np.pi) ** d
    info = dict(kind="continuum", energy_eV=float(energy_eV), broadening_eV=float(broadening_eV),
                n_angles=int(n_angles), n_polar=int(n_polar or 0), n_gauss=int(n_gauss),
                panel_ratio=float(panel_ratio), n_base=int(n_base), tail_eV=float(tail_eV),
                k_cut_max=float(k_cut.max()), n_crossings=int(len(kf)))
    return KSample(k, w, d, info)


def fermi_surface_dos(model, energy_eV, n_angles=256, n_polar=None, k_search=None):
    """Density of states nu(energy) = int d^dk/(2pi)^d delta(energy - eps_n(k)), 1/(eV nm^d).

    From the radial crossings: sum over crossings of k_F^(d-1) dOmega / ((2 pi)^d |d eps/dk|).
    Degenerate eigenvalues count with their multiplicity (each sorted eigenvalue crosses).
    """
    d = model.dimension
    u, wu = directions(d, n_angles, n_polar)
    ks = k_search or model.k_max(energy_eV)
    ray, kf, slope = radial_crossings(model, u, energy_eV, ks)
    return float(np.sum(kf ** (d - 1) * wu[ray] / slope) / (2 * np.pi) ** d)
