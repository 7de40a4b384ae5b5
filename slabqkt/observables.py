"""Observables as objects, and the four parts of their densities, Eq. (1).

For an N x N Hermitian operator O(k) (spin, orbital, velocity, density,
spin/orbital currents or a user matrix) the linear-response density
o(x) = int d^dk/(2 pi)^d Tr[rho^(1) O] splits as (T = 0, docs/theory.md)

    intra      sum_s w_s phi(x,s) Tr[P(s) O]
    intrinsic  -e sum_{n!=m} int_k (f_n - f_m)/(eps_n - eps_m) E.Tr[A_nm O]  (Fermi sea, uniform)
    gradient   -sum_s w_s dphi/dx(x,s) sum_{m!=n(s)} Re Tr[A^x_{n(s)m} O]
    disorder   sum_s w_s sum_{m!=n(s)} 2 pi n_i v0^2/(eps_n - eps_m)
               Im Tr[P_n (M(x) - phi(x,s) D) P_m O],
               M(x) = sum_s w_s P(s) phi(x,s),  D = sum_s w_s P(s).

Every sum over eigenspace pairs is evaluated in an eigenbasis as a sum over
eigenvector pairs of different eigenspaces, which is gauge invariant.
Each part reduces to per-state weights computed once, so a profile is a
matrix-vector product with the slab solution.
"""
import re

import numpy as np

from .band_geometry import Eigensystem
from .errors import CaseError
from .tools.progress import Progress
from .tools import get_logger
from .units import E_CHARGE, HBAR

log = get_logger("observables")


class Observable:
    """A single-particle operator O(k).

    Parameters
    ----------
    name : str
    unit : str
        Unit of O; the density has unit ``unit`` nm^-d.
    matrix : callable
        ``matrix(model, k, dh)`` -> (M, N, N) in the model basis; ``dh`` is
        (M, d, N, N), dh/dk in eV nm.
    """

    def __init__(self, name, unit, matrix):
        self.name, self.unit, self._matrix = name, unit, matrix

    def matrix(self, model, k, dh):
        return self._matrix(model, k, dh)

    def __repr__(self):
        return f"Observable({self.name!r}, unit={self.unit!r})"


_AX = {"x": 0, "y": 1, "z": 2}


def _const(M):
    M = np.asarray(M, complex)
    return lambda model, k, dh: np.broadcast_to(M, (len(k),) + M.shape)


def _velocity(j):
    def f(model, k, dh):
        if j >= model.dimension:
            return np.zeros((len(k), model.N, model.N), complex)
        return dh[:, j] / HBAR
    return f


def _anticomm(A, vel):
    def f(model, k, dh):
        v = vel(model, k, dh)
        return 0.5 * (A @ v + v @ A)
    return f


#: built-in observable names (docs/observables.md); a custom name may not be one of them
BUILTIN = re.compile(r"density|current_[xyz]|(spin|orbital)_[xyz]|(spin|orbital)_current_[xyz][xyz]")

#: largest |entry| of a custom matrix: products of entries with weights stay finite
CUSTOM_MAX_ENTRY = 1e100


def is_builtin(name):
    """True if ``name`` is a built-in observable name (whatever the model)."""
    return isinstance(name, str) and BUILTIN.fullmatch(name) is not None


def check_name(key, name):
    """An observable name must be a valid HDF5 group name: non-empty, printable, at most 64
    characters, no '/' and no '.' (the result file stores one group per observable)."""
    if (not isinstance(name, str) or not name or len(name) > 64 or not name.isprintable()
            or "/" in name or "." in name or name != name.strip()):
        raise CaseError(key, name, "allowed: an observable name: a non-empty printable string of "
                        "at most 64 characters without '/', '.' or leading/trailing spaces")
    return name


def _matrix_of(key, part, value, N):
    """A list of N lists of N finite real numbers -> (N, N) float array (no broadcasting)."""
    want = f"allowed: {part} = a {N} x {N} list of lists of finite real numbers (N = {N}, the " \
           "model's number of bands; |entries| <= 1e100)" if N else \
           f"allowed: {part} = a square list of lists of finite real numbers (|entries| <= 1e100)"
    rows = value
    if not isinstance(rows, (list, tuple)) or not rows or not all(isinstance(r, (list, tuple)) for r in rows):
        raise CaseError(f"{key}.{part}", value, want)
    n = N or len(rows)
    if len(rows) != n or any(len(r) != n for r in rows):
        shape = f"{len(rows)} x " + "/".join(sorted({str(len(r)) for r in rows}))
        raise CaseError(f"{key}.{part}", value, want + f"; got {shape}")
    for r in rows:
        for v in r:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) \
                    or abs(v) > CUSTOM_MAX_ENTRY:
                raise CaseError(f"{key}.{part}", value, want)
    return np.array(rows, float)


