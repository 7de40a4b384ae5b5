"""Progress reporting with rate and time left, on rank 0 only."""
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
    """

    def __init__(self, total, label="items", every=2.0, logger=None):
        self.total = int(total)
        self.label = label
        self.every = every
        self.done = 0
        self.t0 = time.perf_counter()
        self._last = -1e300
        self.logger = logger or get_logger("progress")
        self.active = comm_rank() == 0

    def update(self, n=1, force=False):
        self.done += n
        now = time.perf_counter()
        if not self.active or (not force and now - self._last < self.every and self.done < self.total):
            return
        self._last = now
        elapsed = now - self.t0
        rate = self.done / elapsed if elapsed > 0 else float("inf")
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        self.logger.info("%d/%d %s, %.3g %s/s, %.1f s elapsed, %.1f s left",
                         self.done, self.total, self.label, rate, self.label, elapsed, left)
