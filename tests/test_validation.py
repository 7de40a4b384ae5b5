"""Issue 13: validation of case input, before anything is solved.

Every bad input is a one-line CaseError naming the key (items 3, 4, 5, 8, 9, 11, 16, 17, 18,
21, 23, 24), the SciPy solver stops on non-finite numbers and counts inner iterations (items 8,
20) and a run logs its size and memory estimate first (item 25).
"""
import math
import os
try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

import numpy as np
import pytest

from slabqkt import CaseError, Simulation, load_case, resolve
from slabqkt.case import to_toml
from slabqkt.collision import merged_splitting
from slabqkt.errors import ConvergenceError
from slabqkt.models import Rashba
from slabqkt.resources import check_memory, estimate, sizes
from slabqkt.result import load_result
from slabqkt.solvers.scipy_backend import KrylovProgress, ScipyBackend
from slabqkt.units import HBAR, HBAR2_OVER_2ME

from conftest import PARABOLIC, RASHBA, merge


#: a small 2-band bulk case (no slab): Simulation builds in well under a second
BULK = {"model": {"kind": "rashba", "dimension": 2, "effective_mass": 0.5, "alpha_R": 0.05},
        "fermi_surface": {"fermi_level_eV": 0.1, "n_angles": 16},
        "disorder": {"tau_fs": 20.0}}
STRIP = merge(BULK, {"slab": {"thickness_mfp": 2.0, "n_x": 20}})


def err(raw):
    """The one-line message of the CaseError that resolve + Simulation raise."""
    with pytest.raises(CaseError) as exc:
        Simulation(resolve(raw))
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


# ---------------------------------------------------------------------------------------------
# item 3: names and the stored case
# ---------------------------------------------------------------------------------------------
AWKWARD = {
    "name": "rashba 'quoted' \"double\" σ=½ #1",
    "output": {"file": "C:\\data\\run [1]#x = \"y\".h5"},
    "observables": {"names": ["my obs", "σ_z", "spin_x", "a=b#c[d]"],
                    "custom": {"my obs": {"real": [[1.0, 0.0], [0.0, -1.0]], "unit": "ħ/2 \"q\""},
                               "σ_z": {"real": [[1, 0], [0, -1]]},
                               "a=b#c[d]": {"imag": [[0.0, -1.0], [1.0, 0.0]], "unit": "x [y]\\z #"}}},
    "solver": {"petsc": {"ksp_type": "gmres", "ksp_monitor": True}},
}


def test_to_toml_round_trips_awkward_names():
    case = resolve(merge(BULK, AWKWARD))
    text = to_toml(case)
    assert resolve(tomllib.loads(text)) == case
    assert tomllib.loads(text)["observables"]["custom"]["a=b#c[d]"]["unit"] == "x [y]\\z #"


def test_result_file_keeps_awkward_names(tmp_path):
    case = resolve(merge(BULK, AWKWARD))
    res = Simulation(case).run_bulk()
    back = load_result(res.save(tmp_path / "r.h5"))
    assert resolve(back.case) == case
    assert set(back.observables) >= {"my obs", "σ_z", "a=b#c[d]"}
    assert back.units["my obs"] == "ħ/2 \"q\""
    # sigma_z as a custom matrix is the built-in spin_z (the custom values are really used)
    assert back.bulk["σ_z"]["total"] == pytest.approx(res.bulk["my obs"]["total"], abs=0)


@pytest.mark.parametrize("name", ["a\nb", "a/b", "../../x", "/abs/x", "..", ".", "-x", "",
                                  "x" * 101, " x", "a\\b", "a\x00b", {"a": 1}, 5])
def test_bad_case_name(name):
    msg = err(merge(BULK, {"name": name}))
    assert msg.startswith("name = ") and "file name" in msg


