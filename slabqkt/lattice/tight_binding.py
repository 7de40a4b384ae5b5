"""Tight-binding models on 2D and 3D Bravais lattices.

Phase convention (the same in h, dh and everything built on them):

    h_mn(k) = sum_R H_mn(R) exp(i k.(R + tau_n - tau_m)),   H_mn(R) = <m, 0 | H | n, R>,

R the lattice vectors (nm), tau_m the position of orbital m in the cell (nm),
H(R) in eV (Wannier90's matrix elements, with the orbital positions in the
phase: the "atomic" gauge, in which the interband Berry connection
i P_n dP_m/dk of slabqkt.band_geometry is that of the position operator).
Hermiticity is H(-R) = H(R)^dagger. The analytic derivative is

    dh_mn/dk_j = sum_R i (R + tau_n - tau_m)_j H_mn(R) exp(i k.(R + tau_n - tau_m))   (eV nm).

All vectors (lattice, positions, k) are Cartesian in the film frame (x along
the film normal). The sums over R and over k are chunked so that the
temporaries stay below ``chunk_bytes``.
"""
import numpy as np

from ..errors import ModelError
from ..models import Model
from . import orbitals as orb


class LatticeModel(Model):
    """N-band tight-binding model h(k) = sum_R H(R) e^{i k.(R + tau_n - tau_m)}.

    Parameters
    ----------
    lattice : ndarray (d, d)
        Rows a_i, nm (film frame).
    R : ndarray (nR, d) of int
        Lattice vectors of the hoppings in integer coordinates of ``lattice``.
        Every -R must be present with H(-R) = H(R)^dagger.
    H : ndarray (nR, N, N) complex
        Hopping matrices H_mn(R) = <m, 0|H|n, R>, eV.
    positions : ndarray (N, d), optional
        Orbital positions tau (nm, film frame); default all 0.
    orbitals : list of slabqkt.lattice.orbitals.Orbital, optional
        Descriptors of the basis states (spin and orbital operators follow).
    zone : slabqkt.lattice.zone.Zone, optional
        Default: the zone of the film whose normal is x (x must be a
        lattice-plane normal).
    spin_ops, orbital_ops : ndarray (3, N, N), optional
        Override the operators derived from ``orbitals``.
    chunk_bytes : float
        Bound of the temporaries of h and dh (bytes).
    """

    def __init__(self, lattice, R, H, positions=None, orbitals=None, zone=None, spin_ops=None,
                 orbital_ops=None, chunk_bytes=64e6, orientation=None):
        self.lattice = np.array(lattice, float)
        d = self.lattice.shape[0]
        if self.lattice.shape != (d, d) or d not in (2, 3):
            raise ModelError(f"lattice must be 2 x 2 or 3 x 3, got shape {self.lattice.shape}")
        self.dimension = d
        self.R_int = np.array(R, dtype=np.int64).reshape(-1, d)
        self.H = np.array(H, dtype=complex)
        nR, N = len(self.R_int), self.H.shape[-1]
        if self.H.shape != (nR, N, N):
            raise ModelError(f"H must have shape ({nR}, N, N), got {self.H.shape}")
        uniq, inv = np.unique(self.R_int, axis=0, return_inverse=True)
        if len(uniq) < nR:  # the same R listed more than once: its hoppings add up
            Hs = np.zeros((len(uniq), N, N), complex)
            np.add.at(Hs, inv.ravel(), self.H)
            self.R_int, self.H = uniq, Hs
        self.N = N
        self.positions = (np.zeros((N, d)) if positions is None
                          else np.array(positions, float).reshape(N, d))
        self.orbitals = None if orbitals is None else list(orbitals)
        if self.orbitals is not None and len(self.orbitals) != N:
            raise ModelError(f"{len(self.orbitals)} orbital descriptors for N = {N} states")
        self.R_cart = self.R_int @ self.lattice
        self.chunk_bytes = float(chunk_bytes)
        self._spin = spin_ops
        self._orbital = orbital_ops
        self.orientation = orientation
        self._check_hermitian()
        self._prepare()
        if zone is None:
            from .orientation import film_orientation
            zone = film_orientation(self.lattice).zone
        self.zone = zone
        self._bounds = None
        self._bottom = None

    # ------------------------------------------------------------------ structure
    def hermiticity_error(self):
        """max |H(-R) - H(R)^dagger| over R (eV); inf if some -R is missing."""
        index = {tuple(r): i for i, r in enumerate(self.R_int)}
        partner = np.array([index.get(tuple(-r), -1) for r in self.R_int])
        if (partner < 0).any():
            return np.inf
        return float(np.abs(self.H[partner] - self.H.conj().swapaxes(-1, -2)).max(initial=0.0))

    def _check_hermitian(self):
        err = self.hermiticity_error()
        scale = max(1.0, float(np.abs(self.H).max(initial=0.0)))
        if not err <= 1e-12 * scale:
            raise ModelError("the hoppings are not Hermitian: H(-R) must equal H(R)^dagger "
                             f"for every R (max deviation {err:.3g} eV)")
        # the model is Hermitian by construction: symmetrize the rounding away
        index = {tuple(r): i for i, r in enumerate(self.R_int)}
        partner = np.array([index[tuple(-r)] for r in self.R_int])
        self.H = 0.5 * (self.H + self.H[partner].conj().swapaxes(-1, -2))

    # ------------------------------------------------------------------ h and dh
    def _prepare(self):
        """Pair R with -R: h = H(0) + sum_{R in half} [cos(k.R) A_R + sin(k.R) C_R].

        A_R = H(R) + H(R)^+ and C_R = i (H(R) - H(R)^+) are Hermitian, stored
        as their N^2 real parameters (Re of the upper triangle, Im of the
        strict upper triangle), so the sum over R is one real matrix product
        (a quarter of the work of the complex sum over all R).
        """
        N = self.N
        R = self.R_int
        nz = R != 0
        first = np.where(nz.any(1), R[np.arange(len(R)), np.argmax(nz, axis=1)], 0)
        half, zero = first > 0, ~nz.any(1)
        self._iu = np.triu_indices(N)
        self._su = np.triu_indices(N, 1)
        Hh = self.H[half]
        A = Hh + Hh.conj().swapaxes(-1, -2)
        C = 1j * (Hh - Hh.conj().swapaxes(-1, -2))
        self._Rh = self.R_cart[half]
        self._WA, self._WC = self._pack(A), self._pack(C)
        self._h0 = self._pack(self.H[zero].sum(0))
        tau = self.positions
        self._dtau = tau[None, :, :] - tau[:, None, :] if np.any(tau != tau[:1]) else None

    def _pack(self, X):
        return np.concatenate([X.real[..., self._iu[0], self._iu[1]],
                               X.imag[..., self._su[0], self._su[1]]], axis=-1)

    def _unpack(self, v, out):
        """Hermitian matrices from packed parameters v (..., N^2) into out (..., N, N)."""
        if not hasattr(self, "_take"):
            N = self.N
            n = len(self._iu[0])
            pos = np.zeros((N, N), int)
            pos[self._iu] = np.arange(n)
            pos.T[self._iu] = np.arange(n)
            im = np.zeros((N, N), int)
            sign = np.zeros((N, N))
            im[self._su] = n + np.arange(len(self._su[0]))
            im.T[self._su] = n + np.arange(len(self._su[0]))
            sign[self._su], sign.T[self._su] = 1.0, -1.0
            # (re, im) interleaved as in memory: one take and one multiply
            self._take = (np.stack([pos.ravel(), im.ravel()], -1).ravel(),
                          np.stack([np.ones(N * N), sign.ravel()], -1).ravel())
        idx, sign = self._take
        flat = out.view(float).reshape(out.shape[:-2] + (-1,))  # out is C-contiguous
        np.multiply(np.take(v, idx, axis=-1), sign, out=flat)

    def _chunks(self, n_k, n_mat):
        """k and R chunk sizes keeping the temporaries below chunk_bytes.

        Per k point: cos/sin phases (and their R-weighted copy) 8 (4 r_chunk)
        bytes, packed matrices 8 n_mat N^2, the complex chunk 16 n_mat N^2.
        """
        nh = len(self._Rh)
        r_chunk = max(1, min(nh, self.r_chunk_max))
        per_k = 8.0 * (4 * r_chunk + n_mat * self.N * self.N) + 16.0 * n_mat * self.N * self.N
        k_chunk = int(max(1, min(n_k, self.chunk_bytes // per_k)))
        return k_chunk, r_chunk

    def _sum(self, k, derivative):
        k = np.asarray(k, float)
        d, N = self.dimension, self.N
        if k.shape[-1] != d:
            raise ModelError(f"k must have shape (..., {d}), got {k.shape}")
        shape = k.shape[:-1]
        kf = k.reshape(-1, d)
        nk = len(kf)
        n_mat = 1 + (d if derivative else 0)
        out = np.zeros((nk, d, N, N) if derivative else (nk, N, N), complex)
        k_chunk, r_chunk = self._chunks(nk, n_mat)
        Rh, WA, WC, dtau = self._Rh, self._WA, self._WC, self._dtau
        for k0 in range(0, nk, k_chunk):
            ks = kf[k0:k0 + k_chunk]
            nc = len(ks)
            need_h = not derivative or dtau is not None
            hp = np.broadcast_to(self._h0, (nc, N * N)).copy() if need_h else None
            dp = np.zeros((nc, d, N * N)) if derivative else None
            for r0 in range(0, len(Rh), r_chunk):
                Rc = Rh[r0:r0 + r_chunk]
                arg = ks @ Rc.T
                c, s = np.cos(arg), np.sin(arg)
                A, C = WA[r0:r0 + r_chunk], WC[r0:r0 + r_chunk]
                if need_h:
                    hp += c @ A + s @ C
                if derivative:
                    for j in range(d):
                        dp[:, j] += (c * Rc[:, j]) @ C - (s * Rc[:, j]) @ A
            if need_h:
                hc = np.zeros((nc, N, N), complex)
                self._unpack(hp, hc)
            if derivative:
                dc = out[k0:k0 + nc]
                self._unpack(dp, dc)
                if dtau is not None:
                    # h = D^+ X D, D = diag e^{ik.tau}: dh = D^+ dX D + i (tau_n - tau_m) h
                    D = np.exp(1j * np.einsum("kj,mnj->kmn", ks, dtau))
                    dc *= D[:, None]
                    dc += 1j * np.moveaxis(dtau, -1, 0)[None] * (hc * D)[:, None]
            else:
                if dtau is not None:
                    hc *= np.exp(1j * np.einsum("kj,mnj->kmn", ks, dtau))
                out[k0:k0 + nc] = hc
        if derivative:
            return out.reshape(shape + (d, N, N))
        return out.reshape(shape + (N, N))

    def h(self, k):
        """h(k) (..., N, N) in eV for film-frame k (..., d) in nm^-1."""
        return self._sum(k, False)

    def dh(self, k):
        """dh/dk (..., d, N, N) in eV nm, analytic (sum over R)."""
        return self._sum(k, True)

    # ------------------------------------------------------------------ operators
    def spin_operators(self):
        """Pauli matrices (3, N, N) in the film frame, or None (spinless)."""
        if self._spin is not None:
            return self._spin.copy()
        if self.orbitals is None:
            return None
        s = orb.spin_operators(self.orbitals)
        return None if s is None else self._to_film(s)

    def orbital_operators(self):
        """L (3, N, N) in units of hbar in the film frame, or None (no orbital descriptors)."""
        if self._orbital is not None:
            return self._orbital.copy()
        if self.orbitals is None or all(o.l == 0 for o in self.orbitals):
            return None
        return self._to_film(orb.orbital_operators(self.orbitals))

    def _to_film(self, S):
        """Operators defined in the crystal frame of the orbital descriptors, seen in the film frame."""
        R = self.crystal_rotation
        if R is None:
            return S
        R3 = np.eye(3)
        R3[:R.shape[0], :R.shape[0]] = R
        return np.einsum("ij,jab->iab", R3, S)

    def mirror_operator(self, k):
        """Unchecked mirror operator U(k) (..., N, N) of :meth:`mirror_x` (slabqkt.mirror.lattice_mirror).

        From the orbital descriptors: D^l(I - 2 n n^T) on the real orbitals of
        every site, -i n.sigma on spin (n the crystal-frame film normal), the site
        permutation of the mirror, and a Bloch phase when the positions of the
        phase convention are not the site positions. Refused (ModelError) for a
        model without orbital descriptors or when the lattice or the sites are
        not mirror symmetric.
        """
        from ..mirror import apply_lattice_mirror, lattice_mirror
        if getattr(self, "_mirror_parts", None) is None:
            self._mirror_parts = lattice_mirror(self, getattr(self, "mirror_missing", None))
        return apply_lattice_mirror(self._mirror_parts, k)

    #: why a model without orbital descriptors has none (for the mirror refusal), set by builders
    mirror_missing = None
    #: positions (N, d) nm, film frame, of the atom of every state when they differ from
    #: ``positions`` (Wannier centres off their atoms); the sites of the mirror operator
    site_positions = None
    crystal_rotation = None  #: film = R crystal, set by :func:`rotated`
    r_chunk_max = 4096  #: largest number of R vectors summed at once

    # ------------------------------------------------------------------ spectrum
    def energy_bounds(self):
        """Rigorous (emin, emax) of the spectrum (eV).

        h(k) = D^+ (H(0) + sum_{R != 0} H(R) e^{ik.R}) D with D unitary, so by
        Weyl's inequality every eigenvalue lies within sum_{R != 0} ||H(R)||_2
        of the spectrum of H(0).
        """
        if self._bounds is None:
            zero = np.all(self.R_int == 0, axis=1)
            e0 = np.linalg.eigvalsh(self.H[zero].sum(0)) if zero.any() else np.zeros(1)
            rest = self.H[~zero]
            spread = float(np.linalg.norm(rest, ord=2, axis=(-2, -1)).sum()) if len(rest) else 0.0
            self._bounds = (float(e0.min() - spread), float(e0.max() + spread))
        return self._bounds

    def band_bottom(self):
        """Lowest eigenvalue (eV) on a grid of the zone (24^2 in 2D, 12^3 in 3D) and at k = 0."""
        if self._bottom is None:
            n = 24 if self.dimension == 2 else 12
            t = (np.arange(n) / n)
            grid = np.stack(np.meshgrid(*([t] * self.dimension), indexing="ij"), -1).reshape(-1, self.dimension)
            k = grid @ self.zone.reciprocal
            self._bottom = float(np.linalg.eigvalsh(self.h(k)).min())
        return self._bottom

    def k_max(self, energy):
        """Unused for lattice models (the zone bounds k): None."""
        return None

    def rotated_by(self, R):
        """The model in a rotated Cartesian frame (k' = R k); see :func:`rotated`."""
        return rotated(self, R)


def rotated(model, R, zone=None, orientation=None):
    """The model seen in a frame rotated by the proper rotation R (v' = R v, k' = R k).

    The lattice, positions and zone rotate; the hopping matrices do not (the
    basis states are the same functions); spin and orbital operators are
    pseudovectors, S'_i = sum_j R_ij S_j (R proper). The orbital descriptors
    keep naming the orbitals in the original (crystal) frame;
    ``crystal_rotation`` records the accumulated rotation.
    """
    R = np.asarray(R, float)
    d = model.dimension
    if R.shape != (d, d) or not np.allclose(R @ R.T, np.eye(d), atol=1e-10) \
            or np.linalg.det(R) < 0:
        raise ModelError("rotated: R must be a proper rotation (d x d, orthogonal, det +1)")
    spin, orbital = model._spin, model._orbital
    R3 = np.eye(3)
    R3[:d, :d] = R
    if spin is not None:
        spin = np.einsum("ij,jab->iab", R3, spin)
    if orbital is not None:
        orbital = np.einsum("ij,jab->iab", R3, orbital)
    if zone is None:
        from .orientation import film_orientation
        zone = film_orientation(model.lattice @ R.T).zone
    new = LatticeModel(model.lattice @ R.T, model.R_int, model.H, model.positions @ R.T,
                       model.orbitals, zone, spin, orbital, model.chunk_bytes, orientation)
    prev = model.crystal_rotation
    new.crystal_rotation = R if prev is None else R @ prev
    return new
