"""Matrix-valued intraband distribution of degenerate eigenspaces (docs/theory.md, issue 11).

The paper's form gives a degenerate eigenspace (rank r_s > 1 on the Fermi
surface) one occupation per state, rho_intra = sum_n f_n P_n (its footnote
[51]: exact without spin-orbit coupling; "otherwise, a traceless part shall
also be considered"). Here every Fermi-surface state carries an r_s x r_s
Hermitian matrix F(x, s), an operator inside its eigenspace (P_s F P_s = F),
and the generalized golden rule for scalar disorder gives

    v_x dF/dx + (Gamma/2) {P_s D P_s, F} = e E.v(s) P_s + Gamma P_s M(x) P_s,
    M(x) = sum_s' w_s' F(x, s'),   D = sum_s' w_s' P_s'.

In the eigenbasis b_1..b_r of P_s D P_s inside the eigenspace (eigenvalues
d_i) every matrix element F_ij relaxes at Gamma (d_i + d_j)/2 and streams
with the common v_x: each is one scalar characteristic, integrated exactly
like the scalar distribution (:mod:`slabqkt.boltzmann`). The real unknowns
are the r_s^2 *components* f_a = Tr[G_a F] on the orthonormal Hermitian
operators G_a = B_s E_a B_s^+ of the eigenspace (B_s = (b_1..b_r), E_a the
Hermitian unit basis of r x r matrices: r diagonal ones, then a symmetric and
an antisymmetric one per pair i < j). F = sum_a f_a G_a, Tr[F] = sum_a t_a f_a
with t_a = 1 on the diagonal components, 0 on the others.

The in-scattering of component a is Gamma Tr[G_a M] = Gamma c_a.m, with
c_a = Tr[G_a Lambda] on the same compressed Hermitian basis as the scalar
operator (an exact SVD truncation of the span of all G_a): the N^2 low-rank
moments m of M(x). For r_s = 1, G_a = P_s and the component is the scalar
phi(s) of :mod:`slabqkt.collision` (with r_s = 1 there); for P_s D P_s = d_s
P_s every component relaxes at the scalar rate and the trace part obeys the
scalar equation with the 1/r_s convention.

Surfaces. Specular reflection maps the eigenspace at Rs onto the one at s
with the model's mirror operator U (h(Rk) = U(k) h(k) U(k)^+, ``model.
mirror_x``): F(0, s) = U(k_Rs) F(0, Rs) U(k_Rs)^+, a real orthogonal r^2 x r^2
map of the components; rank-1 states keep the scalar map (no U needed).
Diffuse re-emission puts the scalar part Phi P_s on every outgoing state
(the incoming flux of the trace, Tr[F], is re-emitted; the pseudospin of a
doublet is not remembered).

'auto' (the default of ``disorder.intraband_form``, :func:`resolve_form`) runs this form only
where the traceless part is sourced: if P_s b P_s is proportional to P_s for every degenerate
state and every matrix b of the scalar collision basis (:func:`traceless_sources`; Kramers
doublets of T and I symmetric models), F = phi P_s exactly and the scalar pipeline is run.
"""
import numpy as np

from .boltzmann import SlabBoltzmann, _phi_to_eV_source
from .collision import hermitian_basis
from .errors import CaseError, ModelError
from .tools import get_logger
from .units import HBAR

log = get_logger("distribution")

#: the values of ``disorder.intraband_form``
FORMS = ("auto", "matrix", "equal_occupation")


#: relative size of the traceless part of P_s b P_s below which 'auto' takes the scalar form
TRACELESS_TOL = 1e-10
#: complex entries of one chunk of the traceless-source check (bounded memory)
_CHECK_CHUNK = 2 ** 21


