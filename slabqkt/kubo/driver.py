"""``slabqkt kubo CASE``: the Kubo-Bastin bulk response of a case beside its kinetic-theory parts.

The Kubo computation (slabqkt.kubo.response) uses the case's model, Fermi level, field
direction, observables and disorder strength n_i v0^2 only. The disorder strength is the
one the kinetic theory uses for the same case (``disorder.tau_fs`` or
``mean_free_path_nm`` converted on its Fermi surface, or ``n_i_v0_sq`` as given), so that
both sides describe the same impurities. The kinetic-theory bulk parts (``slabqkt bulk``,
slabqkt.simulation) are evaluated only for the side-by-side report.

Gamma -> 0: the response is evaluated at the disorder strengths s n_i v0^2 for the
``scales`` s (default 1, 1/2, 1/4, 1/8) and every part is fitted as a/s + b + c s + ...
(slabqkt.kubo.extrapolate): a is the leading-order 1/Gamma (Boltzmann) part at the case's
disorder, to compare with the kinetic theory's intra part; b the clean-limit-finite part,
to compare with intrinsic + disorder. Densities are at the case's field |E|.
"""
import dataclasses
import json

import numpy as np

from ..errors import SlabQKTError
from ..tools import get_logger
from ..units import HBAR
from .extrapolate import extrapolate
from .response import PARTS, SPLIT_PARTS, kubo_response
from .sample import continuum_sample

log = get_logger("kubo")

#: result file format attribute
FORMAT = "slabqkt-kubo-1"
DEFAULT_SCALES = (1.0, 0.5, 0.25, 0.125)
#: kinetic-theory parts shown beside the Kubo parts
QKT_PARTS = ("intra", "intrinsic", "gradient", "disorder", "total")


@dataclasses.dataclass
class SampleOptions:
    """Convergence controls of the continuum k rule (slabqkt.kubo.sample.continuum_sample)."""

    n_angles: int = 32
    n_polar: int = None
    n_gauss: int = 10
    panel_ratio: float = 3.0
    n_base: int = 8
    tail_eV: float = 30.0
    #: lattice models: passed to slabqkt.kubo.lattice.lattice_sample
    lattice: dict = dataclasses.field(default_factory=dict)


def energy_rule(case, sim=None):
    """(energies (eV), weights) of the temperature average: T = 0 is the Fermi level alone;
    T > 0 the -df/deps rule of the kinetic theory (slabqkt.kubo.temperature)."""
    from .temperature import energy_rule as rule
    return rule(case, sim)


def build_sample(model, energy, broadening, options):
    """The full k rule (every rank builds the same one and takes its share)."""
    if getattr(model, "zone", None) is not None:
        try:
            from .lattice import lattice_sample
        except ImportError:
            raise SlabQKTError("slabqkt kubo: lattice models need slabqkt.kubo.lattice "
                               "(the zone-grid sample), not available in this version") from None
        return lattice_sample(model, energy_eV=energy, broadening_eV=broadening, **options.lattice)
    return continuum_sample(model, energy, broadening, n_angles=options.n_angles,
                            n_polar=options.n_polar, n_gauss=options.n_gauss,
                            panel_ratio=options.panel_ratio, n_base=options.n_base,
                            tail_eV=options.tail_eV)


