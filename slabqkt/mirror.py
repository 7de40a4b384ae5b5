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
                f"(at k = {np.array2string(at, precision=3)} nm^-1; R k = (-k_x, k_par))")
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
