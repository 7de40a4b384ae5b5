#!/usr/bin/env bash
# Print the absolute path of an MPICH launcher (Hydra) on stdout; exit 1 if none.
#
# Order: $SLABQKT_MPIEXEC (if set and executable), mpiexec.mpich, mpirun.mpich,
# then plain mpiexec / mpirun, but only if their --version says MPICH/HYDRA.
# Debian's plain `mpirun`/`mpiexec` are alternatives that point to Open MPI as
# soon as any package pulls Open MPI in, and Open MPI's launcher cannot start
# MPICH programs (and refuses to run as root), so we detect rather than assume.
set -u

if [ -n "${SLABQKT_MPIEXEC:-}" ]; then
    p=$(command -v -- "$SLABQKT_MPIEXEC" 2>/dev/null || true)
    if [ -n "$p" ] && [ -x "$p" ]; then
        echo "$p"; exit 0
    fi
    echo "find_mpiexec: SLABQKT_MPIEXEC='$SLABQKT_MPIEXEC' is not an executable; detecting" >&2
fi

for cand in mpiexec.mpich mpirun.mpich; do
    p=$(command -v "$cand" 2>/dev/null || true)
    if [ -n "$p" ]; then echo "$p"; exit 0; fi
done

for cand in mpiexec mpirun; do
    p=$(command -v "$cand" 2>/dev/null || true)
    [ -n "$p" ] || continue
    if timeout 20 "$p" --version 2>&1 </dev/null | grep -qiE 'hydra|mpich'; then
        echo "$p"; exit 0
    fi
done

echo "find_mpiexec: no MPICH launcher found (mpiexec.mpich / mpirun.mpich / MPICH-flavoured mpiexec); run 'make mpi'" >&2
exit 1
