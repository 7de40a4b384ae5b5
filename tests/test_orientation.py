"""Film orientation: rotation, unimodular film-frame reciprocal basis, Zone, specular check."""
import numpy as np
import pytest

from slabqkt.errors import CaseError
from slabqkt.lattice.builders import build_lattice_model
from slabqkt.lattice.orientation import (check_specular, film_orientation, reciprocal,
                                         unimodular_completion)
from slabqkt.lattice.slater_koster import LATTICES

RNG = np.random.default_rng(3)

FCC = {"kind": "slater_koster", "dimension": 3, "lattice": "fcc", "a_nm": 0.36, "orbitals": "sp3d5",
       "e_s_eV": 1.0, "e_p_eV": 5.0, "e_d_eV": -1.0, "soc_d_eV": 0.1,
       "shells": [{"ss_sigma": -1.0, "sp_sigma": 1.3, "pp_sigma": 1.8, "pp_pi": -0.3,
                   "sd_sigma": -0.6, "pd_sigma": -0.8, "pd_pi": 0.3, "dd_sigma": -0.45,
                   "dd_pi": 0.25, "dd_delta": -0.04}]}
SC = {"kind": "slater_koster", "dimension": 3, "lattice": "sc", "a_nm": 0.3, "orbitals": "sp3",
      "e_p_eV": 2.0, "shells": [{"ss_sigma": -0.5, "sp_sigma": 0.6, "pp_sigma": 0.9, "pp_pi": -0.2},
                                {"ss_sigma": -0.05, "pp_sigma": 0.2, "pp_pi": -0.02}]}


@pytest.mark.parametrize("c", [(1, 0), (3, 5), (-4, 7), (1, 1, 1), (2, 3, 5), (0, 4, -7),
                               (6, 10, 15), (0, 0, -1)])
def test_unimodular_completion(c):
    M = unimodular_completion(c)
    assert list(M[0]) == list(c)
    assert round(np.linalg.det(M.astype(float))) == 1


def test_film_reciprocal_basis_is_a_basis_of_the_same_lattice():
    for lattice in ("sc", "bcc", "fcc"):
        A = LATTICES[lattice] * 0.35
        B = reciprocal(A)
        for hkl in ((0, 0, 1), (1, 1, 0), (1, 1, 1), (1, 1, 2), (2, 1, 0)):
            f = film_orientation(A, normal_miller=list(hkl), conventional=True)
            R = f.rotation
            assert np.allclose(R @ R.T, np.eye(3)) and np.linalg.det(R) == pytest.approx(1.0)
            rec = f.reciprocal
            # b_0 along x, and along the (hkl) direction in the crystal frame
            assert np.allclose(rec[0, 1:], 0) and rec[0, 0] > 0
            assert np.allclose(R.T @ rec[0] / rec[0, 0], np.array(hkl) / np.linalg.norm(hkl))
            # integer unimodular relation to the primitive reciprocal basis (rotated)
            M = rec @ np.linalg.inv(B @ R.T)
            assert np.allclose(M, np.rint(M), atol=1e-9)
            assert round(abs(np.linalg.det(M))) == 1
            # b_0 is the shortest reciprocal-lattice vector along the normal: gcd 1
            assert np.gcd.reduce(np.abs(f.miller)) == 1
            assert f.zone.volume == pytest.approx(abs(np.linalg.det(B)))


def test_shortest_reciprocal_vector_along_the_normal():
    a = 0.4
    for lattice, hkl, length in (("fcc", (0, 0, 1), 4 * np.pi / a), ("fcc", (1, 1, 1), 2 * np.pi * np.sqrt(3) / a),
                                 ("bcc", (0, 0, 1), 4 * np.pi / a), ("bcc", (1, 1, 0), 2 * np.pi * np.sqrt(2) / a),
                                 ("sc", (1, 1, 0), 2 * np.pi * np.sqrt(2) / a), ("fcc", (1, 1, 0), 4 * np.pi * np.sqrt(2) / a)):
        f = film_orientation(LATTICES[lattice] * a, normal_miller=list(hkl), conventional=True)
        assert f.zone.kx_period == pytest.approx(length)


def test_default_rotations():
    A = LATTICES["sc"] * 0.3
    assert np.allclose(film_orientation(A).rotation, np.eye(3))
    R001 = film_orientation(A, normal_miller=[0, 0, 1], conventional=True).rotation
    assert np.allclose(R001, [[0, 0, 1], [0, 1, 0], [-1, 0, 0]])
    R110 = film_orientation(A, normal_miller=[1, 1, 0], conventional=True).rotation
    s = 1 / np.sqrt(2)
    assert np.allclose(R110, [[s, s, 0], [-s, s, 0], [0, 0, 1]])
    Rin = film_orientation(A, normal_miller=[0, 0, 1], inplane=[1, 1, 0], conventional=True).rotation
    assert np.allclose(Rin[1], [s, s, 0]) and np.allclose(Rin[0], [0, 0, 1])
    assert np.allclose(film_orientation(np.eye(2)).rotation, np.eye(2))


def test_cartesian_normals():
    A = LATTICES["fcc"] * 0.36
    f1 = film_orientation(A, normal_cartesian=[2.0, 2.0, 0.0])
    f2 = film_orientation(A, normal_miller=[1, 1, 0], conventional=True)
    assert np.allclose(f1.rotation, f2.rotation) and f1.miller == f2.miller
    with pytest.raises(CaseError, match=r"film.normal_cartesian = \(1.0, 1.4142135623730951, 0.0\): "
                                        "not a lattice-plane normal"):
        film_orientation(A, normal_cartesian=[1.0, np.sqrt(2.0), 0.0])


