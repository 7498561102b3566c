"""``zssr serve``: a local web page to run ZSSR on one image, watch it train and compare the result.

Needs the ``web`` extra (``pip install "zssr[web]"``, Gradio). Modules: :mod:`~zssr.web.job`
(one run, built exactly as ``zssr upscale`` builds it, with live progress and cooperative
cancellation; no Gradio), :mod:`~zssr.web.session` (per-visitor folders, upload limits),
:mod:`~zssr.web.compare` (bicubic vs ZSSR previews and zooms), :mod:`~zssr.web.app` (the
Gradio page) and :mod:`~zssr.web.server` (launching it with nothing sent over the network).
Only :mod:`~zssr.web.app` and :mod:`~zssr.web.server`'s launch import Gradio.
"""

from __future__ import annotations

from .job import JobOptions, JobResult, Monitor, run_job
from .session import Limits

__all__ = ["JobOptions", "JobResult", "Limits", "Monitor", "run_job"]