@pytest.mark.parametrize("name", ["a/b", "a.b", ".hidden", "", "x" * 65, "tab\there", " pad"])
def test_observable_names_are_hdf5_group_names(name):
    msg = err(merge(BULK, {"observables": {"names": [name]}}))
    assert msg.startswith("observables.names = ") and "'/'" in msg
    msg = err(merge(BULK, {"observables": {"names": [name], "custom": {name: {"real": [[1, 0], [0, 1]]}}}}))
    assert msg.startswith("observables.")


def test_valid_names_are_accepted():
    ok = resolve(merge(BULK, {"name": "a.b-c_d (2)", "observables": {
        "names": ["x" * 64], "custom": {"x" * 64: {"real": [[1, 0], [0, 1]]}}}}))
    assert ok["name"] == "a.b-c_d (2)"


# ---------------------------------------------------------------------------------------------
# items 4, 5, 16, 23, 24: custom observables
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec,key,part", [
    ({"real": [[1.0]]}, "observables.custom.c.real", "2 x 2"),            # no broadcasting
    ({"real": [[1.0, 0.0], [0.0]]}, "observables.custom.c.real", "2 x 2"),  # ragged
    ({"real": [[1.0, 0.0, 0.0]] * 3}, "observables.custom.c.real", "2 x 2"),
    ({"reel": [[1.0, 0.0], [0.0, 1.0]]}, "observables.custom.c", "'reel'"),  # typo
    ({}, "observables.custom.c", "at least real or imag"),
    ({"real": [[1.0, 0.0], [0.0, 1.0]], "scale": 2}, "observables.custom.c", "'scale'"),
    ({"real": [["1", 0.0], [0.0, 1.0]]}, "observables.custom.c.real", "finite real"),
    ({"real": [[math.inf, 0.0], [0.0, 1.0]]}, "observables.custom.c.real", "finite real"),
    ({"real": [[math.nan, 0.0], [0.0, 1.0]]}, "observables.custom.c.real", "finite real"),
    ({"real": [[True, 0.0], [0.0, 1.0]]}, "observables.custom.c.real", "finite real"),
    ({"real": [[1e300, 0.0], [0.0, 1.0]]}, "observables.custom.c.real", "1e100"),
    ({"real": [[1.0, 2.0], [0.0, 1.0]]}, "observables.custom.c", "Hermitian"),
    ({"imag": [[1.0, 0.0], [0.0, 1.0]]}, "observables.custom.c", "Hermitian"),
    ({"real": [[1.0, 0.0], [0.0, 1.0]], "unit": [1, 2]}, "observables.custom.c.unit", "string"),
    (3, "observables.custom.c", "a table"),
    ([[1.0, 0.0], [0.0, 1.0]], "observables.custom.c", "a table"),    # a bare matrix
])
def test_bad_custom_matrix(spec, key, part):
    msg = err(merge(BULK, {"observables": {"names": ["c"], "custom": {"c": spec}}}))
    assert msg.startswith(key + " = ") and part in msg, msg


def test_wrong_size_message_gives_n():
    msg = err(merge(PARABOLIC, {"observables": {"names": ["c"], "custom": {"c": {"real": [[1, 0], [0, 1]]}}}}))
    assert "a 1 x 1 list" in msg and "N = 1" in msg and "got 2 x 2" in msg
    msg = err(merge(BULK, {"observables": {"names": ["c"], "custom": {"c": {"real": [[1.0]]}}}}))
    assert "a 2 x 2 list" in msg and "N = 2" in msg and "got 1 x 1" in msg


@pytest.mark.parametrize("name", ["current_y", "density", "spin_z", "orbital_x",
                                  "spin_current_zy", "orbital_current_xx"])
def test_custom_may_not_shadow_a_builtin(name):
    """A custom current_y silently replaced the built-in one (conductivity 0.600 for 0.906)."""
    msg = err(merge(BULK, {"observables": {"names": [name],
                                           "custom": {name: {"real": [[1, 0], [0, 1]]}}}}))
    assert msg.startswith(f"observables.custom = '{name}'") and "built-in" in msg


def test_empty_custom_name():
    msg = err(merge(BULK, {"observables": {"names": [""], "custom": {"": {"real": [[1, 0], [0, 1]]}}}}))
    assert msg.startswith("observables.")


