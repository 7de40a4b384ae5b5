"""The specular mirror operator of a model's internal space (docs/models.md, "Mirror operator").

A specular wall at x = const maps the Bloch state at k onto the one at

    R k = (-k_x, k_y, k_z)          (2D: (-k_x, k_y)),

x the film normal. When the model is symmetric under the mirror x -> -x of
the film frame, there is a unitary U(k) (N x N) with

    h(R k) = U(k) h(k) U(k)^dagger,

so U(k) maps every eigenspace at k onto the eigenspace of the same energy at
R k: the operator that carries a matrix-valued distribution of a degenerate
eigenspace through a specular reflection. U acts on the internal labels as
the mirror does: on a real orbital of angular momentum l by the real-harmonic
representation of the improper rotation M = diag(-1, 1, 1) (p_x odd, p_y,
p_z even, ...), on spin as on a pseudovector (a mirror is the inversion times
the two-fold rotation about its normal, and spin sees only the rotation:
U_spin = -i n.sigma, which keeps S_x and flips S_y, S_z), on sites by the
permutation that the mirror induces, with a Bloch phase when the positions
in the phase convention are not the sites (lattice models).

Every :class:`slabqkt.models.Model` has ``mirror_x(k)``: the model's own
operator (``mirror_operator``), checked once, on first use, against the
Hamiltonian at random k (:func:`check_mirror`). A model without an operator,
or one that is not mirror symmetric beyond its tolerance
(``model.mirror_tol_eV``, default 1e-8 (1 + the spread of the spectrum at the
test points)), raises a one-line :class:`~slabqkt.errors.ModelError` naming
the model kind and the reason (the caller adds the case key that asked for
the operator).
"""
import numpy as np

from .errors import ModelError

#: Random test points of the first-use check.
N_CHECK = 24
#: Relative tolerance of exact (analytic, Slater-Koster, inline) models.
REL_TOL = 1e-8


def reflect(k):
    """R k: k_x -> -k_x (k (..., d), nm^-1)."""
    k = np.array(k, float)
    k[..., 0] = -k[..., 0]
    return k


def kind_of(model):
    """The ``model.kind`` of a model, for messages."""
    return getattr(model, "kind", None) or type(model).__name__


def no_operator(model, why):
    """The one-line ModelError of a model that cannot provide the mirror operator."""
    return ModelError(f"model.kind = {kind_of(model)!r}: no mirror symmetry operator for the "
                      f"specular wall x -> -x ({why})")


def sample_points(model, n=N_CHECK, seed=0):
    """Random film-frame k (n, d) in nm^-1: three zones wide for lattice models, else |k| < 5 nm^-1.

    Lattice models are sampled beyond the first zone on purpose: h is not
    periodic in the atomic gauge, and U(k) must hold for every k.
    """
    rng = np.random.default_rng(seed)
    d = model.dimension
    zone = getattr(model, "zone", None)
    t = rng.random((n, d)) - 0.5
    if zone is not None:
        return 3.0 * t @ zone.reciprocal
    return 10.0 * t


def deviation(model, k, U=None):
    """||h(R k) - U(k) h(k) U(k)^dagger||_2 (eV) at every k (..., d), and the unitarity error.

    Parameters
    ----------
    model : Model
    k : ndarray (..., d), nm^-1
    U : ndarray (..., N, N), optional
        Default ``model.mirror_operator(k)``.

    Returns
    -------
    dev : ndarray (...)
        Spectral norm of the mismatch (eV): it bounds the eigenvalue mismatch of h(k) and
        h(R k) (Weyl) and the rotation of their eigenspaces.
    unitarity : float
        max ||U U^dagger - 1||_2.
    """
    k = np.asarray(k, float)
    if U is None:
        U = model.mirror_operator(k)
    U = np.broadcast_to(U, k.shape[:-1] + (model.N, model.N))
    Ud = np.conj(np.swapaxes(U, -1, -2))
    diff = model.h(reflect(k)) - U @ model.h(k) @ Ud
    dev = np.linalg.norm(diff, ord=2, axis=(-2, -1))
    unit = np.linalg.norm(U @ Ud - np.eye(model.N), ord=2, axis=(-2, -1))
    return dev, float(unit.max(initial=0.0))


def default_tolerance(model, k):
    """1e-8 (1 + spread of the spectrum at k), eV: rounding, for exact models."""
    e = np.linalg.eigvalsh(model.h(np.asarray(k, float)))
    return REL_TOL * (1.0 + float(e.max() - e.min()))


