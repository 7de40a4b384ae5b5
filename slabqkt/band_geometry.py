"""Band geometry: eigenspaces, projectors, band velocities, interband Berry connection.

Eigenvalues that coincide within ``tol`` form one eigenspace (the paper's
M <= N distinct bands). Every quantity returned here is a sum over whole
eigenspaces, hence invariant under any unitary rotation inside a degenerate
eigenspace (gauge invariant). The interband Berry connection is analytic:

    A_nm = i P_n dP_m/dk = i P_n (dh/dk) P_m / (eps_m - eps_n),   n != m   (nm),

so no finite differences in k are ever taken.
"""
import numpy as np

from .errors import ModelError
from .units import HBAR


class Eigensystem:
    """Eigen-decomposition of h at a stack of k points.

    Parameters
    ----------
    model : slabqkt.models.Model
    k : ndarray (M, d)
        Wavevectors, nm^-1.
    tol : float
        Degeneracy tolerance, eV.
    mapper : callable, optional
        ``mapper(fn, k) -> [arrays over all points]``, e.g.
        :meth:`slabqkt.lattice.fermi_surface.Runner.map`: under MPI each rank
        diagonalises its share of the points (in chunks) and every rank gets
        the whole eigensystem.

    Attributes
    ----------
    eps : ndarray (M, N)
        Ascending eigenvalues, eV.
    U : ndarray (M, N, N)
        Eigenvectors (columns).
    label : ndarray (M, N) of int
        Eigenspace index of every eigenvalue (0 = lowest eigenspace).
    dh : ndarray (M, d, N, N)
        dh/dk in the eigenbasis, eV nm.
    """

    def __init__(self, model, k, tol=1e-9, mapper=None):
        self.k = np.asarray(k, float)
        self.tol = tol

        def solve(kk):
            eps, U = np.linalg.eigh(model.h(kk))
            Uh = U.conj().swapaxes(-1, -2)
            return eps, U, Uh[:, None] @ model.dh(kk) @ U[:, None]
        self.eps, self.U, self.dh = solve(self.k) if mapper is None else mapper(solve, self.k)
        gaps = np.diff(self.eps, axis=-1) > tol
        self.label = np.concatenate([np.zeros(self.eps.shape[:-1] + (1,), int),
                                     np.cumsum(gaps, axis=-1)], axis=-1)

    def members(self, group):
        """Boolean mask (M, N): eigenvalues in eigenspace ``group`` (int or array (M,))."""
        return self.label == np.asarray(group)[..., None]

    def rank(self, group):
        return self.members(group).sum(axis=-1)

    def projector(self, group):
        """Projectors (M, N, N) onto eigenspace ``group``."""
        mask = self.members(group).astype(float)
        return np.einsum("mai,mi,mbi->mab", self.U, mask, self.U.conj())

    def to_eigenbasis(self, O):
        """U^+ O U for a fixed matrix O (N, N) -> (M, N, N)."""
        return self.U.conj().swapaxes(-1, -2) @ O @ self.U

    def velocity(self, group):
        """Band velocity (M, d) in nm/fs: Tr[P_n dh/dk] / (hbar rank)."""
        mask = self.members(group)
        diag = np.real(np.diagonal(self.dh, axis1=-2, axis2=-1))  # (M, d, N)
        return (diag * mask[:, None, :]).sum(-1) / mask.sum(-1)[:, None] / HBAR

    def interband_weights(self, group, gap_tol=None):
        """G_ij = [i in n, j not in n] / (eps_j - eps_i) for eigenspace n = ``group``.

        Sums over eigenvector pairs with these weights are sums over
        eigenspace pairs (n, m != n). Raises if two different eigenspaces
        are closer than ``gap_tol`` (eV).
        """
        inn = self.members(group)
        other = ~inn
        pair = inn[:, :, None] & other[:, None, :]
        diff = self.eps[:, None, :] - self.eps[:, :, None]  # eps_j - eps_i
        if gap_tol is not None and pair.any():
            gmin = np.abs(np.where(pair, diff, np.inf)).min()
            if gmin < gap_tol:
                raise ModelError(
                    f"interband gap {gmin:.3g} eV below {gap_tol:.3g} eV on the Fermi surface: "
                    "the interband terms of Eq. (1) would divide by a vanishing gap "
                    "(bands degenerate there; raise fermi_surface.degeneracy_tol_eV to merge "
                    "them or change the model)")
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(pair, 1.0 / np.where(pair, diff, 1.0), 0.0)

    def min_interband_gap(self, group):
        inn = self.members(group)
        pair = inn[:, :, None] & ~inn[:, None, :]
        if not pair.any():
            return np.inf
        diff = np.abs(self.eps[:, None, :] - self.eps[:, :, None])
        return float(np.where(pair, diff, np.inf).min())


def berry_connection(es, group, other):
    """Non-abelian interband Berry connection A_nm (M, d, N, N) in nm, original basis.

    A_nm = i P_n (dh/dk) P_m / (eps_m - eps_n) for eigenspaces n = ``group``,
    m = ``other`` (both int or (M,) arrays, n != m at every point).
    """
    inn = es.members(group).astype(float)
    inm = es.members(other).astype(float)
    en = (es.eps * inn).sum(-1) / inn.sum(-1)
    em = (es.eps * inm).sum(-1) / inm.sum(-1)
    Pn = es.projector(group)
    Pm = es.projector(other)
    Ut = es.U
    dh_orig = Ut[:, None] @ es.dh @ Ut.conj().swapaxes(-1, -2)[:, None]
    return 1j * (Pn[:, None] @ dh_orig @ Pm[:, None]) / (em - en)[:, None, None, None]