def test_orientation_input_errors():
    A = LATTICES["sc"] * 0.3
    with pytest.raises(CaseError, match="film.normal_miller = .*allowed: 3 integers, not all 0"):
        film_orientation(A, normal_miller=[0, 0, 0])
    with pytest.raises(CaseError, match="film.normal_miller = .*allowed: 3 integers"):
        film_orientation(A, normal_miller=[1.5, 0, 0])
    with pytest.raises(CaseError, match="film.inplane_axis = .*perpendicular to the film normal"):
        film_orientation(A, normal_miller=[0, 0, 1], inplane=[0, 1, 1])
    with pytest.raises(CaseError, match="film.normal_cartesian .*not both"):
        film_orientation(A, normal_miller=[0, 0, 1], normal_cartesian=[0, 0, 1])
    with pytest.raises(CaseError, match=r"film.tilt .*unknown key"):
        build_lattice_model(SC, {"tilt": 3})
    with pytest.raises(CaseError, match=r"film.inplane_axis .*3D only"):
        build_lattice_model({"kind": "square"}, {"inplane_axis": [0, 1, 0]})


def test_general_lattice_miller_in_primitive_reciprocal_basis():
    """tight_binding: (h, k) means G = h b_1 + k b_2 of the primitive reciprocal basis."""
    A = [[0.3, 0.0], [0.1, 0.25]]
    mt = {"kind": "tight_binding", "lattice_vectors": A,
          "hoppings": [{"R": [1, 0], "real": [[-1.0]]}, {"R": [0, 1], "real": [[-0.6]]},
                       {"R": [1, 1], "real": [[-0.2]]}]}
    B = reciprocal(np.array(A))
    for hk in ([1, 0], [0, 1], [1, 2]):
        m = build_lattice_model(mt, {"normal_miller": hk})
        G = np.array(hk) @ B
        assert m.zone.kx_period == pytest.approx(np.linalg.norm(G))
        assert np.allclose(m.crystal_rotation @ G, [np.linalg.norm(G), 0])


@pytest.mark.parametrize("hkl", [(0, 0, 1), (1, 1, 0)])
def test_fcc_001_and_110_are_specular(hkl):
    m = build_lattice_model(FCC, {"normal_miller": list(hkl)}, fermi_level_eV=0.0)
    assert check_specular(m, 0.0, window_eV=5.0, n=32)


def test_fcc_111_is_refused_naming_it():
    with pytest.raises(CaseError) as err:
        build_lattice_model(FCC, {"normal_miller": [1, 1, 1]}, fermi_level_eV=0.0)
    msg = str(err.value)
    assert msg.startswith("film.normal_miller = (1, 1, 1): the band structure is not symmetric "
                          "under k_x -> -k_x for this normal: specular reflection is undefined")
    assert "\n" not in msg
    with pytest.raises(CaseError, match=r"film.normal_cartesian = \(1, 1, 1\): the band"):
        build_lattice_model(FCC, {"normal_cartesian": [1, 1, 1]}, fermi_level_eV=0.0)


@pytest.mark.parametrize("hkl", [(0, 0, 1), (1, 1, 0), (1, 0, 0)])
def test_sc_low_index_normals_are_specular(hkl):
    m = build_lattice_model(SC, {"normal_miller": list(hkl)})
    assert check_specular(m, 1.0, window_eV=10.0, n=32)


@pytest.mark.parametrize("hkl", [(0, 0, 1), (1, 1, 1), (1, 1, 0)])
def test_zone_wrap_into_domain_preserves_eigenvalues(hkl):
    m = build_lattice_model(FCC, {"normal_miller": list(hkl)})
    z = m.zone
    k = RNG.normal(size=(50, 3)) * 60
    kw = z.wrap(k)
    B = z.kx_period
    assert np.all(kw[:, 0] >= -B / 2 - 1e-12) and np.all(kw[:, 0] < B / 2 + 1e-12)
    t = z.par_coordinates(kw)
    assert np.all(t > -1e-12) and np.all(t < 1 + 1e-12)
    # k - wrap(k) is a reciprocal-lattice vector: eigenvalues unchanged
    n = (k - kw) @ np.linalg.inv(z.reciprocal)
    assert np.allclose(n, np.rint(n), atol=1e-9)
    assert np.allclose(np.linalg.eigvalsh(m.h(kw)), np.linalg.eigvalsh(m.h(k)), atol=1e-11)


def test_film_frame_operators_are_rotated_pseudovectors():
    crystal = build_lattice_model(FCC)
    film = build_lattice_model(FCC, {"normal_miller": [1, 1, 0]})
    R = film.crystal_rotation
    assert np.allclose(film.spin_operators(), np.einsum("ij,jab->iab", R, crystal.spin_operators()))
    assert np.allclose(film.orbital_operators(),
                       np.einsum("ij,jab->iab", R, crystal.orbital_operators()))
    k = RNG.normal(size=(4, 3)) * 5
    assert np.allclose(film.h(k @ R.T), crystal.h(k), atol=1e-12)
    # the spin of the film frame x axis is the crystal [110] component
    s = 1 / np.sqrt(2)
    assert np.allclose(film.spin_operators()[0], s * (crystal.spin_operators()[0]
                                                      + crystal.spin_operators()[1]))
