"""Self-consistent Born self-energy of scalar point disorder.

    Sigma^R(eps) = n_i v0^2 sum_k G^R(k, eps),   G^R = (eps - h(k) - Sigma^R)^-1,

an N x N matrix independent of k (point disorder). Its anti-Hermitian part is the
broadening: Gamma = -Im Tr Sigma^R / N = pi n_i v0^2 nu(eps)/N at weak disorder (nu the
total density of states); for the Rashba ferromagnet it has a sigma_z part as well.

The real part. In continuum models the Hermitian scalar part of sum_k G^R diverges
with the cutoff (logarithmically in 2D, linearly in 3D): it is a constant shift of all
bands, i.e. a renormalisation of the chemical potential, and is dropped
(``real_part='traceless'``, the default: the Fermi level is measured from the
renormalised bands). Its traceless Hermitian part (a renormalisation of e.g. the exchange
field, O(n_i v0^2)) converges and is kept. ``'none'`` keeps the anti-Hermitian part only;
``'full'`` keeps everything (lattice models, where the zone sum is finite). Every choice
preserves the Ward identity n_i v0^2 sum_k (G^R - G^A) = Sigma^R - Sigma^A at the fixed point,
on the discrete sample itself (the ladder relies on it, slabqkt.kubo.vertex).
"""
import dataclasses

import numpy as np

from ..errors import SlabQKTError
from ..tools import get_logger

log = get_logger("kubo")

REAL_PARTS = ("traceless", "none", "full")


def identity_allreduce(a):
    """The serial allreduce: a k-sum over the whole sample is already complete."""
    return a


@dataclasses.dataclass
class SelfEnergy:
    """Result of the self-consistent Born iteration.

    Attributes
    ----------
    sigma : (N, N) complex, eV
        Sigma^R used in G^R (after the real-part rule).
    sigma_raw : (N, N) complex, eV
        n_i v0^2 sum_k G^R before the real-part rule.
    gamma : float
        -Im Tr Sigma^R / N, eV.
    iterations : int
    change : float
        Last max |Sigma_new - Sigma_old| (eV).
    """

    sigma: np.ndarray
    sigma_raw: np.ndarray
    gamma: float
    iterations: int
    change: float
    real_part: str


def apply_real_part(sig, rule):
    """The Sigma entering G^R: drop the scalar Hermitian part ('traceless'), the whole
    Hermitian part ('none'), or nothing ('full')."""
    N = sig.shape[-1]
    if rule == "full":
        return sig
    if rule == "traceless":
        return sig - (np.real(np.trace(sig)) / N) * np.eye(N)
    if rule == "none":
        return 0.5 * (sig - sig.conj().T)
    raise SlabQKTError(f"kubo real_part {rule!r}: allowed one of {', '.join(REAL_PARTS)}")


def green_retarded(energy, h, sigma):
    """G^R (Nk, N, N) = (energy - h - sigma)^-1, eV^-1."""
    N = h.shape[-1]
    return np.linalg.inv((energy * np.eye(N) - sigma)[None] - h)


def born_self_energy(h, w, energy, n_i_v0_sq, allreduce=identity_allreduce, real_part="traceless",
                     sigma0=None, gamma_guess=1e-2, tol=1e-13, max_iter=500, mixing=1.0):
    """Solve Sigma = n_i v0^2 sum_k w G^R(Sigma) by fixed-point iteration.

    Parameters
    ----------
    h : (Nk, N, N) complex, or callable
        h(k) on this rank's share of the sample (eV), or a function returning an iterable of
        (h_block, w_block) pairs covering that share (for samples too large to hold h).
    w : (Nk,) float
        The weights (nm^-d) of this rank's share (ignored when h is a callable).
    energy : float
        eps (eV).
    n_i_v0_sq : float
        eV^2 nm^d.
    allreduce : callable
        Sums an ndarray over the ranks (every iteration's k-sum goes through it).
    real_part : str
        One of REAL_PARTS (module docstring).
    sigma0 : (N, N), optional
        Start of the iteration (default -i gamma_guess).
    gamma_guess : float
        eV; the broadening the sample was built for is a good start.
    tol : float
        Convergence: max |Sigma_new - Sigma_old| < tol * max |Sigma| (relative).
    mixing : float
        Sigma <- (1 - mixing) Sigma_old + mixing Sigma_new.

    Returns
    -------
    SelfEnergy
    """
    blocks = h if callable(h) else (lambda: [(h, w)])
    N = None
    for hb, _ in blocks():
        N = hb.shape[-1]
        break
    if N is None:  # an empty share (more ranks than points): the size comes from sigma0
        N = np.asarray(sigma0).shape[-1]
    if sigma0 is None:
        sigma0 = -1j * float(gamma_guess) * np.eye(N)
    sig = apply_real_part(np.asarray(sigma0, complex), real_part)
    change = np.inf
    for it in range(1, max_iter + 1):
        local = np.zeros((N, N), complex)
        for hb, wb in blocks():
            local += np.einsum("k,kab->ab", wb, green_retarded(energy, hb, sig))
        raw = n_i_v0_sq * allreduce(local)
        new = apply_real_part(raw, real_part)
        change = float(np.max(np.abs(new - sig)))
        sig = (1 - mixing) * sig + mixing * new
        if change <= tol * max(float(np.max(np.abs(sig))), 1e-300):
            break
    else:
        log.warning("self-consistent Born: not converged after %d iterations (last change "
                    "%.3g eV)", max_iter, change)
    gamma = float(-np.imag(np.trace(sig)) / N)
    if gamma <= 0:
        raise SlabQKTError(f"self-consistent Born: no broadening at energy {energy:g} eV "
                           f"(-Im Tr Sigma/N = {gamma:.3g} eV): the energy lies outside the bands")
    return SelfEnergy(sig, raw, gamma, it, change, real_part)
