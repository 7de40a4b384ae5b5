"""The pipeline: case -> model -> Fermi surface -> operator -> solver -> observables -> result.

:class:`Simulation` is the Python API (notebooks); the CLI calls it too.

Examples
--------
>>> from slabqkt import load_case, Simulation
>>> case = load_case("geometries/rashba_strip.toml", ["slab.n_x=100"])
>>> result = Simulation(case).run()          # doctest: +SKIP
>>> result.conductivity_ratio                # doctest: +SKIP
"""
import copy
import time

import numpy as np

from . import case as case_mod
from .boltzmann import BulkBoltzmann, SlabBoltzmann
from .collision import Collision, check_merged_splitting, n_i_v0_sq_from_case
from .edge import cell_integrals, edge_quantities
from .errors import CaseError, ModelError
from .fermi_surface import FermiSurface
from .models import build_model
from .observables import ObservableSet, make_observable
from .provenance import stage
from .resources import check_memory
from .result import Result
from .slab import Grid, Surface
from .solvers import get_backend
from .tools import Progress, get_logger
from .units import HBAR, KB, V_PER_M_PER_V_PER_NM, conductivity_to_si, conductivity_si_unit

log = get_logger("simulation")

#: observables every run evaluates (the conductivity needs the currents)
ALWAYS = ("density", "current_x", "current_y")


