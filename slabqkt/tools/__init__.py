"""Infrastructure that knows about MPI ranks: logging and progress; signals."""
from .logging import get_logger, comm_rank  # noqa: F401
from .progress import KrylovProgress, Progress  # noqa: F401
from .signals import Terminated, handle_sigterm  # noqa: F401
