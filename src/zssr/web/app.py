"""The ``zssr serve`` page, built with Gradio: upload, run with live progress, compare, download.

One training runs at a time on the server's device (the run event has a concurrency
limit of 1; others wait in Gradio's queue, which shows each tab its position). Each tab
is a :class:`~zssr.web.session.Visitor` with its own folder and job; the run itself is
:func:`zssr.web.job.run_job` on a worker thread, which this page polls for progress.
Every failure is the CLI's one line on the page; nothing is read or written outside the
visitor's folder (and Gradio's own upload cache inside the server's temporary root).
"""

from __future__ import annotations

import dataclasses
import html
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import torch

from .._atomic import one_line
from ..batch.work import describe_error
from ..config import PRESET_DOCS, PRESETS
from ..errors import ImageReadError
from ..io import read_image
from ..pipeline import parse_scale
from .compare import ZOOMS, Comparison
from .job import KERNEL_MODES, KERNEL_SUFFIXES, JobOptions, JobResult, Monitor, Snapshot, run_job, whole_number
from .session import Limits, Visitor, Visitors, admit_image, admit_kernel, check_upload

__all__ = ["build_app", "progress_html", "status_html"]

IMAGE_TYPES = [".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"]
#: Seconds between two progress updates sent to the browser.
POLL_SECONDS = 0.25
CSS = """
#zssr-status .zssr-error { color: #b42318; font-family: monospace; }
#zssr-status .zssr-done { color: #067647; }
#zssr-progress progress { width: 100%; height: 1.1em; }
#zssr-progress .zssr-line { font-family: monospace; font-size: 0.95em; }
#zssr-zoom img, #zssr-overview img { image-rendering: pixelated; }
"""


def status_html(text: str, kind: str = "info") -> str:
    """One status line (``kind``: info, done, error) as HTML, escaped."""
    return f'<div class="zssr-{kind}">{html.escape(one_line(text))}</div>' if text else ""


def progress_html(snap: Snapshot) -> str:
    """The live progress bar and its line: step, iteration, loss, learning rate, time left."""
    if snap.stage in ("done", "cancelled", "failed"):
        ran = f" at iteration {snap.iteration}/{snap.max_iterations} of step {snap.step + 1}/{snap.steps}" \
            if snap.max_iterations else ""
        return f'<div class="zssr-line zssr-{snap.stage}">{snap.stage}{ran}, {snap.elapsed:.1f} s</div>'
    if snap.stage != "training":
        return f'<div class="zssr-line">{html.escape(snap.stage)}… ({snap.elapsed:.1f} s)</div>'
    parts = [f"step {snap.step + 1}/{snap.steps}", f"iteration {snap.iteration}/{snap.max_iterations}"]
    if snap.loss == snap.loss:  # not NaN: the loss is read back every 10 iterations
        parts.append(f"loss {snap.loss:.4f}")
    if snap.learning_rate == snap.learning_rate:
        parts.append(f"lr {snap.learning_rate:.1e}")
    if snap.seconds_left is not None:
        parts.append(f"at most {snap.seconds_left:.0f} s left")
    parts.append(f"{snap.elapsed:.1f} s elapsed")
    done = snap.step * snap.max_iterations + snap.iteration
    total = max(1, snap.steps * snap.max_iterations)
    return (f'<progress max="{total}" value="{done}"></progress>'
            f'<div class="zssr-line" data-iteration="{snap.iteration}">{html.escape(" · ".join(parts))}</div>')


def _who(request: gr.Request | None) -> tuple[str, str | None]:
    """(session, user) of a request; the user is None without ``--auth`` (and for an unauthenticated request)."""
    return getattr(request, "session_hash", None) or "anonymous", getattr(request, "username", None)


def _visitor(visitors: Visitors, request: gr.Request | None) -> Visitor:
    return visitors.get(*_who(request))


def _known_visitor(visitors: Visitors, request: gr.Request | None) -> Visitor | None:
    return visitors.find(*_who(request))


