"""The Kramers gap: where the Kubo-QKT spin Hall difference of the Kramers-degenerate p lattice comes from.

    python benchmarks/kubo_kramers_gap.py [--scales 1,0.5,0.25] [--rule test|default] [--full-only]

Case: orbital_p_lattice 2D, lambda_p = 0.3 eV (N = 6, every band a Kramers doublet), mu = 0.8 eV,
tau = 10 fs, E along y (benchmarks/kubo_lattice.py section ``kramers``, docs/kubo.md "The Kramers
gap: diagnosis"). The ladder vertex of the velocity vanishes by inversion here, so the Kubo
response is the bare bubble; this script evaluates it term by term,

    RA = (e hbar/2 pi) Re sum_k Tr[O G^R v G^A],   RR = -(e hbar/2 pi) Re sum_k Tr[O G^R v G^R],
    II = the Fermi-sea part (slabqkt.kubo.bastin.sea_local),

each for O, its intraband part sum_n P_n O P_n (P_n the doublet projectors) and its interband
part, with the self-consistent Born Sigma (real_part 'full') and with modified Sigma built from
it at the same disorder strength:

- scba:      Sigma itself;
- antiherm:  its anti-Hermitian part (Re Sigma dropped);
- scalar:    its scalar trace part Tr Sigma/N (complex);
- const:     -i Gamma, Gamma = -Im Tr Sigma/N (orbital-independent broadening);
- orbdiag:   -i Gamma + the orbital-diagonal anti-Hermitian part (Gamma_pz != Gamma_pxy), the
             orbital-off-diagonal (L.S-like) anti-Hermitian part dropped;
- offdiag:   -i Gamma + the orbital-off-diagonal (L.S-like) anti-Hermitian part only;
- hermconst: -i Gamma + the whole Hermitian part of Sigma;
- banddiag:  Sigma(k) = sum_n P_n(k) Sigma P_n(k), the band-diagonal (doublet-block) part of
             Sigma in the eigenbasis of h(k): keeps the band dependence of the broadening
             (Gamma_n = P_n Gamma P_n), drops its interband matrix elements;
- bandoff:   -i Gamma + sum_{n != m} P_n(k) A P_m(k), A the anti-Hermitian part of Sigma: only
             the interband matrix elements of the broadening, every band with the same Gamma.

Gamma -> 0 by the polynomial through the scales (basis 1, s, s^2, ...) and, as a check for a
leading-order 1/Gamma piece, the coefficient a of a/s in the fit a/s + b + c s.
Uses the library's k rule (slabqkt.kubo.lattice) and SCBA; the bubble itself is evaluated
here (the library's kubo_response does not expose RA and RR separately), and the script
checks that its scba totals equal kubo_response's total_bare parts.
"""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("SLABQKT_LOG_LEVEL", "ERROR")

import numpy as np  # noqa: E402

from slabqkt.case import resolve  # noqa: E402
from slabqkt.kubo.bastin import sea_local  # noqa: E402
from slabqkt.kubo.lattice import lattice_sample  # noqa: E402
from slabqkt.kubo.operators import make_operator, velocity_along  # noqa: E402
from slabqkt.kubo.response import kubo_response  # noqa: E402
from slabqkt.kubo.self_energy import born_self_energy  # noqa: E402
from slabqkt.simulation import Simulation  # noqa: E402
from slabqkt.units import E_CHARGE, HBAR  # noqa: E402

NAMES = ("spin_current_zx", "orbital_current_zx")
VARIANTS = ("scba", "antiherm", "scalar", "const", "orbdiag", "offdiag", "hermconst", "banddiag",
            "bandoff")
#: variants whose Sigma depends on k through the band projectors of h(k)
BAND_VARIANTS = ("banddiag", "bandoff")
TERMS = ("RA", "RR", "II")
SPLITS = ("all", "intra", "inter")
MU = 0.8


