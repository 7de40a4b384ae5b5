"""The core of ``slabqkt kubo``: one energy, one disorder strength, every observable.

:func:`kubo_response` is the entry point (MPI: give each rank its share of the sample,
``sample.local(rank, size)``, and an ``allreduce`` summing ndarrays over the ranks: every
k-sum, those of the self-consistent Born iteration included, goes through it).
"""
import dataclasses

import numpy as np

from ..units import E_CHARGE, HBAR
from .bastin import sea_local
from .operators import Operator, make_operator, velocity_along
from .self_energy import born_self_energy, identity_allreduce
from .vertex import kernel_local, solve_ladder

#: h(k) of a rank's share is kept in memory up to this size (bytes), else recomputed per block
H_CACHE_BYTES = 2 ** 28
#: parts of every observable (docs/kubo.md)
PARTS = ("I_bare", "I_dressed", "vertex", "II", "total_bare", "total")
#: with band_split: the totals of the intraband (sum_n P_n O P_n) and interband
#: (sum_{n != m} P_n O P_m) parts of the observable, with and without vertex corrections
SPLIT_PARTS = ("total_intra", "total_inter", "total_bare_intra", "total_bare_inter")


@dataclasses.dataclass
class KuboResponse:
    """Response coefficients chi: delta<O> = chi |E| with |E| in V/nm along the field.

    Attributes
    ----------
    parts : dict name -> dict part -> float
        Parts (PARTS): I_bare (Fermi surface, bare bubble), I_dressed (with the RA and RR
        ladders), vertex = I_dressed - I_bare, II (Fermi sea), total_bare = I_bare + II,
        total = I_dressed + II. Unit: O nm^-d per V/nm.
    units : dict name -> str
        Unit of O.
    gamma : float
        -Im Tr Sigma^R / N (eV).
    sigma : (N, N) complex
        Sigma^R (eV) used in G.
    info : dict
        Diagnostics: SCBA iterations, smallest singular value of 1 - K_RA, zero modes, ...
    """

    energy: float
    n_i_v0_sq: float
    field_direction: np.ndarray
    parts: dict
    units: dict
    gamma: float
    sigma: np.ndarray
    info: dict


def _tr(A, B):
    """Tr[A_k B_k] (Nk,)."""
    return np.einsum("kab,kba->k", A, B)


