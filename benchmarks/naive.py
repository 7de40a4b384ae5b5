"""The naive baseline of DESIGN section 6: one sparse system on all (x, s) and SuperLU.

First-order upwind in x for every state, the moments m(x_j) as auxiliary
unknowns (so the collision term stays low rank: O(N_x N_s r) nonzeros, not
O(N_x N_s^2)), the Fuchs/Soffer boundary conditions with flux-conserving
re-emission values Phi_L, Phi_R, and the chemical-potential null space pinned
sparsely (the left re-emission equation, implied by particle conservation,
is replaced by Phi_L = 0; neutrality is restored by a shift afterwards).
Handed to ``scipy.sparse.linalg.spsolve`` (SuperLU, default COLAMD ordering).

Unknown order: phi[j, s] (N_nodes * N_s), then m[j, mu] (N_nodes * r), Phi_L, Phi_R.
"""
import time

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

from slabqkt.boltzmann import _phi_to_eV_source


def assemble(sim):
    """Sparse matrix A and right-hand side b of the upwind system (units eV/fs)."""
    fs, coll, grid = sim.fs, sim.coll, sim.grid
    ns, n = fs.n_states, grid.n_nodes
    r = coll.n_moments
    pL_all = sim.surfaces[0].p(fs.k)
    pR_all = sim.surfaces[1].p(fs.k)
    vx = fs.v[:, 0]
    inv_tau = coll.inv_tau
    gain = coll.gamma / coll.rank_s
    c = coll.c
    src = _phi_to_eV_source(fs, sim.field)
    mirror = fs.mirror
    nphi = n * ns
    iM = nphi
    iL, iR = nphi + n * r, nphi + n * r + 1
    N = nphi + n * r + 2
    rows, cols, vals = [], [], []
    b = np.zeros(N)

    def add(ri, ci, v):
        ri, ci, v = np.broadcast_arrays(np.asarray(ri), np.asarray(ci), np.asarray(v, float))
        rows.append(ri.ravel())
        cols.append(ci.ravel())
        vals.append(v.ravel())

    J = np.arange(n)[:, None]
    S = np.arange(ns)[None, :]
    idx = J * ns + S  # phi index
    plus = vx > 0
    minus = ~plus
    # interior upwind rows: plus states on nodes 1..N, minus states on nodes 0..N-1
    dx = grid.dx
    for mask, nodes, upw, h in ((plus, np.arange(1, n), -1, dx), (minus, np.arange(0, n - 1), +1,
                                                                  dx)):
        s = np.nonzero(mask)[0][None, :]
        j = nodes[:, None]
        hj = h[j - 1] if upw == -1 else h[j]
        a = np.abs(vx[s]) / hj
        row = j * ns + s
        add(row, row, a + inv_tau[s])
        add(row, (j + upw) * ns + s, -a)
        for mu in range(r):
            add(row, iM + j * r + mu, -gain[s] * c[s, mu])
        b[row.ravel()] = np.broadcast_to(src[s], row.shape).ravel()
    # boundary rows: outgoing states at x = 0 (plus) and x = d (minus)
    for mask, j, p_all, iPhi in ((plus, 0, pL_all, iL), (minus, n - 1, pR_all, iR)):
        s = np.nonzero(mask)[0]
        row = j * ns + s
        add(row, row, 1.0)
        add(row, j * ns + mirror[s], -p_all[s])
        add(row, iPhi, -(1 - p_all[s]))
    # moment rows: m[j, mu] - sum_s w c phi = 0
    for mu in range(r):
        mrow = iM + J * r + mu
        add(mrow[:, 0], mrow[:, 0], 1.0)
        add(np.broadcast_to(mrow, idx.shape), idx, -(fs.w * c[:, mu])[None, :])
    # re-emission: Phi_R norm_R = sum over states arriving at x = d; Phi_L pinned to 0
    rw = coll.rank_s * fs.w
    sp_ = np.nonzero(plus)[0]
    wR = rw[sp_] * vx[sp_] * (1 - pR_all[mirror[sp_]])
    norm_R = np.sum(rw[minus] * np.abs(vx[minus]) * (1 - pR_all[minus]))
    add(iR, iR, norm_R)
    add(np.full(len(sp_), iR), (n - 1) * ns + sp_, -wR)
    add(iL, iL, 1.0)
    A = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(N, N))
    return A, b


def solve_naive(sim):
    """Assemble and solve; returns a dict of numbers for the benchmark row."""
    if sim.surfaces[0].p(sim.fs.k).max() >= 1.0:
        raise ValueError("naive baseline: the left surface must be (partly) diffuse")
    t0 = time.perf_counter()
    A, b = assemble(sim)
    t1 = time.perf_counter()
    x = spsolve(A, b)
    t2 = time.perf_counter()
    n, ns = sim.grid.n_nodes, sim.fs.n_states
    phi = x[:n * ns].reshape(n, ns)
    rw = sim.coll.rank_s * sim.fs.w
    phi = phi - (sim.grid.quad @ (phi @ rw)) / (rw.sum() * sim.grid.thickness)
    # the same case with the exact-characteristics scheme, for a sanity check
    prob = sim.problem()
    u, _ = sim.backend.solve(prob, sim.case["solver"])
    ref, _, _ = prob.solution(u)
    ref_full = np.empty_like(phi)
    ref_full[:, prob.states] = ref
    # sheet current along E, sum_s w (v.E) phi integrated over x: first order in dx apart
    vE = sim.fs.v @ (np.asarray(sim.field, float)[:sim.fs.dimension])
    j_naive = sim.grid.quad @ (phi @ (sim.fs.w * vE))
    j_ref = sim.grid.quad @ (ref_full @ (sim.fs.w * vE))
    return {"assemble_s": t1 - t0, "superlu_s": t2 - t1, "nnz": int(A.nnz),
            "naive_unknowns": int(A.shape[0]),
            "current_rel_diff_vs_characteristics": float(j_naive / j_ref - 1)}
