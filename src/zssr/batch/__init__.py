"""Many images at once: resumable, fault-isolating batches, on every device of a node or on a Ray cluster.

:func:`run_batch` runs a picklable per-image task over a list of :class:`BatchItem`
(input → output) and keeps ``zssr-manifest.json`` in the output folder, so that a
re-run skips what is finished (same input bytes, same settings, outputs intact) and
redoes the rest. One failing image is one line and the batch goes on. Backends
(:class:`Execution`): this process, spawned worker processes (one per device), or one
Ray task per image (``pip install "zssr[ray]"``). ``zssr upscale DIR --out-dir OUT``
is built on it; see docs/BATCH.md.
"""

from __future__ import annotations

from .manifest import MANIFEST_NAME, Manifest, settings_id
from .runner import BatchReport, Execution, run_batch, workers_started
from .work import BatchItem, Done, Failed, ImageTask, TaskResult, file_sha256

__all__ = [
    "MANIFEST_NAME", "BatchItem", "BatchReport", "Done", "Execution", "Failed", "ImageTask", "Manifest", "TaskResult",
    "file_sha256", "run_batch", "settings_id", "workers_started",
]