def kubo_response(model, sample, energy_eV, n_i_v0_sq, field_direction, observables,
                  allreduce=None, real_part="traceless", custom=None, vertex_rr=True,
                  chunk=16384, sigma=None, gamma_guess=None, scba_tol=1e-13, null_rtol=1e-8,
                  band_split=False, degeneracy_tol_eV=1e-8):
    """Kubo-Bastin response with self-consistent Born Sigma and ladder vertex corrections.

    Parameters
    ----------
    model : slabqkt.models.Model
    sample : KSample
        This rank's share of the k rule (weights nm^-d).
    energy_eV : float
        Fermi level mu (eV); T = 0 (a T > 0 response averages the Fermi-surface parts over
        energies with -df/deps, see docs/kubo.md).
    n_i_v0_sq : float
        Scalar disorder strength, eV^2 nm^d.
    field_direction : (3,) float
        Direction of E (normalised here).
    observables : list of str or Operator
        Names as in docs/observables.md.
    allreduce : callable, optional
        Sum of an ndarray over the MPI ranks (default: identity, serial).
    real_part : str
        Rule for the Hermitian part of Sigma (slabqkt.kubo.self_energy).
    vertex_rr : bool
        Dress the G^R v G^R terms by their own ladder too.
    sigma : (N, N), optional
        A given Sigma^R (skips the SCBA iteration, e.g. a constant broadening -i Gamma).
    band_split : bool
        Also evaluate the observable's intraband part sum_n P_n O P_n and interband part
        sum_{n != m} P_n O P_m (P_n the eigenprojectors of h(k), eigenvalues closer than
        degeneracy_tol_eV grouped): the parts SPLIT_PARTS, the Kubo counterparts of the
        kinetic theory's intra and intrinsic + disorder parts (docs/kubo.md).

    Returns
    -------
    KuboResponse
    """
    allreduce = allreduce or identity_allreduce
    n = np.asarray(field_direction, float)
    n = n / np.linalg.norm(n)
    ops = [o if isinstance(o, Operator) else make_operator(o, model, custom) for o in observables]
    N = model.N
    k, w = sample.k, sample.w
    mu = float(energy_eV)
    # h(k) is kept when it is small, recomputed block by block otherwise
    keep_h = len(w) * N * N * 16 <= H_CACHE_BYTES
    h_all = model.h(k) if keep_h and len(k) else None

    def h_of(sl):
        if len(k[sl]) == 0:
            return np.zeros((0, N, N), complex)
        return h_all[sl] if h_all is not None else model.h(k[sl])

    def blocks():
        if len(w) == 0:
            return [(np.zeros((0, N, N), complex), w)]
        return ((h_of(slice(lo, lo + chunk)), w[lo:lo + chunk]) for lo in range(0, len(w), chunk))

    if sigma is None:
        se = born_self_energy(blocks, None, mu, n_i_v0_sq, allreduce, real_part,
                              gamma_guess=gamma_guess or sample.info.get("broadening_eV", 1e-2),
                              tol=scba_tol)
        sig, scba_it = se.sigma, se.iterations
    else:
        sig, scba_it = np.asarray(sigma, complex), 0
    nbase = len(ops)
    nop = nbase * (3 if band_split else 1)
    N2 = N * N
    acc = {"K_RA": np.zeros((N2, N2), complex), "K_RR": np.zeros((N2, N2), complex),
           "b_RA": np.zeros((N, N), complex), "b_RR": np.zeros((N, N), complex),
           "M_RA": np.zeros((nop + 1, N, N), complex), "M_RR": np.zeros((nop, N, N), complex),
           "bare_RA": np.zeros(nop + 1, complex), "bare_RR": np.zeros(nop, complex),
           "II": np.zeros(nop, complex)}
    eye = np.eye(N)
    for lo in range(0, len(w), chunk):
        sl = slice(lo, lo + chunk)
        hk, wk = h_of(sl), w[sl]
        dh = model.dh(k[sl])
        GR = np.linalg.inv((mu * eye - sig)[None] - hk)
        GA = GR.conj().swapaxes(-1, -2)
        v = velocity_along(dh, n)
        acc["K_RA"] += kernel_local(GR, GA, wk)
        if vertex_rr:
            acc["K_RR"] += kernel_local(GR, GR, wk)
        RvA = GR @ v @ GA
        RvR = GR @ v @ GR
        acc["b_RA"] += np.einsum("k,kab->ab", wk, RvA)
        acc["b_RR"] += np.einsum("k,kab->ab", wk, RvR)
        Ok = [o(dh) for o in ops]
        if band_split and len(wk):
            e, U = np.linalg.eigh(hk)
            same = np.abs(e[:, :, None] - e[:, None, :]) < degeneracy_tol_eV
            Uh = U.conj().swapaxes(-1, -2)
            intra = [U @ ((Uh @ O @ U) * same) @ Uh for O in Ok]
            Ok = Ok + intra + [O - Oi for O, Oi in zip(Ok, intra)]
        elif band_split:
            Ok = Ok * 3
        for i, O in enumerate(Ok):
            acc["bare_RA"][i] += wk @ _tr(O, RvA)
            acc["bare_RR"][i] += wk @ _tr(O, RvR)
            acc["M_RA"][i] += np.einsum("k,kab->ab", wk, GA @ O @ GR)
            acc["M_RR"][i] += np.einsum("k,kab->ab", wk, GR @ O @ GR)
        # density (the zero-mode condition)
        acc["bare_RA"][nop] += wk @ np.einsum("kaa->k", RvA)
        acc["M_RA"][nop] += np.einsum("k,kab->ab", wk, GA @ GR)
        if nop:
            acc["II"] += sea_local(hk, sig, Ok, v, wk, mu)
    # one reduction of everything
    keys = list(acc)
    flat = allreduce(np.concatenate([acc[q].ravel() for q in keys]))
    off = 0
    for q in keys:
        size = acc[q].size
        acc[q] = flat[off:off + size].reshape(acc[q].shape)
        off += size
    nv = float(n_i_v0_sq)
    # RA ladder with the zero modes fixed by charge neutrality
    x_ra, smin_ra, null = solve_ladder(nv * acc["K_RA"], nv * acc["b_RA"].ravel(), null_rtol)
    Xi_RA = x_ra.reshape(N, N)
    c0 = 0.0
    if null.shape[1]:
        X0 = sig - sig.conj().T
        D = np.sum(acc["M_RA"][nop] * X0.T)
        dn = acc["bare_RA"][nop] + np.sum(acc["M_RA"][nop] * Xi_RA.T)
        if abs(D) > 0:
            c0 = -dn / D
            Xi_RA = Xi_RA + c0 * X0
    if vertex_rr:
        x_rr, smin_rr, _ = solve_ladder(nv * acc["K_RR"], nv * acc["b_RR"].ravel(), null_rtol)
        Xi_RR = x_rr.reshape(N, N)
    else:
        Xi_RR, smin_rr = np.zeros((N, N), complex), 1.0
    pref = E_CHARGE * HBAR / (2 * np.pi)
    def three(i):
        ra, rr = acc["bare_RA"][i], acc["bare_RR"][i]
        ra_d = ra + np.sum(acc["M_RA"][i] * Xi_RA.T)   # Tr[M Xi] = sum M_ab Xi_ba
        rr_d = rr + np.sum(acc["M_RR"][i] * Xi_RR.T)
        return (pref * float(np.real(ra - rr)), pref * float(np.real(ra_d - rr_d)),
                pref * float(np.real(acc["II"][i])))

    parts, units = {}, {}
    for i, o in enumerate(ops):
        Ib, Id, II = three(i)
        parts[o.name] = {"I_bare": Ib, "I_dressed": Id, "vertex": Id - Ib, "II": II,
                         "total_bare": Ib + II, "total": Id + II}
        if band_split:
            for j, tag in ((i + nbase, "intra"), (i + 2 * nbase, "inter")):
                Ib, Id, II = three(j)
                parts[o.name]["total_" + tag] = Id + II
                parts[o.name]["total_bare_" + tag] = Ib + II
        units[o.name] = o.unit
    gamma = float(-np.imag(np.trace(sig)) / N)
    info = {"scba_iterations": int(scba_it), "ward_smin": smin_ra, "rr_smin": smin_rr,
            "zero_modes": int(null.shape[1]), "zero_mode_coefficient": complex(c0),
            "Xi_RA": Xi_RA, "Xi_RR": Xi_RR, "real_part": real_part,
            "density_RA": float(np.real(acc["bare_RA"][nop]))}
    return KuboResponse(mu, nv, n, parts, units, gamma, sig, info)
