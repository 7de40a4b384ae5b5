"""Infrastructure that knows about MPI ranks: logging and progress."""
from .logging import get_logger, comm_rank  # noqa: F401
from .progress import Progress  # noqa: F401
