"""Bloch Hamiltonians h(k) with analytic dh/dk, vectorized over k.

Energies in eV, k in nm^-1. Every model is an ``N x N`` Hermitian matrix
function; :meth:`Model.h` takes ``k`` of shape ``(..., d)`` and returns
``(..., N, N)``, :meth:`Model.dh` returns ``(..., d, N, N)`` (eV nm).
"""
import numpy as np

from .errors import CaseError
from .tools import get_logger
from .units import HBAR2_OVER_2ME

log = get_logger("models")

SIGMA = np.array([[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]], dtype=complex)
#: l = 1 orbital angular momentum in the real p basis (p_x, p_y, p_z),
#: (L_i)_ab = -i eps_iab, in units of hbar.
L_P = -1j * np.array([[[0, 0, 0], [0, 0, 1], [0, -1, 0]],
                      [[0, 0, -1], [0, 0, 0], [1, 0, 0]],
                      [[0, 1, 0], [-1, 0, 0], [0, 0, 0]]], dtype=complex)


class Model:
    """Base class of N-band models.

    Attributes
    ----------
    N : int
        Number of internal states (spin, orbital).
    dimension : int
        2 or 3.
    """

    N = 1
    dimension = 2

    def h(self, k):
        raise NotImplementedError

    def dh(self, k):
        raise NotImplementedError

    def k_max(self, energy):
        """An upper bound (nm^-1) of Fermi wavevectors at ``energy``."""
        raise NotImplementedError

    def spin_operators(self):
        """Spin matrices (3, N, N) in units of hbar/2 (Pauli), or None."""
        return None

    def orbital_operators(self):
        """Orbital angular momentum (3, N, N) in units of hbar, or None."""
        return None

    def band_bottom(self):
        """Lowest band energy at k = 0 (eV)."""
        return float(np.linalg.eigvalsh(self.h(np.zeros(self.dimension))).min())

    #: allowed ||h(Rk) - U h(k) U^+|| of the mirror check (eV); None: 1e-8 (1 + band spread)
    mirror_tol_eV = None

    def mirror_operator(self, k):
        """The unchecked mirror operator U(k) (..., N, N) of :meth:`mirror_x`; models override it."""
        from .mirror import no_operator
        raise no_operator(self, "the model does not define one")

    def mirror_x(self, k):
        """Specular mirror operator U(k) (..., N, N), unitary, with h(R k) = U h(k) U^dagger.

        R k = (-k_x, k_y, k_z) (film frame, x the normal; 2D (-k_x, k_y)). U acts
        on the internal space as the mirror x -> -x: orbital parities, spin as a
        pseudovector (-i sigma_x on a spin-1/2 label: S_x kept, S_y, S_z
        flipped), site permutation. k (..., d) in nm^-1. The model is checked
        once, on first use, at random k (slabqkt.mirror.check_mirror); the
        result may be a read-only broadcast view when U does not depend on k.

        Raises
        ------
        ModelError
            The model has no mirror operator, or is not mirror symmetric (the
            message names the model kind and the deviation in eV).
        """
        from .mirror import checked_mirror
        return checked_mirror(self, k)


class ParabolicBand(Model):
    """One spinless parabolic band, eps = hbar^2 k^2 / (2 m*)."""

    N = 1
    kind = "parabolic"

    def __init__(self, dimension=2, effective_mass=1.0):
        self.dimension = dimension
        self.c = HBAR2_OVER_2ME / effective_mass

    def h(self, k):
        k = np.asarray(k, float)
        return (self.c * np.sum(k * k, axis=-1))[..., None, None].astype(complex)

    def dh(self, k):
        k = np.asarray(k, float)
        return (2 * self.c * k)[..., None, None].astype(complex)

    def k_max(self, energy):
        return 1.5 * np.sqrt(max(energy, 1e-12) / self.c) + 1e-6

    def mirror_operator(self, k):
        """U = 1: one orbitally even, spinless band."""
        return _constant(np.ones((1, 1), complex), k)


