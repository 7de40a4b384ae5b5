"""Progress reporting with rate and time left, on rank 0 only."""
import math
import time

from .logging import comm_rank, get_logger


class Progress:
    """Log ``done/total``, rate and estimated time left.

    Parameters
    ----------
    total : int
        Number of work items.
    label : str
        What is being counted.
    every : float
        Minimum seconds between two reports.
    delay : float
        Seconds before the first report: work that ends sooner prints
        nothing (0: report from the first update).
    """

    def __init__(self, total, label="items", every=2.0, logger=None, delay=0.0):
        self.total = int(total)
        self.label = label
        self.every = every
        self.delay = delay
        self.done = 0
        self.t0 = time.perf_counter()
        self._last = -1e300
        self.logger = logger or get_logger("progress")
        self.active = comm_rank() == 0

    def update(self, n=1, force=False):
        self.done += n
        now = time.perf_counter()
        if not self.active:
            return
        if not force and (now - self.t0 < self.delay or (now - self._last < self.every
                                                          and self.done < self.total)):
            return
        self._last = now
        elapsed = now - self.t0
        rate = self.done / elapsed if elapsed > 0 else float("inf")
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        self.logger.info("%d/%d %s, %.3g/s, %.1f s elapsed, %.1f s left",
                         self.done, self.total, self.label, rate, elapsed, left)


class KrylovProgress:
    """Throttled log lines of an iterative solve: iteration, residual, rate, time left.

    The time left extrapolates the mean decrease of log(residual) per
    iteration so far down to the target (capped by the iteration limit).

    Parameters
    ----------
    target : float
        Relative residual at which the solve stops (1).
    max_iterations : int
    label : str
    every, delay : float
        Seconds between reports, and before the first one (short solves print nothing).
    """

    def __init__(self, target, max_iterations, label="Krylov", every=2.0, delay=2.0, logger=None):
        self.target = float(target)
        self.max_iterations = int(max_iterations)
        self.label = label
        self.every, self.delay = every, delay
        self.t0 = time.perf_counter()
        self._last = -1e300
        self.logger = logger or get_logger("progress")
        self.active = comm_rank() == 0
        self.reports = 0

    def estimate(self, iteration, residual):
        """(iterations/s, estimated seconds left) after ``iteration`` steps at ``residual``."""
        elapsed = time.perf_counter() - self.t0
        rate = iteration / elapsed if elapsed > 0 else float("inf")
        todo = self.max_iterations - iteration
        if 0 < residual < 1 and iteration > 0 and math.isfinite(residual):
            per_it = -math.log(residual) / iteration  # mean decrease of ln(res) per iteration
            if self.target > 0:
                todo = min(todo, max(0.0, math.log(residual / self.target) / per_it))
        left = todo / rate if rate > 0 else float("inf")
        return rate, left

    def update(self, iteration, residual, force=False):
        """Report iteration ``iteration`` at relative residual ``residual`` (if due)."""
        now = time.perf_counter()
        if not self.active or iteration == 0:
            return
        if not force and (now - self.t0 < self.delay or now - self._last < self.every):
            return
        self._last = now
        rate, left = self.estimate(iteration, residual)
        self.reports += 1
        self.logger.info("%s iteration %d: relative residual %.3g (target %.3g), %.3g it/s, "
                         "%.1f s elapsed, about %.1f s left", self.label, iteration, residual,
                         self.target, rate, now - self.t0, left)