def check_mirror(model, k=None, tol=None, n=N_CHECK, seed=0):
    """The mirror symmetry of a model's operator: max_k ||h(R k) - U h(k) U^dagger||_2 (eV).

    Parameters
    ----------
    model : Model
        Anything with ``h``, ``N``, ``dimension`` and ``mirror_operator`` (the
        unchecked operator of ``mirror_x``).
    k : ndarray (..., d), optional
        Film-frame wavevectors (nm^-1); default :func:`sample_points`.
    tol : float or 'model', optional
        If given, raise when the deviation exceeds it (eV); ``'model'`` uses
        the model's tolerance (``model.mirror_tol_eV`` or
        :func:`default_tolerance`).
    n, seed : int
        Number and seed of the default random points.

    Returns
    -------
    float
        The largest deviation (eV).

    Raises
    ------
    ModelError
        The model has no operator; U is not unitary; or the deviation exceeds ``tol``.
    """
    if k is None:
        k = sample_points(model, n, seed)
    k = np.asarray(k, float)
    dev, unit = deviation(model, k)
    worst = float(dev.max(initial=0.0))
    if unit > 1e-10:
        raise ModelError(f"model.kind = {kind_of(model)!r}: the mirror operator is not unitary "
                         f"(||U U^+ - 1|| = {unit:.3g})")
    if tol is not None:
        if isinstance(tol, str):
            tol = model_tolerance(model, k)
        if not worst <= tol:
            at = k.reshape(-1, k.shape[-1])[int(np.argmax(dev.ravel()))]
            raise ModelError(
                f"model.kind = {kind_of(model)!r} is not symmetric under the mirror x -> -x of "
                f"the film normal: max ||h(Rk) - U h(k) U^+|| = {worst:.3g} eV > {tol:.3g} eV "
                f"(at k = {np.array2string(at, precision=3)} nm^-1; R k = (-k_x, k_par))"
                + (f"; {model.mirror_hint}" if getattr(model, "mirror_hint", None) else ""))
    return worst


def model_tolerance(model, k):
    """The tolerance of the first-use check: ``model.mirror_tol_eV`` or the default (eV)."""
    tol = getattr(model, "mirror_tol_eV", None)
    return default_tolerance(model, k) if tol is None else float(tol)


def checked_mirror(model, k):
    """``model.mirror_operator(k)``, after the first-use check of the model (cached on it)."""
    if getattr(model, "_mirror_deviation", None) is None:
        model._mirror_deviation = check_mirror(model, tol="model")
    return model.mirror_operator(k)


def bloch_shift(model, G):
    """D(G) (..., N, N) with h(k + G) = D(G)^dagger h(k) D(G), G (..., d) reciprocal-lattice vectors.

    D = diag e^{i G.tau} for the positions tau of the phase convention (1 without
    them); a gauge-rotated model (``Rotated``, h' = V h V^+) gets V D V^+.
    """
    G = np.asarray(G, float)
    inner = getattr(model, "inner", None)
    if inner is not None:
        V = model.U
        return V @ bloch_shift(inner, G) @ V.conj().T
    tau = getattr(model, "positions", None)
    eye = np.eye(model.N, dtype=complex)
    if tau is None or not np.any(tau):
        return np.broadcast_to(eye, G.shape[:-1] + eye.shape)
    return np.exp(1j * G @ tau.T)[..., None, :] * eye


def mirror_between(model, k_from, k_to):
    """U (..., N, N) with h(k_to) = U h(k_from) U^dagger for k_to = R k_from + G.

    The specular partner of a Fermi point may be stored wrapped into the zone,
    k_to = R k_from + G with G a reciprocal-lattice vector; then
    U = D(G)^dagger U(k_from) (:func:`bloch_shift`; D = 1 for one-site models
    with the atom at 0 and for continuum models, where G must be 0).

    Raises
    ------
    ModelError
        k_to - R k_from is not a reciprocal-lattice vector (or not 0 without a zone).
    """
    k_from, k_to = np.asarray(k_from, float), np.asarray(k_to, float)
    U = model.mirror_x(k_from)
    G = k_to - reflect(k_from)
    scale = 1.0 + np.abs(k_from).max(initial=0.0)
    if np.abs(G).max(initial=0.0) <= 1e-9 * scale:
        return U
    zone = getattr(model, "zone", None)
    frac = None if zone is None else G @ np.linalg.inv(zone.reciprocal)
    if frac is None or np.abs(frac - np.rint(frac)).max() > 1e-6:
        raise ModelError(f"model.kind = {kind_of(model)!r}: mirror_between: k_to is not the mirror "
                         "image (-k_x, k_par) of k_from modulo a reciprocal-lattice vector "
                         f"(max deviation {np.abs(G).max():.3g} nm^-1)")
    G = np.rint(frac) @ zone.reciprocal
    D = bloch_shift(model, G)
    return np.conj(np.swapaxes(D, -1, -2)) @ U