def validate_custom(name, spec, N=None):
    """Check one ``[observables.custom]`` entry; returns (matrix (N, N) complex, unit).

    ``spec`` must be a table with the keys ``real`` and/or ``imag`` (each an N x N list of
    lists of finite real numbers, no broadcasting) and optionally ``unit`` (a string); no other
    keys. The matrix real + i imag must be Hermitian. ``name`` must be a valid observable name
    that is not a built-in one. ``N=None`` checks everything but the size.
    """
    key = f"observables.custom.{name}"
    check_name("observables.custom", name)
    if is_builtin(name):
        raise CaseError("observables.custom", name, "allowed: a name that is not a built-in "
                        "observable (density, current_i, spin_i, orbital_i, spin_current_ij, "
                        "orbital_current_ij): rename it")
    form = "{real = [[..]], imag = [[..]], unit = '...'} (real and/or imag; unit optional)"
    if not isinstance(spec, dict):
        raise CaseError(key, spec, "allowed: a table " + form)
    extra = sorted(set(spec) - {"real", "imag", "unit"})
    if extra:
        raise CaseError(key, spec, f"unknown key(s) {', '.join(map(repr, extra))}; allowed: " + form)
    if "real" not in spec and "imag" not in spec:
        raise CaseError(key, spec, "allowed: a table " + form + " with at least real or imag")
    unit = spec.get("unit", "1")
    if not isinstance(unit, str) or not unit.isprintable():
        raise CaseError(f"{key}.unit", unit, "allowed: a printable string (the operator's unit)")
    parts = {p: _matrix_of(key, p, spec[p], N) for p in ("real", "imag") if p in spec}
    if N is None and len(parts) == 2 and parts["real"].shape != parts["imag"].shape:
        raise CaseError(f"{key}.imag", spec["imag"], f"allowed: the shape of real "
                        f"({parts['real'].shape[0]} x {parts['real'].shape[0]})")
    n = next(iter(parts.values())).shape[0]
    M = parts.get("real", np.zeros((n, n))) + 1j * parts.get("imag", np.zeros((n, n)))
    scale = max(1.0, float(np.abs(M).max()))
    if not np.allclose(M, M.conj().T, rtol=0, atol=1e-12 * scale):
        raise CaseError(key, spec, "allowed: a Hermitian matrix (real symmetric, imag "
                        "antisymmetric)")
    return M, unit


def make_observable(name, model, custom=None):
    """Build an observable from its case name (see docs/observables.md)."""
    custom = custom or {}
    N = model.N
    if name in custom:
        M, unit = validate_custom(name, custom[name], N)
        if hasattr(model, "rotate"):
            M = model.rotate(M)
        return Observable(name, unit, _const(M))
    if name == "density":
        return Observable(name, "1", _const(np.eye(N)))
    m = re.fullmatch(r"current_([xyz])", name)
    if m:
        vel = _velocity(_AX[m.group(1)])
        return Observable(name, "|e| nm/fs", lambda mo, k, dh: E_CHARGE * vel(mo, k, dh))
    m = re.fullmatch(r"(spin|orbital)_([xyz])", name)
    if m:
        ops, unit = _ops(model, m.group(1), name)
        return Observable(name, unit, _const(ops[_AX[m.group(2)]]))
    m = re.fullmatch(r"(spin|orbital)_current_([xyz])([xyz])", name)
    if m:
        ops, unit = _ops(model, m.group(1), name)
        A = ops[_AX[m.group(2)]]
        if m.group(1) == "spin":  # (hbar/4){sigma_i, v_j} = {s_i, v_j}/2, s = hbar sigma/2
            A, unit = 0.5 * A, "hbar nm/fs"
        else:
            unit = "hbar nm/fs"
        return Observable(name, unit, _anticomm(A, _velocity(_AX[m.group(3)])))
    raise CaseError("observables.names", name,
                    "unknown observable; allowed: density, current_x/y/z, spin_x/y/z, "
                    "orbital_x/y/z, spin_current_ij, orbital_current_ij, or a custom name")


def _ops(model, kind, name):
    if kind == "spin":
        ops = model.spin_operators()
        unit = "hbar/2"
    else:
        ops = model.orbital_operators()
        unit = "hbar"
    if ops is None:
        raise CaseError("observables.names", name,
                        f"the model '{type(model).__name__}' has no {kind} operators")
    return ops, unit


