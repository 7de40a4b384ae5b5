"""Bad input stops with one line naming the key, the value and what is allowed."""
import os
import subprocess
import sys

import pytest

from slabqkt import CaseError, Simulation, load_case, resolve

from conftest import PARABOLIC, RASHBA, merge

BAD = [
    ({"nonsense": {"a": 1}}, "nonsense"),
    ({"model": {"flavour": "x"}}, "model.flavour"),
    ({"slab": {"thickness_nm": -5.0}}, "slab.thickness_nm"),
    ({"boundaries": {"left": {"specularity": 1.5}}}, "boundaries.left.specularity"),
    ({"boundaries": {"right": {"roughness_nm": -0.1}}}, "boundaries.right.roughness_nm"),
    ({"boundaries": {"left": {"specularity": 0.5, "roughness_nm": 0.2}}}, "boundaries.left.roughness_nm"),
    ({"boundaries": {"left": {"smoothness": 0.5}}}, "boundaries.left.smoothness"),
    ({"fermi_surface": {"n_angles": 30}}, "fermi_surface.n_angles"),
    ({"slab": {"n_x": "many"}}, "slab.n_x"),
    ({"slab": {"grading": 1.0}}, "slab.grading"),
    ({"disorder": {"tau_fs": -1.0}}, "disorder.tau_fs"),
    ({"field": {"direction": [1.0, 0.0, 0.0]}}, "field.direction"),
    ({"field": {"direction": [0.0, 1.0]}}, "field.direction"),
    ({"solver": {"backend": "magic"}}, "solver.backend"),
    ({"model": {"kind": "graphene"}}, "model.kind"),
    ({"temperature": {"kelvin": -3.0}}, "temperature.kelvin"),
    ({"slab": {"thickness_nm": 10.0, "thickness_mfp": 1.0}}, "slab.thickness_mfp"),
]


@pytest.mark.parametrize("extra,key", BAD)
def test_resolve_names_the_key(extra, key):
    with pytest.raises(CaseError) as err:
        resolve(merge(PARABOLIC, extra))
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(key), msg


def test_two_disorder_parameters():
    with pytest.raises(CaseError, match="^disorder"):
        resolve(merge(PARABOLIC, {"disorder": {"tau_fs": 10.0}}))


@pytest.mark.parametrize("extra,key", [
    ({"fermi_surface": {"fermi_level_eV": -0.5}}, "fermi_surface.fermi_level_eV"),
    ({"observables": {"names": ["spin_x"]}}, "observables.names"),
    ({"observables": {"names": ["magnetism"]}}, "observables.names"),
    ({"model": {"alpha_R": 0.1}}, "model.alpha_R"),
])
def test_model_level_errors_name_the_key(extra, key):
    with pytest.raises(CaseError) as err:
        Simulation(resolve(merge(PARABOLIC, extra)))
    assert str(err.value).startswith(key)
    assert "\n" not in str(err.value)


def test_rashba_below_crossing_names_fermi_level():
    with pytest.raises(CaseError, match="^fermi_surface.fermi_level_eV.*star-shaped"):
        Simulation(resolve(merge(RASHBA, {"fermi_surface": {"fermi_level_eV": -0.002}})))


def test_set_override_and_bad_set(tmp_path):
    path = os.path.join(os.path.dirname(__file__), "..", "geometries", "rashba_strip.toml")
    case = load_case(path, ["slab.n_x=50", "boundaries.left.specularity=0.25"])
    assert case["slab"]["n_x"] == 50 and case["boundaries"]["left"]["specularity"] == 0.25
    with pytest.raises(CaseError, match="^slab.n_x"):
        load_case(path, ["slab.n_x=-3"])
    with pytest.raises(CaseError, match="^--set"):
        load_case(path, ["slab.n_x"])
    with pytest.raises(CaseError, match="^solver.bogus"):
        load_case(path, ["solver.bogus=1"])


def test_cli_error_is_one_line_without_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[slab]\nthickness_nm = -1.0\n[disorder]\ntau_fs = 10.0\n')
    proc = subprocess.run([sys.executable, "-m", "slabqkt", "run", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines == ["slabqkt: error: slab.thickness_nm = -1.0: allowed: a real number >= 1e-06 "
                     "and <= 1e+10"]
    missing = subprocess.run([sys.executable, "-m", "slabqkt", "run", str(tmp_path / "none.toml")],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("[slab\n")
    proc = subprocess.run([sys.executable, "-m", "slabqkt", "run", str(broken)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "not valid TOML" in proc.stderr and "Traceback" not in proc.stderr
