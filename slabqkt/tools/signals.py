"""SIGTERM as an exception, so that a terminated run cleans up like an interrupted one.

The default action of SIGTERM ends the process at once: no ``finally``
block runs, so the temporary ``.tmp-*.h5`` of a result being written stays
beside it and nothing is printed. :func:`handle_sigterm` turns the signal
into :class:`Terminated` (a ``KeyboardInterrupt``), which unwinds the stack:
:func:`slabqkt.result.atomic_h5` removes its temporary file and the CLI
prints ``slabqkt: interrupted (SIGTERM)`` and exits 143 (128 + 15).
"""
import contextlib
import signal


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM."""


def _raise(signum, frame):
    raise Terminated()


@contextlib.contextmanager
def handle_sigterm():
    """Inside the block SIGTERM raises :class:`Terminated`; the old handler is restored after.

    Outside the main thread (where Python cannot set handlers) it does nothing.
    """
    try:
        old = signal.signal(signal.SIGTERM, _raise)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