def build_app(*, device: torch.device, limits: Limits, visitors: Visitors) -> gr.Blocks:
    """The page; ``visitors`` holds each tab's folder and job (the caller removes them at shutdown)."""
    threads = torch.get_num_threads()
    with gr.Blocks(title="zssr — Zero-Shot Super-Resolution", delete_cache=(600, 3600)) as demo:
        gr.Markdown(
            "## zssr — Zero-Shot Super-Resolution\n"
            f"A small network is trained on your image alone, here on this machine ({device}, {threads} CPU threads); "
            "nothing is downloaded. One run at a time: others wait in the queue. "
            f"Images up to {limits.max_upload_mb:g} MB and {limits.max_megapixels:g} megapixels "
            f"(outputs up to {limits.max_output_megapixels:g})."
        )
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                upload = gr.File(label="Image (PNG, JPEG, TIFF, BMP, WebP; 8/16-bit; gray, RGB, RGBA)",
                                 file_types=IMAGE_TYPES, type="filepath", elem_id="zssr-upload")
                info = gr.Markdown(elem_id="zssr-info")
                scale = gr.Textbox("2", label="Factor", info="2, or vertical x horizontal (1.5x2)", elem_id="zssr-scale")
                preset = gr.Dropdown(sorted(PRESETS), value="fast", label="Preset", elem_id="zssr-preset",
                                     info=PRESET_DOCS["fast"])
                kernel_mode = gr.Radio(list(KERNEL_MODES), value="bicubic", label="Kernel", elem_id="zssr-kernel",
                                       info="bicubic, a kernel file, or auto: estimated from the image")
                kernel_upload = gr.File(label="Kernel file (.mat, .npy, .txt, .csv)", file_types=list(KERNEL_SUFFIXES),
                                        type="filepath", visible=False, elem_id="zssr-kernel-file")
                estimator = gr.Radio(["edges", "kernelgan"], value="edges", label="Estimator", visible=False,
                                     info="edges: instant; kernelgan: about a minute on 2 cores")
                # Whole numbers, checked in run(): Gradio's precision=0 would round 2.5 to 2 silently.
                max_iterations = gr.Number(0, label="Max iterations per step (0: the preset's)", step=1,
                                           minimum=0, elem_id="zssr-iterations")
                budget = gr.Number(0, label="Training time budget, s (0: none)", minimum=0, elem_id="zssr-budget")
                seed = gr.Number(0, label="Seed", step=1, minimum=0, elem_id="zssr-seed")
                with gr.Row():
                    run_button = gr.Button("Run", variant="primary", elem_id="zssr-run")
                    cancel_button = gr.Button("Cancel", variant="stop", elem_id="zssr-cancel")
            with gr.Column(scale=2, min_width=400):
                status = gr.HTML(elem_id="zssr-status")
                progress = gr.HTML(elem_id="zssr-progress")
                kernel_picture = gr.Image(label="Estimated kernel", type="filepath", visible=False, height=160,
                                          interactive=False, elem_id="zssr-kernel-picture")
                slider = gr.ImageSlider(label="bicubic | ZSSR (drag the bar)", type="numpy", format="png",
                                        interactive=False, elem_id="zssr-slider")
                with gr.Row():
                    overview = gr.Image(label="Click to choose the zoomed region", type="numpy", format="png",
                                        interactive=False, elem_id="zssr-overview")
                    zoom_slider = gr.ImageSlider(label="zoom: bicubic | ZSSR", type="numpy", format="png",
                                                 interactive=False, elem_id="zssr-zoom")
                zoom = gr.Radio(list(ZOOMS), value=4, label="Zoom", elem_id="zssr-zoom-level")
                curves = gr.Image(label="Training curves (loss, reconstruction error, learning rate)", type="filepath",
                                  interactive=False, elem_id="zssr-curves")
                with gr.Row():
                    download = gr.DownloadButton("Download output", visible=False, elem_id="zssr-download")
                    download_kernel = gr.DownloadButton("Download kernel (.mat)", visible=False,
                                                        elem_id="zssr-download-kernel")
                command = gr.Textbox(label="The same run on the command line (same bytes)", interactive=False,
                                     elem_id="zssr-command")

        def describe_upload(path: str | None) -> str:
            if not path:
                return ""
            name = Path(path).name
            try:
                check_upload(Path(path), limits, None, name=name)  # before decoding anything large
                picture = read_image(path)
            except Exception as exc:  # one line, naming the visitor's file
                return f'<span class="zssr-error">zssr: error: {html.escape(describe_error(exc).replace(path, name))}</span>'
            kind = {1: "gray", 3: "RGB"}[picture.channels] + (" + alpha" if picture.alpha is not None else "")
            return html.escape(f"{name}: {picture.height}×{picture.width}, {kind}, {picture.bit_depth}-bit")

        upload.change(describe_upload, inputs=upload, outputs=info, queue=False, show_progress="hidden")

        def kernel_choice(mode: str) -> tuple[Any, Any, Any]:
            return (gr.update(visible=mode == "file"), gr.update(visible=mode == "auto"),
                    gr.update(value="kernel" if mode != "bicubic" else "fast"))

        kernel_mode.change(kernel_choice, inputs=kernel_mode, outputs=[kernel_upload, estimator, preset], queue=False)
        preset.change(lambda name: gr.update(info=PRESET_DOCS.get(name, "")), inputs=preset, outputs=preset,
                      queue=False)

        def mark_waiting(request: gr.Request) -> tuple[Any, str]:
            visitor = _visitor(visitors, request)
            visitor.waiting, visitor.cancel_waiting = True, False
            return gr.update(interactive=False), status_html("waiting for the device: one run at a time (queue shown below)")

        outputs = [status, progress, kernel_picture, slider, overview, zoom_slider, curves, download, download_kernel,
                   command, run_button]

        def run(path: str | None, factor: str, preset_name: str, mode: str, kernel_path: str | None, estimator_name: str,
                iterations: float | None, seconds: float | None, seed_value: float | None,
                request: gr.Request) -> Iterator[dict[Any, Any]]:
            visitor = _visitor(visitors, request)
            cleared = {kernel_picture: gr.update(value=None, visible=False), slider: None, overview: None,
                       zoom_slider: None, curves: None, download: gr.update(visible=False),
                       download_kernel: gr.update(visible=False), command: ""}
            if visitor.cancel_waiting:
                visitor.waiting = visitor.cancel_waiting = False
                yield {status: status_html("cancelled before it started"), progress: "", run_button: gr.update(interactive=True)}
                return
            visitor.waiting = True  # busy from here (never swept) until the job's thread runs
            visitor.cancel.clear()
            names: dict[Path, str] = {}
            try:
                if not path:
                    raise ImageReadError("choose an image to upload first")
                options = JobOptions(
                    scale=str(factor), preset=preset_name, kernel=mode, estimator=estimator_name,  # type: ignore[arg-type]
                    max_iterations=whole_number(iterations, "max iterations") or None,
                    budget_seconds=None if not seconds else float(seconds),
                    seed=whole_number(seed_value, "seed") or 0,
                )
                final = parse_scale(options.scale)[-1]
                folder = visitor.new_run_folder()
                shown = Path(path).name
                source = admit_image(Path(path), folder, limits, final, name=shown)
                names[source] = shown
                kernel_file = None
                if mode == "file" and kernel_path:
                    kernel_file = admit_kernel(Path(kernel_path), folder, name=Path(kernel_path).name)
                    names[kernel_file] = Path(kernel_path).name
            except Exception as exc:  # bad options or upload: one line, like the CLI
                visitor.waiting = False
                yield {**cleared, status: status_html(f"zssr: error: {describe_error(exc)}", "error"), progress: "",
                       run_button: gr.update(interactive=True)}
                return
            monitor = Monitor(visitor.cancel)
            box: dict[str, JobResult] = {}

            def work() -> None:
                box["result"] = run_job(options, source, folder, device=device, monitor=monitor,
                                        kernel_file=kernel_file, display_names=names)

            thread = threading.Thread(target=work, name="zssr-job", daemon=True)
            visitor.monitor, visitor.thread = monitor, thread
            thread.start()
            visitor.waiting = False
            yield {**cleared, status: status_html("running"), progress: progress_html(monitor.snapshot())}
            try:
                kernel_shown = False
                while thread.is_alive():
                    thread.join(POLL_SECONDS)
                    update: dict[Any, Any] = {progress: progress_html(monitor.snapshot())}
                    if visitor.cancel.is_set():
                        update[status] = status_html("cancelling…")
                    pictures = [] if kernel_shown else sorted(folder.glob("*_kernel.png"))
                    if pictures:
                        update[kernel_picture] = gr.update(value=str(pictures[0]), visible=True)
                        kernel_shown = True
                    yield update
            finally:  # the page went away mid-run: stop the training, do not leave it running
                if thread.is_alive():
                    visitor.cancel.set()
                    thread.join()
                visitor.last_seen = time.monotonic()  # idle from the end of its run, not its start
            ended = dataclasses.replace(monitor.snapshot(), stage=box["result"].status)
            yield _finish(box["result"], visitor, source, ended)

        def _finish(result: JobResult, visitor: Visitor, source: Path, ended: Snapshot) -> dict[Any, Any]:
            final: dict[Any, Any] = {command: result.command, run_button: gr.update(interactive=True),
                                     progress: progress_html(ended)}
            if result.status != "done" or result.output is None:
                kind = "error" if result.status == "failed" else "info"
                return {**final, status: status_html(result.message, kind)}
            try:
                comparison = Comparison.from_files(str(source), str(result.output), result.steps[-1])
            except Exception as exc:  # pragma: no cover - the output was just written and read
                return {**final, status: status_html(f"zssr: error: {describe_error(exc)}", "error")}
            visitor.comparison, visitor.center = comparison, None
            lines = [result.message, *(f"warning: {w}" for w in result.warnings)]
            return {
                **final,
                status: "".join(status_html(line, "done" if i == 0 else "info") for i, line in enumerate(lines)),
                slider: (comparison.bicubic, comparison.zssr),
                overview: comparison.overview(None, ZOOMS[1]),
                zoom_slider: comparison.zoomed(None, ZOOMS[1]),
                kernel_picture: gr.update(value=str(result.kernel_picture), visible=True) if result.kernel_picture
                else gr.update(visible=False),
                curves: str(result.curves) if result.curves else None,
                download: gr.update(value=str(result.output), visible=True,
                                    label=f"Download output ({result.output.name})"),
                download_kernel: gr.update(value=str(result.kernel), visible=True) if result.kernel
                else gr.update(visible=False),
            }

        run_button.click(mark_waiting, outputs=[run_button, status], queue=False).then(
            run, inputs=[upload, scale, preset, kernel_mode, kernel_upload, estimator, max_iterations, budget, seed],
            outputs=outputs, concurrency_limit=1, concurrency_id="zssr-training", show_progress="full",
            show_progress_on=[progress],
        )

        def cancel(request: gr.Request) -> None:
            # A notice, not the status line: the run's own last word ("cancelled: …") must not be overwritten
            # by this reply arriving after it.
            known = _known_visitor(visitors, request)  # only the owner's own visitor (with --auth: its user)
            what = "nothing" if known is None else known.request_cancel()
            gr.Info({"running": "Cancelling the run: it stops within one iteration.",
                     "waiting": "The queued run will end, untrained, when its turn comes.",
                     "nothing": "Nothing to cancel."}[what])

        cancel_button.click(cancel, concurrency_id="zssr-cancel", concurrency_limit=None, show_progress="hidden")

        def rezoom(level: int, request: gr.Request) -> tuple[Any, Any]:
            visitor = _known_visitor(visitors, request)
            comparison = None if visitor is None else visitor.comparison
            if visitor is None or not isinstance(comparison, Comparison):
                return gr.update(), gr.update()
            return comparison.overview(visitor.center, int(level)), comparison.zoomed(visitor.center, int(level))

        def pick(level: int, evt: gr.SelectData, request: gr.Request) -> tuple[Any, Any]:
            visitor = _known_visitor(visitors, request)
            comparison = None if visitor is None else visitor.comparison
            if visitor is not None and isinstance(comparison, Comparison) and isinstance(evt.index, (list, tuple)) \
                    and len(evt.index) == 2:
                k = comparison.overview_factor  # the overview is shown enlarged; the browser gives (x, y)
                visitor.center = (float(evt.index[1]) / k, float(evt.index[0]) / k)
            return rezoom(level, request)

        overview.select(pick, inputs=zoom, outputs=[overview, zoom_slider], queue=False)
        zoom.change(rezoom, inputs=zoom, outputs=[overview, zoom_slider], queue=False)

        def leave(request: gr.Request) -> None:
            # Gradio calls this from its heartbeat route, which asks for no login: with --auth an
            # unauthenticated disconnect carries no user and so reaches no logged-in user's visitor.
            visitors.leave(*_who(request))

        demo.unload(leave)
    return demo
