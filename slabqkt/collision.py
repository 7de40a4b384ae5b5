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

from .units import HBAR


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
        lam = hermitian_basis(fs.model.N)
        c_full = np.real(np.einsum("sab,mba->sm", fs.P, lam))
        _, sv, vt = np.linalg.svd(c_full, full_matrices=False)
        r = int(np.sum(sv > svd_tol * sv[0]))
        V = vt[:r].T  # (N^2, r)
        self.c = c_full @ V
        self.basis = np.einsum("mr,mab->rab", V, lam)
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
    if "n_i_v0_sq" in disorder:
        return float(disorder["n_i_v0_sq"])
    unit = Collision(fs, 1.0)
    tau_unit = unit.mean_tau()  # tau scales as 1/(n_i v0^2)
    if "tau_fs" in disorder:
        tau = disorder["tau_fs"]
    else:
        tau = disorder["mean_free_path_nm"] / fs.mean_speed()
    return tau_unit / tau