class Simulation:
    """A resolved case turned into its discrete problem.

    Parameters
    ----------
    case : dict
        A resolved case (:func:`slabqkt.load_case` or :func:`slabqkt.case.resolve`).
    backend : Backend or str, optional
        Default: the case's ``solver.backend``.
    """

    def __init__(self, case, backend=None, comm=None):
        if not isinstance(case, dict) or "model" not in case:
            raise CaseError("case", type(case).__name__, "allowed: a resolved case dict (load_case)")
        self.case = case
        if backend is None or isinstance(backend, str):
            backend = get_backend(backend or case["solver"]["backend"], comm)
        self.backend = backend
        t0 = time.perf_counter()
        self.model = build_model(case)
        check_memory(case, ranks=self.backend.size, bands=self.model.N)  # before anything large
        fsc = case["fermi_surface"]
        mu = fsc["fermi_level_eV"]
        self.lattice = getattr(self.model, "zone", None) is not None
        try:
            with stage("fermi_surface"):
                if self.lattice:
                    from .lattice.fermi_surface import LatticeFermiSurface
                    self.fs = LatticeFermiSurface(self.model, mu, fsc["lattice_grid"],
                                                  fsc.get("n_points"), fsc["degeneracy_tol_eV"],
                                                  partition=self.backend.partition,
                                                  allgather=self.backend.allgather)
                else:
                    self.fs = FermiSurface(self.model, mu, fsc["n_angles"], fsc["n_polar"],
                                           fsc.get("k_max"), fsc["degeneracy_tol_eV"],
                                           angular_rule=fsc["angular_rule"])
        except ModelError as exc:
            raise CaseError("fermi_surface.fermi_level_eV", mu, f"not usable with this model: {exc}") from None
        self.n_i_v0_sq = n_i_v0_sq_from_case(case["disorder"], self.fs)
        self.coll = Collision(self.fs, self.n_i_v0_sq)
        self.tau = self.coll.mean_tau()
        check_merged_splitting(self.fs, self.tau)
        self.mean_free_path = self.fs.mean_speed() * self.tau
        slab = case["slab"]
        if "thickness_nm" in slab:
            self.thickness = slab["thickness_nm"]
        elif "thickness_mfp" in slab:
            self.thickness = slab["thickness_mfp"] * self.mean_free_path
        else:
            self.thickness = None
        fc = case["field"]
        direction = np.asarray(fc["direction"], float)
        self.field = direction / np.linalg.norm(direction) * fc["magnitude_V_per_m"] / V_PER_M_PER_V_PER_NM
        names = list(dict.fromkeys(list(ALWAYS) + (["current_z"] if self.model.dimension == 3 else [])
                                   + list(case["observables"]["names"])))
        obs = [make_observable(n, self.model, case["observables"].get("custom")) for n in names]
        with stage("observable_weights"):
            sea = None
            if self.lattice:
                sea = {"grid": fsc["sea_grid"], "refine": fsc["sea_refine"],
                       "tolerance": fsc["sea_tolerance"], "partition": self.backend.partition,
                       "allreduce": self.backend.allreduce}
            self.observables = ObservableSet(obs, self.model, self.fs, self.coll, self.field,
                                             fsc["n_radial"], sea=sea)
        self.setup_seconds = time.perf_counter() - t0
        log.info("Fermi surface: %d states on %d sheet(s), tau = %.4g fs, l = %.4g nm, "
                 "n_i v0^2 = %.4g eV^2 nm^%d", self.fs.n_states, self.fs.n_sheets, self.tau,
                 self.mean_free_path, self.n_i_v0_sq, self.model.dimension)
        gap = self.observables.min_gap
        if np.isfinite(gap) and gap < HBAR / self.tau:
            log.warning("the smallest interband gap on the Fermi surface, %.3g eV, is below "
                        "hbar/tau = %.3g eV: the interband parts of Eq. (1) are the leading "
                        "order in hbar/(tau gap) and are not reliable here (docs/orbital.md, "
                        "the beta -> 0 limit)", gap, HBAR / self.tau)

    # -- bulk -----------------------------------------------------------------
    def bulk(self):
        """Homogeneous solution: phi (Ns,) and observables (dict of scalars)."""
        with stage("bulk"):
            phi, m = BulkBoltzmann(self.fs, self.coll, self.field).solve()
            allst = np.arange(self.fs.n_states)
            parts = self.observables.local_parts(phi, np.zeros_like(phi), m, allst)
            obs = self.observables.finish(parts, m)
        return phi, obs

    def bulk_conductivity(self, obs):
        """sigma_bulk along E, |e|^2/(eV fs nm^(d-2))."""
        return self._along_field(obs, scalar=True) / np.linalg.norm(self.field)

    def _along_field(self, obs, scalar=False):
        e = self.field / np.linalg.norm(self.field)
        j = sum(e[i] * obs[f"current_{a}"]["total"] for i, a in enumerate("xyz")
                if f"current_{a}" in obs)
        return j

    # -- slab -----------------------------------------------------------------
    def problem(self):
        if self.thickness is None:
            raise CaseError("slab.thickness_nm", None, "a slab run needs slab.thickness_nm or "
                            "slab.thickness_mfp")
        sc = self.case["slab"]
        self.grid = Grid(self.thickness, sc["n_x"], sc["grading"])
        bl, br = self.case["boundaries"]["left"], self.case["boundaries"]["right"]
        self.surfaces = Surface.from_case(bl), Surface.from_case(br)
        pL, pR = self.surfaces[0].p(self.fs.k), self.surfaces[1].p(self.fs.k)
        plus = np.nonzero(self.fs.v[:, 0] > 0)[0]
        mine = plus[self.backend.partition(len(plus))]
        return SlabBoltzmann(self.fs, self.coll, self.grid, pL, pR, self.field, pairs=mine,
                             allreduce=self.backend.allreduce)

    def solve(self):
        """One T = 0 slab solve at this Fermi surface.

        Returns
        -------
        obs : dict name -> part -> (n_nodes,) profile
        prims : dict name -> {"gradient": (n_nodes,)} primitive of the gradient part
        info : SolveInfo
        n_unknowns : int
        """
        t0 = time.perf_counter()
        with stage("operator"):
            prob = self.problem()
        self.setup_seconds += time.perf_counter() - t0
        log.info("slab d = %.4g nm (%.4g l), %d nodes x %d moments + 2 = %d unknowns "
                 "(%d Fermi points), backend %s on %d rank(s)", self.thickness,
                 self.thickness / self.mean_free_path, self.grid.n_nodes, prob.n_moments,
                 prob.n_unknowns, self.fs.n_states, self.backend.name, self.backend.size)
        with stage("solve"):
            u, info = self.backend.solve(prob, self.case["solver"])
        log.info("solved in %d iterations, %.3g s, residual %.2g", info.iterations, info.seconds,
                 info.residual)
        with stage("observables"):
            phi, dphi, m = prob.solution(u)
            parts = self.backend.allreduce(self.observables.local_parts(phi, dphi, m, prob.states))
            obs = self.observables.finish(parts, m)
            # primitive G of the gradient part (gradient = -dG/dx): exact cell
            # integrals for the edge excess and decay length
            prim = self.backend.allreduce(self.observables.gradient_primitives(phi, prob.states))
        prims = {name: {"gradient": prim[..., i]} for i, name in enumerate(self.observables.names)}
        return obs, prims, info, prob.n_unknowns

    def energy_slices(self):
        """T > 0: energies (eV) and weights (-df/de Gauss-Legendre, normalised to 1)."""
        tc = self.case["temperature"]
        kT = KB * tc["kelvin"]
        x, w = np.polynomial.legendre.leggauss(tc["n_energies"])
        half = tc["energy_window_kT"] * kT
        xi = half * x
        weight = half * w / (4 * kT * np.cosh(xi / (2 * kT)) ** 2)
        return self.fs.energy + xi, weight / weight.sum()

    def _slice(self, energy):
        """A T = 0 simulation at another energy with the same disorder and slab (nm)."""
        sub = copy.deepcopy(self.case)
        sub["fermi_surface"]["fermi_level_eV"] = float(energy)
        sub["temperature"]["kelvin"] = 0.0
        sub["disorder"] = {"n_i_v0_sq": self.n_i_v0_sq}
        sub["slab"].pop("thickness_mfp", None)
        if self.thickness is not None:
            sub["slab"]["thickness_nm"] = float(self.thickness)
        try:
            return Simulation(sub, self.backend)
        except CaseError as exc:
            raise CaseError("temperature.kelvin", self.case["temperature"]["kelvin"],
                            f"the energy window reaches {energy:.5g} eV, where: {exc}") from None

    def _thermal(self, solve):
        """Weighted sums over energy slices.

        ``solve(sim)`` returns (dict, ..., dict, extra): nested dicts
        name -> part -> value, then anything; the result is the weighted sum
        of every dict and the list of the extras of all slices.
        """
        energies, weights = self.energy_slices()
        sums = None
        extras = []
        prog = Progress(len(energies), "energy slices")
        for e, wgt in zip(energies, weights):
            *dicts, extra = solve(self._slice(e))
            dicts = [_scale(dct, wgt) for dct in dicts]
            sums = dicts if sums is None else [_add(a, b) for a, b in zip(sums, dicts)]
            extras.append(extra)
            prog.update()
        return (*sums, extras)

    def run(self):
        """Solve the slab and evaluate every observable; returns a :class:`Result`.

        At T > 0 every energy slice is an independent T = 0 problem (elastic
        scattering) and the result is their -df/de weighted sum.
        """
        if self.case["temperature"]["kelvin"] > 0:
            if self.thickness is None:
                self.problem()  # raises the missing-thickness error

            def one(sim):
                obs, prims, info, n = sim.solve()
                return obs, sim.bulk()[1], prims, (info, n)
            obs, bulk_obs, prims, extras = self._thermal(one)
            infos = [e[0] for e in extras]
            n_unknowns = extras[0][1]
            self.grid = Grid(self.thickness, self.case["slab"]["n_x"], self.case["slab"]["grading"])
            self.surfaces = (Surface.from_case(self.case["boundaries"]["left"]),
                             Surface.from_case(self.case["boundaries"]["right"]))
            iterations = sum(i.iterations for i in infos)
            residual = max(i.residual for i in infos)
            seconds = sum(i.seconds for i in infos)
            backend = infos[0].backend
        else:
            obs, prims, info, n_unknowns = self.solve()
            _, bulk_obs = self.bulk()
            iterations, residual, seconds, backend = (info.iterations, info.residual,
                                                      info.seconds, info.backend)
        x = self.grid.x
        jE = self._along_field(obs)
        jE_bulk = self._along_field(bulk_obs)
        ratio = float(self.grid.integrate(jE) / self.thickness / jE_bulk)
        edges = {}
        for name, prof in obs.items():
            cells = cell_integrals(x, prof, prims[name]["gradient"])
            edges[name] = {part: edge_quantities(x, prof[part], self.mean_free_path, cells[part])
                           for part in ("total", "gradient", "intra", "disorder")}
        attrs = self._attrs(bulk_obs)
        attrs.update({
            "conductivity_ratio": ratio,
            "thickness_nm": float(self.thickness),
            "n_unknowns": int(n_unknowns),
            "backend": backend,
            "ranks": int(self.backend.size),
            "krylov_iterations": int(iterations),
            "relative_residual": float(residual),
            "solve_seconds": float(seconds),
            "setup_seconds": float(self.setup_seconds),
            "surface_left": self.surfaces[0].describe(),
            "surface_right": self.surfaces[1].describe(),
        })
        units = {o.name: o.unit for o in self.observables.observables}
        ierr = self._intrinsic_errors()
        return Result(case=self.case, x=x, observables=obs, bulk=bulk_obs, attrs=attrs,
                      units=units, edges=edges, intrinsic_error=ierr)

    def _film_attrs(self):
        """Lattice models: the film frame (rotation crystal -> film, x = normal) echoed."""
        f = getattr(getattr(self.model, "inner", self.model), "orientation", None)
        if f is None:
            return {}
        return {"film_rotation": np.asarray(f.rotation, float),
                "film_normal_primitive_reciprocal": np.asarray(f.miller, int),
                "film_normal_key": f"{f.key} = {f.value!r}",
                "fermi_surface_sampler": "lattice"}

    def _intrinsic_errors(self):
        """name -> two-grid error estimate of the intrinsic part (lattice models), else {}."""
        err = self.observables.intrinsic_error
        if err is None:
            return {}
        return {o.name: float(e) for o, e in zip(self.observables.observables, err)}

    def _attrs(self, bulk_obs):
        d = self.model.dimension
        sig = self.bulk_conductivity(bulk_obs)
        return {
            "sigma_bulk_SI": float(conductivity_to_si(sig, d)),
            "sigma_bulk_SI_unit": conductivity_si_unit(d),
            "mean_free_path_nm": float(self.mean_free_path),
            "tau_fs": float(self.tau),
            "n_i_v0_sq": float(self.n_i_v0_sq),
            "n_i_v0_sq_unit": f"eV^2 nm^{d}",
            "fermi_level_eV": float(self.fs.energy),
            "temperature_K": float(self.case["temperature"]["kelvin"]),
            "dimension": d,
            "field_V_per_nm": self.field.tolist(),
            "n_fermi_points": int(self.fs.n_states),
            "min_interband_gap_eV": float(self.observables.min_gap),
            **self._film_attrs(),
            "hbar_eV_fs": HBAR,
        }

    def run_bulk(self):
        """Bulk-only result (scalars); T > 0 sums energy slices."""
        if self.case["temperature"]["kelvin"] > 0:
            obs = self._thermal(lambda sim: (sim.bulk()[1], None))[0]
        else:
            _, obs = self.bulk()
        units = {o.name: o.unit for o in self.observables.observables}
        ierr = self._intrinsic_errors()
        return Result(case=self.case, x=None, observables=obs, bulk=obs,
                      attrs=self._attrs(obs), units=units, edges={}, intrinsic_error=ierr)


def _scale(obs, w):
    return {n: {p: w * np.asarray(v) for p, v in parts.items()} for n, parts in obs.items()}


def _add(a, b):
    return {n: {p: a[n][p] + b[n][p] for p in a[n]} for n in a}


def run_case(path_or_case, overrides=(), backend=None):
    """Load (if a path), solve the slab, return the :class:`Result`."""
    case = path_or_case if isinstance(path_or_case, dict) else case_mod.load_case(path_or_case, overrides)
    return Simulation(case, backend).run()
