#!/usr/bin/env bash
# Make MPI + PETSc + petsc4py + mpi4py importable (and working) in the project venv.
# Called by `make mpi`; safe to run repeatedly (a working install is left alone).
#
#   1. If the venv already imports petsc4py/mpi4py at the pinned versions, mpi4py is
#      linked to MPICH, a tiny PETSc solve runs, and an MPICH launcher exists: done.
#   2. Debian packages mpich libmpich-dev libopenblas-dev are apt-installed if missing
#      (root only; otherwise a message tells what to install).
#   3. Wheels petsc / petsc4py / mpi4py are installed with `pip --no-index` from
#        a) $SLABQKT_WHEELHOUSE, if set and holding all three wheels, else
#        b) the wheel cache $SLABQKT_WHEEL_CACHE (default ~/.cache/slabqkt/wheels),
#           building the missing ones from PyPI sources first (once; ~20-25 min):
#           petsc (pip wheel), then petsc4py with --no-build-isolation against the
#           installed petsc (so PETSc is not built twice), then mpi4py from source
#           against Debian's MPICH (MPICC=mpicc.mpich).
#      Never from PyPI's binary wheels: PyPI's manylinux mpi4py wants libmpi.so.12 from
#      PyPI's `mpich` package and fails against Debian's MPICH.
#
# Environment:
#   SLABQKT_WHEELHOUSE      folder with prebuilt petsc/petsc4py/mpi4py wheels (optional)
#   SLABQKT_WHEEL_CACHE     where wheels built from source are kept (default ~/.cache/slabqkt/wheels)
#   SLABQKT_VENV            venv folder (default .venv in the repo root)
#   PETSC_CONFIGURE_OPTIONS overrides the default PETSc configure options for the source build
set -euo pipefail

PETSC_VERSION=3.26.1
PETSC4PY_VERSION=3.26.1
MPI4PY_VERSION=4.1.2
DEFAULT_PETSC_CONFIGURE_OPTIONS="--with-cuda=0 --with-fc=0 --with-x=0 --COPTFLAGS=-O2 --CXXOPTFLAGS=-O2 --with-debugging=0"
APT_PACKAGES=(mpich libmpich-dev libopenblas-dev)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
VENV=${SLABQKT_VENV:-.venv}
PY="$VENV/bin/python"
WHEEL_CACHE=${SLABQKT_WHEEL_CACHE:-${HOME:-/root}/.cache/slabqkt/wheels}

# Make's jobserver flags must not leak into PETSc's own make.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES || true

log() { echo "[install_mpi] $*"; }
die() { echo "[install_mpi] ERROR: $*" >&2; exit 1; }

[ -x "$PY" ] || die "$PY not found; run 'make venv' first"
PIP=("$PY" -m pip)
PYTAG=$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')

# ---------------------------------------------------------------- checks
# Runs in the venv; fails unless the pinned versions import, mpi4py is MPICH-based,
# and a small PETSc linear solve works.
check_python() {
    "$PY" - "$PETSC_VERSION" "$PETSC4PY_VERSION" "$MPI4PY_VERSION" <<'PYEOF'
import sys
want_petsc, want_petsc4py, want_mpi4py = sys.argv[1:4]
import petsc4py, mpi4py
assert petsc4py.__version__ == want_petsc4py, f"petsc4py {petsc4py.__version__} != {want_petsc4py}"
assert mpi4py.__version__ == want_mpi4py, f"mpi4py {mpi4py.__version__} != {want_mpi4py}"
from mpi4py import MPI
lib = MPI.Get_library_version()
assert "MPICH" in lib, f"mpi4py is not linked to MPICH: {lib.splitlines()[0]}"
petsc4py.init([])
from petsc4py import PETSc
v = ".".join(map(str, PETSc.Sys.getVersion()))
assert v == want_petsc, f"PETSc {v} != {want_petsc}"
n = 8
A = PETSc.Mat().createAIJ([n, n], nnz=3)
for i in range(n):
    A[i, i] = 2.0
    if i > 0:
        A[i, i - 1] = -1.0
    if i < n - 1:
        A[i, i + 1] = -1.0
A.assemble()
x, b = A.createVecs()
b.set(1.0)
ksp = PETSc.KSP().create()
ksp.setOperators(A)
ksp.setType("cg")
ksp.getPC().setType("none")
ksp.setTolerances(rtol=1e-12)
ksp.solve(b, x)
r = b.duplicate()
A.mult(x, r)
r.axpy(-1.0, b)
assert r.norm() < 1e-8, f"KSP residual {r.norm()}"
print(f"petsc4py {petsc4py.__version__} (PETSc {v}), mpi4py {mpi4py.__version__}, {lib.splitlines()[0].strip()}")
PYEOF
}

