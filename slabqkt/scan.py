"""Old home of the scan code, kept so that ``slabqkt.scan.load_scan`` & co. still import.

Everything lives in :mod:`slabqkt.scans` now; the ``slabqkt scan`` command line in
:mod:`slabqkt.cli`.
"""
from .scans import *  # noqa: F401,F403
from .scans import __all__  # noqa: F401


def main(argv):
    """``slabqkt scan`` with these arguments (errors raise); see :func:`slabqkt.cli.scan_main`."""
    from .cli import scan_main
    return scan_main(argv)