class Rashba(Model):
    """Rashba 2DEG with exchange: the paper's Eq. (11).

    h = hbar^2 k^2/2m* + alpha_R (sigma_x k_y - sigma_y k_x) + J_e m.sigma.
    In 3D the k_z dispersion is parabolic and spin-independent.
    """

    N = 2
    kind = "rashba"

    def __init__(self, dimension=2, effective_mass=1.0, alpha_R=0.0, exchange_eV=0.0,
                 magnetization=(0.0, 0.0, 1.0)):
        self.dimension = dimension
        self.c = HBAR2_OVER_2ME / effective_mass
        self.alpha = alpha_R
        m = np.asarray(magnetization, float)
        self.m = m / np.linalg.norm(m)
        self.J = exchange_eV

    def h(self, k):
        k = np.asarray(k, float)
        eps0 = self.c * np.sum(k * k, axis=-1)
        b = self.alpha * np.stack([k[..., 1], -k[..., 0], np.zeros(k.shape[:-1])], axis=-1)
        b = b + self.J * self.m
        return eps0[..., None, None] * np.eye(2) + np.einsum("...i,iab->...ab", b, SIGMA)

    def dh(self, k):
        k = np.asarray(k, float)
        out = np.zeros(k.shape[:-1] + (self.dimension, 2, 2), complex)
        out += (2 * self.c * k)[..., None, None] * np.eye(2)
        out[..., 0, :, :] += -self.alpha * SIGMA[1]
        out[..., 1, :, :] += self.alpha * SIGMA[0]
        return out

    def k_max(self, energy):
        e = max(energy + abs(self.J), 1e-12)
        km = abs(self.alpha) / self.c
        return 1.5 * (km + np.sqrt(km * km + e / self.c)) + 1e-6

    def spin_operators(self):
        return SIGMA.copy()

    def mirror_operator(self, k):
        """U = -i sigma_x: spin as a pseudovector, sigma_y, sigma_z -> -sigma_y, -sigma_z.

        It maps alpha (sigma_x k_y - sigma_y k_x) onto its value at (-k_x, k_y)
        and keeps an exchange field only along x: J m.sigma with m_y or m_z
        non-zero breaks the mirror (then the k_x -> -k_x symmetry of the bands
        is antiunitary, e.g. h(R k) = h(k)^* for m along z, and no unitary U
        exists): refused.
        """
        if self.J != 0.0 and np.hypot(self.m[1], self.m[2]) > 1e-12:
            from .mirror import no_operator
            raise no_operator(self, f"the exchange field J m.sigma with m = {tuple(self.m)} has "
                              "a component along y or z, which the mirror flips (spin is a "
                              "pseudovector); only m along x, or exchange_eV = 0, is mirror "
                              "symmetric")
        return _constant(-1j * SIGMA[0], k)


class OrbitalP(Model):
    """p-orbital (l = 1) continuum model, basis (p_x, p_y, p_z).

    h = hbar^2 k^2/2m* 1 + beta (k^2 1 - k k^T) = hbar^2 k^2/2m* + beta (k.L)^2 / hbar^2.
    In 2D, k = (k_x, k_y, 0). Bands: longitudinal (projector k^k^T) and a
    two-fold degenerate transverse band (projector 1 - k^k^T).
    """

    N = 3
    kind = "orbital_p"

    def __init__(self, dimension=2, effective_mass=1.0, beta_eV_nm2=0.0, z_splitting_eV=0.0):
        self.dimension = dimension
        self.c = HBAR2_OVER_2ME / effective_mass
        self.beta = beta_eV_nm2
        #: delta of the term delta |p_z><p_z| (eV): lifts the transverse degeneracy (2D)
        self.delta = float(z_splitting_eV)

    def _k3(self, k):
        k = np.asarray(k, float)
        if self.dimension == 2:
            k = np.concatenate([k, np.zeros(k.shape[:-1] + (1,))], axis=-1)
        return k

    def h(self, k):
        k3 = self._k3(k)
        k2 = np.sum(k3 * k3, axis=-1)[..., None, None]
        out = ((self.c + self.beta) * k2 * np.eye(3)
               - self.beta * k3[..., :, None] * k3[..., None, :]).astype(complex)
        if self.delta:
            out[..., 2, 2] += self.delta
        return out

    def dh(self, k):
        k3 = self._k3(k)
        d = self.dimension
        eye = np.eye(3)
        out = np.zeros(k3.shape[:-1] + (d, 3, 3), complex)
        for j in range(d):
            e_j = eye[j]
            out[..., j, :, :] = (2 * (self.c + self.beta) * k3[..., j, None, None] * eye
                                 - self.beta * (e_j[:, None] * k3[..., None, :]
                                                + k3[..., :, None] * e_j[None, :]))
        return out

    def k_max(self, energy):
        cmin = min(self.c, self.c + self.beta)
        if cmin <= 0:
            return None
        return 1.5 * np.sqrt(max(energy, 1e-12) / cmin) + 1e-6

    def orbital_operators(self):
        return L_P.copy()

    def mirror_operator(self, k):
        """U = diag(-1, 1, 1) on (p_x, p_y, p_z): p_x is odd under x -> -x."""
        return _constant(np.diag([-1.0, 1.0, 1.0]).astype(complex), k)


