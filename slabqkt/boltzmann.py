"""The discrete Boltzmann problems: homogeneous bulk and finite slab.

Steady state, in-plane field E, translation invariance in-plane; with
f^(1) = delta(eps - mu) phi (phi in eV):

    v_x(s) d phi/dx + phi / tau_s = S(x, s),
    S(x, s) = e E.v(s) + (Gamma / r_s) c(s).m(x),      (eV/fs)

(see :mod:`slabqkt.collision`). Boundary conditions at x = 0 for every
outgoing state (v_x > 0), mirror image at x = d:

    phi(0, s) = p(s) phi(0, Rs) + (1 - p(s)) Phi_L,
    Phi_L = sum_in r w |v_x| (1-p) phi(0, s) / sum_out r w v_x (1-p)   (no particle flux).

Discretisation ("linear characteristics"): nodal moments m(x_j), the
source linear in x inside each cell, and every state integrated *exactly*
along its characteristic through each cell:

    phi_b = E phi_a + tau [((1-E)/h - E) S_a + (1 - (1-E)/h) S_b],
    h = dx / (|v_x| tau),  E = exp(-h),

second order for resolved states (trapezoidal limit h -> 0) and exact
local equilibrium for grazing states (h -> inf): stable for any
dx / (|v_x| tau). On a node the kinetic equation itself gives the exact
derivative of the discrete solution, d phi/dx = (S - phi/tau)/v_x, which
the gradient term of Eq. (1) uses.

The solve eliminates phi: for given moments m(x) and re-emission values
(Phi_L, Phi_R) every state is one recurrence (vectorized over states) and
each specular loop s -> Rs -> s closes in closed form per mirror pair. The
unknowns left are u = (m(x_j), Phi_L, Phi_R), N_nodes * r + 2 of them,
solved as u = K u + b with a Krylov method (see :mod:`slabqkt.solvers`).
"""
import numpy as np

from .units import E_CHARGE


def _phi_to_eV_source(fs, field):
    """e E.v(s) in eV/fs for field (3,) in V/nm."""
    d = fs.dimension
    return E_CHARGE * (fs.v @ np.asarray(field, float)[:d])


class BulkBoltzmann:
    """Homogeneous infinite system: no streaming, no surfaces.

    Solves phi = tau (e E.v + (Gamma/r) c.m) with m = sum w c phi, the
    chemical-potential mode fixed by neutrality sum_s r w phi = 0.
    """

    def __init__(self, fs, collision, field):
        self.fs, self.coll = fs, collision
        self.field = np.asarray(field, float)

    def solve(self):
        """phi (Ns,) in eV and the moments m (r,)."""
        c, w, tau = self.coll.c, self.fs.w, 1.0 / self.coll.inv_tau
        g = self.coll.gamma / self.coll.rank_s
        src = _phi_to_eV_source(self.fs, self.field)
        Kb = (w * tau * g)[None, :] * c.T @ c  # (r, r)
        bb = c.T @ (w * tau * src)
        A = np.eye(len(bb)) - Kb
        # the uniform shift (m = d) is the null vector: least squares gives a solution
        m, *_ = np.linalg.lstsq(A, bb, rcond=1e-13)
        phi = tau * (src + g * (c @ m))
        rw = self.coll.rank_s * w
        shift = -np.sum(rw * phi) / rw.sum()
        phi = phi + shift
        m = m + shift * self.coll.d
        return phi, m