def kramers_case(mu=None):
    """The case of benchmarks/kubo_lattice.py section kramers (Fermi level mu, default MU)."""
    mu = MU if mu is None else float(mu)
    return resolve({"name": "p_soc", "model": {"kind": "orbital_p_lattice", "dimension": 2,
                                               "soc_p_eV": 0.3},
                    "fermi_surface": {"fermi_level_eV": mu, "lattice_grid": 64,
                                      "n_points": 256, "sea_grid": 128},
                    "disorder": {"tau_fs": 10.0}, "field": {"direction": [0.0, 1.0, 0.0]},
                    "observables": {"names": list(NAMES)}})


def sigma_variants(sig, orbital_index):
    """The modified self-energies (module docstring) of one SCBA Sigma (N, N)."""
    N = sig.shape[0]
    eye = np.eye(N)
    ah = 0.5 * (sig - sig.conj().T)
    he = 0.5 * (sig + sig.conj().T)
    gam = -np.imag(np.trace(sig)) / N
    same = orbital_index[:, None] == orbital_index[None, :]
    return {"scba": sig, "banddiag": sig, "bandoff": ah, "antiherm": ah, "scalar": np.trace(sig) / N * eye,
            "const": -1j * gam * eye, "orbdiag": -1j * gam * eye + (ah + 1j * gam * eye) * same,
            "offdiag": -1j * gam * eye + ah * ~same, "hermconst": -1j * gam * eye + he}


