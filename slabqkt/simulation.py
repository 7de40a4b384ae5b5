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
from .distribution import MatrixBulkBoltzmann, MatrixCollision, MatrixSlabBoltzmann, resolve_form
from .edge import cell_integrals, edge_quantities
from .errors import CaseError, ModelError
from .fermi_surface import FermiSurface, band_extrema
from .models import build_model
from .observables import ObservableSet, make_observable
from .provenance import stage
from .resources import check_memory
from .result import Result
from .slab import Surface, grid_from_case
from .solvers import get_backend
from .thermal import fermi_window_rule, merge_edges
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
        self.grid = None
        self.fs = self._fermi_surface(mu)
        self._disorder()
        self.grazing = self._grazing_scale()
        if self.grazing is not None:
            # thin slab: the grazing states (|v_x|/|v| below ~ d/l) carry the current; refine
            # the angular rule towards v_x = 0 (docs/theory.md, "Angular rule")
            self.fs = self._fermi_surface(mu, self.grazing)
            self._disorder()
            log.info("thin slab (d/l = %.3g): angular rule refined towards v_x = 0 down to "
                     "|v_x|/|v| ~ %.3g", self.thickness / self.mean_free_path, self.grazing)
        fc = case["field"]
        direction = np.asarray(fc["direction"], float)
        self.field = direction / np.linalg.norm(direction) * fc["magnitude_V_per_m"] / V_PER_M_PER_V_PER_NM
        names = list(dict.fromkeys(list(ALWAYS) + (["current_z"] if self.model.dimension == 3 else [])
                                   + list(case["observables"]["names"])))
        obs = [make_observable(n, self.model, case["observables"].get("custom")) for n in names]
        with stage("observable_weights"):
            sea = None
            if self.lattice:
                sea = {"grid": fsc["sea_grid"],
                       "refine": fsc.get("sea_refine") or (4 if self.model.dimension == 2 else 2),
                       "tolerance": fsc["sea_tolerance"], "partition": self.backend.partition,
                       "allreduce": self.backend.allreduce}
            self.observables = ObservableSet(obs, self.model, self.fs, self.coll, self.field,
                                             fsc["n_radial"], sea=sea, states=self.local_units(),
                                             allreduce=self.backend.allreduce)
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

    #: d/l below which fermi_surface.grazing_refinement = 'auto' refines the angular rule
    GRAZING_KAPPA = 0.1

    def _fermi_surface(self, mu, grazing=None):
        fsc = self.case["fermi_surface"]
        try:
            with stage("fermi_surface"):
                if self.lattice:
                    from .lattice.fermi_surface import LatticeFermiSurface
                    return LatticeFermiSurface(self.model, mu, fsc["lattice_grid"],
                                               fsc.get("n_points"), fsc["degeneracy_tol_eV"],
                                               partition=self.backend.partition,
                                               allgather=self.backend.allgather,
                                               refine=fsc.get("refine") or 1)
                return FermiSurface(self.model, mu, fsc["n_angles"], fsc["n_polar"],
                                    fsc.get("k_max"), fsc["degeneracy_tol_eV"],
                                    angular_rule=fsc["angular_rule"], grazing=grazing)
        except ModelError as exc:
            raise CaseError("fermi_surface.fermi_level_eV", mu,
                            f"not usable with this model: {exc}") from None

    def _disorder(self):
        """Disorder strength, collision operator, tau, l and d (nm) on the current surface."""
        self.n_i_v0_sq = n_i_v0_sq_from_case(self.case["disorder"], self.fs)
        self.coll = Collision(self.fs, self.n_i_v0_sq)
        self.tau = self.coll.mean_tau()
        #: the matrix intraband distribution (docs/theory.md, "Degenerate eigenspaces"); 'auto'
        #: takes the scalar form where it is exact (distribution.resolve_form)
        form = self.case["disorder"].get("intraband_form", "auto")
        with stage("intraband_form"):
            self.intraband_form, why = resolve_form(form, self.fs, self.coll.basis, self.backend)
        if form == "auto":
            log.info("disorder.intraband_form = 'auto' -> '%s': %s", self.intraband_form, why)
        self.matrix = self.intraband_form == "matrix"
        if self.matrix and form != "matrix":  # the estimate of 'auto' was the scalar one
            check_memory({**self.case, "disorder": {**self.case["disorder"],
                                                     "intraband_form": "matrix"}},
                         ranks=self.backend.size, bands=self.model.N)
        if self.matrix:
            self.coll = MatrixCollision(self.fs, self.n_i_v0_sq)
        check_merged_splitting(self.fs, self.tau)
        self.mean_free_path = self.fs.mean_speed() * self.tau
        slab = self.case["slab"]
        if "thickness_nm" in slab:
            self.thickness = slab["thickness_nm"]
        elif "thickness_mfp" in slab:
            self.thickness = slab["thickness_mfp"] * self.mean_free_path
        else:
            self.thickness = None

    def _grazing_scale(self):
        """The angular scale d/l of a thin slab's grazing refinement, or None."""
        if self.thickness is None or self.lattice:  # the lattice sampler has no ray rule
            return None
        kappa = self.thickness / self.mean_free_path
        if kappa >= self.GRAZING_KAPPA:
            return None
        fsc = self.case["fermi_surface"]
        mode = fsc.get("grazing_refinement", "auto")
        if mode == "auto" and (self.model.dimension == 3 or fsc["angular_rule"] == "gauss"):
            return kappa
        if kappa < 0.01:
            log.warning("thin slab (d/l = %.3g) without grazing refinement (fermi_surface."
                        "grazing_refinement = '%s', angular_rule = '%s'): the grazing states "
                        "(|v_x|/|v| < d/l) that carry the current are under-resolved, the "
                        "conductivity can be low by tens of percent (e.g. 54 %% at d/l = 1e-6 "
                        "with 64 angles in 2D); use grazing_refinement = 'auto'", kappa, mode,
                        fsc["angular_rule"])
        return None

    # -- bulk -----------------------------------------------------------------
    def bulk(self):
        """Homogeneous solution: phi (Ns,) and observables (dict of scalars)."""
        with stage("bulk"):
            solver = MatrixBulkBoltzmann if self.matrix else BulkBoltzmann
            phi, m = solver(self.fs, self.coll, self.field).solve()
            mine = self.local_units()  # the weights live there: partial sums, reduced
            parts = self.backend.allreduce(
                self.observables.local_parts(phi[mine], np.zeros(len(mine)), m, mine))
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
    def _prepare(self):
        """The grid and the two surfaces (raises the missing-thickness error)."""
        if self.thickness is None:
            raise CaseError("slab.thickness_nm", None, "a slab run needs slab.thickness_nm or "
                            "slab.thickness_mfp")
        self._make_grid()
        bl, br = self.case["boundaries"]["left"], self.case["boundaries"]["right"]
        self.surfaces = Surface.from_case(bl), Surface.from_case(br)

    def local_pairs(self):
        """The v_x > 0 states whose mirror pairs this rank sweeps (contiguous blocks)."""
        plus = np.nonzero(self.fs.v[:, 0] > 0)[0]
        return plus[self.backend.partition(len(plus))]

    def local_states(self):
        """This rank's states: its pairs and their mirror partners."""
        mine = self.local_pairs()
        return np.concatenate([mine, self.fs.mirror[mine]])

    def local_units(self):
        """This rank's unknowns per point: its states, or their components (matrix mode)."""
        mine = self.local_states()
        return self.coll.comp.of_states(mine) if self.matrix else mine

    def problem(self):
        self._prepare()
        pL, pR = self.surfaces[0].p(self.fs.k), self.surfaces[1].p(self.fs.k)
        mine = self.local_pairs()
        if self.matrix:
            return MatrixSlabBoltzmann(self.fs, self.coll, self.grid, pL, pR, self.field,
                                       pairs=mine, allreduce=self.backend.allreduce,
                                       model=self.model,
                                       form=self.case["disorder"].get("intraband_form", "auto"))
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

    # -- temperature ----------------------------------------------------------
    def _thermal_rules(self):
        """T > 0: energies (eV) and the weights of the rule and of its check rule.

        The -df/de window mu +- energy_window_kT kT is split at the band edges
        inside it and clipped at the band bottom (:mod:`slabqkt.thermal`);
        ``n_energies`` nodes per panel. The check rule has half as many; its
        nodes are other energies, so both weight vectors run over the union.

        Returns
        -------
        energies : (M,) eV
        weights, check : (M,) weights of the rule and of the check rule (None
            without one, n_energies = 1); zero on the other rule's nodes.
        """
        if getattr(self, "_rules", None) is not None:
            return self._rules
        tc = self.case["temperature"]
        kT = KB * tc["kelvin"]
        mu, W = self.fs.energy, tc["energy_window_kT"]
        fsc = self.case["fermi_surface"]
        if self.lattice:
            # periodic bands: each band's minimum and maximum on a coarse zone grid (where its
            # sheet appears and leaves); approximate, and the lattice sampler cannot resolve
            # the tiny pockets next to a band bottom, so the window is not clipped
            edges, bottom = _zone_band_edges(self.model), -np.inf
        else:
            k_max = fsc.get("k_max") or self.model.k_max(mu + W * kT)
            if k_max is None:  # no bound on |k|: the k = 0 eigenvalues only
                edges = np.linalg.eigvalsh(self.model.h(np.zeros(self.model.dimension)))
                bottom = -np.inf
            else:
                edges, bottom = band_extrema(self.model, self.fs.ray_dirs, k_max)
        edges = merge_edges((edges - mu) / kT, 1e-3)
        lo = None
        if bottom > mu - W * kT:
            lo = (bottom - mu) / kT
            log.info("the energy window mu - %g kT = %.5g eV reaches below the band bottom "
                     "%.5g eV: clipped there (no states below)", W, mu - W * kT, bottom)
        inside = edges[(edges > (-W if lo is None else lo) + 1e-3) & (edges < W - 1e-3)]
        if len(inside):
            log.info("energy quadrature split at the band edge(s) %s eV",
                     ", ".join(f"{mu + e * kT:.5g}" for e in inside))
        n = tc["n_energies"]
        x, w = fermi_window_rule(n, W, inside, lo)
        if n > 1:
            xc, wc = fermi_window_rule(n // 2, W, inside, lo)
            x_all = np.concatenate([x, xc])
            weights = np.concatenate([w, np.zeros_like(wc)])
            check = np.concatenate([np.zeros_like(w), wc])
        else:
            x_all, weights, check = x, w, None
        self._rules = (mu + kT * x_all, weights, check)
        return self._rules

    def energy_slices(self):
        """T > 0: energies (eV) and weights of the -df/de rule (sum 1 unless clipped)."""
        e, w, _ = self._thermal_rules()
        keep = w != 0
        return e[keep], w[keep]

    def _slice(self, energy):
        """A T = 0 simulation at another energy with the same disorder, slab (nm) and grid."""
        sub = copy.deepcopy(self.case)
        sub["fermi_surface"]["fermi_level_eV"] = float(energy)
        sub["temperature"]["kelvin"] = 0.0
        sub["disorder"] = {"n_i_v0_sq": self.n_i_v0_sq,
                           "intraband_form": self.case["disorder"].get("intraband_form", "auto")}
        sub["slab"].pop("thickness_mfp", None)
        if self.thickness is not None:
            sub["slab"]["thickness_nm"] = float(self.thickness)
        try:
            sim = Simulation(sub, self.backend)
        except CaseError as exc:
            raise CaseError("temperature.kelvin", self.case["temperature"]["kelvin"],
                            f"the energy window reaches {energy:.5g} eV, where: {exc}") from None
        if self.thickness is not None:
            sim.grid = self._make_grid()  # every slice on the grid of this run
        return sim

    def _slices(self):
        """The T = 0 problems of this run: [(simulation, weight, check weight)].

        At T = 0 the run itself with weight 1; at T > 0 every energy slice
        (all built first: a window reaching an unusable energy fails before
        any solve).
        """
        if self.case["temperature"]["kelvin"] <= 0:
            return [(self, 1.0, None)]
        energies, weights, check = self._thermal_rules()
        if check is None:
            check = [None] * len(energies)
        return [(self._slice(e), w, c) for e, w, c in zip(energies, weights, check)]

    def _weighted(self, solve, scalar):
        """Weighted sums over the slices and the relative quadrature error estimate.

        ``solve(sim)`` returns (dict, ..., dict, extra): nested dicts
        name -> part -> value, then anything. Returns the weighted sum of every
        dict, the list of the extras of all slices, and the relative difference
        of ``scalar(first dict)`` between the rule and its check rule (nan
        without one).
        """
        slices = self._slices()
        #: the intraband form each slice used ('auto' decides per energy)
        self._slice_forms = sorted({sim.intraband_form for sim, _, _ in slices})
        sums, check_sum, extras = None, 0.0, []
        prog = Progress(len(slices), "energy slices") if len(slices) > 1 else None
        has_check = any(c is not None for _, _, c in slices)
        for sim, wgt, cw in slices:
            *dicts, extra = solve(sim)
            if cw:
                check_sum = check_sum + cw * scalar(dicts[0])
            if wgt:
                scaled = [_scale(dct, wgt) for dct in dicts]
                sums = scaled if sums is None else [_add(a, b) for a, b in zip(sums, scaled)]
            extras.append(extra)
            if prog:
                prog.update()
        err = float("nan")
        if has_check:
            val = scalar(sums[0])
            err = float(abs(val - check_sum) / abs(val)) if val != 0 else float("nan")
            tol = self.case["temperature"].get("tolerance", 1e-4)
            if err > tol:
                log.warning("the T > 0 energy quadrature error estimate %.2g (relative, current "
                            "along E) exceeds temperature.tolerance = %.2g: raise "
                            "temperature.n_energies", err, tol)
            else:
                log.info("T > 0 energy quadrature: %d slices, error estimate %.2g", len(slices),
                         err)
        return (*sums, extras, err)

    def _make_grid(self):
        if self.grid is None:
            self.grid = grid_from_case(self.case["slab"], self.thickness, self.mean_free_path)
        return self.grid

    def run(self):
        """Solve the slab and evaluate every observable; returns a :class:`Result`.

        At T > 0 every energy slice is an independent T = 0 problem (elastic
        scattering) on the same grid and the result is their -df/de weighted
        sum; T = 0 is the one-slice case.
        """
        self._prepare()

        def one(sim):
            obs, prims, info, n = sim.solve()
            return obs, sim.bulk()[1], prims, (info, n)

        def current(obs):
            return self.grid.integrate(self._along_field(obs))

        obs, bulk_obs, prims, extras, qerr = self._weighted(one, current)
        infos = [e[0] for e in extras]
        n_unknowns = extras[0][1]
        iterations = sum(i.iterations for i in infos)
        residual = max(i.residual for i in infos)
        seconds = sum(i.seconds for i in infos)
        backend = infos[0].backend
        x = self.grid.x
        jE = self._along_field(obs)
        jE_bulk = self._along_field(bulk_obs)
        ratio = float(self.grid.integrate(jE) / self.thickness / jE_bulk)
        edges = {}
        for name, prof in obs.items():
            cells = cell_integrals(x, prof, prims[name]["gradient"])
            edges[name] = {part: edge_quantities(x, prof[part], self.mean_free_path, cells[part])
                           for part in ("total", "gradient", "intra", "disorder")}
        attrs = self._attrs(bulk_obs, qerr)
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
            "grid": self.grid.kind,
            "first_cell_mfp": float(self.grid.dx[0] / self.mean_free_path),
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

    def _attrs(self, bulk_obs, quadrature_error=float("nan")):
        d = self.model.dimension
        sig = self.bulk_conductivity(bulk_obs)
        out = {
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
            # the form used (what 'auto' resolved to); 'equal_occupation+matrix' when the
            # energy slices of a T > 0 run resolved differently
            "intraband_form": "+".join(getattr(self, "_slice_forms", None)
                                       or [self.intraband_form]),
            "min_interband_gap_eV": float(self.observables.min_gap),
            **self._film_attrs(),
            "hbar_eV_fs": HBAR,
        }
        if self.case["temperature"]["kelvin"] > 0:
            out["energy_slices"] = int(len(self.energy_slices()[0]))
            out["temperature_quadrature_error"] = float(quadrature_error)
        if self.grazing is not None:
            out["grazing_refinement_scale"] = float(self.grazing)
        return out

    def run_bulk(self):
        """Bulk-only result (scalars); T > 0 sums energy slices."""
        obs, _, qerr = self._weighted(lambda sim: (sim.bulk()[1], None),
                                      lambda o: self._along_field(o))
        units = {o.name: o.unit for o in self.observables.observables}
        ierr = self._intrinsic_errors()
        return Result(case=self.case, x=None, observables=obs, bulk=obs,
                      attrs=self._attrs(obs, qerr), units=units, edges={}, intrinsic_error=ierr)


def _zone_band_edges(model, n=24):
    """Per-band minimum and maximum (eV) of a lattice model on an n^d grid of its zone.

    The grid holds k = 0 and the zone-boundary points (n even), where the
    extrema of symmetric lattices sit; elsewhere they are approximate.
    """
    d = model.dimension
    t = np.arange(n) / n
    frac = np.stack(np.meshgrid(*([t] * d), indexing="ij"), axis=-1).reshape(-1, d)
    k = frac @ np.asarray(model.zone.reciprocal, float)
    chunks = np.array_split(k, max(1, len(k) // 4096))  # bounded memory for large N
    ev = np.concatenate([np.linalg.eigvalsh(model.h(c)) for c in chunks])
    return np.concatenate([ev.min(axis=0), ev.max(axis=0)])


def _scale(obs, w):
    return {n: {p: w * np.asarray(v) for p, v in parts.items()} for n, parts in obs.items()}


def _add(a, b):
    return {n: {p: a[n][p] + b[n][p] for p in a[n]} for n in a}


def run_case(path_or_case, overrides=(), backend=None):
    """Load (if a path), solve the slab, return the :class:`Result`."""
    case = path_or_case if isinstance(path_or_case, dict) else case_mod.load_case(path_or_case, overrides)
    return Simulation(case, backend).run()