def _dh_orig(es):
    U = es.U
    return U[:, None] @ es.dh @ U.conj().swapaxes(-1, -2)[:, None]


class StateWeights:
    """Per-state weights of the intra, gradient and disorder parts of one observable.

    With ``states`` (the states this MPI rank sweeps) the per-state weights are
    computed there only (0 elsewhere) and the moment weights are summed over
    the ranks by ``allreduce``.

    Attributes
    ----------
    intra : (Ns,) Tr[P O]
    grad : (Ns,) sum_m Re Tr[A^x_nm O] (nm)
    dis_phi : (Ns,) Im Tr[D Q_s] (1/(eV nm^d))
    dis_m : (r,) sum_s w_s Im Tr[Lambda Q_s] (1/(eV nm^d))
    """

    def __init__(self, obs, fs, coll, gap_tol, states=None, allreduce=None, cache=None):
        es = fs.es
        ns = len(fs.k)
        st = np.arange(ns) if states is None else np.asarray(states, int)
        # the observable-independent per-state arrays, shared by the observables of a set
        # through ``cache`` (same fs, states and gap_tol): computed once, not once per observable
        c = {} if cache is None else cache
        if "U" not in c:
            U = es.U[st]
            Uh = U.conj().swapaxes(-1, -2)
            # every rank checks the gaps of all states (cheap, elementwise): the same error
            # everywhere
            G = es.interband_weights(fs.group, gap_tol)[st]  # (Ns_loc, N, N): 1/(eps_j - eps_i)
            D = np.einsum("s,sab->ab", fs.w, fs.P)
            c.update(U=U, Uh=Uh, dho=U[:, None] @ es.dh[st] @ Uh[:, None],
                     mem=es.members(fs.group)[st], G=G, Dt=Uh @ D @ U)
        U, Uh, mem, G = c["U"], c["Uh"], c["mem"], c["G"]
        Om = obs.matrix(fs.model, fs.k[st], c["dho"])
        Ot = Uh @ Om @ U
        self.intra, self.grad, self.dis_phi = np.zeros(ns), np.zeros(ns), np.zeros(ns)
        self.intra[st] = np.real(np.einsum("sii,si->s", Ot, mem))
        # Tr[A^x_nm O] summed over m != n:  i sum_ij G_ij dh^x_ij O_ji
        self.grad[st] = np.real(1j * np.einsum("sij,sij,sji->s", G, es.dh[st, 0], Ot))
        Dt = c["Dt"]
        # Im Tr[X Q_s] = Im sum_ij (-G_ij) X_ij O_ji = Im Tr[X Y_s], Y_s = U (-G^T o O~) U^+
        self.dis_phi[st] = np.imag(np.einsum("sij,sij,sji->s", -G, Dt, Ot))
        # the moment part needs only sum_s w_s Y_s (N x N): never an (Ns, r, N, N) array
        Y = U @ (-G.swapaxes(-1, -2) * Ot) @ Uh
        Ysum = np.einsum("s,sab->ab", fs.w[st], Y)
        if allreduce is not None:
            Ysum = allreduce(Ysum)
        self.dis_m = np.imag(np.einsum("rab,ba->r", coll.basis, Ysum))
        self.unit = obs.unit


def intrinsic(obs, model, fs, field, n_radial=64):
    """Fermi-sea intrinsic part (uniform) of one observable; see :func:`intrinsic_all`."""
    return float(intrinsic_all([obs], model, fs, field, n_radial)[0])


def intrinsic_all(observables, model, fs, field, n_radial=64):
    """Fermi-sea intrinsic parts (uniform), unit of O times nm^-d, at T = 0.

    Radial Gauss-Legendre quadrature on the Fermi-surface rays, piecewise
    between the crossing radii of all bands (the integrand is smooth inside
    each piece), times the ray solid-angle weights. Points where every
    eigenvalue has the same occupation contribute exactly 0 and are skipped;
    the eigensystem of each chunk of points serves every observable.

    Returns
    -------
    ndarray (n_obs,)
    """
    d = model.dimension
    radii = fs.radii  # (N, Nr)
    nr = radii.shape[1]
    br = np.sort(np.concatenate([np.zeros((1, nr)), radii]), axis=0)  # (N+1, Nr)
    x, wx = np.polynomial.legendre.leggauss(n_radial)
    a, b = br[:-1], br[1:]  # (N, Nr) intervals (possibly empty)
    kr = 0.5 * (a[..., None] + b[..., None]) + 0.5 * (b - a)[..., None] * x  # (N, Nr, n)
    wk = 0.5 * (b - a)[..., None] * wx * kr ** (d - 1) * fs.ray_dw[None, :, None] / (2 * np.pi) ** d
    ray = np.broadcast_to(np.arange(nr)[None, :, None], kr.shape).ravel()
    # occupation of eigenvalue i: k below its crossing radius on this ray
    occ_all = kr.ravel()[:, None] < radii[:, ray].T  # (P, N)
    keep = (wk.ravel() != 0) & occ_all.any(axis=1) & ~occ_all.all(axis=1)
    kk = (kr[..., None] * fs.ray_dirs[None, :, None, :]).reshape(-1, d)[keep]
    wk = wk.ravel()[keep]
    occ_all = occ_all[keep].astype(float)
    return fermi_sea_sum(observables, model, kk, wk, occ_all, field, fs.tol)