def bubble_terms(model, smp, sigmas, field_dir, mu, chunk=8192, tol=1e-8):
    """RA, RR, II of every observable, split, for every Sigma: dict var -> name -> split -> term,
    as response coefficients (O nm^-d per V/nm)."""
    ops = [make_operator(n, model) for n in NAMES]
    acc = {v: np.zeros((len(NAMES), 3, 3), complex) for v in sigmas}
    eye = np.eye(model.N)
    for lo in range(0, smp.size, chunk):
        k, w = smp.k[lo:lo + chunk], smp.w[lo:lo + chunk]
        hk, dh = model.h(k), model.dh(k)
        v = velocity_along(dh, field_dir)
        e, U = np.linalg.eigh(hk)
        same = np.abs(e[:, :, None] - e[:, None, :]) < tol
        Uh = U.conj().swapaxes(-1, -2)
        Os = []
        for o in ops:
            O = o(dh)
            Oi = U @ ((Uh @ O @ U) * same) @ Uh
            Os += [O, Oi, O - Oi]
        for name, sig in sigmas.items():
            if name in BAND_VARIANTS:
                blk = U @ ((Uh @ sig @ U) * same) @ Uh  # sum_n P_n sig P_n
                if name == "banddiag":
                    sk = blk
                else:
                    gam = -np.imag(np.trace(sig)) / model.N
                    sk = -1j * gam * eye + (sig - blk)
            else:
                sk = np.broadcast_to(sig, hk.shape)
            GR = np.linalg.inv(mu * eye - sk - hk)
            GA = GR.conj().swapaxes(-1, -2)
            RvA, RvR = GR @ v @ GA, GR @ v @ GR
            ii = sea_local(hk + sk, np.zeros_like(sig), Os, v, w, mu)
            for j, O in enumerate(Os):
                a = acc[name][j // 3, j % 3]
                a[0] += w @ np.einsum("kab,kba->k", O, RvA)
                a[1] -= w @ np.einsum("kab,kba->k", O, RvR)
                a[2] += ii[j]
    pref = E_CHARGE * HBAR / (2 * np.pi)
    return {v: {n: {sp: {t: pref * float(np.real(acc[v][i, j, q])) for q, t in enumerate(TERMS)}
                    for j, sp in enumerate(SPLITS)} for i, n in enumerate(NAMES)} for v in acc}


def clean_intra_doublet(sim):
    """Closed form of the Gamma -> 0 intra-doublet Kubo term on the kinetic theory's Fermi surface.

    With the clean-limit broadening matrix Gamma_hat = pi n_i v0^2 D, D = sum_s w_s P_s (the
    anti-Hermitian part of the Born Sigma at Gamma -> 0), and Gamma_s = Tr[P_s Gamma_hat]/r_s,
    the first-order interband terms of Gamma_hat in G^R v G^A with the observable's doublet
    part P_s O P_s give

        chi_intra = -e hbar sum_s (w_s / Gamma_s) sum_{j not in n(s)}
                    Im Tr[P_s O P_s v |j><j| Gamma_hat] / (eps_s - eps_j)

    (response per V/nm; returned times |E|, per observable name), and the ratio
    Gamma_pz / Gamma_px of the clean limit.
    """
    m, fs = sim.model, sim.fs
    E = float(np.linalg.norm(sim.field))
    gam = np.pi * sim.n_i_v0_sq * np.einsum("s,sab->ab", fs.w, fs.P)
    g_s = np.real(np.einsum("sab,ba->s", fs.P, gam)) / fs.rank
    hk, dh = m.h(fs.k), m.dh(fs.k)
    v = velocity_along(dh, sim.field / E)
    e, U = np.linalg.eigh(hk)
    eps_s = np.real(np.einsum("sab,sba->s", fs.P, hk)) / fs.rank
    den = eps_s[:, None] - e
    outside = np.abs(den) > 1e-6
    out = {}
    for name in NAMES:
        O = make_operator(name, m)(dh)
        t = np.einsum("saj,sja->sj", fs.P @ O @ fs.P @ v @ U, U.conj().swapaxes(-1, -2) @ gam)
        val = np.sum(np.where(outside, np.imag(t) / np.where(outside, den, 1.0), 0.0), -1)
        out[name] = float(-E_CHARGE * HBAR * np.sum(fs.w * val / g_s) * E)
    return out, float(np.real(gam[0, 0] / gam[2, 2]))


def fit_b(s, y):
    """Gamma -> 0 limit: the polynomial in s through the points (basis 1, s, ...)."""
    s = np.asarray(s, float)
    return float(np.linalg.solve(np.stack([s ** j for j in range(len(s))], -1), y)[0])


def fit_a(s, y):
    """Coefficient of 1/s in the least-squares fit a/s + b (+ c s with 3 or more points)."""
    s = np.asarray(s, float)
    cols = [1 / s, np.ones_like(s)] + ([s] if len(s) > 2 else [])
    return float(np.linalg.lstsq(np.stack(cols, -1), y, rcond=None)[0][0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", default="1,0.5,0.25")
    ap.add_argument("--rule", default="test", choices=("test", "default"),
                    help="zone rule: 'test' = resolution 1, window 4 (benchmarks/kubo_lattice.py "
                         "kramers); 'default' = the library defaults")
    ap.add_argument("--mu", type=float, default=MU, help="Fermi level (eV), default %(default)s")
    ap.add_argument("--full-only", action="store_true", help="the scba variant only")
    ap.add_argument("--real-part", default="full", choices=("full", "none"),
                    help="Hermitian part of the self-consistent Sigma: kept ('full', the lattice "
                         "default) or dropped in the iteration ('none')")
    args = ap.parse_args()
    scales = sorted((float(x) for x in args.scales.split(",")), reverse=True)
    case = kramers_case(args.mu)
    mu = args.mu
    sim = Simulation(case, "scipy")
    model, nv, field = sim.model, sim.n_i_v0_sq, sim.field
    E = float(np.linalg.norm(field))
    g0 = HBAR / (2 * sim.tau)
    rule = {"resolution": 1.0, "window": 4.0} if args.rule == "test" else {}
    orb = np.arange(model.N) // 2  # interleaved spin: orbital index of each state
    t0 = time.perf_counter()
    qb = sim.run_bulk()
    q = {n: {p: float(np.asarray(qb.observables[n][p])) for p in
             ("intra", "intrinsic", "disorder", "total")} for n in NAMES}
    print(f"Fermi level {mu} eV, zone rule {args.rule}, real part of Sigma {args.real_part}")
    print(f"QKT bulk (sea_grid 128) [{time.perf_counter() - t0:.1f} s]:")
    for n in NAMES:
        print(f"  {n}: " + ", ".join(f"{p} {x:.5e}" for p, x in q[n].items()))
    ci, ratio = clean_intra_doublet(sim)
    print(f"clean limit: Gamma_pz/Gamma_px = {ratio:.4f}; closed-form intra-doublet term: "
          + ", ".join(f"{n} {x:.4e}" for n, x in ci.items()))
    vals = []  # per scale: var -> name -> split -> term
    for s in scales:
        t0 = time.perf_counter()
        smp = lattice_sample(model, 64, mu, s * g0, **rule)
        h = model.h(smp.k)
        se = born_self_energy(h, smp.w, mu, s * nv, real_part=args.real_part,
                               gamma_guess=s * g0)
        del h
        sig = se.sigma
        ah = -np.imag(np.diag(sig))
        print(f"\ns = {s:g}: {smp.size} k points, Gamma = {se.gamma:.5f} eV, -Im Sigma_diag "
              f"(pz, px, py) = {ah[0]:.5f}, {ah[2]:.5f}, {ah[4]:.5f} eV, Re Sigma_diag = "
              f"{np.real(sig[0, 0]):+.5f}, {np.real(sig[2, 2]):+.5f}, {np.real(sig[4, 4]):+.5f} "
              f"eV, max |orbital-off-diagonal Sigma| = "
              f"{np.abs(sig * (orb[:, None] != orb[None, :])).max():.5f} eV")
        sv = sigma_variants(sig, orb)
        if args.full_only:
            sv = {"scba": sv["scba"]}
        r = bubble_terms(model, smp, sv, field / E, mu)
        for v in r:
            for n in NAMES:
                for sp in SPLITS:
                    for t in TERMS:
                        r[v][n][sp][t] *= E
        vals.append(r)
        if s == scales[0]:  # the library's bubble on the same rule and Sigma
            lib = kubo_response(model, smp, mu, s * nv, field, list(NAMES), real_part=args.real_part,
                                sigma=sig, band_split=True).parts
            for n in NAMES:
                mine = sum(r["scba"][n]["all"].values())
                print(f"  check against kubo_response: {n} total_bare {lib[n]['total_bare'] * E:.8e}"
                      f" (here {mine:.8e}), ladder vertex {lib[n]['vertex'] * E:.2e}")
        print(f"  [{time.perf_counter() - t0:.1f} s]")
        for v in r:
            for n in NAMES:
                x = r[v][n]
                print(f"  {v:9s} {n:18s} " + "  ".join(
                    f"{sp}: " + " ".join(f"{t} {x[sp][t]:+.4e}" for t in TERMS) for sp in SPLITS))
    print(f"\nGamma -> 0 (polynomial through s = {scales}; in brackets: through the two weakest "
          "disorders; a = 1/s coefficient of a/s + b + c s)")
    for v in vals[0]:
        for n in NAMES:
            print(f"{v} {n}:  [QKT intrinsic {q[n]['intrinsic']:.4e}, disorder "
                  f"{q[n]['disorder']:.4e}, intrinsic + disorder "
                  f"{q[n]['intrinsic'] + q[n]['disorder']:.4e}]")
            for sp in SPLITS:
                cells = []
                tot = np.zeros(len(scales))
                for t in TERMS:
                    y = np.array([x[v][n][sp][t] for x in vals])
                    tot += y
                    b2 = fit_b(scales[-2:], y[-2:]) if len(scales) > 1 else float("nan")
                    cells.append(f"{t} {fit_b(scales, y):+.4e} [{b2:+.4e}]")
                b2 = fit_b(scales[-2:], tot[-2:]) if len(scales) > 1 else float("nan")
                a = fit_a(scales, tot) if len(scales) > 1 else float("nan")
                print(f"   {sp:5s}: " + "  ".join(cells) + f"  | sum {fit_b(scales, tot):+.4e} "
                      f"[{b2:+.4e}], a {a:+.1e}")


if __name__ == "__main__":
    main()