@dataclasses.dataclass
class KuboResult:
    """What ``slabqkt kubo`` computes (written by :meth:`save`).

    Attributes
    ----------
    scales : (M,) disorder strengths relative to the case's
    gamma_eV : (M,) broadening -Im Tr Sigma/N at each
    values : dict name -> part -> (M,) densities at the case's field (unit of O nm^-d)
    fits : dict name -> part -> dict(a, b, a_error, b_error, order)
    qkt : dict name -> part -> float (kinetic-theory bulk parts, same case), or {}
    units : dict name -> unit of O
    attrs : dict of scalars and strings
    """

    case: dict
    scales: np.ndarray
    gamma_eV: np.ndarray
    values: dict
    fits: dict
    qkt: dict
    units: dict
    attrs: dict
    provenance: dict = dataclasses.field(default_factory=dict)

    def save(self, path, force=None, protect=()):
        """Write atomically (slabqkt.result.atomic_h5); returns the path."""
        import os

        from .. import case as case_mod
        from .. import provenance
        from ..result import _reason, atomic_h5, check_target
        if force is not None:
            check_target(path, force, protect, formats=("slabqkt-kubo",))
        prov = provenance.collect()
        prov.update(self.provenance)
        d = self.attrs["dimension"]
        try:
            with atomic_h5(path) as f:
                f.attrs["format"] = FORMAT
                f.attrs["case"] = case_mod.to_toml(self.case)
                for k, v in self.attrs.items():
                    f.attrs[k] = v
                f.create_dataset("scales", data=self.scales).attrs["units"] = "1"
                f.create_dataset("gamma_eV", data=self.gamma_eV).attrs["units"] = "eV"
                g = f.create_group("kubo")
                for name, parts in self.values.items():
                    unit = _density_unit(self.units[name], d)
                    go = g.create_group(name)
                    go.attrs["units"] = unit
                    go.attrs["operator_units"] = self.units[name]
                    for part, vals in parts.items():
                        ds = go.create_dataset(part, data=np.asarray(vals))
                        ds.attrs["units"] = unit
                        for key, val in self.fits[name][part].items():
                            ds.attrs["fit_" + key] = val
                    if name in self.qkt:
                        for part, val in self.qkt[name].items():
                            go.attrs["qkt_" + part] = val
                q = f.create_group("qkt")
                for name, parts in self.qkt.items():
                    gq = q.create_group(name)
                    gq.attrs["units"] = _density_unit(self.units[name], d)
                    for part, val in parts.items():
                        gq.attrs[part] = val
                gp = f.create_group("provenance")
                for k, v in prov.items():
                    gp.attrs[k] = v
        except OSError as exc:
            raise SlabQKTError(f"cannot write {os.fspath(path)}: {_reason(exc)}") from None
        return os.fspath(path)

    def table(self):
        """Lines of the side-by-side report."""
        d = self.attrs["dimension"]
        lines = [f"Kubo-Bastin + SCBA + ladder, {len(self.scales)} disorder strengths s = "
                 + ", ".join(f"{s:g}" for s in self.scales) + f" (Gamma = "
                 + ", ".join(f"{g:.4g}" for g in self.gamma_eV) + " eV); fit chi(s) = a/s + b "
                 "+ c s + ...; densities at the case's field",
                 f"{'observable':<20}{'':<12}{'1/Gamma part a':>16}{'finite part b':>16}"
                 f"{'a + b':>16}{'at s = 1':>16}"]
        for name in self.values:
            unit = _density_unit(self.units[name], d)
            for part, label in (("total", "Kubo ladder"), ("total_intra", "  intraband"),
                                ("total_inter", "  interband"), ("total_bare", "Kubo bare"),
                                ("vertex", "vertex corr."), ("II", "Fermi sea II")):
                if part not in self.fits[name]:
                    continue
                f = self.fits[name][part]
                v1 = self.values[name][part][int(np.argmin(abs(self.scales - 1)))]
                lines.append(f"{name if part == 'total' else '':<20}{label:<12}{f['a']:>16.7g}"
                             f"{f['b']:>16.7g}{f['a'] + f['b']:>16.7g}{v1:>16.7g}")
            if name in self.qkt:
                q = self.qkt[name]
                lines.append(f"{'':<20}{'QKT':<12}{q['intra']:>16.7g}"
                             f"{q['intrinsic'] + q['disorder'] + q['gradient']:>16.7g}"
                             f"{q['total']:>16.7g}   (intrinsic {q['intrinsic']:.7g}, "
                             f"disorder {q['disorder']:.7g})  [{unit}]")
        return lines