def test_custom_not_in_names_is_an_error():
    msg = err(merge(BULK, {"observables": {"names": ["spin_x"],
                                           "custom": {"q": {"real": [[1, 0], [0, 1]]}}}}))
    assert msg == ("observables.custom = ['q']: defined but not evaluated: add them to "
                   "observables.names (or remove them)")


def test_names_given_as_a_string():
    """--vary observables.names=["spin_z"] ends up as names = 'spin_z'."""
    msg = err(merge(BULK, {"observables": {"names": "spin_z"}}))
    assert msg.startswith("observables.names = 'spin_z': allowed: a list of observable names")


def test_unknown_name_before_solving():
    assert err(merge(BULK, {"observables": {"names": ["spin_q"]}})).startswith(
        "observables.names = 'spin_q': unknown observable")


def test_magnetization_only_for_rashba():
    msg = err(merge(PARABOLIC, {"model": {"magnetization": [1.0, 0.0, 0.0]}}))
    assert msg.startswith("model.magnetization = [1.0, 0.0, 0.0]: only used by model.kind = 'rashba'")
    # the default written back by to_toml stays valid
    case = resolve(PARABOLIC)
    assert resolve(tomllib.loads(to_toml(case))) == case


# ---------------------------------------------------------------------------------------------
# items 8, 17, 21: ranges
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("extra,key", [
    ({"field": {"magnitude_V_per_m": 1e200}}, "field.magnitude_V_per_m"),
    ({"field": {"direction": [0.0, 1e200, 0.0]}}, "field.direction"),
    ({"field": {"direction": [0.0, 1e-160, 0.0]}}, "field.direction"),   # norm underflows
    ({"model": {"exchange_eV": 1e300}}, "model.exchange_eV"),
    ({"model": {"magnetization": [0.0, 1e300, 1e300]}}, "model.magnetization"),
    ({"disorder": {"tau_fs": 1e-200}}, "disorder.tau_fs"),
    ({"disorder": {"tau_fs": 1e300}}, "disorder.tau_fs"),
    ({"disorder": {"tau_fs": 1e100}}, "disorder.tau_fs"),
    ({"slab": {"thickness_mfp": 1e300}}, "slab.thickness_mfp"),
    ({"slab": {"n_x": 10 ** 18}}, "slab.n_x"),
    ({"slab": {"n_x": 2 ** 63 - 1}}, "slab.n_x"),
    ({"fermi_surface": {"n_angles": 10 ** 18}}, "fermi_surface.n_angles"),
    ({"fermi_surface": {"n_radial": 10 ** 18}}, "fermi_surface.n_radial"),
    ({"temperature": {"n_energies": 10 ** 18}}, "temperature.n_energies"),
    ({"model": {"unitary_seed": -1}}, "model.unitary_seed"),
    ({"fermi_surface": {"degeneracy_tol_eV": 1e300}}, "fermi_surface.degeneracy_tol_eV"),
    ({"fermi_surface": {"fermi_level_eV": math.inf}}, "fermi_surface.fermi_level_eV"),
    ({"fermi_surface": {"fermi_level_eV": math.nan}}, "fermi_surface.fermi_level_eV"),
    ({"model": {"effective_mass": 1e300}}, "model.effective_mass"),
    ({"model": {"alpha_R": 1e200}}, "model.alpha_R"),
    ({"fermi_surface": {"k_max": 1e200}}, "fermi_surface.k_max"),
    ({"solver": {"restart": 10 ** 9}}, "solver.restart"),
])
def test_out_of_range(extra, key):
    msg = err(merge(RASHBA, extra))
    assert msg.startswith(key + " = "), msg
    assert "below all bands" not in msg