def pseudovector_error(model, U, ops):
    """max_i ||U O_i U^dagger - s_i O_i||_2 with s = (+1, -1, -1): O a pseudovector (3, N, N)."""
    U = np.asarray(U)
    Ud = np.conj(np.swapaxes(U, -1, -2))
    s = np.array([1.0, -1.0, -1.0])
    out = 0.0
    for i in range(3):
        d = U @ ops[i] @ Ud - s[i] * ops[i]
        out = max(out, float(np.linalg.norm(d, ord=2, axis=(-2, -1)).max(initial=0.0)))
    return out


# ---------------------------------------------------------------------------- lattice models
def _lattice_names(l):
    from .lattice import orbitals as orb
    return orb.shell_names(l, "cartesian") if l == 1 else orb.shell_names(l)


def lattice_mirror(model, why_missing=None):
    """The parts of a lattice model's mirror operator: U(k)_{n'n} = U0_{n'n} e^{i k.a_n - i (Rk).a_n'}.

    The mirror of the film frame, M = diag(-1, 1, 1), is M_c = I - 2 n n^T in the
    crystal frame (n the crystal-frame normal), in which the orbital and spin
    descriptors are defined. It maps the state (site s, real orbital b, spin
    sigma) at tau_s + T onto sum (D^l(M_c))_{b'b} (U_spin)_{sigma' sigma} times
    the state (site s', b', sigma') at M (tau_s + T) = tau_s' + T', s' the site
    of the same orbitals at M tau_s modulo a lattice vector. D^l is the
    real-harmonic representation of the improper M_c (p odd along n, d even:
    the parity (-1)^l of the inversion times the C2 rotation about n),
    U_spin = -i n.sigma (spin is a pseudovector: only the rotation acts).

    With h_mn(k) = sum_R H_mn(R) e^{i k.(R + tau~_n - tau~_m)} (positions
    tau~ in the phase) the Bloch states map as g|n, k> = sum_n' |n', Rk> U_n'n(k)
    with a_n = tau~_n - tau_site(n): U is k-independent when the positions of
    the phase are the site positions (the atomic gauge of the lattice models);
    the site of a state is ``model.site_positions`` (the atoms of a Wannier
    model with a centres file) or else the mean position of its states.

    Parameters
    ----------
    model : LatticeModel
    why_missing : str, optional
        The reason given when the model has no orbital descriptors.

    Returns
    -------
    U0 : ndarray (N, N) complex
    a : ndarray (N, d) or None
        Offsets tau~_n - tau_site(n) (nm, film frame); None when all vanish.
    """
    U0, a, _ = _lattice_parts(model, why_missing)
    return U0, a


def _lattice_parts(model, why_missing=None):
    """(U0, a, sites) with sites = dict(states, image, shift, C) (see :func:`lattice_mirror`).

    ``states[s]``: the state indices of site s; ``image[s]``: the site at M tau_s;
    ``shift[s]``: integer coordinates of M tau_s - tau_image(s); ``C``: the integer
    matrix of M on the lattice (M a_i = sum_j C_ij a_j).
    """
    from .lattice import orbitals as orb
    orbitals = model.orbitals
    if orbitals is None:
        raise no_operator(model, why_missing or "no orbital characters: give model.basis "
                          "(site, orbital, spin of every state)")
    d, N = model.dimension, model.N
    A = model.lattice
    Md = np.diag([-1.0] + [1.0] * (d - 1))
    Ainv = np.linalg.inv(A)
    C = A @ Md @ Ainv  # M a_i = sum_j C_ij a_j
    if np.abs(C - np.rint(C)).max() > 1e-6:
        raise no_operator(model, "the plane perpendicular to the film normal is no mirror plane "
                          "of the Bravais lattice (M a_i is not a lattice vector), e.g. fcc "
                          "(111); choose a normal such as (001) or (110)")
    R3 = np.eye(3)
    if model.crystal_rotation is not None:
        R3[:d, :d] = model.crystal_rotation
    n_c = R3[0]  # film x in crystal coordinates
    M_c = np.eye(3) - 2.0 * np.outer(n_c, n_c)
    sites = sorted({o.site for o in orbitals})
    states = {s: [j for j, o in enumerate(orbitals) if o.site == s] for s in sites}
    at = model.positions if getattr(model, "site_positions", None) is None else model.site_positions
    rho = {s: at[states[s]].mean(0) for s in sites}
    sig = {s: sorted((o.name, o.spin or "") for o in (orbitals[j] for j in states[s]))
           for s in sites}
    image, shift = {}, {}
    for s in sites:
        target = rho[s] @ Md
        for t in sites:
            if sig[t] != sig[s]:
                continue
            frac = (target - rho[t]) @ Ainv
            if np.abs(frac - np.rint(frac)).max() < 1e-4:
                image[s], shift[s] = t, np.rint(frac).astype(np.int64)
                break
        else:
            raise no_operator(model, f"the mirror maps site {s} at "
                              f"{np.array2string(rho[s], precision=4)} nm (film frame) to "
                              f"{np.array2string(target, precision=4)} nm, which is no site with "
                              "the same orbitals modulo a lattice vector")
    if any(sp is not None for sp in (o.spin for o in orbitals)):
        U_spin = -1j * np.einsum("i,iab->ab", n_c, orb.PAULI)
    else:
        U_spin = np.ones((1, 1), complex)
    sidx = {None: 0, "up": 0, "down": 1}
    D = {l: (_lattice_names(l), orb.real_rotation(l, M_c, _lattice_names(l))) for l in (0, 1, 2)}
    index = {(o.site, o.name, o.spin): j for j, o in enumerate(orbitals)}
    U0 = np.zeros((N, N), complex)
    for j, o in enumerate(orbitals):  # a loop over the N basis states (not over k)
        names, Dl = D[o.l]
        b = names.index(o.name)
        for a_, name in enumerate(names):
            for sp2 in (("up", "down") if o.spin is not None else (None,)):
                i = index.get((image[o.site], name, sp2))
                if i is not None:
                    U0[i, j] += Dl[a_, b] * U_spin[sidx[sp2], sidx[o.spin]]
    unit = np.abs(U0 @ U0.conj().T - np.eye(N)).max()
    if unit > 1e-10:
        raise no_operator(model, "the orbitals of a site are not closed under the mirror (a "
                          "shell without all of its real orbitals, e.g. p_x alone for a normal "
                          "that mixes p_x and p_y)")
    a = model.positions - np.array([rho[o.site] for o in orbitals])
    info = {"states": states, "image": image, "shift": shift,
            "C": np.rint(C).astype(np.int64)}
    return U0, (a if np.abs(a).max(initial=0.0) > 1e-12 else None), info


