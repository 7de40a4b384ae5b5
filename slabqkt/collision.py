"""Scalar-disorder collision integral, Eqs. (3)-(4), in low-rank form.

For states s, s' on the Fermi surface (eigenspaces of rank r_s)

    C[phi](s) = (1/r_s) sum_s' w_s' W(s, s') (phi(s') - phi(s)),
    W(s, s') = Gamma Tr[P(s) P(s')],  Gamma = 2 pi n_i v0^2 / hbar.

The 1/r_s makes the equation one for the occupation per state of a
degenerate eigenspace (it is 1 for non-degenerate bands, where this is the
paper's Eq. 3 verbatim); it conserves sum_s r_s w_s phi_s, the density.
See docs/theory.md.

Expanding P(s) = sum_mu c_mu(s) Lambda_mu on an orthonormal Hermitian basis,
Tr[P(s)P(s')] = c(s).c(s'): the in-scattering is (Gamma/r_s) c(s).m with
the local moments m = sum_s' w_s' c(s') phi(s'), and
1/tau_s = Gamma c(s).d / r_s with d = sum_s' w_s' c(s'). The N^2 basis is
compressed to the span of the c(s) (an exact SVD truncation). No dense
N_s x N_s kernel is ever formed.
"""
import numpy as np

from .case import TAU_MAX, TAU_MIN
from .errors import CaseError
from .tools import get_logger
from .units import HBAR

log = get_logger("collision")


def hermitian_basis(N):
    """Orthonormal Hermitian basis (N^2, N, N), Tr[L_a L_b] = delta_ab."""
    out = []
    for a in range(N):
        E = np.zeros((N, N), complex)
        E[a, a] = 1
        out.append(E)
    for a in range(N):
        for b in range(a + 1, N):
            E = np.zeros((N, N), complex)
            E[a, b] = E[b, a] = 1 / np.sqrt(2)
            out.append(E)
            E = np.zeros((N, N), complex)
            E[a, b], E[b, a] = -1j / np.sqrt(2), 1j / np.sqrt(2)
            out.append(E)
    return np.array(out)


class Collision:
    """Low-rank collision operator on a Fermi surface.

    Parameters
    ----------
    fs : FermiSurface
    n_i_v0_sq : float
        Disorder strength n_i v0^2 in eV^2 nm^d.

    Attributes
    ----------
    gamma : float
        2 pi n_i v0^2 / hbar, in eV nm^d / fs.
    c : (Ns, r) projector coefficients on the compressed basis
    basis : (r, N, N) compressed Hermitian basis
    d : (r,) sum_s w_s c(s)
    t : (r,) Tr[basis]: the density moment is t.m
    inv_tau : (Ns,) 1/tau_s in 1/fs
    """

    def __init__(self, fs, n_i_v0_sq, svd_tol=1e-12):
        self.n_i_v0_sq = float(n_i_v0_sq)
        self.gamma = 2 * np.pi * self.n_i_v0_sq / HBAR
        # the compressed basis depends on the projectors only: kept on the Fermi surface, so
        # that the unit-strength operator of n_i_v0_sq_from_case and the operator of the run
        # share one SVD (the projector array is never modified in place)
        cached = getattr(fs, "_collision_basis", None)
        if cached is not None and cached[0] is fs.P and cached[1] == svd_tol:
            r, self.c, self.basis = cached[2:]
        else:
            lam = hermitian_basis(fs.model.N)
            # Re Tr[P_s lam_m] as one real BLAS product over the N^2 entries (an einsum over
            # (s, m, a, b) costs minutes for N = 18 and 2e4 states)
            N2 = lam.shape[0]
            P2 = fs.P.reshape(len(fs.P), N2)
            L2 = lam.swapaxes(-1, -2).reshape(N2, N2)
            c_full = P2.real @ L2.real.T - P2.imag @ L2.imag.T
            _, sv, vt = np.linalg.svd(c_full, full_matrices=False)
            r = int(np.sum(sv > svd_tol * sv[0]))
            V = vt[:r].T  # (N^2, r)
            self.c = c_full @ V
            self.basis = (V.T @ lam.reshape(N2, N2)).reshape(-1, *lam.shape[1:])
            try:
                fs._collision_basis = (fs.P, svd_tol, r, self.c, self.basis)
            except AttributeError:  # a read-only surface object: no sharing
                pass
        self.t = np.real(np.einsum("raa->r", self.basis))
        self.rank_s = fs.rank.astype(float)
        self.w = fs.w
        self.d = self.w @ self.c
        self.inv_tau = self.gamma * (self.c @ self.d) / self.rank_s
        self.n_moments = r

    def moments(self, phi):
        """m (..., r) = sum_s w_s c(s) phi(..., s)."""
        return phi @ (self.w[:, None] * self.c)

    def in_scattering(self, m):
        """(Gamma/r_s) c(s).m for moments (..., r) -> (..., Ns), in eV/fs."""
        return (m @ self.c.T) * (self.gamma / self.rank_s)

    def apply(self, phi):
        """C[phi] (..., Ns) in eV/fs, for checks; the solvers use the parts."""
        return self.in_scattering(self.moments(phi)) - phi * self.inv_tau

    def mean_tau(self):
        """DOS-averaged tau: 1/tau = sum r w / tau_s / sum r w (fs)."""
        rw = self.rank_s * self.w
        return float(rw.sum() / np.sum(rw * self.inv_tau))