def _constant(U, k):
    """A k-independent operator broadcast (read-only) to k's shape (..., d) -> (..., N, N)."""
    k = np.asarray(k)
    return np.broadcast_to(U, k.shape[:-1] + U.shape)


class Rotated(Model):
    """A model seen in another basis: h -> U h U^+ (the gauge test)."""

    def __init__(self, model, U):
        self.inner, self.U = model, U
        self.N, self.dimension = model.N, model.dimension
        #: lattice models keep their zone (a basis change does not move k)
        self.zone = getattr(model, "zone", None)
        self.kind = getattr(model, "kind", None)
        self.mirror_tol_eV = getattr(model, "mirror_tol_eV", None)
        self.mirror_hint = getattr(model, "mirror_hint", None)

    def _rot(self, A):
        return self.U @ A @ self.U.conj().T

    def h(self, k):
        return self._rot(self.inner.h(k))

    def dh(self, k):
        return self._rot(self.inner.dh(k))

    def k_max(self, energy):
        return self.inner.k_max(energy)

    def spin_operators(self):
        s = self.inner.spin_operators()
        return None if s is None else self._rot(s)

    def orbital_operators(self):
        s = self.inner.orbital_operators()
        return None if s is None else self._rot(s)

    def rotate(self, O):
        return self._rot(O)

    def mirror_operator(self, k):
        """V U(k) V^+: the inner model's mirror operator in the rotated basis (h' = V h V^+)."""
        U = self.inner.mirror_operator(k)
        lead = U.ndim - 2
        if lead and not any(U.strides[:lead]):  # k-independent: rotate it once
            return np.broadcast_to(self._rot(U[(0,) * lead]), U.shape)
        return self._rot(U)


def random_unitary(n, seed):
    """Haar-random unitary (QR of a complex Gaussian matrix)."""
    rng = np.random.default_rng(seed)
    z = (rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))) / np.sqrt(2)
    q, r = np.linalg.qr(z)
    return q * (np.diag(r) / abs(np.diag(r)))


def _check_orbital_splitting(mc, fsc):
    """The beta -> 0 limit of the orbital_p model (docs/orbital.md).

    On the Fermi surface the longitudinal and transverse eigenspaces are
    split by |beta| k_F^2 >= |beta| mu / max(c, c + beta) (c = hbar^2/2m*),
    the denominator of every interband term of Eq. (1). beta = 0 is one
    rank-3 eigenspace: no interband terms, every orbital density is exactly
    0 (a warning says so). 0 < |beta| with a splitting that the eigenspace
    tolerance cannot resolve (at most 10 degeneracy_tol_eV, the gap the
    observables accept) is a CaseError on model.beta_eV_nm2.
    """
    beta, mu, tol = mc["beta_eV_nm2"], fsc["fermi_level_eV"], fsc["degeneracy_tol_eV"]
    c = HBAR2_OVER_2ME / mc["effective_mass"]
    if beta == 0.0:
        log.warning("orbital_p with model.beta_eV_nm2 = 0: h = hbar^2 k^2/2m* is one rank-3 "
                    "eigenspace (no orbital texture); every interband part of Eq. (1) and every "
                    "orbital density is exactly 0")
        return
    if mu <= 0:
        return  # no Fermi surface: FermiSurface says so
    gap = abs(beta) * mu / max(c, c + beta)
    gap_tol = 10 * tol
    if gap <= gap_tol:
        bmin = gap_tol * c / (mu - gap_tol) if mu > gap_tol else float("inf")
        raise CaseError("model.beta_eV_nm2", beta,
                        f"allowed: 0 (one rank-3 eigenspace: no interband terms, all orbital "
                        f"densities 0) or |beta| > {bmin:.3g} eV nm^2 at fermi_level_eV = {mu:g}: "
                        f"the band splitting |beta| k_F^2 = {gap:.3g} eV on the Fermi surface "
                        f"must exceed 10 fermi_surface.degeneracy_tol_eV = {gap_tol:.3g} eV to "
                        "separate the longitudinal and transverse eigenspaces (Eq. (1) divides "
                        "by it; physically it must also exceed hbar/tau, docs/orbital.md)")


