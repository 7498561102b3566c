"""Start the page: a private temporary root, Gradio configured to stay offline, cleanup at exit.

Gradio reads its settings from the environment when it is imported, so they are set here
first: no analytics or version check (``GRADIO_ANALYTICS_ENABLED``), no Hugging Face Hub
calls (``HF_HUB_OFFLINE``), and its upload cache inside this server's temporary root
(``GRADIO_TEMP_DIR``), which is removed when the server stops.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

from .session import Limits, Visitors

__all__ = ["OFFLINE_ENVIRONMENT", "serve"]

#: Set before Gradio is imported: nothing leaves this machine at run time.
OFFLINE_ENVIRONMENT = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}


def serve(*, host: str, port: int, device: torch.device, limits: Limits, auth: tuple[str, str] | None = None,
          ready: Any = None) -> None:
    """Serve the page on ``host:port`` until Ctrl-C (or SIGTERM); every visitor folder is removed at exit.

    Args:
        host: the address to bind (127.0.0.1: this machine only; an IPv6 literal bracketed, ``[::1]``).
        port: the TCP port.
        device: where every run trains.
        limits: upload limits.
        auth: ``(user, password)`` asked by the page, or None.
        ready: called with the page's URL and the temporary root once the server listens.
    """
    root = Path(tempfile.mkdtemp(prefix="zssr-serve-"))
    os.environ.update(OFFLINE_ENVIRONMENT)
    # Gradio would take an empty host from it, and it checks ports on that name: ``host`` alone decides.
    os.environ.pop("GRADIO_SERVER_NAME", None)
    os.environ["GRADIO_TEMP_DIR"] = str(root / "gradio")
    visitors = Visitors(root / "visitors")
    visitors.start_sweeping()
    previous = signal.signal(signal.SIGTERM, _interrupt)
    demo = None
    try:
        from .app import CSS, build_app

        demo = build_app(device=device, limits=limits, visitors=visitors)
        demo.queue(default_concurrency_limit=1)
        demo.launch(
            server_name=host, server_port=port, auth=auth, max_file_size=int(limits.max_upload_mb * 1e6),
            allowed_paths=[str(root)], ssr_mode=False, mcp_server=False, pwa=False, share=False, quiet=True,
            show_error=False, prevent_thread_lock=True, footer_links=[], enable_monitoring=False, css=CSS,
        )
        url = f"http://{host}:{demo.server_port}/"
        if ready is not None:
            ready(url, root)
        demo.block_thread()
    finally:
        signal.signal(signal.SIGTERM, previous)
        if demo is not None:
            demo.close()
        visitors.close_all()
        shutil.rmtree(root, ignore_errors=True)


def _interrupt(signum: int, frame: Any) -> None:
    """SIGTERM as Ctrl-C, so that the visitor folders are removed on a plain ``kill`` too.

    Later SIGTERMs are ignored, so that a second one cannot cut the cleanup short.
    """
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("zssr serve: stopping", file=sys.stderr)
    raise KeyboardInterrupt
