"""Physical constants and unit conventions of slabqkt.

Internal units: energy eV, length nm, wavevector nm^-1, time fs, charge in
units of the elementary charge |e| with the electron charge ``E_CHARGE = -1``
(the paper's e < 0), electric field V/nm (so that e*E is in eV/nm).
"""

#: Reduced Planck constant, eV fs.
HBAR = 0.6582119569
#: hbar^2 / (2 m_e) in eV nm^2 (m_e the free electron mass).
HBAR2_OVER_2ME = 0.0380998212
#: Signed carrier charge in units of |e| (electrons: e < 0, as in the paper).
E_CHARGE = -1.0
#: Boltzmann constant, eV/K.
KB = 8.617333262e-5
#: Elementary charge, C.
ELEMENTARY_CHARGE_C = 1.602176634e-19
#: V/m per V/nm.
V_PER_M_PER_V_PER_NM = 1.0e9


def sheet_conductance_to_siemens(sigma_internal):
    """Convert a 2D conductivity from |e|^2/(eV fs) to siemens."""
    # j [|e| / (fs nm)] per E [V/nm] -> A/m per V/m = S
    # |e|/fs = 1.602e-19 C / 1e-15 s = 1.602e-4 A ; per nm -> 1.602e5 A/m ; per V/nm -> 1.602e-4 S
    return sigma_internal * ELEMENTARY_CHARGE_C / 1e-15


def conductivity_3d_to_siemens_per_m(sigma_internal):
    """Convert a 3D conductivity from |e|^2/(eV fs nm) to S/m."""
    # j [|e| / (fs nm^2)] = 1.602e-4 A / 1e-18 m^2 ; per V/nm = 1e9 V/m
    return sigma_internal * ELEMENTARY_CHARGE_C / 1e-15 / 1e-18 / 1e9


def conductivity_to_si(sigma_internal, dimension):
    """Conductivity in SI: S (sheet, d = 2) or S/m (d = 3)."""
    if dimension == 2:
        return sheet_conductance_to_siemens(sigma_internal)
    return conductivity_3d_to_siemens_per_m(sigma_internal)


def conductivity_si_unit(dimension):
    return "S" if dimension == 2 else "S/m"


#: 1 |e|/(fs nm V) in S/cm (j/E of a current density |e| nm/fs nm^-3 in a field of 1 V/nm)
S_PER_CM_PER_INTERNAL = ELEMENTARY_CHARGE_C / 1e-15 / 1e-7


def per_field_unit(operator_unit, dimension):
    """Factor and unit of a bulk density per unit field, o / |E|, for the output.

    A density in ``operator_unit`` nm^-d divided by |E| in V/nm is multiplied
    by ``factor`` to give it in ``unit``:

    * currents (``|e| nm/fs``): the conductivity, S/m (3D) or S (2D), as
      ``sigma_bulk_SI``;
    * spin and orbital currents (``hbar nm/fs``): the spin (orbital) Hall
      conductivity in (hbar/e) S/cm (3D) or (hbar/e) S (2D), e = |e|: the
      unit of the Wannier90 / WannierTools literature;
    * anything else: ``operator_unit`` nm^-d per V/m.

    Parameters
    ----------
    operator_unit : str
        The observable's unit (``Observable.unit``).
    dimension : int

    Returns
    -------
    factor : float
    unit : str
    """
    d = int(dimension)
    if operator_unit == "|e| nm/fs":
        return conductivity_to_si(1.0, d), conductivity_si_unit(d)
    if operator_unit == "hbar nm/fs":
        if d == 3:
            return S_PER_CM_PER_INTERNAL, "(hbar/e) S/cm"
        return sheet_conductance_to_siemens(1.0), "(hbar/e) S"
    base = f"{operator_unit} nm^-{d}" if operator_unit != "1" else f"nm^-{d}"
    return 1.0 / V_PER_M_PER_V_PER_NM, f"{base} per V/m"