MAGNETIZATION_DEFAULT = [0.0, 0.0, 1.0]
#: a user's fermi_surface.k_max may exceed the model's own bound by at most this factor: the
#: crossings are bracketed on 256 radial points in [0, k_max] and refined by 60 bisections, so
#: a far too large k_max leaves the Fermi surface inside the first interval (k = 0 included),
#: unresolved (wrong "degeneracy" or "below all bands" errors)
K_MAX_FACTOR = 100.0


def _check_k_max(model, fsc):
    k_user = fsc.get("k_max")
    if k_user is None:
        return
    k_model = model.k_max(fsc["fermi_level_eV"])
    if k_model is not None and k_user > K_MAX_FACTOR * k_model:
        raise CaseError("fermi_surface.k_max", k_user,
                        f"allowed: at most {K_MAX_FACTOR:g} times the model's bound on k_F, i.e. "
                        f"<= {K_MAX_FACTOR * k_model:.4g} nm^-1 here (the radial scan cannot "
                        "resolve the Fermi crossings below a far larger k_max); omit it to use "
                        f"the model's bound {k_model:.4g} nm^-1")


def build_model(case):
    """The model of a resolved case."""
    from .lattice.builders import LATTICE_KINDS, build_lattice_model  # lattice models subclass Model
    mc = case["model"]
    kind, dim = mc["kind"], mc["dimension"]
    if kind in LATTICE_KINDS:
        table = {k: v for k, v in mc.items() if k != "unitary_seed"}
        model = build_lattice_model(table, case.get("film"), case["fermi_surface"]["fermi_level_eV"])
        if mc.get("unitary_seed") is not None:
            model = Rotated(model, random_unitary(model.N, mc["unitary_seed"]))
        return model
    if any(case.get("film", {}).values()):
        raise CaseError("film", case["film"], "only used by lattice models (model.kind one of "
                        + ", ".join(LATTICE_KINDS) + "); continuum models have x as the normal")
    if kind == "parabolic":
        model = ParabolicBand(dim, mc["effective_mass"])
    elif kind == "rashba":
        model = Rashba(dim, mc["effective_mass"], mc["alpha_R"], mc["exchange_eV"],
                       mc["magnetization"])
    elif kind == "orbital_p":
        if mc["effective_mass"] > 0 and HBAR2_OVER_2ME / mc["effective_mass"] + mc["beta_eV_nm2"] <= 0:
            raise CaseError("model.beta_eV_nm2", mc["beta_eV_nm2"],
                            "allowed: hbar^2/2m* + beta > 0 (the transverse band must rise)")
        _check_orbital_splitting(mc, case["fermi_surface"])
        model = OrbitalP(dim, mc["effective_mass"], mc["beta_eV_nm2"], mc["z_splitting_eV"])
    else:  # pragma: no cover - the schema already checked
        raise CaseError("model.kind", kind, "unknown model")
    for key, used_by in (("alpha_R", "rashba"), ("exchange_eV", "rashba"), ("beta_eV_nm2", "orbital_p"),
                         ("z_splitting_eV", "orbital_p")):
        if mc.get(key, 0.0) != 0.0 and kind != used_by:
            raise CaseError(f"model.{key}", mc[key], f"only used by model.kind = '{used_by}'")
    # magnetization has a default: only another direction counts as given (a resolved case
    # written back and read again must stay valid)
    m = mc.get("magnetization", MAGNETIZATION_DEFAULT)
    if kind != "rashba" and list(m) != MAGNETIZATION_DEFAULT:
        raise CaseError("model.magnetization", m, "only used by model.kind = 'rashba' (with "
                        "model.exchange_eV); remove it")
    _check_k_max(model, case["fermi_surface"])
    if mc.get("unitary_seed") is not None:
        model = Rotated(model, random_unitary(model.N, mc["unitary_seed"]))
    return model
