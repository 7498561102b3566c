"""``zssr serve``: the local web page (Gradio; needs ``pip install "zssr[web]"``)."""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib.util
import ipaddress
import math
import socket
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
                   help="address or host name to listen on (default 127.0.0.1: this machine only; ::1 for IPv6; "
                   "0.0.0.0: every network interface, see below). $GRADIO_SERVER_NAME is ignored")
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


def check_host(host: str, port: int) -> tuple[str, bool]:
    """``--host`` as Gradio must get it, checked now; and whether it is this machine only.

    Why: Gradio takes an empty name as ``$GRADIO_SERVER_NAME`` (0.0.0.0 where set), builds
    ``http://::1:7860`` for an IPv6 literal (a 40-line httpx traceback) and reports a
    name that does not resolve as "Cannot find empty port". So the name must be non-empty,
    resolve (:func:`socket.getaddrinfo`) and every address it resolves to must be bindable
    at ``port`` (what the server will listen on); an IPv6 literal is passed bracketed
    (``[::1]``), the form Gradio strips for binding and keeps for the page's URL.

    Raises:
        ConfigError: naming ``--host`` (or ``--port`` when the port is taken).
    """
    name = host.strip()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if not name:
        raise ConfigError(f"--host must be an address or host name, e.g. 127.0.0.1 or ::1, got {host!r}")
    try:
        found = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"--host {host!r}: cannot resolve this name ({why})") from None
    for family, kind, proto, _, address in found:
        with contextlib.closing(socket.socket(family, kind, proto)) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds it
            try:
                probe.bind(address)
            except OSError as exc:
                flag = f"--port {port}" if exc.errno == errno.EADDRINUSE else f"--host {host}"
                raise ConfigError(f"{flag}: cannot listen on {address[0]} port {port} "
                                  f"({exc.strerror or exc})") from None
    local = all(ipaddress.ip_address(str(address[0]).split("%")[0]).is_loopback for *_, address in found)
    try:
        is_v6 = ipaddress.ip_address(name.split("%")[0]).version == 6
    except ValueError:
        is_v6 = False
    return (f"[{name}]" if is_v6 else name), local


def _cmd_serve(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("gradio") is None:
        raise ZSSRError('zssr serve needs the web extra: pip install "zssr[web]"')
    from ..web.server import serve
    from ..web.session import IDLE_SECONDS, MAX_VISITOR_BYTES, MAX_VISITORS, Limits

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be in 0..65535, got {args.port}")
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be an integer >= 1, got {args.threads}")
    check_threads(args.threads, "--threads")
    for flag, value in (("--max-upload-mb", args.max_upload_mb), ("--max-megapixels", args.max_megapixels),
                        ("--max-output-megapixels", args.max_output_megapixels)):
        if not 0 < value < math.inf:  # (inf once overflowed into gradio's byte limit; nan fails too)
            raise ConfigError(f"{flag} must be a finite number > 0, got {value:g}")
    host, local = check_host(str(args.host), args.port)
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
        exposed = "" if local else (
            " (reachable from the network: anyone who can reach this port can use this machine; see --help)")
        print(f"zssr serve: {url} on {device} with {torch.get_num_threads()} threads{exposed}; Ctrl-C to stop",
              flush=True)
        print(f"zssr serve: visitors' files under {root} (each removed when its visitor leaves, or after "
              f"{IDLE_SECONDS / 60:g} min idle; at most {MAX_VISITORS} visitors, {MAX_VISITOR_BYTES / 2**30:g} GiB)",
              flush=True)

    serve(host=host, port=args.port, device=device, limits=limits, auth=auth, ready=ready)
    return 0
