"""Fermi-surface sampling on rays, mirror symmetric in k_x.

Star-shaped Fermi surfaces are sampled on rays k = |k| khat: for every ray
and every band the crossing eps_n(|k| khat) = energy is found by bracketing
and bisection (vectorized over rays). The DOS measure of a point is

    2D: w = k_F dtheta / ((2 pi)^2 d eps/dk_radial),
    3D: w = k_F^2 dOmega / ((2 pi)^3 d eps/dk_radial),

in 1/(eV nm^d), so that the integral over k of delta(eps_n - energy) g
is sum_s w_s g(k_s). Ray sets are symmetric under k_x -> -k_x (and k_y ->
-k_y) and contain no ray with k_x = 0, so every state s has its specular
partner Rs on the grid and v_x(s) != 0.

2D rays: theta from k_x, Gauss-Legendre on each half circle (default) or
the midpoint rule theta_j = (j + 1/2) 2 pi / n (n a multiple of 4).
3D rays: polar axis x, mu = k_x/|k| on a double Gauss-Legendre rule (each
half (0, 1) and (-1, 0) separately, since the distribution is
discontinuous at mu = 0), azimuth midpoint rule.
"""
import numpy as np

from .band_geometry import Eigensystem
from .errors import ModelError
from .tools.progress import Progress
from .units import HBAR