# A 2-rank run through the MPICH launcher.
check_parallel() {
    local mpiexec
    mpiexec=$(bash "$ROOT/tools/find_mpiexec.sh") || return 1
    log "2-rank check with $mpiexec"
    timeout 120 "$mpiexec" -n 2 "$PY" -c '
from mpi4py import MPI
from petsc4py import PETSc
c = MPI.COMM_WORLD
v = PETSc.Vec().createMPI(10, comm=PETSc.COMM_WORLD); v.set(1.0)
s = c.allreduce(c.rank)
assert c.size == 2 and s == 1 and v.sum() == 10.0, (c.size, s, v.sum())
if c.rank == 0: print("[install_mpi] 2-rank MPI/PETSc check ok")
'
}

apt_missing() {
    local missing=()
    if command -v dpkg-query >/dev/null 2>&1; then
        local p
        for p in "${APT_PACKAGES[@]}"; do
            if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" != installed ]; then
                missing+=("$p")
            fi
        done
    fi
    if ! command -v mpicc.mpich >/dev/null 2>&1 || ! command -v mpiexec.mpich >/dev/null 2>&1; then
        [ ${#missing[@]} -gt 0 ] || missing=("${APT_PACKAGES[@]}")
    fi
    echo "${missing[@]:-}"
}

ensure_system_packages() {
    local missing
    missing=$(apt_missing)
    if [ -z "$missing" ]; then
        log "system MPI present: $(command -v mpicc.mpich), $(command -v mpiexec.mpich)"
        return 0
    fi
    log "missing system packages: $missing"
    if [ "$(id -u)" != 0 ]; then
        die "not root: install them yourself, e.g. 'sudo apt-get install -y ${APT_PACKAGES[*]}', then rerun 'make mpi'"
    fi
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install MPICH (mpicc.mpich, mpiexec.mpich) and OpenBLAS by hand"
    log "apt-get update + install ${APT_PACKAGES[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q -o Dpkg::Use-Pty=0 --no-install-recommends "${APT_PACKAGES[@]}"
    command -v mpicc.mpich >/dev/null 2>&1 || die "mpicc.mpich still missing after apt-get install"
    command -v mpiexec.mpich >/dev/null 2>&1 || die "mpiexec.mpich still missing after apt-get install"
}

# ---------------------------------------------------------------- wheels
wheel_file() { # DIR NAME VERSION TAG -> first matching wheel path (or nothing)
    local f
    for f in "$1/$2-$3-$4"-*.whl; do
        [ -e "$f" ] && { echo "$f"; return 0; }
    done
    return 0
}
petsc_whl()    { wheel_file "$1" petsc    "$PETSC_VERSION"    py3; }
petsc4py_whl() { wheel_file "$1" petsc4py "$PETSC4PY_VERSION" "$PYTAG"; }
mpi4py_whl()   { wheel_file "$1" mpi4py   "$MPI4PY_VERSION"   "$PYTAG"; }
has_all_wheels() { [ -n "$(petsc_whl "$1")" ] && [ -n "$(petsc4py_whl "$1")" ] && [ -n "$(mpi4py_whl "$1")" ]; }

install_from() { # DIR
    log "installing petsc==$PETSC_VERSION petsc4py==$PETSC4PY_VERSION mpi4py==$MPI4PY_VERSION from $1 (--no-index)"
    "${PIP[@]}" uninstall -q -y petsc petsc4py mpi4py >/dev/null 2>&1 || true
    "${PIP[@]}" install -q --no-index --find-links "$1" \
        "petsc==$PETSC_VERSION" "petsc4py==$PETSC4PY_VERSION" "mpi4py==$MPI4PY_VERSION"
}

# Run a long command with its output in a log file, printing a heartbeat every minute.
run_logged() { # LOGFILE CMD...
    local logfile=$1; shift
    local start=$SECONDS pid rc
    log "  (full output: $logfile)"
    "$@" >"$logfile" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        sleep 5
        if (( (SECONDS - start) % 60 < 5 && SECONDS - start >= 60 )); then
            log "  ... $(( (SECONDS - start) / 60 )) min: $(tail -n 1 "$logfile" | cut -c1-120)"
        fi
    done
    rc=0; wait "$pid" || rc=$?
    if [ "$rc" != 0 ]; then
        echo "----- last 60 lines of $logfile -----" >&2
        tail -n 60 "$logfile" >&2
        die "command failed (exit $rc): $*"
    fi
    log "  done in $(( SECONDS - start )) s"
}

build_into_cache() {
    mkdir -p "$WHEEL_CACHE"
    local mpicc mpicxx
    mpicc=$(command -v mpicc.mpich) || die "mpicc.mpich not found"
    mpicxx=$(command -v mpicxx.mpich) || die "mpicxx.mpich not found"
    # pip's own wheel cache is bypassed so that nothing built against another MPI/PETSc sneaks in.
    local pipw=("${PIP[@]}" wheel -v --no-deps --no-cache-dir --wheel-dir "$WHEEL_CACHE")

    if [ -z "$(petsc_whl "$WHEEL_CACHE")" ]; then
        log "building petsc==$PETSC_VERSION from source (about 10-15 min on 2 cores)"
        log "  PETSC_CONFIGURE_OPTIONS=${PETSC_CONFIGURE_OPTIONS:-$DEFAULT_PETSC_CONFIGURE_OPTIONS}"
        run_logged "$WHEEL_CACHE/build-petsc.log" env -u PETSC_DIR -u PETSC_ARCH \
            MPICC="$mpicc" MPICXX="$mpicxx" \
            PETSC_CONFIGURE_OPTIONS="${PETSC_CONFIGURE_OPTIONS:-$DEFAULT_PETSC_CONFIGURE_OPTIONS}" \
            "${pipw[@]}" --no-binary petsc "petsc==$PETSC_VERSION"
    else
        log "petsc wheel cached: $(petsc_whl "$WHEEL_CACHE")"
    fi

    if [ -z "$(petsc4py_whl "$WHEEL_CACHE")" ]; then
        log "installing the cached petsc wheel, to build petsc4py against it"
        "${PIP[@]}" uninstall -q -y petsc petsc4py >/dev/null 2>&1 || true
        "${PIP[@]}" install -q --no-index --find-links "$WHEEL_CACHE" --no-deps "petsc==$PETSC_VERSION"
        log "installing petsc4py build requirements (cython>=3, numpy, setuptools, wheel) into $VENV"
        "${PIP[@]}" install -q 'cython>=3' numpy setuptools wheel
        local petsc_dir
        petsc_dir=$("$PY" -c 'import petsc; print(petsc.get_petsc_dir())')
        log "building petsc4py==$PETSC4PY_VERSION from source against PETSC_DIR=$petsc_dir (about 7 min)"
        run_logged "$WHEEL_CACHE/build-petsc4py.log" env \
            PETSC_DIR="$petsc_dir" PETSC_ARCH= \
            "${pipw[@]}" --no-build-isolation --no-binary petsc4py "petsc4py==$PETSC4PY_VERSION"
    else
        log "petsc4py wheel cached: $(petsc4py_whl "$WHEEL_CACHE")"
    fi

    if [ -z "$(mpi4py_whl "$WHEEL_CACHE")" ]; then
        log "building mpi4py==$MPI4PY_VERSION from source against Debian MPICH, MPICC=$mpicc (about 5 min)"
        run_logged "$WHEEL_CACHE/build-mpi4py.log" env MPICC="$mpicc" \
            "${pipw[@]}" --no-binary mpi4py "mpi4py==$MPI4PY_VERSION"
    else
        log "mpi4py wheel cached: $(mpi4py_whl "$WHEEL_CACHE")"
    fi
}

# ---------------------------------------------------------------- main
log "venv: $VENV ($("$PY" -V 2>&1))"
if out=$(check_python 2>&1) && bash "$ROOT/tools/find_mpiexec.sh" >/dev/null 2>&1; then
    log "already working: $out"
    log "launcher: $(bash "$ROOT/tools/find_mpiexec.sh")"
    exit 0
fi
log "MPI stack not ready in $VENV: $(echo "$out" | tail -n 1)"

ensure_system_packages

# Install from DIR and check; on failure say why and return 1.
try_install() { # DIR
    local out
    if install_from "$1" && out=$(check_python 2>&1); then
        log "ok: $out"
        return 0
    fi
    log "wheels from $1 do not work here: $(echo "${out:-pip install failed}" | tail -n 1)"
    return 1
}

installed=no
if [ -n "${SLABQKT_WHEELHOUSE:-}" ]; then
    if has_all_wheels "$SLABQKT_WHEELHOUSE"; then
        log "using prebuilt wheels from SLABQKT_WHEELHOUSE=$SLABQKT_WHEELHOUSE"
        try_install "$SLABQKT_WHEELHOUSE" && installed=yes
    else
        log "SLABQKT_WHEELHOUSE=$SLABQKT_WHEELHOUSE lacks one of petsc-$PETSC_VERSION, petsc4py-$PETSC4PY_VERSION-$PYTAG, mpi4py-$MPI4PY_VERSION-$PYTAG wheels"
    fi
    [ "$installed" = yes ] || log "falling back to the wheel cache $WHEEL_CACHE"
fi

if [ "$installed" = no ] && has_all_wheels "$WHEEL_CACHE"; then
    log "using cached wheels from $WHEEL_CACHE"
    if try_install "$WHEEL_CACHE"; then
        installed=yes
    else
        stale="$WHEEL_CACHE/stale-$(date +%Y%m%d%H%M%S)"
        log "moving the cached wheels aside to $stale and rebuilding them"
        mkdir -p "$stale"
        mv "$WHEEL_CACHE"/*.whl "$stale"/
    fi
fi

if [ "$installed" = no ]; then
    log "wheel cache $WHEEL_CACHE is incomplete: building the missing wheels from source (once)"
    build_into_cache
    try_install "$WHEEL_CACHE" || die "freshly built wheels in $WHEEL_CACHE do not work (build logs there)"
fi

check_parallel || die "2-rank run through the MPICH launcher failed"
