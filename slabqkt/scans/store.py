"""The scan folder: identity, point files, claims and locks.

Layout (``DIR``)::

    DIR/scan.toml           resolved base case + expanded scan spec (identity of the scan)
    DIR/.lock               flock'ed while a job prepares the folder or writes scan.h5
    DIR/points/NNNNNN.h5    one Result per finished point, written atomically
    DIR/claims/N            the claim of point N: held (flock) by the job solving it
    DIR/runs.log            one line per run: points solved, ranks, groups

Concurrent jobs on one folder are safe. A claim is a file ``claims/N`` created with
``O_CREAT | O_EXCL`` and kept locked (``fcntl.flock``) by the group leader while it solves
point N; it is removed when the point file is written (or the point failed). A job killed
in the middle leaves its claim unlocked (the kernel drops the lock with the process): any
job may take it over. Claims of live jobs are never removed.
"""
import contextlib
import errno
import fcntl
import os
import re
import socket
import tempfile
import time

import numpy as np

from ..errors import SlabQKTError
from ..tools import get_logger

log = get_logger("scan")

#: names slabqkt gives its temporary files (tempfile.mkstemp, prefix ".tmp-")
TMP_NAME = re.compile(r"^\.tmp-[a-z0-9_]{8}(\.h5)?$")
CLAIM_NAME = re.compile(r"^[0-9]+$")
#: claim folders of slabqkt < 0.2 (claims/<run id>/N)
OLD_RUN_DIR = re.compile(r"^[0-9]{8}T[0-9]{6}-[0-9a-f]{8}$")
LOCK_NAME = ".lock"
IDENTITY = "scan.toml"
#: per-point attributes the combined result needs (see slabqkt.scans.dataset.combine)
NEEDED_ATTRS = ("conductivity_ratio", "thickness_nm", "mean_free_path_nm", "dimension")
_NO_LOCK_ERRNOS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


class LocksUnsupported(OSError):
    """The file system refuses flock: concurrent jobs on one folder cannot be made safe."""


def flock(fd, block=False):
    """Exclusive ``flock`` on ``fd``: True if taken, False if another holds it.

    Raises
    ------
    LocksUnsupported
        When the file system does not support locks at all.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
        return True
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in _NO_LOCK_ERRNOS:
            raise LocksUnsupported(exc.errno, exc.strerror) from None
        raise


def point_path(directory, index):
    return os.path.join(directory, "points", f"{index:06d}.h5")


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path, text):
    """Write ``path`` through a temporary file and ``os.replace`` (mode 0666 & ~umask)."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_point(path):
    """Read a point file fully and check it holds what the combine needs.

    Returns
    -------
    slabqkt.result.Result

    Raises
    ------
    SlabQKTError
        One line naming the file and what is wrong (missing, truncated, incomplete).
    """
    from ..result import load_result
    if not os.path.isfile(path):
        raise SlabQKTError(f"{path}: no such point file")
    try:
        res = load_result(path)
    except Exception as exc:  # truncated HDF5, missing groups, bad TOML: all mean "not done"
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SlabQKTError(f"{path} is not a complete point file ({msg})") from None
    missing = [k for k in NEEDED_ATTRS if k not in res.attrs]
    if missing:
        raise SlabQKTError(f"{path} is not a complete point file (no {', '.join(missing)})")
    if res.x is None or np.ndim(res.x) != 1 or len(res.x) < 2 or not res.observables:
        raise SlabQKTError(f"{path} is not a complete point file (no slab profiles)")
    for name, parts in res.observables.items():
        for part, val in parts.items():
            if np.ndim(val) > 1 or np.size(val) not in (1, len(res.x)):
                raise SlabQKTError(f"{path} is not a complete point file ({name}/{part} has "
                                   f"{np.size(val)} values for {len(res.x)} nodes)")
    return res