def test_derived_tau_is_bounded():
    """n_i v0^2 and the mean free path are bounded through the tau they give."""
    raw = merge(BULK, {})
    raw["disorder"] = {"n_i_v0_sq": 1e-30}
    msg = err(raw)
    assert msg.startswith("disorder.n_i_v0_sq = 1e-30: gives tau = ") and "[1e-06, 1e+09] fs" in msg
    raw["disorder"] = {"mean_free_path_nm": 1e10}  # allowed by itself; tau = l/<|v|> is not
    assert err(raw).startswith("disorder.mean_free_path_nm = 10000000000.0: gives tau = ")


def test_large_k_max_relative_to_the_model():
    """k_max = 1e100 gave 'degeneracy changes' or 'below all bands' for a Fermi level inside
    the bands: the 256-point radial scan cannot resolve a Fermi surface at 1e-100 k_max."""
    mu, m, a = 0.1, 0.5, 0.05
    c = HBAR2_OVER_2ME / m
    bound = Rashba(2, m, a).k_max(mu)
    assert bound == pytest.approx(1.5 * (a / c + math.sqrt((a / c) ** 2 + mu / c)) + 1e-6)
    msg = err(merge(BULK, {"fermi_surface": {"k_max": 1e5}}))
    assert msg.startswith("fermi_surface.k_max = 100000.0: allowed: at most 100 times")
    assert f"{100 * bound:.4g} nm^-1" in msg
    sim = Simulation(resolve(merge(BULK, {"fermi_surface": {"k_max": 90 * bound}})))
    k_lower = (a + math.sqrt(a * a + 4 * c * mu)) / (2 * c)  # outer sheet, closed form
    assert sim.fs.kF.max() == pytest.approx(k_lower, rel=1e-10)


@pytest.mark.parametrize("extra", [{"model": {"effective_mass": 1e4}}, {"model": {"alpha_R": 10.0}},
                                   {"model": {"effective_mass": 1e-4}}])
def test_extreme_allowed_models_find_the_fermi_surface(extra):
    """At the ends of the allowed ranges the Fermi surface is found, with the closed-form k_F."""
    raw = merge(BULK, extra)
    sim = Simulation(resolve(raw))
    m, a, mu = raw["model"]["effective_mass"], raw["model"]["alpha_R"], 0.1
    c = HBAR2_OVER_2ME / m
    k_lower = (a + math.sqrt(a * a + 4 * c * mu)) / (2 * c)
    assert sim.fs.kF.max() == pytest.approx(k_lower, rel=1e-9)


# ---------------------------------------------------------------------------------------------
# item 9: degeneracy tolerance
# ---------------------------------------------------------------------------------------------
def test_degeneracy_tolerance_cannot_merge_resolved_bands(info_log):
    """alpha_R = 0.002 eV nm: the two Rashba eigenvalues are 2 alpha_R k apart (4.6 meV on the
    outer crossing). tol = 0.01 eV merges them: fine with hbar/tau = 33 meV (tau = 20 fs, the
    bands are not resolved; logged), an error with hbar/tau = 0.66 meV (tau = 1000 fs)."""
    a, m, mu = 0.002, 0.5, 0.1
    c = HBAR2_OVER_2ME / m
    k = (a + math.sqrt(a * a + 4 * c * mu)) / (2 * c)  # crossing of the lower eigenvalue
    split = 2 * a * k
    raw = merge(BULK, {"model": {"alpha_R": a}, "fermi_surface": {"degeneracy_tol_eV": 0.01}})
    sim = Simulation(resolve(raw))
    assert sim.fs.n_sheets == 1 and np.all(sim.fs.rank == 2)
    assert merged_splitting(sim.fs) == pytest.approx(split, rel=1e-9)
    assert any("merges eigenvalues split by up to" in s for s in info_log.messages())
    msg = err(merge(raw, {"disorder": {"tau_fs": 1000.0}}))
    assert msg.startswith("fermi_surface.degeneracy_tol_eV = 0.01: merges eigenvalues split by "
                          f"up to {split:.3g} eV on the Fermi surface, more than the disorder "
                          f"broadening hbar/tau = {HBAR / 1000:.3g} eV")
    # the default tolerance keeps them apart
    assert merged_splitting(Simulation(resolve(merge(BULK, {"model": {"alpha_R": a}}))).fs) == 0.0


