"""Drive a running Space's live tab over HTTP as the browser does (tests/space/test_app.py, benchmarks/space_load.py).

The live tab is a Gradio *stream* event: the page joins the queue once, then posts every microphone chunk to
``/gradio_api/stream/<event_id>`` and reads one output per chunk from the session's server-sent events;
the event holds one of the tab's concurrency slots until it is closed. gradio_client 2.7 cannot follow such an
event (it stops at the first ``process_streaming`` message with a KeyError), so :class:`LiveStream` speaks the
protocol itself and borrows gradio_client only to upload files and to lay out the inputs.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from pathlib import Path

import httpx
from gradio_client import Client, handle_file

BUSY_WORDS = ("Busy:", "Queue is full", "currently busy")  # ours (a tab's line), gradio_client's and the page's


class Busy(Exception):
    """The Space refused the request at once: a tab's waiting line (ours) or Gradio's whole queue was full."""


class LiveStream:
    """One live-microphone session in its own Gradio session (like a second browser tab).

    ``open(chunk)`` joins the stream event (raises :class:`Busy` when refused) and returns once the first chunk's
    output is back (after any wait for a slot); ``send(chunk)`` posts the next chunk and returns its output and the
    seconds it took; ``close()`` ends the stream and frees its slot.
    """

    def __init__(self, client: Client, view: str = "model's classes", overlap: float = 0.5, smoothing: str = "ema",
                 api_name: str = "/stream_step", timeout: float = 120.0):
        self.client, self.settings, self.timeout = client, (view, overlap, smoothing), timeout
        self.endpoint = client.endpoints[client._infer_fn_index(api_name, None)]
        self.session_hash = uuid.uuid4().hex[:12]
        self.http = httpx.Client(timeout=timeout)
        self.messages: queue.Queue = queue.Queue()
        self.event_id: str | None = None
        self._reader: threading.Thread | None = None

    def _body(self, chunk: str | Path) -> dict:
        data = self.endpoint.insert_empty_state(handle_file(str(chunk)), *self.settings)
        data = self.endpoint.process_input_files(*data)  # uploads the chunk, as the page does
        return {"data": list(data), "fn_index": self.endpoint.fn_index, "session_hash": self.session_hash,
                "event_data": None, "trigger_id": None}

    def _read(self) -> None:
        url = self.client.src_prefixed + "queue/data"
        try:
            with self.http.stream("GET", url, params={"session_hash": self.session_hash}, timeout=None) as response:
                for line in response.iter_lines():
                    if line.startswith("data:"):
                        self.messages.put(json.loads(line[5:]))
        except httpx.HTTPError as err:
            self.messages.put({"msg": "reader_error", "error": repr(err)})
        self.messages.put({"msg": "reader_closed"})

    def _next_output(self) -> list:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                msg = self.messages.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise TimeoutError(f"no live output within {self.timeout:.0f} s") from None
            kind = msg.get("msg")
            if kind == "process_streaming":
                return msg["output"]["data"]
            if kind == "process_completed":
                if not msg.get("success", True):
                    raise RuntimeError(f"live stream failed: {msg.get('output', {}).get('error')}")
                raise RuntimeError("live stream ended by the server (time limit?)")
            if kind in ("reader_error", "reader_closed", "unexpected_error"):
                raise RuntimeError(f"live stream lost: {msg}")

    def open(self, chunk: str | Path) -> list:
        response = self.http.post(self.client.src_prefixed + "queue/join", json=self._body(chunk))
        if response.status_code == 503:  # Gradio's own queue is full
            raise Busy(f"Queue is full ({response.json().get('detail')})")
        if response.status_code == 422:  # a tab's waiting line (the Space's validator)
            detail = response.json().get("detail", [])
            raise Busy(" ".join(d.get("message", "") for d in detail if d.get("is_valid") is False))
        response.raise_for_status()
        self.event_id = response.json()["event_id"]
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self._next_output()

    def send(self, chunk: str | Path) -> tuple[list, float]:
        """Upload and post the next chunk; its output and the seconds from the upload to the output."""
        start = time.monotonic()
        body = self._body(chunk)
        self.http.post(self.client.src_prefixed + f"stream/{self.event_id}", json=body).raise_for_status()
        return self._next_output(), time.monotonic() - start

    def close(self) -> None:
        try:
            if self.event_id is not None:
                self.http.post(self.client.src_prefixed + f"stream/{self.event_id}/close")
                if self._reader is not None:
                    self._reader.join(timeout=10)
        finally:
            self.http.close()
