"""``zssr serve``: the local web page (Gradio; needs ``pip install "zssr[web]"``)."""

from __future__ import annotations

import argparse
import importlib.util
import math
from typing import Any

import torch

from ..errors import ConfigError, ZSSRError
from ..limits import check_threads
from ..pipeline import resolve_device
from .options import DEVICE_HELP

EXPOSE_HELP = """\
exposing the page beyond this machine:
  By default the page listens on 127.0.0.1: only this machine can open it. With
  --host 0.0.0.0 (or a LAN address) anyone who can reach the port can upload files,
  run trainings on this machine's CPU/GPU and download the results; there is no
  authentication unless you give --auth USER:PASS (sent in clear without HTTPS).
  Prefer an SSH tunnel, which keeps the page private:
    on the server:   zssr serve                      (127.0.0.1:7860)
    on your laptop:  ssh -L 7860:127.0.0.1:7860 user@server, then open http://127.0.0.1:7860

examples:
  zssr serve                              # http://127.0.0.1:7860, this machine only
  zssr serve --port 8080 --threads 4
  zssr serve --host 0.0.0.0 --auth me:secret   # reachable from the network: read the above
"""


def add_parser(sub: Any) -> None:
    """Register ``zssr serve`` and its options on the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "serve",
        help='a local web page: upload, watch it train, compare, download (pip install "zssr[web]")',
        description="Start a web page to super-resolve one image at a time with ZSSR: upload it, choose the "
        "factor, preset and kernel, watch the training live, compare bicubic and ZSSR with a slider and a "
        "zoom, and download the output at its full bit depth. One training at a time; other visitors queue. "
        "The page gives the same bytes as 'zssr upscale' with the same options (it shows the command).",
        epilog=EXPOSE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: every network "
                   "interface, see below)")
    p.add_argument("--port", type=int, default=7860, help="TCP port (default 7860)")
    p.add_argument("--auth", metavar="USER:PASS", help="ask for this user name and password before showing the page")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("--threads", type=int, metavar="N",
                   help="torch CPU threads for each run (default: torch's, all cores); 'zssr upscale --threads N' "
                   "gives the same bytes")
    p.add_argument("--max-upload-mb", type=float, default=25.0, metavar="MB", help="largest upload (default 25)")
    p.add_argument("--max-megapixels", type=float, default=4.0, metavar="MP",
                   help="largest input, height × width in millions of pixels (default 4)")
    p.add_argument("--max-output-megapixels", type=float, default=16.0, metavar="MP",
                   help="largest output (input × factors), in millions of pixels (default 16)")
    p.set_defaults(handler=_cmd_serve)


def _cmd_serve(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("gradio") is None:
        raise ZSSRError('zssr serve needs the web extra: pip install "zssr[web]"')
    from ..web.server import serve
    from ..web.session import Limits

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be in 0..65535, got {args.port}")
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be an integer >= 1, got {args.threads}")
    check_threads(args.threads, "--threads")
    for flag, value in (("--max-upload-mb", args.max_upload_mb), ("--max-megapixels", args.max_megapixels),
                        ("--max-output-megapixels", args.max_output_megapixels)):
        if not 0 < value < math.inf:  # (inf once overflowed into gradio's byte limit; nan fails too)
            raise ConfigError(f"{flag} must be a finite number > 0, got {value:g}")
    auth = None
    if args.auth is not None:
        user, sep, password = str(args.auth).partition(":")
        if not sep or not user or not password:
            raise ConfigError("--auth must be USER:PASS, both non-empty")
        auth = (user, password)
    device = resolve_device(args.device)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    limits = Limits(args.max_upload_mb, args.max_megapixels, args.max_output_megapixels)

    def ready(url: str, root: Any) -> None:
        exposed = "" if args.host in ("127.0.0.1", "localhost", "::1") else (
            " (reachable from the network: anyone who can reach this port can use this machine; see --help)")
        print(f"zssr serve: {url} on {device} with {torch.get_num_threads()} threads{exposed}; Ctrl-C to stop",
              flush=True)
        print(f"zssr serve: visitors' files under {root} (each folder removed when its visitor leaves)", flush=True)

    serve(host=args.host, port=args.port, device=device, limits=limits, auth=auth, ready=ready)
    return 0