class SlabBoltzmann:
    """The discrete slab problem for a set of (local) mirror pairs of states.

    Parameters
    ----------
    fs : FermiSurface
    collision : Collision
    grid : slabqkt.slab.Grid
    p_left, p_right : (Ns,) specularities of outgoing states at each wall
    field : (3,) electric field, V/nm
    pairs : (Np,) int, optional
        Indices of the v_x > 0 states handled here (default: all). The
        partners Rs come along. MPI backends give each rank its share.
    allreduce : callable, optional
        Sums an ndarray over all ranks (default: identity).
    """

    def __init__(self, fs, collision, grid, p_left, p_right, field, pairs=None, allreduce=None):
        self.fs, self.coll, self.grid = fs, collision, grid
        self.allreduce = allreduce or (lambda a: a)
        self.field = np.asarray(field, float)
        plus_all = np.nonzero(fs.v[:, 0] > 0)[0]
        self.plus_all = plus_all
        plus = plus_all if pairs is None else np.asarray(pairs, int)
        minus = fs.mirror[plus]
        self.states = np.concatenate([plus, minus])  # local states: [plus | minus]
        self.np = len(plus)
        st = self.states
        self.r = collision.rank_s[st]
        self.w = fs.w[st]
        self.c = collision.c[st]
        self.tau = 1.0 / collision.inv_tau[st]
        self.vx = fs.v[st, 0]
        self.src = _phi_to_eV_source(fs, self.field)[st]
        self.gain = collision.gamma / self.r
        # specularity of the pair's reflection at each wall (outgoing state's p)
        self.pL = p_left[plus]
        self.pR = p_right[minus]
        self._characteristics(grid)
        # weight of each state's exact cell balance in the conservation fix of apply()
        self.exact_w = self.w / self.gain
        self.n_moments = collision.n_moments
        self.n_unknowns = grid.n_nodes * self.n_moments + 2

    # -- vectors of unknowns ------------------------------------------------
    def _characteristics(self, grid):
        """Exact-characteristics coefficients of the two sweeps and the diffuse-wall norms.

        From the constructor's ``vx``, ``tau`` (fs), ``r`` (density weight), ``w``, ``pL``,
        ``pR`` of the ``np`` pairs (+ then - halves): per cell the decay E = exp(-dx/|v_x| tau)
        and the linear-source integrals A, B; T the decay from the entry wall to each node; the
        flux norms of diffuse re-emission at each wall, reduced over ranks.
        """
        np_ = self.np
        lam = np.abs(self.vx) * self.tau
        dx_sweep = np.concatenate([np.repeat(grid.dx[:, None], np_, 1),
                                   np.repeat(grid.dx[::-1, None], np_, 1)], axis=1)
        h = dx_sweep / lam[None, :]
        E = np.exp(-h)
        one_m_e_over_h = -np.expm1(-h) / h
        self.E = E
        self.A = self.tau * (one_m_e_over_h - E)
        self.B = self.tau * (1.0 - one_m_e_over_h)
        cum = np.concatenate([np.zeros((1, 2 * np_)), np.cumsum(h, axis=0)], axis=0)
        self.T = np.exp(-cum)
        self.a_plus, self.a_minus = self.T[-1, :np_], self.T[-1, np_:]
        rw = self.r * self.w
        norm = self.allreduce(np.array([np.sum((rw * self.vx)[:np_] * (1 - self.pL)),
                                        np.sum((rw * np.abs(self.vx))[np_:] * (1 - self.pR))]))
        self.diffuse = norm > 1e-300 * max(1.0, abs(norm).max())
        self.norm = np.where(self.diffuse, norm, 1.0)
        self.flux_weight_L = (rw[np_:] * np.abs(self.vx[np_:]) * (1 - self.pL))
        self.flux_weight_R = (rw[:np_] * self.vx[:np_] * (1 - self.pR))

    def split(self, u):
        nm = self.grid.n_nodes * self.n_moments
        return u[:nm].reshape(self.grid.n_nodes, self.n_moments), u[nm], u[nm + 1]

    def join(self, m, PhiL, PhiR):
        return np.concatenate([np.ravel(m), [PhiL, PhiR]])

    # -- the sweep -----------------------------------------------------------
    def source(self, m, with_field):
        """S(x_j, s) = [e E.v(s)] + (Gamma/r_s) c(s).m(x_j), eV/fs, (N_nodes, Ns_local)."""
        S = (m @ self.c.T) * self.gain[None, :]
        if with_field:
            S = S + self.src[None, :]
        return S

    def sweep(self, u, with_field, return_source=False):
        """phi (N_nodes, Ns_local) in natural x order for given u = (m, Phi_L, Phi_R)."""
        m, PhiL, PhiR = self.split(u)
        np_ = self.np
        S = self.source(m, with_field)
        S_sw = np.concatenate([S[:, :np_], S[::-1, np_:]], axis=1)
        q = self.A * S_sw[:-1] + self.B * S_sw[1:]
        psi = np.empty_like(S_sw)
        psi[0] = 0.0
        E = self.E
        for k in range(self.grid.n_cells):
            np.multiply(E[k], psi[k], out=psi[k + 1])
            psi[k + 1] += q[k]
        PhiL = PhiL if self.diffuse[0] else 0.0
        PhiR = PhiR if self.diffuse[1] else 0.0
        inflow_L, inflow_R = self.inflow(psi[-1, :np_], psi[-1, np_:], PhiL, PhiR)
        psi += self.T * np.concatenate([inflow_L, inflow_R])[None, :]
        phi = np.concatenate([psi[:, :np_], psi[::-1, np_:]], axis=1)
        return (phi, S) if return_source else phi

    def inflow(self, bp, bm, PhiL, PhiR):
        """Outgoing values at the walls: phi(0, s) of the v_x > 0 states, phi(d, Rs) of their partners.

        ``bp``, ``bm``: the values that reach the far wall when nothing enters (phi(d, s),
        phi(0, Rs)); the specular loop s -> Rs -> s closes in closed form per pair.
        """
        ap, am = self.a_plus, self.a_minus
        pL, pR = self.pL, self.pR
        inflow_L = (pL * am * pR * bp + pL * am * (1 - pR) * PhiR + pL * bm
                    + (1 - pL) * PhiL) / (1 - pL * pR * ap * am)
        inflow_R = pR * (ap * inflow_L + bp) + (1 - pR) * PhiR
        return inflow_L, inflow_R

    def apply(self, u, with_field=False, return_phi=False):
        """K u (+ b with the field): new moments and re-emission values.

        The partial sums over local states are reduced over ranks.
        """
        phi, S = self.sweep(u, with_field, return_source=True)
        np_ = self.np
        mloc = phi @ (self.w[:, None] * self.c)
        fL = self.flux_weight_L @ phi[0, np_:]
        fR = self.flux_weight_R @ phi[-1, :np_]
        # Particle conservation, exactly: each state's exact integral over the
        # slab follows from its cell balances, int phi/tau = int S - v_x [phi],
        # while the nodal moments integrate by the trapezoid rule. Their O(dx^2)
        # difference is put back along the uniform-shift direction d, so that
        # the map conserves sum_s r w int phi dx + wall terms exactly: then b
        # lies in the range of the singular I - K (it otherwise misses it by
        # O(dx^2), and GMRES stalls when symmetry does not hide it).
        q = self.grid.quad
        exact = np.sum(self.exact_w * (q @ S - self.vx * (phi[-1] - phi[0])))
        trap = q @ (mloc @ self.coll.d)
        packed = self.allreduce(np.concatenate([mloc.ravel(), [fL, fR, exact - trap]]))
        out = packed[:-1].copy()
        dd = float(self.coll.d @ self.coll.d)
        nm = self.grid.n_nodes * self.n_moments
        out[:nm] += (packed[-1] / (dd * self.grid.thickness)
                     * np.tile(self.coll.d, self.grid.n_nodes))
        out[-2:] = np.where(self.diffuse, packed[-3:-1] / self.norm, 0.0)
        return (out, phi) if return_phi else out

    def rhs(self):
        return self.apply(np.zeros(self.n_unknowns), with_field=True)

    def rhs_scale(self):
        """Norm of b with |e E.v| as source: the scale for absolute tolerances.

        b itself can vanish by symmetry (a single band has no density
        response to an in-plane field), so ||b|| is no scale.
        """
        src = self.src
        self.src = np.abs(src)
        try:
            return float(np.linalg.norm(self.rhs()))
        finally:
            self.src = src

    def matvec(self, u):
        """(I - K) u."""
        return u - self.apply(u, with_field=False)

    def null_vector(self):
        """The uniform shift of phi (a change of chemical potential) in u space."""
        m = np.repeat(self.coll.d[None, :], self.grid.n_nodes, 0)
        return self.join(m, 1.0 if self.diffuse[0] else 0.0, 1.0 if self.diffuse[1] else 0.0)

    # -- after the solve ------------------------------------------------------
    def solution(self, u):
        """phi, d phi/dx (local states) and moments m, neutral.

        Returns
        -------
        phi, dphi : (N_nodes, Ns_local), eV and eV/nm
        m : (N_nodes, r)
        """
        phi = self.sweep(u, with_field=True)
        rw = self.r * self.w
        q = self.grid.quad
        tot = self.allreduce(np.array([q @ (phi @ rw), rw.sum()]))
        shift = -tot[0] / (tot[1] * self.grid.thickness)
        phi = phi + shift
        # the moments the sweep used (the fixed point), shifted with phi
        m = self.split(u)[0] + shift * self.coll.d[None, :]
        S = self.source(m, with_field=True)
        dphi = (S - phi / self.tau[None, :]) / self.vx[None, :]
        return phi, dphi, m

    # -- preconditioner: diffusion synthetic acceleration ---------------------
    def diffusion_preconditioner(self):
        """Right preconditioner M^-1 = I + L (L^2 Lap_N)^-1 R for (I - K).

        The error modes that source iteration damps slowly are smooth
        profiles of the conserved density. R extracts the density of a
        residual as a uniform-shift amplitude, (L^2 Lap_N)^-1 solves the
        1D diffusion problem -L^2 delta'' = R v with zero-flux (Neumann)
        walls (no particle crosses a surface, specular or diffuse),
        L^2 = <tau> <v_x^2 tau g(h)>; L lifts delta(x) back to the
        uniform-shift shape (m = delta d, Phi = delta at the walls).

        g(h) = (h/2) coth(h/2), h = dx / (|v_x| tau), makes the diffusion
        operator consistent with the discrete sweep: for a smooth density
        profile the linear-characteristics recurrence streams
        sum_(+-) psi = |v_x| tau dx (1 + e^-h)/(1 - e^-h) delta'' through
        a node, i.e. the continuum 2 (v_x tau)^2 delta'' times g(h). g -> 1
        for resolved states; in optically thick cells (dx >> l, d/l ~ 1000
        at fixed N_x) the scheme's diffusion is g ~ h/2 times larger, and a
        DSA without g over-corrects those modes (preconditioned eigenvalues
        ~ 8 instead of ~ 1). L^2 is therefore per cell.
        """
        rw = self.r * self.w
        g = self.grid
        lam = np.abs(self.vx) * self.tau
        half_h = 0.5 * g.dx[:, None] / lam[None, :]
        cell = (half_h / np.tanh(half_h)) @ (rw * self.vx ** 2 * self.tau)
        sums = self.allreduce(np.concatenate([cell, [rw.sum(), np.sum(rw / self.tau)]]))
        tau_mean = sums[-2] / sums[-1]
        L2 = tau_mean * sums[:-2] / sums[-2]  # (n_cells,) nm^2
        t, d = self.coll.t, self.coll.d
        td = float(t @ d)
        n = g.n_nodes
        # linear finite elements, lumped mass: (K_L2) delta = M f, L^2 per cell
        k = L2 / g.dx
        from scipy.linalg import solve_banded
        ab = np.zeros((3, n))
        ab[0, 1:] = -k
        ab[1, :-1] += k
        ab[1, 1:] += k
        ab[2, :-1] = -k
        ab[1, 0] += 1.0  # pin: Neumann problem is singular; remove the mean after
        quad = g.quad
        dvec, Lmom = d, self.n_moments
        diffuse = self.diffuse

        def apply(v):
            m, PhiL, PhiR = self.split(v)
            f = (m @ t) / td
            f = f - (quad @ f) / g.thickness
            delta = solve_banded((1, 1), ab, quad * f)
            delta -= (quad @ delta) / g.thickness
            out = v.copy()
            out[: n * Lmom] += (delta[:, None] * dvec[None, :]).ravel()
            out[-2] += delta[0] if diffuse[0] else 0.0
            out[-1] += delta[-1] if diffuse[1] else 0.0
            return out
        return apply