def _signature(path):
    st = os.stat(path)
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class Store:
    """One process's view of a scan folder.

    Parameters
    ----------
    directory : str
    size : int
        Number of points of the scan.
    locking : bool
        False on file systems without flock (claims then only separate the groups of one
        job; concurrent jobs on the folder are not safe).
    """

    def __init__(self, directory, size, locking=True):
        self.directory, self.size, self.locking = directory, size, locking
        self._done = set()
        self._bad = {}

    # -- points ----------------------------------------------------------------------------------
    def is_done(self, index):
        """True if point ``index`` has a complete point file (cached once true)."""
        if index in self._done:
            return True
        path = point_path(self.directory, index)
        try:
            sig = _signature(path)
        except OSError:
            return False
        if self._bad.get(index) == sig:
            return False
        try:
            read_point(path)
        except SlabQKTError:
            self._bad[index] = sig
            return False
        self._done.add(index)
        return True

    def finished(self):
        """Sorted indices with a complete point file."""
        return [i for i in range(self.size) if self.is_done(i)]

    def count_files(self):
        """Number of point files (cheap: a listing, for the progress line)."""
        try:
            names = os.listdir(os.path.join(self.directory, "points"))
        except OSError:
            return 0
        return sum(1 for n in names if n.endswith(".h5") and n[:-3].isdigit())

    # -- the folder lock -------------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self):
        """Hold DIR/.lock (blocking) for the block; a no-op without file locks."""
        if not self.locking:
            yield
            return
        fd = os.open(os.path.join(self.directory, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o666)
        try:
            try:
                flock(fd, block=True)
            except LocksUnsupported:
                self.locking = False
                log.warning("%s: the file system does not support file locks; two jobs on "
                            "this folder at once are not safe", self.directory)
            yield
        finally:
            os.close(fd)  # releases the lock

    # -- claims ----------------------------------------------------------------------------------
    def claims(self, run_id):
        return Claims(self, run_id)


class Claims:
    """Claims of one process (a group leader): at most a few held at a time."""

    def __init__(self, store, run_id):
        self.store, self.run_id = store, run_id
        self.folder = os.path.join(store.directory, "claims")
        self.held = {}  # index -> fd (locked)

    def _path(self, index):
        return os.path.join(self.folder, str(index))

    def _stamp(self, fd):
        text = f"{self.run_id} {socket.gethostname()} {os.getpid()} {time.time():.3f}\n"
        os.ftruncate(fd, 0)
        os.pwrite(fd, text.encode(), 0)

    def owner(self, index):
        """Run id written in the claim of ``index`` (None: absent or not yet written)."""
        try:
            with open(self._path(index)) as f:
                text = f.read().split()
        except OSError:
            return None
        return text[0] if text else None

    def try_claim(self, index):
        """Claim point ``index`` for this process: True if it is now ours.

        A claim file whose lock nobody holds belongs to a killed job: it is taken over.
        """
        path = self._path(index)
        for _ in range(100):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o666)
            except FileExistsError:
                pass
            else:
                if not self.store.locking or flock(fd):
                    self._stamp(fd)
                    self.held[index] = fd
                    return True
                os.close(fd)  # taken over in the instant before our lock: not ours
                return False
            if not self.store.locking:
                return False
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue  # released meanwhile: try to create it
            if not flock(fd):
                os.close(fd)
                return False  # a live job holds it
            # we hold the lock: is the file still the claim (its owner unlinks before closing)?
            try:
                same = os.path.samestat(os.stat(path), os.fstat(fd))
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            old = os.pread(fd, 200, 0).decode(errors="replace").strip()
            self._stamp(fd)
            self.held[index] = fd
            log.info("took over point %d from a job that stopped (claim: %s)", index, old or "empty")
            return True
        return False

    def release(self, index):
        """Give up the claim of ``index`` (after its point file is written, or it failed)."""
        fd = self.held.pop(index, None)
        if fd is None:
            return
        try:
            os.unlink(self._path(index))
        except FileNotFoundError:
            pass
        finally:
            os.close(fd)

    def release_all(self):
        for i in list(self.held):
            self.release(i)


