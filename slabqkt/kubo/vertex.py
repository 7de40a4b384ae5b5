"""Ladder (non-crossing) vertex corrections: the Bethe-Salpeter equation in the N^2 basis.

For scalar point disorder the ladder correction of a vertex is k independent: with
Green's functions A = G^X(k), B = G^Y(k) on the two sides (X, Y = R or A),

    V(k) = v(k) + Xi,    Xi = n_i v0^2 sum_k A (v + Xi) B,

a linear equation for the N x N matrix Xi. In the basis of matrix units (row-major vec,
vec(M)[a N + b] = M[a, b]) it reads (1 - K) vec Xi = vec b with

    K[(a,d),(b,c)] = n_i v0^2 sum_k A_ab(k) B_cd(k),   b = n_i v0^2 sum_k A v B,

an N^2 x N^2 matrix: the same low-rank structure as the collision kernel of the kinetic
theory (slabqkt/collision.py) but an independent implementation. K is summed with one
matrix product (N^2 x Nk)(Nk x N^2) per chunk of k points.

Ward identity. For the RA ladder with the self-consistent Born Sigma,
n_i v0^2 sum_k G^R (Sigma^R - Sigma^A) G^A = Sigma^R - Sigma^A exactly: Xi_0 = Sigma^R -
Sigma^A is a zero mode of 1 - K (particle conservation; one more per conserved
density). The component of Xi along the zero modes is fixed by the physics, not by the
ladder: the solution is the minimum-norm one (singular values below ``null_rtol``
are dropped) plus c Xi_0 with c such that the density response vanishes (a
uniform field moves no charge: the condition that pins phi in the kinetic theory).
"""
import numpy as np

from ..tools import get_logger

log = get_logger("kubo")


def kernel_local(A, B, w):
    """sum_k w A_ab B_cd arranged as K[(a,d),(b,c)] (N^2, N^2), without n_i v0^2."""
    nk, N = A.shape[0], A.shape[-1]
    A2 = A.reshape(nk, N * N)
    B2 = (B * w[:, None, None]).reshape(nk, N * N)
    M = (A2.T @ B2).reshape(N, N, N, N)  # [a, b, c, d]
    return M.transpose(0, 3, 1, 2).reshape(N * N, N * N)


def solve_ladder(K, b, null_rtol=1e-8):
    """Minimum-norm solution of (1 - K) x = b.

    Returns
    -------
    x : (N^2,) complex
    smin : float
        Smallest singular value of 1 - K (1 - K is O(1): modes below null_rtol are zero
        modes).
    null : (N^2, m) complex
        Right null vectors dropped (m = 0: a regular solve).
    """
    n = K.shape[0]
    Mx = np.eye(n) - K
    U, s, Vh = np.linalg.svd(Mx)
    keep = s > null_rtol * max(1.0, s[0])
    x = Vh[keep].conj().T @ ((U[:, keep].conj().T @ b) / s[keep])
    return x, float(s[-1]), Vh[~keep].conj().T
