"""The napari plugin: a dock widget that runs ZSSR on an image layer (``pip install 'zssr[napari]'``).

napari finds it through the ``napari.manifest`` entry point (``napari.yaml`` here). Only
:mod:`~zssr.napari_plugin._widget` imports napari and Qt; this package and
:mod:`~zssr.napari_plugin._run` (what the widget runs) import without them, and nothing else
in zssr imports this package. See docs/VOLUMES.md, "napari".
"""

from __future__ import annotations

__all__: list[str] = []
