"""A local stand-in for an OpenAI-compatible chat-completions server."""

from __future__ import annotations

import base64
import json
import math
import re
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class StubState:
    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.requests: list[dict[str, Any]] = []
        self.fail_with: int | None = None


def _handler(state: StubState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            state.requests.append(
                {"path": self.path, "body": body, "auth": self.headers.get("authorization")}
            )
            if self.path.endswith("/embeddings"):
                self._embeddings(body)
                return
            if state.fail_with is not None:
                self.send_response(state.fail_with)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"error": {"message": "stub failure", "type": "server_error"}}')
                return
            words = [w + " " for w in state.reply.split(" ")]
            words[-1] = words[-1].rstrip()
            base = {"id": "chatcmpl-stub", "created": 0, "model": body["model"]}
            if not body.get("stream"):
                message = {"role": "assistant", "content": state.reply}
                payload = {
                    **base,
                    "object": "chat.completion",
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                }
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            for i, word in enumerate(words):
                delta = {"content": word} if i else {"role": "assistant", "content": word}
                chunk = {
                    **base,
                    "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
                }
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            done = {
                **base,
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            }
            self.wfile.write(f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode())

        def _embeddings(self, body: dict[str, Any]) -> None:
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            dims = int(body.get("dimensions") or 16)
            vectors: list[Any] = [embed(str(text), dims) for text in texts]
            if body.get("encoding_format") == "base64":
                vectors = [base64.b64encode(struct.pack(f"<{dims}f", *v)).decode() for v in vectors]
            data = [
                {"object": "embedding", "index": i, "embedding": vector}
                for i, vector in enumerate(vectors)
            ]
            usage = {"prompt_tokens": 1, "total_tokens": 1}
            payload = json.dumps(
                {"object": "list", "data": data, "model": body["model"], "usage": usage}
            ).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


def embed(text: str, dims: int) -> list[float]:
    """A deterministic bag-of-words vector: texts sharing words point the same way."""
    vector = [0.0] * dims
    for word in re.findall(r"[a-z]+", str(text).lower()):
        vector[zlib.crc32(word.encode()) % dims] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


@contextmanager
def openai_stub(reply: str) -> Iterator[tuple[str, StubState]]:
    state = StubState(reply)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", state
    finally:
        server.shutdown()
        server.server_close()