def test_issue_case_086_eV():
    """degeneracy_tol_eV = 1e300 merged bands split by 0.086 eV (RASHBA case): refused."""
    msg = err(merge(RASHBA, {"fermi_surface": {"degeneracy_tol_eV": 1e300}}))
    assert msg == "fermi_surface.degeneracy_tol_eV = 1e+300: allowed: a real number > 0 and <= 0.01"
    # within the bound, a smaller Rashba splitting (<= 6.9 meV) merged with tau = 1000 fs
    msg = err(merge(RASHBA, {"fermi_surface": {"degeneracy_tol_eV": 0.01},
                             "model": {"alpha_R": 0.003}, "disorder": {"tau_fs": 1000.0}}))
    assert msg.startswith("fermi_surface.degeneracy_tol_eV = 0.01: merges eigenvalues")


# ---------------------------------------------------------------------------------------------
# item 11: case files that are not UTF-8 TOML
# ---------------------------------------------------------------------------------------------
TEXT = '[model]\nkind = "rashba"\nalpha_R = 0.05\n[disorder]\ntau_fs = 20.0\n# café\n'


@pytest.mark.parametrize("data,part", [
    (bytes(range(256)) * 4, "NUL bytes"),
    (TEXT.encode("latin-1"), "is not UTF-8 text (byte 0xe9 at offset"),
    (TEXT.encode("utf-16"), "is UTF-16"),
    (TEXT.encode("utf-16-be"), "NUL bytes"),
    (b"", "is empty"),
    (b"\n  \t\n", "is empty"),
])
def test_case_file_encodings(tmp_path, data, part):
    path = tmp_path / "c.toml"
    path.write_bytes(data)
    with pytest.raises(CaseError) as exc:
        load_case(path)
    msg = str(exc.value)
    assert msg.startswith(f"case file = '{path}': ") and part in msg and "\n" not in msg, msg


def test_comment_only_file_is_valid_toml_but_lacks_disorder(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("# only a comment\n")
    with pytest.raises(CaseError, match="^disorder"):
        load_case(path)


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + TEXT.encode())
    case = load_case(path)
    assert case["model"]["alpha_R"] == 0.05 and case["name"] == "bom"