def _density_unit(u, d):
    return f"{u} nm^-{d}" if u != "1" else f"nm^-{d}"


def run_kubo(case, scales=DEFAULT_SCALES, options=None, real_part=None, comm=None, qkt=True,
             vertex_rr=True, band_split=True):
    """Evaluate the Kubo response of a resolved case at several disorder strengths.

    Parameters
    ----------
    case : dict
        A resolved case (slabqkt.load_case).
    scales : sequence of float
        Disorder strengths relative to the case's (n_i v0^2 -> s n_i v0^2).
    options : SampleOptions, optional
    real_part : str, optional
        Rule for the Hermitian part of Sigma (default 'traceless' for continuum models,
        'full' for lattice models).
    comm : mpi4py communicator, optional
        k points are split over its ranks; every k-sum is reduced over them.
    qkt : bool
        Also evaluate the kinetic-theory bulk parts (the side-by-side report).
    band_split : bool
        Also split every response into its intraband and interband parts (SPLIT_PARTS).

    Returns
    -------
    KuboResult
    """
    from ..simulation import Simulation
    options = options or SampleOptions()
    scales = np.asarray(sorted(set(float(s) for s in scales), reverse=True))
    if len(scales) == 0 or np.any(scales <= 0):
        raise SlabQKTError(f"--broadening {','.join(f'{x:g}' for x in scales)}: allowed positive "
                           "scale factors of the case's disorder strength, e.g. 1,0.5,0.25,0.125")
    # the kinetic theory of the same case: disorder strength (and the side-by-side parts)
    sim = Simulation(case, "scipy")
    model = sim.model
    n_case = sim.n_i_v0_sq
    names = [o.name for o in sim.observables.observables]
    field = sim.field
    E = float(np.linalg.norm(field))
    lattice = getattr(model, "zone", None) is not None
    real_part = real_part or ("full" if lattice else "traceless")
    if comm is not None and comm.size > 1:
        from mpi4py import MPI
        rank, size = comm.rank, comm.size

        def allreduce(a):
            a = np.ascontiguousarray(a)
            out = np.empty_like(a)
            comm.Allreduce(a, out, op=MPI.SUM)
            return out
    else:
        rank, size, allreduce = 0, 1, None
    energies, eweights = energy_rule(case, sim)
    custom = case["observables"].get("custom")
    parts = PARTS + (SPLIT_PARTS if band_split else ())
    values = {n: {p: np.zeros(len(scales)) for p in parts} for n in names}
    gammas = np.zeros(len(scales))
    info = []
    gamma_case = HBAR / (2 * sim.tau)  # the broadening of the case's disorder (sample widths)
    for i, s in enumerate(scales):
        shared = None
        if lattice and len(energies) > 1:
            # T > 0: one zone rule refined for the whole energy window serves every slice
            # (the response is then a smooth function of the energy, slabqkt.kubo.temperature)
            shared = build_sample(model, (float(energies.min()), float(energies.max())),
                                  s * gamma_case, options).local(rank, size)
        for e, we in zip(energies, eweights):
            sample = shared if shared is not None else \
                build_sample(model, e, s * gamma_case, options).local(rank, size)
            r = kubo_response(model, sample, e, s * n_case, field, names, allreduce=allreduce,
                              real_part=real_part, custom=custom, vertex_rr=vertex_rr,
                              gamma_guess=s * gamma_case, band_split=band_split)
            for n in names:
                for p in parts:
                    values[n][p][i] += we * r.parts[n][p] * E
            gammas[i] += we * r.gamma
            info.append({"scale": s, "energy_eV": e, "k_points": sample.info.get("global_size",
                         sample.size), "scba_iterations": r.info["scba_iterations"],
                         "ward_smin": r.info["ward_smin"], "zero_modes": r.info["zero_modes"]})
            log.info("kubo: s = %g, E = %.6g eV: Gamma = %.5g eV, %d k points, SCBA %d "
                     "iterations, %d zero mode(s) of the RA ladder (smallest singular value "
                     "%.2g)", s, e, r.gamma, info[-1]["k_points"], r.info["scba_iterations"],
                     r.info["zero_modes"], r.info["ward_smin"])
    fits = {n: {p: extrapolate(scales, values[n][p]) for p in parts} for n in names}
    units = {o.name: o.unit for o in sim.observables.observables}
    q = {}
    if qkt:
        res = sim.run_bulk()
        q = {n: {p: float(np.asarray(res.observables[n][p])) for p in QKT_PARTS} for n in names}
    attrs = {"dimension": int(model.dimension), "fermi_level_eV": float(case["fermi_surface"]["fermi_level_eV"]),
             "field_V_per_nm": np.asarray(field, float), "n_i_v0_sq": float(n_case),
             "tau_fs": float(sim.tau), "real_part": real_part, "vertex_rr": bool(vertex_rr),
             "temperature_K": float(case.get("temperature", {}).get("kelvin", 0.0)),
             "energy_slices": int(len(energies)),
             "ranks": int(size), "extrapolation": "per part: least squares of chi(s) on "
             "{1/s, 1, s, ..., s^order}; fit_a = 1/Gamma part at s = 1, fit_b = finite part",
             "sample": json.dumps(dataclasses.asdict(options)), "runs": json.dumps(info)}
    return KuboResult(case=case, scales=scales, gamma_eV=gammas, values=values, fits=fits,
                      qkt=q, units=units, attrs=attrs)