def graded_rule(n, length, scale):
    """n nodes and weights on (0, length), refined geometrically towards 0 down to ``scale``.

    A quarter of the nodes (at least 2) form a Gauss-Legendre rule on
    (0, scale); the rest a Gauss-Legendre rule in t = ln(y) on (scale,
    length), i.e. y = scale e^t with weights y dt (rescaled to integrate a
    constant exactly): panels shrink geometrically towards 0. An integrand
    with structure on every scale between ``scale`` and ``length`` (the 1/y
    tail of the grazing states of a thin slab, y = |v_x|/|v|) is smooth in t.
    """
    n1 = max(2, n // 4)
    n2 = n - n1
    x, w = np.polynomial.legendre.leggauss(n1)
    y1, w1 = 0.5 * scale * (x + 1), 0.5 * scale * w
    T = np.log(length / scale)
    x, w = np.polynomial.legendre.leggauss(n2)
    t = 0.5 * T * (x + 1)
    y2 = scale * np.exp(t)
    w2 = 0.5 * T * w * y2
    w2 *= (length - scale) / w2.sum()  # exact for constants (the DOS) with few nodes too
    return np.concatenate([y1, y2]), np.concatenate([w1, w2])


def rays(dimension, n_angles, n_polar=None, rule="gauss", grazing=None):
    """Ray directions (Nr, d), solid-angle weights (Nr,), mirror map (Nr,).

    The mirror map sends the ray of (k_x, k_perp) to that of (-k_x, k_perp).
    2D ``rule``: 'gauss' puts n/2 Gauss-Legendre nodes in theta on each
    half circle k_x > 0 and k_x < 0 (high order: the distribution is
    smooth on each half but not across k_x = 0); 'midpoint' is the uniform
    rule theta_j = (j + 1/2) 2 pi / n.

    ``grazing`` (an angular scale, typically d/l of a thin slab; None: no
    refinement) replaces the rule towards k_x = 0 by :func:`graded_rule`:
    in 2D in psi = pi/2 - |theta| on each quarter circle (n/4 nodes), in 3D
    in mu = k_x/|k| on each half (n_polar nodes). The set stays mirror
    symmetric in k_x and k_y and has no ray with k_x = 0.
    """
    if dimension == 2:
        if grazing is not None and rule == "gauss":
            nq = n_angles // 4
            psi, wq = graded_rule(nq, 0.5 * np.pi, grazing)
            quarter = 0.5 * np.pi - psi  # theta in (0, pi/2), k_x > 0, k_y > 0
            half = np.concatenate([-quarter[::-1], quarter])
            wh = np.concatenate([wq[::-1], wq])
            theta = np.concatenate([half, np.pi - half])
            dw = np.concatenate([wh, wh])
            nh = 2 * nq
            mirror = np.concatenate([np.arange(nh) + nh, np.arange(nh)])
        elif rule == "gauss":
            x, wx = np.polynomial.legendre.leggauss(n_angles // 2)
            half = 0.5 * np.pi * x  # in (-pi/2, pi/2), k_x > 0
            theta = np.concatenate([half, np.pi - half])
            dw = np.concatenate([0.5 * np.pi * wx, 0.5 * np.pi * wx])
            nh = n_angles // 2
            mirror = np.concatenate([np.arange(nh) + nh, np.arange(nh)])
        else:
            theta = (np.arange(n_angles) + 0.5) * 2 * np.pi / n_angles
            dw = np.full(n_angles, 2 * np.pi / n_angles)
            # theta -> pi - theta: j -> n/2 - 1 - j (mod n)
            mirror = (n_angles // 2 - 1 - np.arange(n_angles)) % n_angles
        dirs = np.stack([np.cos(theta), np.sin(theta)], axis=-1)
        return dirs, dw, mirror
    if grazing is not None:
        mu_half, w_half = graded_rule(n_polar, 1.0, grazing)
        order = np.argsort(mu_half)
        mu_half, w_half = mu_half[order], w_half[order]
    else:
        x, wx = np.polynomial.legendre.leggauss(n_polar)
        mu_half = 0.5 * (x + 1.0)
        w_half = 0.5 * wx
    mu = np.concatenate([-mu_half[::-1], mu_half])
    wmu = np.concatenate([w_half[::-1], w_half])
    phi = (np.arange(n_angles) + 0.5) * 2 * np.pi / n_angles
    MU, PHI = np.meshgrid(mu, phi, indexing="ij")
    s = np.sqrt(1 - MU ** 2)
    dirs = np.stack([MU, s * np.cos(PHI), s * np.sin(PHI)], axis=-1).reshape(-1, 3)
    dw = (wmu[:, None] * np.full(n_angles, 2 * np.pi / n_angles)[None, :]).ravel()
    npol = 2 * n_polar
    ip, ia = np.meshgrid(np.arange(npol), np.arange(n_angles), indexing="ij")
    mirror = ((npol - 1 - ip) * n_angles + ia).ravel()
    return dirs, dw, mirror


def _eigvals_on_rays(model, dirs, radii):
    k = radii[..., None] * dirs
    return np.linalg.eigvalsh(model.h(k))


def band_extrema(model, dirs, k_max, n_scan=256, iters=80):
    """Band edges seen by the ray sampling, and the band bottom (eV).

    On every ray, every eigenvalue is scanned on |k| in [0, k_max]; a local
    extremum along the ray (found from a sign change of the slope, refined
    by golden-section search) and the value at k = 0 are energies where the
    number of Fermi crossings on that ray changes: the sampled Fermi surface,
    and every observable, is not smooth in the energy there.

    Returns
    -------
    edges : (M,) sorted energies (eV), k = 0 eigenvalues and ray extrema
    bottom : float, the lowest band energy found (eV)
    """
    nr = len(dirs)
    kk = np.linspace(0.0, k_max, n_scan)
    ev = _eigvals_on_rays(model, dirs[:, None, :], np.broadcast_to(kk, (nr, n_scan)))  # (Nr, S, N)
    e0 = np.linalg.eigvalsh(model.h(np.zeros(model.dimension)))
    slope = np.sign(np.diff(ev, axis=1))  # (Nr, S-1, N)
    turn = slope[:, 1:, :] * slope[:, :-1, :] < 0  # extremum near sample j + 1
    ir, jj, ib = np.nonzero(turn)
    found = []
    if len(ir):
        sgn = slope[ir, jj, ib]  # +1: rising then falling (maximum)
        a, b = kk[jj], kk[jj + 2]
        d = dirs[ir]
        g = 0.5 * (np.sqrt(5.0) - 1.0)

        def value(r):
            e = np.linalg.eigvalsh(model.h(r[:, None] * d))[np.arange(len(r)), ib]
            return -sgn * e  # minimise

        for _ in range(iters):
            c1, c2 = b - g * (b - a), a + g * (b - a)
            left = value(c1) < value(c2)
            a, b = np.where(left, a, c1), np.where(left, c2, b)
        r = 0.5 * (a + b)
        found = np.linalg.eigvalsh(model.h(r[:, None] * d))[np.arange(len(r)), ib]
    edges = np.unique(np.concatenate([e0, np.asarray(found, float)]))
    bottom = float(min(ev.min(), edges.min()))
    return edges, bottom


def crossing_radii(model, dirs, energy, k_max, n_scan=256, iters=60):
    """Radii (N, Nr) where eigenvalue i crosses ``energy`` on every ray.

    Returns radius 0 where eigenvalue i is above ``energy`` on the whole ray.
    Raises :class:`ModelError` where the surface is not star-shaped
    (more than one crossing on a ray) or not closed within ``k_max``.
    """
    nr = len(dirs)
    kk = np.linspace(0.0, k_max, n_scan)
    ev = _eigvals_on_rays(model, dirs[:, None, :], np.broadcast_to(kk, (nr, n_scan)))  # (Nr, S, N)
    f = ev - energy
    if np.any(f[:, -1, :] < 0):
        raise ModelError(f"a band stays below the energy {energy:g} eV up to |k| = {k_max:g} "
                         "nm^-1: the Fermi surface is not closed (set fermi_surface.k_max "
                         "larger, or the Fermi level lies outside the bands' range)")
    sign = f > 0
    changes = (sign[:, 1:, :] != sign[:, :-1, :]).sum(axis=1)  # (Nr, N)
    if np.any(changes > 1):
        raise ModelError("the Fermi surface is not star-shaped: a ray from k = 0 crosses a band "
                         f"more than once at {energy:g} eV (e.g. a ring-shaped Fermi sea below "
                         "a band crossing); such band structures are not supported")
    has = changes == 1
    j = np.argmax(sign, axis=1)  # first index above energy
    lo = kk[np.maximum(j - 1, 0)]
    hi = kk[j]
    R = np.zeros((nr, model.N))
    ir, ib = np.nonzero(has)
    if len(ir):
        a, b = lo[ir, ib], hi[ir, ib]
        d = dirs[ir]
        progress = Progress(iters, "bisection steps of the Fermi surface", delay=2.0)
        for _ in range(iters):
            progress.update()
            mid = 0.5 * (a + b)
            e = np.linalg.eigvalsh(model.h(mid[:, None] * d))[np.arange(len(ir)), ib]
            below = e < energy
            a = np.where(below, mid, a)
            b = np.where(below, b, mid)
        R[ir, ib] = 0.5 * (a + b)
    return R.T


class SurfaceMeasures:
    """DOS-weighted sums shared by every Fermi-surface sampler (``rank``, ``w``, ``v``)."""

    @property
    def density_of_states(self):
        """Total DOS at the energy, 1/(eV nm^d) (ranks counted)."""
        return float(np.sum(self.rank * self.w))

    def mean_speed(self):
        """DOS-weighted mean |v| (nm/fs)."""
        rw = self.rank * self.w
        return float(np.sum(rw * np.linalg.norm(self.v, axis=-1)) / rw.sum())


class FermiSurface(SurfaceMeasures):
    """Sampled Fermi surface at one energy.

    Attributes (Ns states)
    ----------------------
    energy : float (eV)
    k : (Ns, d) nm^-1
    w : (Ns,) 1/(eV nm^d), DOS measure per eigenspace point
    rank : (Ns,) eigenspace dimension
    v : (Ns, d) band velocity, nm/fs
    P : (Ns, N, N) eigenspace projector
    group : (Ns,) eigenspace index at k_s (eigensystem ``es``)
    sheet, ray : (Ns,) sheet index and ray index
    mirror : (Ns,) index of the specular partner Rs (k_x -> -k_x)
    radii : (N, Nr) crossing radius of every eigenvalue on every ray (0: empty)
    """

    def __init__(self, model, energy, n_angles=256, n_polar=16, k_max=None, tol=1e-9,
                 rel_check=1e-7, angular_rule="gauss", grazing=None):
        self.model = model
        self.energy = float(energy)
        self.dimension = d = model.dimension
        self.tol = tol
        self.ray_dirs, self.ray_dw, self.ray_mirror = rays(d, n_angles, n_polar, angular_rule,
                                                           grazing)
        if k_max is None:
            k_max = model.k_max(energy)
            if k_max is None:
                raise ModelError("the model gives no bound on |k|: set fermi_surface.k_max")
        self.k_max = k_max
        self.radii = crossing_radii(model, self.ray_dirs, energy, k_max)
        nr = len(self.ray_dirs)
        crosses = self.radii > 0
        sheets = []
        for i in range(model.N):
            if not crosses[i].any():
                continue
            if not crosses[i].all():
                raise ModelError(f"band {i} crosses the energy {energy:g} eV on some rays only: "
                                 "its Fermi surface does not enclose k = 0 (not star-shaped)")
            sheets.append(i)
        if not sheets:
            raise ModelError(f"no band crosses the Fermi level {energy:g} eV: it lies below all "
                             "bands (fermi_surface.fermi_level_eV must exceed the band bottom "
                             f"{model.band_bottom():g} eV)")
        ks, sheet_of, ray_of, idx = [], [], [], []
        for n, i in enumerate(sheets):
            ks.append(self.radii[i][:, None] * self.ray_dirs)
            sheet_of.append(np.full(nr, n))
            ray_of.append(np.arange(nr))
            idx.append(np.full(nr, i))
        k = np.concatenate(ks)
        es = Eigensystem(model, k, tol)
        eig_index = np.concatenate(idx)
        group = es.label[np.arange(len(k)), eig_index]
        # an eigenvalue that is not the first of its eigenspace repeats a sheet
        first = (eig_index == 0) | (es.label[np.arange(len(k)), np.maximum(eig_index - 1, 0)] != group)
        first_by_sheet = first.reshape(len(sheets), nr)
        keep_sheet = first_by_sheet.all(axis=1)
        if np.any(first_by_sheet.any(axis=1) != keep_sheet):
            raise ModelError("eigenspace degeneracy changes along the Fermi surface (bands touch "
                             "on it): not supported; adjust fermi_surface.degeneracy_tol_eV")
        self._check_merged_sheets(es, sheets, keep_sheet, nr, tol)
        keep = np.repeat(keep_sheet, nr)
        self.eigen_index = eig_index[keep]
        self.k = k[keep]
        sheet = np.concatenate(sheet_of)[keep]
        _, self.sheet = np.unique(sheet, return_inverse=True)
        self.ray = np.concatenate(ray_of)[keep]
        self.n_sheets = int(keep_sheet.sum())
        self.es = es if keep.all() else Eigensystem(model, self.k, tol)
        self.group = self.es.label[np.arange(len(self.k)), self.eigen_index]
        self.rank = self.es.rank(self.group)
        self.P = self.es.projector(self.group)
        self.v = self.es.velocity(self.group)
        self.kF = np.linalg.norm(self.k, axis=-1)
        khat = self.ray_dirs[self.ray]
        dedk = HBAR * np.sum(self.v * khat, axis=-1)
        if np.any(dedk <= 0):
            raise ModelError("a band falls through the Fermi level with increasing |k| (hole-like "
                             "or non-monotonic band along a ray): not star-shaped")
        self.w = self.kF ** (d - 1) * self.ray_dw[self.ray] / ((2 * np.pi) ** d * dedk)
        ns = len(self.k)
        self.mirror = self.sheet * nr + self.ray_mirror[self.ray]
        self._check_mirror(rel_check)
        if np.any(self.v[:, 0] == 0):
            raise ModelError("a Fermi-surface state has v_x = 0 exactly; change n_angles")
        self.n_states = ns

    @staticmethod
    def _check_merged_sheets(es, sheets, keep_sheet, nr, tol):
        """A sheet dropped as part of a lower eigenspace must be that eigenspace's sheet.

        Eigenvalue i crossing the energy at radius R_i is dropped when, at
        that point, it lies within ``tol`` of a lower eigenvalue j (one
        eigenspace). That is consistent only if, at the kept crossing of j
        on the same ray, eigenvalue i is in j's eigenspace too (so the kept
        state has the rank that counts i). Otherwise the splitting is
        comparable to ``tol`` (resolved at one crossing, not at the other) and
        the states of sheet i would silently be lost: an error.
        """
        rays_ = np.arange(nr)
        for n, i in enumerate(sheets):
            if keep_sheet[n]:
                continue
            rows = n * nr + rays_
            lab = es.label[rows, i]
            j = np.argmax(es.label[rows] == lab[:, None], axis=1)  # first member of i's eigenspace
            ok = np.zeros(nr, bool)
            for jj in np.unique(j):
                if jj not in sheets or not keep_sheet[sheets.index(jj)]:
                    continue
                sel = j == jj
                rows_j = sheets.index(jj) * nr + rays_[sel]
                ok[sel] = es.label[rows_j, i] == es.label[rows_j, jj]
            if not ok.all():
                split = np.abs(np.diff(es.eps[rows], axis=-1)).max()
                raise ModelError(
                    f"eigenvalue {i} is merged with a lower one into one eigenspace where it "
                    "crosses the Fermi level, but not where the lower one crosses it: the band "
                    f"splitting near the Fermi level (up to {split:.3g} eV) is comparable to "
                    f"fermi_surface.degeneracy_tol_eV = {tol:g} eV; set the tolerance well below "
                    "the splitting (separate eigenspaces) or well above it (one eigenspace)")

    def _check_mirror(self, rel):
        R = self.mirror
        scale_k = self.kF.max()
        kx_ok = np.allclose(self.k[R, 0], -self.k[:, 0], atol=rel * scale_k, rtol=0)
        kp_ok = np.allclose(self.k[R, 1:], self.k[:, 1:], atol=rel * scale_k, rtol=0)
        w_ok = np.allclose(self.w[R], self.w, rtol=rel * 10, atol=0)
        vscale = np.abs(self.v).max()
        v_ok = np.allclose(self.v[R, 0], -self.v[:, 0], atol=rel * 10 * vscale, rtol=0)
        e = self.es.eps
        if not (kx_ok and kp_ok and w_ok and v_ok):
            raise ModelError("the band structure lacks the mirror symmetry k_x -> -k_x at the "
                             "Fermi level (specular partners are not on the Fermi surface); "
                             "Fuchs-Sondheimer boundaries need it")
        del e