def fermi_sea_sum(observables, model, k, wk, occ, field, tol, chunk=20000, bound=None):
    """Sum over k points of the intrinsic (Fermi-sea) integrand of Eq. (1).

    o_I = -e sum_{n != m} int_k (f_n - f_m)/(eps_n - eps_m) E.Tr[A_nm O]
    evaluated as sum_k wk[k] (...) with eigenvector-pair sums over different
    eigenspaces (gauge invariant).

    Parameters
    ----------
    k : (P, d) nm^-1
    wk : (P,) quadrature weights including 1/(2 pi)^d, nm^-d
    occ : (P, N) array or callable
        Occupations of the ascending eigenvalues, or ``occ(eps) -> (p, N)``
        called with the eigenvalues (eV) of each chunk.
    tol : float
        Degeneracy tolerance (eV).
    bound : ndarray (n_obs,), optional
        If given, sum_k wk |e| sum_ij |(fac E.dh)_ij| max_ij |O_ij| is added to it in place:
        a bound of the sum of |integrand| that no cancellation (symmetry) makes small, the
        scale of the sum's rounding errors.

    Returns
    -------
    ndarray (n_obs,), unit of O times nm^-d.
    """
    total = np.zeros(len(observables))
    if len(k) == 0:
        return total
    E = np.asarray(field, float)[:model.dimension]
    progress = Progress(len(k), "Fermi-sea points (intrinsic part)", delay=2.0)
    for sl in _chunks(len(k), chunk):
        progress.update(sl.stop - sl.start)
        es = Eigensystem(model, k[sl], tol)
        dho = _dh_orig(es)
        oc = occ(es.eps) if callable(occ) else occ[sl]
        same = es.label[:, :, None] == es.label[:, None, :]
        de = es.eps[:, :, None] - es.eps[:, None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            fac = np.where(same, 0.0, (oc[:, :, None] - oc[:, None, :]) / np.where(same, 1.0, de) ** 2)
        facEdh = fac * np.einsum("j,sjab->sab", E, es.dh)
        if bound is not None:
            size = wk[sl] * np.abs(facEdh).sum(axis=(-2, -1))
        for i, obs in enumerate(observables):
            Om = obs.matrix(model, k[sl], dho)
            Ot = es.U.conj().swapaxes(-1, -2) @ Om @ es.U
            val = np.real(1j * np.einsum("sij,sji->s", facEdh, Ot))
            total[i] += E_CHARGE * np.sum(wk[sl] * val)
            if bound is not None:
                bound[i] += abs(E_CHARGE) * np.sum(size * np.abs(Ot).max(axis=(-2, -1)))
    return total


def _chunks(n, size):
    for i in range(0, n, size):
        yield slice(i, min(n, i + size))


PARTS = ("intra", "intrinsic", "gradient", "disorder", "total")


class ObservableSet:
    """The observables of a case with their state weights on a Fermi surface.

    ``profiles(phi, dphi, m, states)`` returns, for every observable, the
    four parts and the total as arrays over x (local partial sums; the
    caller reduces over ranks before adding the uniform intrinsic part).
    """

    def __init__(self, observables, model, fs, coll, field, n_radial=64, gap_tol=None, sea=None,
                 states=None, allreduce=None):
        self.observables = observables
        self.fs, self.coll = fs, coll
        gap_tol = gap_tol if gap_tol is not None else 10 * fs.tol
        #: the states whose weights this rank holds (None: all); with the matrix intraband
        #: distribution (a MatrixCollision), its components (slabqkt.distribution)
        self.states = states
        cache = {}
        comp = getattr(coll, "comp", None)
        if comp is None:
            self.unit_w = fs.w
            self.weights = [StateWeights(o, fs, coll, gap_tol, states, allreduce, cache)
                            for o in observables]
        else:
            from .distribution import ComponentWeights
            self.unit_w = coll.w
            comps = np.arange(comp.n) if states is None else states
            self.weights = [ComponentWeights(o, fs, comp, coll, gap_tol, comps, allreduce, cache)
                            for o in observables]
        del cache
        #: two-grid error estimate of each intrinsic part (lattice models), else None
        self.intrinsic_error = None
        if sea is None:
            self.intrinsic = intrinsic_all(observables, model, fs, field, n_radial)
        else:
            from .lattice.fermi_sea import intrinsic_lattice
            #: sum of |integrand| of each intrinsic part (no cancellation): rounding scale
            self.intrinsic_bound = np.zeros(len(observables))
            self.intrinsic, self.intrinsic_error = intrinsic_lattice(
                observables, model, fs.energy, field, sea["grid"], fs.tol, sea["refine"],
                sea.get("partition"), sea.get("allreduce"), bound=self.intrinsic_bound)
            self._check_sea(sea)
        self.gamma_prime = 2 * np.pi * coll.n_i_v0_sq
        self.min_gap = min((fs.es.min_interband_gap(fs.group),), default=np.inf)

    def _check_sea(self, sea):
        """WARN where the error estimate exceeds sea['tolerance'] of the intrinsic part.

        An intrinsic part that vanishes by symmetry is compared with the estimate itself
        relative to the largest intrinsic part of an observable with the same unit, and
        never below 1e-8 of the sum of |integrand| (intrinsic_bound): values and estimates
        under it are rounding errors (all the observables of a unit may vanish by symmetry,
        e.g. every spin density of a T and I symmetric crystal).
        """
        by_unit = {}
        for o, v in zip(self.observables, self.intrinsic):
            by_unit[o.unit] = max(by_unit.get(o.unit, 0.0), abs(v))
        for o, v, e, b in zip(self.observables, self.intrinsic, self.intrinsic_error,
                              self.intrinsic_bound):
            scale = max(abs(v), 1e-3 * by_unit[o.unit], 1e-8 * b)
            if scale > 0 and e > sea["tolerance"] * scale:
                log.warning("intrinsic part of %s: %.4g with a two-grid error estimate of %.2g "
                            "(%.2g relative, above fermi_surface.sea_tolerance = %g): raise "
                            "fermi_surface.sea_grid (now %d) or sea_refine", o.name, v, e,
                            e / scale, sea["tolerance"], sea["grid"])

    @property
    def names(self):
        return [o.name for o in self.observables]

    def local_parts(self, phi, dphi, m, states):
        """Stack (n_obs, 3, ...) of intra, gradient, disorder-phi partial sums over ``states``
        (components of the matrix distribution: ``phi`` holds them)."""
        w = self.unit_w[states]
        W = np.array([[wt.intra[states] * w, -wt.grad[states] * w,
                       -self.gamma_prime * wt.dis_phi[states] * w] for wt in self.weights])
        # phi (..., Ns_loc) @ W.T -> (..., n_obs, 3)
        phi_part = np.einsum("...s,os->...o", phi, W[:, 0])
        grad_part = np.einsum("...s,os->...o", dphi, W[:, 1])
        dis_part = np.einsum("...s,os->...o", phi, W[:, 2])
        return np.stack([phi_part, grad_part, dis_part], axis=-1)

    def gradient_primitives(self, phi, states):
        """G (..., n_obs) = sum_s w_s grad_s phi(x, s): the gradient part is -dG/dx.

        The discrete phi solves the kinetic equation exactly inside every
        cell, so the gradient part integrates over a cell [x_j, x_{j+1}] to
        exactly -(G_{j+1} - G_j) (unit of O times nm^(1-d)), however thin
        the boundary layers of grazing states (where the nodal gradient part
        has its integrable log singularity and the trapezoid rule fails).
        Local partial sums over ``states``: reduce over ranks.
        """
        w = self.unit_w[states]
        W = np.array([wt.grad[states] * w for wt in self.weights])
        return np.einsum("...s,os->...o", phi, W)

    def finish(self, reduced, m):
        """Add the moment part of the disorder term and the intrinsic part.

        Returns dict name -> dict part -> array (x) or scalar.
        """
        out = {}
        for i, (o, wt) in enumerate(zip(self.observables, self.weights)):
            intra = reduced[..., i, 0]
            grad = reduced[..., i, 1]
            dis = reduced[..., i, 2] + self.gamma_prime * (m @ wt.dis_m)
            intr = np.full_like(intra, self.intrinsic[i]) if np.ndim(intra) else self.intrinsic[i]
            out[o.name] = {"intra": intra, "intrinsic": intr, "gradient": grad,
                           "disorder": dis, "total": intra + intr + grad + dis}
        return out