def _unlink_if_unlocked(path):
    """Remove ``path`` if no process holds its lock (a killed job's claim). True if removed."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        if not flock(fd):
            return False
        try:
            if not os.path.samestat(os.stat(path), os.fstat(fd)):
                return False
        except FileNotFoundError:
            return False
        os.unlink(path)
        return True
    finally:
        os.close(fd)


def _held_by_someone(path):
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        return not flock(fd)
    finally:
        os.close(fd)


def clean_debris(store):
    """Remove what killed jobs left behind, only files slabqkt made (call under DIR/.lock).

    - DIR/.tmp-*: written only under the folder lock, so every one is orphaned.
    - claims/N and claims/.tmp-*: removed if no process holds their lock.
    - points/.tmp-*.h5: a writer holds its point's claim while it writes, so they are removed
      only if no claim is held (listed before the claims are checked).
    """
    d = store.directory
    for name in os.listdir(d):
        if TMP_NAME.match(name) and os.path.isfile(os.path.join(d, name)):
            _quiet_unlink(os.path.join(d, name))
    points = os.path.join(d, "points")
    point_tmps = [n for n in os.listdir(points) if TMP_NAME.match(n) and n.endswith(".h5")]
    claims = os.path.join(d, "claims")
    live = False
    for name in os.listdir(claims):
        path = os.path.join(claims, name)
        if CLAIM_NAME.match(name) or TMP_NAME.match(name):
            if not store.locking:
                _quiet_unlink(path)  # no locks: the claims of earlier runs are discarded
            elif not _unlink_if_unlocked(path) and os.path.exists(path):
                live = live or _held_by_someone(path)
        elif OLD_RUN_DIR.match(name) and os.path.isdir(path):
            for f in os.listdir(path):
                if CLAIM_NAME.match(f):
                    _quiet_unlink(os.path.join(path, f))
            with contextlib.suppress(OSError):
                os.rmdir(path)
    if not live:
        for name in point_tmps:
            _quiet_unlink(os.path.join(points, name))


def _quiet_unlink(path):
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def prepare_directory(scan):
    """Create or check DIR (rank 0 only). Returns (run id, finished indices, locking).

    A folder is used only if it is new, empty, or holds the scan.toml of this very scan;
    an existing non-empty folder without scan.toml, or one made for another scan, is refused
    with a one-line error. Only then are claims of killed jobs and temporary files left by
    killed writers removed (never those of a job still running).
    """
    from ..case import CaseError
    d = scan.directory
    if os.path.exists(d) and not os.path.isdir(d):
        raise CaseError("scan.directory", d, "is a file, not a folder; allowed: a new folder "
                        "or a slabqkt scan folder")
    try:
        os.makedirs(d, exist_ok=True)
        store = Store(d, scan.size)
        with store.locked():
            ident = os.path.join(d, IDENTITY)
            if os.path.exists(ident):
                with open(ident, encoding="utf-8", errors="replace") as f:
                    scan.check_identity(f.read())
            else:
                others = sorted(set(os.listdir(d)) - {LOCK_NAME})
                if others:
                    shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
                    raise CaseError("scan.directory", d, f"exists and holds files ({shown}) but "
                                    "no scan.toml: not a slabqkt scan folder; allowed: a new or "
                                    "empty folder, or the folder of this scan")
                atomic_write_text(ident, scan.identity_toml())
            os.makedirs(os.path.join(d, "points"), exist_ok=True)
            os.makedirs(os.path.join(d, "claims"), exist_ok=True)
            clean_debris(store)
    except OSError as exc:
        where = exc.filename or d
        raise SlabQKTError(f"scan folder {d}: cannot use {where} ({exc.strerror or exc})") from None
    run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.urandom(4).hex()}"
    return run_id, store.finished(), store.locking


def finished_points(directory, n):
    """Indices (< n) with a complete point file (read fully, see :func:`read_point`)."""
    return Store(directory, n).finished()