@pytest.mark.parametrize("target", ["dir", "."])
def test_case_file_is_a_directory(tmp_path, target, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.mkdir("dir")
    with pytest.raises(CaseError) as exc:
        load_case(target)
    assert str(exc.value) == f"case file = '{target}': is a directory; give a case file (TOML)"


def test_file_stem_that_is_not_a_name(tmp_path):
    path = tmp_path / "-x.toml"
    path.write_text(TEXT)
    with pytest.raises(CaseError, match="^name = '-x': .*the default is the case file's stem"):
        load_case(path)
    assert load_case(path, ["name=ok"])["name"] == "ok"


# ---------------------------------------------------------------------------------------------
# item 18: --set replaces alternatives
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("file_keys,setting,gone", [
    ("[slab]\nthickness_mfp = 2.0\n", "slab.thickness_nm=50", ("slab", "thickness_mfp")),
    ("[slab]\nthickness_nm = 50.0\n", "slab.thickness_mfp=3", ("slab", "thickness_nm")),
    ("", "disorder.mean_free_path_nm=30", ("disorder", "tau_fs")),
    ("", "disorder.n_i_v0_sq=0.01", ("disorder", "tau_fs")),
    ("[boundaries.left]\nroughness_nm = 0.3\n", "boundaries.left.specularity=0.5",
     ("boundaries", "left", "roughness_nm")),
])
def test_set_replaces_alternatives(tmp_path, info_log, file_keys, setting, gone):
    path = tmp_path / "c.toml"
    path.write_text(TEXT + file_keys)
    case = load_case(path, [setting])
    node = case
    for p in gone[:-1]:
        node = node[p]
    assert gone[-1] not in node
    key, value = setting.split("=")
    assert any(m.startswith(f"{key} given: it replaces {'.'.join(gone)} = ")
               for m in info_log.messages())


def test_two_alternatives_on_the_command_line_conflict(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(TEXT)
    with pytest.raises(CaseError, match="^disorder = .*give exactly one"):
        load_case(path, ["disorder.mean_free_path_nm=30", "disorder.n_i_v0_sq=0.01"])
    # without --set, both in the file is still an error
    path.write_text(TEXT + "mean_free_path_nm = 3.0\n")
    with pytest.raises(CaseError, match="^disorder = "):
        load_case(path)


# ---------------------------------------------------------------------------------------------
# items 8, 20: the SciPy solver
# ---------------------------------------------------------------------------------------------
def _problem(extra=None):
    sim = Simulation(resolve(merge(STRIP, extra or {})))
    return sim.problem()


def test_iterations_are_counted_and_bounded():
    """max_iterations counts inner GMRES iterations and stops exactly there (the limit counted
    restart cycles: 540 iterations ran with a maximum of 500)."""
    prob = _problem()
    be = ScipyBackend()
    settings = {"rtol": 1e-11, "restart": 4, "max_iterations": 500, "preconditioner": "none"}
    calls = [0]
    inner = prob.matvec

    def counted(u):
        calls[0] += 1
        return inner(u)
    prob.matvec = counted
    _, info = be.solve(prob, settings)
    k = info.iterations
    assert k > 8 and info.residual <= 1e-10  # several restart cycles of 4
    cycles = -(-k // 4)
    # one matvec per inner iteration, plus per cycle gmres's initial residual and the check
    assert calls[0] <= k + 2 * cycles + 2 and calls[0] >= k
    _, again = be.solve(prob, dict(settings, max_iterations=k))
    assert again.iterations == k
    with pytest.raises(ConvergenceError) as exc:
        be.solve(prob, dict(settings, max_iterations=k - 3))
    assert str(exc.value).startswith(f"GMRES reached the iteration limit solver.max_iterations "
                                     f"= {k - 3} with relative residual ")
    with pytest.raises(ConvergenceError, match="max_iterations = 1 with"):
        be.solve(prob, dict(settings, max_iterations=1, restart=60))


class _Fake:
    """A linear problem whose operator misbehaves."""

    def __init__(self, n=8, b=None, bad=None):
        self.n_unknowns = n
        self.b = np.ones(n) if b is None else b
        self.bad = bad

    def rhs(self):
        return self.b

    def rhs_scale(self):
        return float(np.linalg.norm(self.b))

    def diffusion_preconditioner(self):
        return lambda v: v

    def matvec(self, u):
        out = 2.0 * u
        if self.bad is not None:
            out = out * self.bad
        return out


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_residual_is_a_convergence_error():
    """res > 10 rtol is False for NaN: a NaN residual passed and ratio nan was written."""
    be = ScipyBackend()
    settings = {"rtol": 1e-11, "max_iterations": 50, "restart": 10}
    with pytest.raises(ConvergenceError, match="non-finite"):
        be.solve(_Fake(bad=np.nan), settings)
    with pytest.raises(ConvergenceError, match="non-finite"):
        be.solve(_Fake(bad=np.inf), settings)
    with pytest.raises(ConvergenceError, match="right-hand side .* not finite"):
        be.solve(_Fake(b=np.array([1.0, np.nan])), settings)
    u, info = be.solve(_Fake(), settings)
    assert np.allclose(u, 0.5) and info.iterations == 1


def test_stagnation_is_worded_as_such():
    """A singular operator (a zero row the right-hand side needs) cannot reduce the residual."""
    class Singular(_Fake):
        def matvec(self, u):
            out = 2.0 * u
            out[0] = 0.0
            return out
    with pytest.raises(ConvergenceError, match="^GMRES (stagnated|broke down)"):
        ScipyBackend().solve(Singular(), {"rtol": 1e-11, "max_iterations": 50, "restart": 5})


def test_krylov_progress_line(info_log):
    p = KrylovProgress(1e-10, 100, every=0.0)
    p.update(1, 1e-1)
    p.update(5, 1e-5)
    last = info_log.messages()[-1]
    # 1 decade per iteration since iteration 1: 5 iterations left to reach 1e-10
    assert last.startswith("GMRES iteration 5/100: relative residual 1e-05 (target 1e-10)")
    assert "s left" in last


# ---------------------------------------------------------------------------------------------
# items 17, 25: memory estimate and size line
# ---------------------------------------------------------------------------------------------
def test_memory_estimate_bounds_the_sweep_arrays():
    case = resolve(STRIP)
    z = sizes(case)
    prob = Simulation(case).problem()
    assert z["nodes"] == prob.grid.n_nodes
    assert prob.fs.n_states <= z["fermi_points"] and prob.n_moments <= z["moments"]
    held = sum(a.nbytes for a in (prob.E, prob.A, prob.B, prob.T))
    est = estimate(case)
    assert held <= est["sweep"] <= 6 * held * z["fermi_points"] / prob.fs.n_states
    # linear in the nodes and in the rays; the Krylov part in restart + 4 vectors
    big = estimate(resolve(merge(STRIP, {"slab": {"n_x": 41}})))  # 42 nodes for 21
    assert big["sweep"] == 2 * est["sweep"]
    assert est["krylov"] == (60 + 4) * 8 * (21 * 4 + 2)


def test_memory_refusal_names_the_largest_part():
    case = resolve(merge(STRIP, {"slab": {"n_x": 10 ** 6}}))
    est = estimate(case)
    with pytest.raises(CaseError) as exc:
        check_memory(case, available=est["total"] - 1)
    msg = str(exc.value)
    assert msg.startswith("slab.n_x = 1000000: the run needs about ") and "available" in msg
    assert check_memory(case, available=est["total"])["total"] == est["total"]
    case3 = resolve(merge(PARABOLIC, {"fermi_surface": {"n_angles": 2 ** 16, "n_polar": 2 ** 12}}))
    with pytest.raises(CaseError, match="^fermi_surface.n_angles = 65536: the run needs about"):
        check_memory(case3, available=10 ** 9)


def test_huge_case_refused_before_allocating():
    """n_x = 1e7 with 2^20 rays: terabytes; refused by Simulation in well under a second."""
    raw = merge(STRIP, {"slab": {"n_x": 10 ** 7}, "fermi_surface": {"n_angles": 2 ** 20}})
    msg = err(raw)
    assert "the run needs about" in msg and "GiB of memory" in msg


def test_size_line_is_logged_first(info_log):
    Simulation(resolve(merge(STRIP, {"slab": {"n_x": 21}})))
    lines = [m for m in info_log.messages() if m.startswith("problem size:")]
    assert lines == ["problem size: up to 32 Fermi points (2 band(s) x 16 rays), 22 nodes, up "
                     "to 90 unknowns; memory estimate " + lines[0].split("memory estimate ")[1]]
    assert "GiB per process" in lines[0]


def test_field_range_ends_are_linear():
    """|E| = 1e-6 and 1e12 V/m (the allowed ends): the same conductivity ratio, densities
    linear in |E| (no under- or overflow anywhere)."""
    lo = Simulation(resolve(merge(STRIP, {"field": {"magnitude_V_per_m": 1e-6},
                                          "observables": {"names": ["spin_x"]}}))).run()
    hi = Simulation(resolve(merge(STRIP, {"field": {"magnitude_V_per_m": 1e12},
                                          "observables": {"names": ["spin_x"]}}))).run()
    assert hi.conductivity_ratio == pytest.approx(lo.conductivity_ratio, rel=1e-12)
    assert hi.bulk["spin_x"]["total"] == pytest.approx(1e18 * lo.bulk["spin_x"]["total"], rel=1e-12)
    assert np.allclose(hi.profile("spin_x"), 1e18 * lo.profile("spin_x"), rtol=1e-9,
                       atol=1e-9 * np.abs(hi.profile("spin_x")).max())
