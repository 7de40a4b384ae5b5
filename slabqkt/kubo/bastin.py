"""The Kubo-Bastin formula at T = 0 (Crepieux & Bruno, PRB 64, 014416 (2001)).

The response of an observable O to a uniform static field E (potential -e E.r, e = -|e|)
is delta<O> = chi |E| with, for the field direction n and v = n.(dh/dk)/hbar,

    chi^I  = (e hbar / 2 pi) Re sum_k { Tr[O G^R v G^A] - Tr[O G^R v G^R] }      at eps = mu,
    chi^II = (e hbar / 4 pi) int_{-inf}^{mu} d eps sum_k
             Tr[O G^R v dG^R/deps - O dG^R/deps v G^R] - (R -> A)

(I: the Fermi-surface part, from Tr[O (G^R-G^A) v G^A - O G^R v (G^R-G^A)]/2; II: the
Fermi-sea part). With ladder vertex corrections each G^X v G^Y becomes G^X (v + Xi_XY) G^Y
(slabqkt.kubo.vertex): the RA ladder carries the 1/Gamma Boltzmann response and the
vertex correction of the interband part, the RR ladder is O(Gamma) and kept for
completeness.

Part II is evaluated with the self-energy frozen at its value at mu, Sigma(eps) =
Sigma(mu): then G^R(eps) = (eps - H)^-1 with H = h + Sigma, dG/deps = -G^2, and the
energy integral is done in closed form over the (complex) eigenvalues lambda_a of H
(right/left eigenvectors R, R^-1):

    sum_{a != b} (R^-1 O R)_ba (R^-1 v R)_ab F_ab,
    F_ab = int_{-inf}^{mu} g_a g_b (g_a - g_b) = -(g_a + g_b)/(l_a - l_b)
           - 2 [ln(mu - l_a) - ln(mu - l_b)]/(l_a - l_b)^2,   g_a = 1/(mu - l_a),

(principal logarithms: mu - l_a stays in the upper half plane along the path), with a
series for |l_a - l_b| << |mu - l_a|, and the A term is minus the complex conjugate of
the R term. The frozen Sigma changes II at O(Gamma) only (II has no 1/Gamma part), which
the Gamma -> 0 extrapolation removes; its clean limit is exactly the intrinsic
(Fermi-sea) part of Eq. (1) plus Fermi-surface terms that combine with part I.
"""
import numpy as np


def sea_kernel(lam, mu, series_u=0.05, n_series=14):
    """F_ab (Nk, N, N) of the closed-form energy integral of part II (0 on the diagonal)."""
    x = mu - lam  # (Nk, N), Im > 0
    X = x[:, :, None]   # mu - l_a
    Y = x[:, None, :]   # mu - l_b
    dl = Y - X          # l_a - l_b
    with np.errstate(divide="ignore", invalid="ignore"):
        u = dl / X
        F = -(1 / X + 1 / Y) / dl - 2 * (np.log(X) - np.log(Y)) / dl ** 2
        # F = sum_{n>=2} (-1)^n (1-n)/(n+1) dl^(n-1) / X^(n+1)   for |u| small
        small = np.abs(u) < series_u
        S = np.zeros_like(F)
        un = np.ones_like(u)
        for n in range(2, n_series + 2):
            un = un * u  # u^(n-1)
            S = S + ((-1) ** n * (1 - n) / (n + 1)) * un
        S = S / X ** 2
    F = np.where(small, S, F)
    idx = np.arange(lam.shape[1])
    F[:, idx, idx] = 0.0
    return F


def sea_local(h, Hs, ops, v, w, mu):
    """Local sums of part II for every operator: (n_ops,) complex, before the prefactor.

    chi^II = (e hbar / 2 pi) Re of the (allreduced) sum.

    Parameters
    ----------
    h : (Nk, N, N)   Bloch Hamiltonian
    Hs : (N, N)      Sigma^R(mu) (frozen)
    ops : list of (Nk, N, N)
    v : (Nk, N, N)   velocity along the field
    w : (Nk,)
    """
    lam, R = np.linalg.eig(h + Hs[None])
    Ri = np.linalg.inv(R)
    F = sea_kernel(lam, mu)
    vt = Ri @ v @ R
    out = []
    for O in ops:
        Ot = Ri @ O @ R
        # sum_ab Ot_ba vt_ab F_ab
        t = np.einsum("kba,kab,kab->k", Ot, vt, F)
        out.append(np.sum(w * t))  # the A term is -conj(R term): R - A = 2 Re R
    return np.array(out)