def load_kubo(path):
    """Read a ``slabqkt kubo`` result file back into a :class:`KuboResult`."""
    from .. import case as case_mod
    from ..result import _plain, open_hdf5
    with open_hdf5(path, "slabqkt Kubo result") as f:
        fmt = _plain(f.attrs.get("format", ""))
        if not str(fmt).startswith("slabqkt-kubo"):
            raise SlabQKTError(f"{path} is not a slabqkt Kubo result (format attribute {fmt!r}, "
                               f"expected {FORMAT!r})")
        case = case_mod.resolve(case_mod.tomllib.loads(_plain(f.attrs["case"])))
        attrs = {k: _plain(v) for k, v in f.attrs.items() if k not in ("case", "format")}
        values, fits, units = {}, {}, {}
        for name, g in f["kubo"].items():
            units[name] = _plain(g.attrs["operator_units"])
            values[name] = {p: np.asarray(g[p][()]) for p in g}
            fits[name] = {p: {k[4:]: _plain(v) for k, v in g[p].attrs.items()
                              if k.startswith("fit_")} for p in g}
        qkt = {name: {k: float(v) for k, v in g.attrs.items() if k != "units"}
               for name, g in f["qkt"].items()}
        prov = {k: _plain(v) for k, v in f["provenance"].attrs.items()} if "provenance" in f else {}
        return KuboResult(case=case, scales=np.asarray(f["scales"][()]),
                          gamma_eV=np.asarray(f["gamma_eV"][()]), values=values, fits=fits,
                          qkt=qkt, units=units, attrs=attrs, provenance=prov)


def describe_kubo(path):
    """Lines of ``slabqkt info`` for a Kubo result file."""
    from .. import provenance
    res = load_kubo(path)
    model = res.case.get("model", {})
    head = (f"{path}: slabqkt Kubo result, case {res.case.get('name', '?')!r}, model "
            f"{model.get('kind', '?')} {model.get('dimension', '?')}D, E_F = "
            f"{res.attrs.get('fermi_level_eV', float('nan')):.5g} eV, tau = "
            f"{res.attrs.get('tau_fs', float('nan')):.5g} fs (kinetic theory's), real part of "
            f"Sigma: {res.attrs.get('real_part', '?')}, {res.attrs.get('ranks', 1)} rank(s)")
    return [head] + res.table() + provenance.summary(res.provenance)
