"""The decoders' complaints about a file, held back until we know whether it decodes."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator

__all__ = ["decoder_complaints_held_back"]


class _HeldRecords(logging.Handler):
    """A logging handler that keeps the records instead of printing them."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record."""
        self.records.append(record)


@contextlib.contextmanager
def decoder_complaints_held_back(*, replay: bool = True) -> Iterator[None]:
    """Hold the decoders' warnings and tifffile's log records back until the file has decoded.

    On a corrupt TIFF, Pillow warns ("Tag data larger than file") and tifffile logs
    ("<TiffTag.fromfile> raised …", printed raw on stderr) before giving up: a file that
    fails gets only its one ImageReadError line. A file that decodes after all gets them
    as warnings (the CLI prints each as one ``zssr: warning:`` line). Every tifffile call
    goes through here, header probes too (``replay=False``: a probe's complaints are dropped,
    the reader that follows says what is wrong).
    """
    logger = logging.getLogger("tifffile")
    hold = _HeldRecords()
    propagate = logger.propagate
    logger.addHandler(hold)
    logger.propagate = False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        logger.removeHandler(hold)
        logger.propagate = propagate
    if not replay:
        return
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    for record in hold.records:
        if record.levelno >= logging.WARNING:  # what Python would have printed
            warnings.warn(f"tifffile: {record.getMessage()}", UserWarning, stacklevel=3)
