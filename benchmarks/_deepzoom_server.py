"""Baseline server for the serving benchmark: OpenSlide's DeepZoomGenerator over http.server.

The smallest server that serves a slide the way OpenSlide's own examples do: one
``DeepZoomGenerator`` (tile 254, overlap 1), tiles encoded as JPEG Q75 with Pillow, a
``ThreadingHTTPServer`` with keep-alive. No authentication, no database, no cache of its own
(OpenSlide keeps its internal cache of decoded slide tiles). Run as a script:
``python benchmarks/_deepzoom_server.py SLIDE PORT``; it prints ``ready`` once it listens.
"""

from __future__ import annotations

import io
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openslide
from openslide.deepzoom import DeepZoomGenerator

_TILE = re.compile(r"^/slide_files/(\d+)/(\d+)_(\d+)\.jpeg$")


def make_handler(generator: DeepZoomGenerator) -> type[BaseHTTPRequestHandler]:
    """A request handler serving ``/slide.dzi`` and ``/slide_files/L/C_R.jpeg``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like uvicorn

        def do_GET(self) -> None:
            if self.path == "/slide.dzi":
                self._send(generator.get_dzi("jpeg").encode(), "application/xml")
                return
            match = _TILE.match(self.path)
            if match is None:
                self._send(b"not found", "text/plain", status=404)
                return
            level, column, row = (int(part) for part in match.groups())
            try:
                tile = generator.get_tile(level, (column, row))
            except ValueError:
                self._send(b"no such tile", "text/plain", status=404)
                return
            buffer = io.BytesIO()
            tile.save(buffer, "jpeg", quality=75)
            self._send(buffer.getvalue(), "image/jpeg")

        def _send(self, body: bytes, media_type: str, status: int = 200) -> None:
            self.send_response(status)
            self.send_header("Content-Type", media_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def main(argv: list[str] | None = None) -> int:
    slide_path, port = (argv if argv is not None else sys.argv[1:])[:2]
    generator = DeepZoomGenerator(openslide.OpenSlide(slide_path), tile_size=254, overlap=1)
    server = ThreadingHTTPServer(("127.0.0.1", int(port)), make_handler(generator))
    server.daemon_threads = True
    print("ready", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