def traceless_sources(fs, basis, backend=None):
    """Largest traceless part of P_s b P_s over the degenerate states s and the basis b.

    For a degenerate state (rank r > 1, eigenvectors V_s (N, r)) and every matrix b of the
    scalar collision's compressed basis (which spans every P_s', hence the local moments M(x)
    of any scalar distribution and D = sum_s' w_s' P_s'), W = V_s^+ b V_s; its traceless part
    W - Tr[W]/r is what the in- and out-scattering of a scalar F = phi P_s would feed into the
    traceless components. One complex GEMM per chunk of states:
    W_ij = sum_kl conj(V_ki) V_lj b_kl.

    Parameters
    ----------
    fs : FermiSurface (or LatticeFermiSurface)
    basis : (nb, N, N) complex
        The compressed Hermitian basis of :class:`slabqkt.collision.Collision`.
    backend : Backend, optional
        Under MPI every rank checks its block of the degenerate states (``partition``) and
        the maxima are combined over the ranks (``allreduce``); default: all states here.

    Returns
    -------
    rel : float
        max ||W - Tr[W]/r 1||_F / max ||Tr[W]/r 1||_F over the degenerate states of all ranks
        and the basis (0 without degenerate states): dimensionless.
    n_degenerate : int
        Degenerate states on the Fermi surface (all ranks).
    """
    rank = np.asarray(fs.rank, int)
    deg = np.nonzero(rank > 1)[0]
    n_deg = len(deg)
    if n_deg == 0:
        return 0.0, 0
    mine = deg if backend is None else deg[backend.partition(n_deg)]
    es = fs.es
    N = fs.model.N
    b2 = np.asarray(basis, complex).reshape(len(basis), N * N).T  # (N^2, nb)
    members = es.members(fs.group)
    err = scale = 0.0
    for r in np.unique(rank[mine]):
        r = int(r)
        sel = mine[rank[mine] == r]
        step = max(1, _CHECK_CHUNK // (r * r * N * N))
        for lo in range(0, len(sel), step):
            st = sel[lo:lo + step]
            cols = np.argsort(~members[st], axis=1, kind="stable")[:, :r]
            V = np.take_along_axis(es.U[st], cols[:, None, :], axis=2)  # (n, N, r)
            O = V.conj()[:, :, :, None, None] * V[:, None, None, :, :]  # (n, k, i, l, j)
            O = O.transpose(0, 2, 4, 1, 3).reshape(len(st) * r * r, N * N)
            W = (O @ b2).reshape(len(st), r, r, -1)  # W[s, i, j, b]
            tr = np.einsum("siib->sb", W) / r
            W[:, np.arange(r), np.arange(r), :] -= tr[:, None, :]
            err = max(err, float(np.sqrt(np.sum(np.abs(W) ** 2, axis=(1, 2))).max()))
            scale = max(scale, float(np.abs(tr).max() * np.sqrt(r)))
    if backend is not None and backend.size > 1:
        # maxima through the summing allreduce: every rank fills its own row
        table = np.zeros((backend.size, 2))
        table[backend.rank] = err, scale
        err, scale = backend.allreduce(table).max(axis=0)
    return (float(err / scale) if scale > 0 else 0.0), n_deg


def resolve_form(form, fs, basis, backend=None):
    """The intraband form a run uses for ``disorder.intraband_form`` = ``form``.

    'matrix': always the matrix distribution; 'equal_occupation': the paper's form (the scalar
    pipeline). 'auto': the matrix form where it can differ from the paper's. It cannot where
    no eigenspace on the Fermi surface is degenerate, nor where every P_s b P_s (b in the
    scalar collision basis) is proportional to P_s on every degenerate eigenspace
    (:func:`traceless_sources` below :data:`TRACELESS_TOL`): the drive e E.v P_s is scalar,
    so the traceless components obey a homogeneous equation with homogeneous boundary
    conditions (diffuse walls re-emit the scalar part, specular walls map traceless to
    traceless) and vanish: F = phi P_s exactly, and the scalar pipeline is the exact and
    cheaper solver (docs/theory.md, "Degenerate eigenspaces"). Kramers doublets of T and I
    symmetric models are such a case.

    Returns
    -------
    used : str
        'matrix' or 'equal_occupation'.
    why : str
        One line for the log.
    """
    if form == "matrix":
        return "matrix", "disorder.intraband_form = 'matrix'"
    if form == "equal_occupation":
        return "equal_occupation", "disorder.intraband_form = 'equal_occupation' (the paper's form)"
    rel, n_deg = traceless_sources(fs, basis, backend)
    if n_deg == 0:
        return "equal_occupation", ("no degenerate eigenspace on the Fermi surface: the scalar "
                                    "form is the matrix form")
    if rel <= TRACELESS_TOL:
        return "equal_occupation", (
            f"traceless part not sourced: P_s M P_s and P_s D P_s are proportional to P_s on all "
            f"{n_deg} degenerate states (traceless part {rel:.1e} relative <= {TRACELESS_TOL:g}) "
            "and the drive is scalar, so F = phi P_s and the paper's form is exact here")
    return "matrix", (f"traceless part sourced on the degenerate eigenspaces ({n_deg} states, "
                      f"P_s b P_s traceless part {rel:.2g} relative): the matrix form")


def _pair_index(r):
    """(r^2, 2) eigen-index pairs (i, j) of the components of :func:`hermitian_basis`(r)."""
    out = [(i, i) for i in range(r)]
    for i in range(r):
        for j in range(i + 1, r):
            out += [(i, j), (i, j)]
    return np.array(out, int).reshape(-1, 2)


class Components:
    """The real components of the intraband matrices of every Fermi-surface state.

    Components are state-major: those of state s are ``offset[s] + arange(rank[s]**2)``.

    Parameters
    ----------
    fs : FermiSurface (or LatticeFermiSurface)

    Attributes
    ----------
    state : (Nc,) state of every component
    t : (Nc,) Tr[G_a]: 1 for diagonal components, 0 otherwise
    pair : (Nc, 2) eigen-indices (i, j) in the relaxation basis of the state
    offset : (Ns + 1,) first component of every state
    classes : dict rank -> dict(states (n,), cols (n, r) member eigen-indices, Q (n, r, r)
        rotation to the relaxation basis, B (n, N, r) relaxation basis, comps (n, r^2))
    G : (Nc, N, N) the operators G_a (original basis)
    """

    def __init__(self, fs):
        es = fs.es
        ns = len(fs.k)
        rank = np.asarray(fs.rank, int)
        mem = es.members(fs.group)
        D = np.einsum("s,sab->ab", fs.w, fs.P)
        nc = rank ** 2
        self.offset = np.concatenate([[0], np.cumsum(nc)])
        self.n = int(self.offset[-1])
        self.state = np.repeat(np.arange(ns), nc)
        self.rank = rank
        N = fs.model.N
        self.G = np.empty((self.n, N, N), complex)
        self.t = np.zeros(self.n)
        self.pair = np.zeros((self.n, 2), int)
        self.classes = {}
        for r in np.unique(rank):
            r = int(r)
            sel = np.nonzero(rank == r)[0]
            cols = np.argsort(~mem[sel], axis=1, kind="stable")[:, :r]
            V = np.take_along_axis(es.U[sel], cols[:, None, :], axis=2)  # (n, N, r)
            comps = self.offset[sel][:, None] + np.arange(r * r)[None, :]
            if r == 1:
                Q = np.ones((len(sel), 1, 1), complex)
                B = V
                self.G[comps[:, 0]] = fs.P[sel]  # exactly the scalar projector
            else:
                Dt = V.conj().swapaxes(-1, -2) @ D @ V
                _, Q = np.linalg.eigh(0.5 * (Dt + Dt.conj().swapaxes(-1, -2)))
                B = V @ Q
                E = hermitian_basis(r)  # (r^2, r, r)
                self.G[comps] = np.einsum("sia,cab,sjb->scij", B, E, B.conj())
            pi = _pair_index(r)
            self.pair[comps] = pi[None, :, :]
            self.t[comps] = (pi[:, 0] == pi[:, 1]).astype(float)[None, :]
            self.classes[r] = {"states": sel, "cols": cols, "Q": Q, "B": B, "comps": comps}

    def of_states(self, states):
        """Component indices (in order) of the states ``states`` (each state's block in turn)."""
        states = np.asarray(states, int)
        n = self.rank[states] ** 2
        start = np.repeat(self.offset[states], n)
        within = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
        return start + within

    def trace_part(self, f):
        """Tr[F(s)] / r_s (..., Ns) of components f (..., Nc): the occupation per state."""
        out = np.zeros(f.shape[:-1] + (len(self.rank),))
        np.add.at(out.T, self.state, (f * self.t).T)
        return out / self.rank


class MatrixCollision:
    """Low-rank collision operator of the matrix distribution (attributes as :class:`Collision`).

    Parameters
    ----------
    fs : FermiSurface
    n_i_v0_sq : float
        Disorder strength n_i v0^2 in eV^2 nm^d.

    Attributes
    ----------
    comp : Components
    gamma : float, 2 pi n_i v0^2 / hbar (eV nm^d / fs)
    c : (Nc, r) Tr[G_a Lambda] on the compressed basis
    basis : (r, N, N) compressed Hermitian basis
    d : (r,) moments of D = sum_s w_s P_s
    t : (r,) Tr[basis]
    w : (Nc,) DOS weight of each component's state
    inv_tau : (Nc,) relaxation rate of every component, Gamma (d_i + d_j)/2 (1/fs)
    """

    def __init__(self, fs, n_i_v0_sq, svd_tol=1e-12):
        self.n_i_v0_sq = float(n_i_v0_sq)
        self.gamma = 2 * np.pi * self.n_i_v0_sq / HBAR
        cached = getattr(fs, "_matrix_components", None)
        if cached is not None and cached[0] is fs.P and cached[1] == svd_tol:
            self.comp, r, self.c, self.basis = cached[2:]
        else:
            self.comp = comp = Components(fs)
            lam = hermitian_basis(fs.model.N)
            N2 = lam.shape[0]
            G2 = comp.G.reshape(comp.n, N2)
            L2 = lam.swapaxes(-1, -2).reshape(N2, N2)
            c_full = G2.real @ L2.real.T - G2.imag @ L2.imag.T
            _, sv, vt = np.linalg.svd(c_full, full_matrices=False)
            r = int(np.sum(sv > svd_tol * sv[0]))
            V = vt[:r].T
            self.c = c_full @ V
            self.basis = (V.T @ lam.reshape(N2, N2)).reshape(-1, *lam.shape[1:])
            try:
                fs._matrix_components = (fs.P, svd_tol, comp, r, self.c, self.basis)
            except AttributeError:
                pass
        comp = self.comp
        self.t = np.real(np.einsum("raa->r", self.basis))
        self.w = fs.w[comp.state]
        self.trace = comp.t
        self.d = (self.w * comp.t) @ self.c
        # Tr[G_a D] on the diagonal components: the eigenvalues d_i of P D P
        cd = self.c @ self.d
        # the diagonal component (i, i) of a state is its i-th: rate Gamma (d_i + d_j)/2
        first = comp.offset[comp.state]
        di = cd[first + comp.pair[:, 0]]
        dj = cd[first + comp.pair[:, 1]]
        self.inv_tau = self.gamma * (0.5 * (di + dj)) if comp.n else np.zeros(0)
        self.n_moments = r
        log.info("matrix intraband distribution: %d components on %d states (ranks %s), %d "
                 "moments", comp.n, len(comp.rank), sorted(set(comp.rank.tolist())), r)
        if np.any(self.inv_tau <= 0):
            raise ModelError("a Fermi-surface state does not scatter (P_s D P_s has a zero "
                             "eigenvalue): the matrix distribution needs every rate positive")

    def moments(self, f):
        """m (..., r) = sum_a w_a c_a f_a: the moments of M = sum_s w_s F(s)."""
        return f @ (self.w[:, None] * self.c)

    def in_scattering(self, m):
        """Gamma Tr[G_a M] for moments (..., r) -> (..., Nc), in eV/fs."""
        return (m @ self.c.T) * self.gamma

    def apply(self, f):
        """C[F] (..., Nc) in eV/fs: Gamma P M P - (Gamma/2){P D P, F}, component-wise."""
        return self.in_scattering(self.moments(f)) - f * self.inv_tau

    def mean_tau(self):
        """DOS-averaged tau (fs): 1/tau = sum_s w_s Gamma Tr[P_s D] / sum_s r_s w_s (as scalar)."""
        tw = self.trace * self.w
        return float(tw.sum() / np.sum(tw * self.inv_tau))

    def density(self, f):
        """sum_s w_s Tr[F(s)] (...) of components f (..., Nc)."""
        return f @ (self.trace * self.w)


class MatrixBulkBoltzmann:
    """Homogeneous infinite system with the matrix distribution (cf. BulkBoltzmann)."""

    def __init__(self, fs, collision, field):
        self.fs, self.coll = fs, collision
        self.field = np.asarray(field, float)

    def solve(self):
        """f (Nc,) components in eV and the moments m (r,)."""
        co = self.coll
        c, w, tau, g = co.c, co.w, 1.0 / co.inv_tau, co.gamma
        src = _phi_to_eV_source(self.fs, self.field)[co.comp.state] * co.trace
        Kb = (w * tau * g)[None, :] * c.T @ c
        bb = c.T @ (w * tau * src)
        A = np.eye(len(bb)) - Kb
        m, *_ = np.linalg.lstsq(A, bb, rcond=1e-13)
        f = tau * (src + g * (c @ m))
        tw = co.trace * w
        shift = -np.sum(tw * f) / tw.sum()
        f = f + shift * co.trace
        m = m + shift * co.d
        return f, m


def mirror_transfer(model, k_from, k_to, B_from, B_to):
    """Component map of a specular reflection: (n, r^2, r^2) real, f_to = T f_from.

    F_to = U F_from U^+ with U the model's mirror operator from k_from onto its partner k_to
    (``model.mirror_x``, times the Bloch shift when the partner is stored as R k_from + G:
    :func:`slabqkt.mirror.mirror_between`); in the bases B (n, N, r) of the two eigenspaces
    W = B_to^+ U B_from (unitary if U maps the eigenspaces onto each other) and
    T_ab = Re Tr[E_a W E_b W^+].
    """
    from .mirror import mirror_between
    U = np.asarray(mirror_between(model, k_from, k_to), complex)
    W = B_to.conj().swapaxes(-1, -2) @ U @ B_from
    r = W.shape[-1]
    dev = np.abs(W @ W.conj().swapaxes(-1, -2) - np.eye(r)).max() if len(W) else 0.0
    if dev > 1e-6:
        raise ModelError(f"the mirror operator of model '{type(model).__name__}' (mirror_x) does "
                         f"not map a degenerate eigenspace at k onto the one at (-k_x, k_perp) "
                         f"(|W W^+ - 1| = {dev:.2g}): the model's mirror_x is not a symmetry")
    E = hermitian_basis(r)
    WE = np.einsum("sij,bjk,slk->sbil", W, E, W.conj())  # W E_b W^+
    return np.real(np.einsum("aji,sbij->sab", E, WE))


class MatrixSlabBoltzmann(SlabBoltzmann):
    """The discrete slab problem of the matrix distribution: the unknowns of
    :class:`SlabBoltzmann`, the sweep over components (r_s^2 per state).

    The local components are [those of the v_x > 0 states | those of their partners Rs],
    aligned. ``states`` holds their (global) component indices, ``pair_states`` the states.

    Parameters
    ----------
    fs, collision (MatrixCollision), grid, p_left, p_right, field, pairs, allreduce
        As :class:`SlabBoltzmann`.
    model : Model
        Provides ``mirror_x`` when a degenerate state meets a wall with p > 0.
    form : str
        The case's ``disorder.intraband_form`` ('matrix' or 'auto'), for the error message.
    """

    def __init__(self, fs, collision, grid, p_left, p_right, field, pairs=None, allreduce=None,
                 model=None, form="matrix"):
        self.form = form
        self.fs, self.coll, self.grid = fs, collision, grid
        self.allreduce = allreduce or (lambda a: a)
        self.field = np.asarray(field, float)
        comp = collision.comp
        plus_all = np.nonzero(fs.v[:, 0] > 0)[0]
        self.plus_all = plus_all
        plus = plus_all if pairs is None else np.asarray(pairs, int)
        minus = fs.mirror[plus]
        if np.any(comp.rank[plus] != comp.rank[minus]):
            raise ModelError("a Fermi-surface state and its mirror partner have eigenspaces of "
                             "different rank: the band structure lacks the mirror symmetry")
        self.pair_states = np.concatenate([plus, minus])
        cp, cm = comp.of_states(plus), comp.of_states(minus)
        self.states = np.concatenate([cp, cm])
        self.np = len(cp)
        st = self.states
        self.r = comp.t[st]  # density weight Tr[G_a]
        self.w = collision.w[st]
        self.c = collision.c[st]
        self.tau = 1.0 / collision.inv_tau[st]
        self.vx = fs.v[comp.state[st], 0]
        self.src = _phi_to_eV_source(fs, self.field)[comp.state[st]] * self.r
        self.gain = np.full(len(st), collision.gamma)
        pl_state, pr_state = p_left[plus], p_right[minus]
        self.pL = pl_state[np.repeat(np.arange(len(plus)), comp.rank[plus] ** 2)]
        self.pR = pr_state[np.repeat(np.arange(len(plus)), comp.rank[plus] ** 2)]
        self._characteristics(grid)
        # the cell balance of component a weighs w_a Tr[G_a D] tau_a = w_a t_a / Gamma
        self.exact_w = self.w * self.r / collision.gamma
        self.n_moments = collision.n_moments
        self.n_unknowns = grid.n_nodes * self.n_moments + 2
        self._closure(fs, model, plus, minus, p_left, p_right)

    def _closure(self, fs, model, plus, minus, p_left, p_right):
        """Per-pair matrices of the closed specular loop s -> Rs -> s (batched per rank)."""
        comp = self.coll.comp
        # the mirror operator is needed (on every rank alike) where a degenerate state meets
        # a wall that reflects specularly
        allplus = self.plus_all
        degenerate = comp.rank[allplus] > 1
        spec = (p_left[allplus] > 0) | (p_right[fs.mirror[allplus]] > 0)
        need = bool(np.any(degenerate & spec))
        if need:
            try:
                if getattr(model, "mirror_x", None) is None:
                    raise ModelError(f"the model '{type(model).__name__}' provides no mirror "
                                     "operator (mirror_x)")
                model.mirror_x(fs.k[:1])  # every rank alike: the same error everywhere
            except ModelError as exc:
                raise CaseError("disorder.intraband_form", self.form,
                                f"a degenerate eigenspace meets a specular wall and needs the "
                                f"model's mirror operator: {exc}; allowed: 'equal_occupation' "
                                "(the paper's form), or diffuse walls (specularity 0)") from None
        start = np.concatenate([[0], np.cumsum(comp.rank[plus] ** 2)])[:-1]
        self._blocks = []
        np_ = self.np
        tP, tM = self.r[:np_], self.r[np_:]
        for r in np.unique(comp.rank[plus]) if len(plus) else []:
            r = int(r)
            j = np.nonzero(comp.rank[plus] == r)[0]  # local pairs of this rank
            idx = start[j][:, None] + np.arange(r * r)[None, :]  # (n, r^2) into [0, np_)
            pL, pR = self.pL[idx[:, 0]], self.pR[idx[:, 0]]
            n = len(j)
            eye = np.broadcast_to(np.eye(r * r), (n, r * r, r * r))
            if r == 1 or not need:
                TL = TR = eye
            else:
                cls = comp.classes[r]
                where = np.full(len(comp.rank), -1)
                where[cls["states"]] = np.arange(len(cls["states"]))
                Bs, Bm = cls["B"][where[plus[j]]], cls["B"][where[minus[j]]]
                kp, km = fs.k[plus[j]], fs.k[minus[j]]
                TR = mirror_transfer(model, kp, km, Bs, Bm)  # s -> Rs at x = d
                TL = mirror_transfer(model, km, kp, Bm, Bs)  # Rs -> s at x = 0
            ap, am = self.a_plus[idx], self.a_minus[idx]
            tp, tm = tP[idx], tM[idx]
            TLAm = TL * am[:, None, :]
            TRAp = TR * ap[:, None, :]
            loop = eye - (pL * pR)[:, None, None] * (TLAm @ TRAp)
            Ginv = np.linalg.inv(loop)
            K_bp = Ginv @ ((pL * pR)[:, None, None] * (TLAm @ TR))
            K_bm = Ginv @ (pL[:, None, None] * TL)
            v_R = np.einsum("sab,sb->sa", Ginv, (pL * (1 - pR))[:, None]
                            * np.einsum("sab,sb->sa", TLAm, tm))
            v_L = np.einsum("sab,sb->sa", Ginv, (1 - pL)[:, None] * tp)
            self._blocks.append((idx, K_bp, K_bm, v_R, v_L, TR, pR, tm))

    def inflow(self, bp, bm, PhiL, PhiR):
        """F(0, s) and F(d, Rs) (components) from the free far-wall values bp, bm."""
        inL = np.empty_like(bp)
        inR = np.empty_like(bp)
        for idx, K_bp, K_bm, v_R, v_L, TR, pR, tm in self._blocks:
            bpi, bmi = bp[idx], bm[idx]
            L = (np.einsum("sab,sb->sa", K_bp, bpi) + np.einsum("sab,sb->sa", K_bm, bmi)
                 + PhiR * v_R + PhiL * v_L)
            inL[idx] = L
            out = self.a_plus[idx] * L + bpi
            inR[idx] = (pR[:, None] * np.einsum("sab,sb->sa", TR, out)
                        + ((1 - pR) * PhiR)[:, None] * tm)
        return inL, inR

    def solution(self, u):
        """Components f, df/dx (local) and moments m, neutral (sum_s w_s int Tr[F] = 0)."""
        f = self.sweep(u, with_field=True)
        rw = self.r * self.w
        q = self.grid.quad
        tot = self.allreduce(np.array([q @ (f @ rw), rw.sum()]))
        shift = -tot[0] / (tot[1] * self.grid.thickness)
        f = f + shift * self.r[None, :]
        m = self.split(u)[0] + shift * self.coll.d[None, :]
        S = self.source(m, with_field=True)
        df = (S - f / self.tau[None, :]) / self.vx[None, :]
        return f, df, m


class ComponentWeights:
    """Per-component weights of the intra, gradient and disorder parts of one observable.

    The matrix generalisation of :class:`slabqkt.observables.StateWeights`: with F = sum_a f_a
    G_a, the intra part is sum_s w_s Tr[F O] (weight Tr[G_a O]), the gradient part
    -sum_s w_s Tr[dF/dx sum_m A^x_nm O] and the phi part of the disorder term -Gamma'
    sum_s w_s sum_m Im Tr[F D P_m O]/(eps_n - eps_m) (the F of state s in place of phi P_s);
    for F = phi P_s they are the scalar weights. Arrays have length Nc (0 off ``comps``).
    """

    def __init__(self, obs, fs, comp, coll, gap_tol, comps, allreduce=None, cache=None):
        es = fs.es
        c = {} if cache is None else cache
        comps = np.asarray(comps, int)
        states = np.unique(comp.state[comps])
        if "U" not in c:
            U = es.U[states]
            Uh = U.conj().swapaxes(-1, -2)
            G = es.interband_weights(fs.group, gap_tol)[states]
            D = np.einsum("s,sab->ab", fs.w, fs.P)
            c.update(U=U, Uh=Uh, dho=U[:, None] @ es.dh[states] @ Uh[:, None], G=G,
                     Dt=Uh @ D @ U)
        U, Uh, G = c["U"], c["Uh"], c["G"]
        Om = obs.matrix(fs.model, fs.k[states], c["dho"])
        Ot = Uh @ Om @ U
        X = 1j * (G * es.dh[states, 0]) @ Ot  # (Sum_m A^x_nm O) rows i in n
        Z = (-G * c["Dt"]) @ Ot               # (Sum_m D P_m O / (eps_n - eps_m)) rows in n
        nc = comp.n
        self.intra, self.grad, self.dis_phi = np.zeros(nc), np.zeros(nc), np.zeros(nc)
        pos = np.full(len(comp.rank), -1)
        pos[states] = np.arange(len(states))
        want = np.zeros(nc, bool)
        want[comps] = True
        for r, cls in comp.classes.items():
            sel = np.nonzero(np.isin(cls["states"], states))[0]
            if not len(sel):
                continue
            s_loc = pos[cls["states"][sel]]
            cols = cls["cols"][sel]
            Q = cls["Q"][sel]
            Qh = Q.conj().swapaxes(-1, -2)

            def block(A):
                Ab = np.take_along_axis(np.take_along_axis(A[s_loc], cols[:, :, None], 1),
                                        cols[:, None, :], 2)
                return Qh @ Ab @ Q  # relaxation basis

            E = hermitian_basis(r)
            # Tr[E_a Y] for every component a
            tr = lambda Y: np.einsum("aji,sij->sa", E, Y)  # noqa: E731
            cidx = cls["comps"][sel]
            keep = want[cidx]
            self.intra[cidx[keep]] = np.real(tr(block(Ot)))[keep]
            self.grad[cidx[keep]] = np.real(tr(block(X)))[keep]
            self.dis_phi[cidx[keep]] = np.imag(tr(block(Z)))[keep]
        # the moment part: sum_s w_s Y_s as in StateWeights (independent of F)
        Y = U @ (-G.swapaxes(-1, -2) * Ot) @ Uh
        own = np.zeros(len(states), bool)
        # the moment weight is summed once per state: states whose first component is here
        first = comp.offset[states]
        own[:] = want[first]
        Ysum = np.einsum("s,sab->ab", fs.w[states] * own, Y)
        if allreduce is not None:
            Ysum = allreduce(Ysum)
        self.dis_m = np.imag(np.einsum("rab,ba->r", coll.basis, Ysum))
        self.unit = obs.unit