def n_i_v0_sq_from_case(disorder, fs):
    """n_i v0^2 (eV^2 nm^d) from [disorder]: given directly, or via tau or l.

    tau is the DOS average (1/tau = sum r w / tau_s / sum r w) and the mean
    free path is l = <|v|> tau with <|v|> the DOS-weighted mean speed.
    """
    unit = Collision(fs, 1.0)
    tau_unit = unit.mean_tau()  # tau scales as 1/(n_i v0^2)
    if "n_i_v0_sq" in disorder:
        key = "n_i_v0_sq"
        tau = tau_unit / float(disorder["n_i_v0_sq"])
    elif "tau_fs" in disorder:
        key, tau = "tau_fs", disorder["tau_fs"]
    else:
        key = "mean_free_path_nm"
        tau = disorder["mean_free_path_nm"] / fs.mean_speed()
    if not (TAU_MIN <= tau <= TAU_MAX):
        raise CaseError(f"disorder.{key}", disorder[key],
                        f"gives tau = {tau:.4g} fs; allowed: tau in [{TAU_MIN:g}, {TAU_MAX:g}] fs "
                        "(outside it the products of the kinetic equation under- or overflow)")
    if key == "n_i_v0_sq":
        return float(disorder["n_i_v0_sq"])
    return tau_unit / tau


def merged_splitting(fs):
    """Largest eigenvalue spread (eV) inside one eigenspace over the Fermi surface.

    Eigenvalues closer than ``fermi_surface.degeneracy_tol_eV`` are one eigenspace; this is the
    largest splitting that the grouping treats as a degeneracy (0 for exact degeneracies and
    non-degenerate bands).
    """
    es = fs.es
    mem = es.members(fs.group)
    hi = np.where(mem, es.eps, -np.inf).max(axis=-1)
    lo = np.where(mem, es.eps, np.inf).min(axis=-1)
    return float((hi - lo).max()) if len(lo) else 0.0


def check_merged_splitting(fs, tau):
    """Refuse a degeneracy tolerance that merges bands split by more than hbar/tau.

    Merging split eigenvalues into one eigenspace drops their interband terms: an
    approximation valid only when the splitting is below the disorder broadening hbar/tau
    (the bands are then not resolved). A larger merged splitting is a CaseError on
    ``fermi_surface.degeneracy_tol_eV``; a merged splitting above 1e-6 eV is logged.

    Parameters
    ----------
    fs : FermiSurface
    tau : float
        DOS-averaged relaxation time (fs).
    """
    split = merged_splitting(fs)
    broadening = HBAR / tau
    if split > broadening:
        raise CaseError("fermi_surface.degeneracy_tol_eV", fs.tol,
                        f"merges eigenvalues split by up to {split:.3g} eV on the Fermi surface, "
                        f"more than the disorder broadening hbar/tau = {broadening:.3g} eV: "
                        "those bands are resolved; allowed: a tolerance below the splitting "
                        "(the default 1e-9 eV)")
    if split > 1e-6:
        log.info("fermi_surface.degeneracy_tol_eV = %g eV merges eigenvalues split by up to "
                 "%.3g eV on the Fermi surface (below hbar/tau = %.3g eV)", fs.tol, split,
                 broadening)