def symmetrize_mirror(model):
    """The hoppings projected onto their mirror-invariant part: H -> (H + g.H)/2.

    The mirror g (operator U0 of :func:`lattice_mirror`, k-independent part;
    the phase positions do not enter the matrix elements H(R)) maps the
    hopping H(R) between sites s and t onto the one between their images,

        (g.H)(R')[s', t'] = U0[s', s] H(R)[s, t] U0[t', t]^dagger,
        R' = M R + T_t - T_s,      M tau_s = tau_s' + T_s,

    the nearest (Frobenius) mirror-symmetric model; g.g.H = H, so it is a
    projection. New R vectors are added where M R + ... is not listed.

    Parameters
    ----------
    model : LatticeModel

    Returns
    -------
    R_int : ndarray (nR', d) int
    H : ndarray (nR', N, N) complex, eV
    change : float
        Largest change of a matrix element (eV).
    """
    U0, _, info = _lattice_parts(model)
    R, H, C = model.R_int, model.H, info["C"]
    st, im, sh = info["states"], info["image"], info["shift"]
    pieces = []
    for s in st:
        for t in st:  # a loop over the site pairs
            Rp = R @ C + sh[t] - sh[s]
            Bs = U0[np.ix_(st[im[s]], st[s])]
            Bt = U0[np.ix_(st[im[t]], st[t])]
            val = Bs @ H[:, st[s]][:, :, st[t]] @ Bt.conj().T
            pieces.append((Rp, st[im[s]], st[im[t]], val))
    allR, inv = np.unique(np.concatenate([R] + [p[0] for p in pieces]), axis=0,
                          return_inverse=True)
    inv = inv.ravel()
    nR, N = len(R), model.N
    Hg = np.zeros((len(allR), N, N), complex)
    Hx = np.zeros((len(allR), N, N), complex)
    Hx[inv[:nR]] = H
    off = nR
    for Rp, rows, cols, val in pieces:
        idx = inv[off:off + nR]
        off += nR
        Hg[np.ix_(idx, rows, cols)] += val
    Hs = 0.5 * (Hx + Hg)
    return allR, Hs, float(np.abs(Hs - Hx).max(initial=0.0))


def apply_lattice_mirror(parts, k):
    """U(k) (..., N, N) from :func:`lattice_mirror`'s (U0, a) at film-frame k (..., d)."""
    U0, a = parts
    k = np.asarray(k, float)
    if a is None:
        return np.broadcast_to(U0, k.shape[:-1] + U0.shape)
    right = np.exp(1j * (k @ a.T))            # e^{i k.a_n}
    left = np.exp(-1j * (reflect(k) @ a.T))   # e^{-i (Rk).a_n'}
    return left[..., :, None] * U0 * right[..., None, :]
