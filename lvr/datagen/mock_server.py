"""A loopback OpenAI-compatible chat server that answers the pipeline's prompts, with fault injection.

    python -m lvr.datagen.mock_server --port 8011 --latency 0.2      # prints "listening on http://127.0.0.1:8011/v1"
    LVR_LLM_BASE_URL=http://127.0.0.1:8011/v1 lvr generate WS --backend openai --model mock

    with MockLLMServer(latency=0.05) as srv:                         # in-process, for tests
        cfg = BackendConfig(kind="openai", model="mock+flaky", base_url=srv.base_url)

It reads the captioning, QA-generation and rewrite prompts of `lvr.datagen.prompts` and answers
in their layouts (a well-formed item citing two caption time ranges, a rewrite in the first
person), so the whole pipeline runs without a model: for tests, benchmarks and the CPU demo.
Its captions say when they happen ("Across 8 frames from 00:00 to 00:10, …"); like a real model,
its questions and rewrites retell the events without those time stamps, so a rewrite passes
`validation.rewrite_problems` and `lvr generate` needs no `--no-rewrite` against it.
Behaviour flags ride in the model name, joined with "+":

    malformed   answers that break the layout          oneclip   reasoning cites only one range
    leak        rewrites that mention the captions     biased    the answer is always B
    flaky       per distinct request: 429, then 500, then success
    ratelimit   per distinct request: 429 with Retry-After: 0.3, then success
    timeout     per distinct request: the first answer hangs `hang` seconds, then success
    badjson     per distinct request: a 200 with a broken JSON body, then success
    reject      every request gets HTTP 400

`stats` counts requests, statuses, the most requests in flight at once, images (checked to be JPEG
data URLs) and Authorization headers.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lvr.video.timefmt import TIME_RE

_CAPTION_LINE = re.compile(r"^\[(\S+) - (\S+)\] (.+)$", re.M)
_NUMBER = re.compile(r"This is question (\d+) of (\d+)")
_WHEN = re.compile(rf"\b(?:(?:from|between)\s+{TIME_RE}\s+(?:to|and|-)\s+{TIME_RE}|(?:at|around|until|by)\s+"
                   rf"{TIME_RE}|{TIME_RE})\b", re.I)
_FRAMES_LEAD = re.compile(r"^(?:across|in|over)\s+\d+\s+frames\s*,?\s*", re.I)
_CATEGORY = {"TEMPORAL": "temporal", "GOAL AND PURPOSE": "goal", "SPATIAL": "spatial", "PLOT AND NARRATIVE": "plot"}


def _text_of(messages: list[dict]) -> tuple[str, list[str]]:
    texts, images = [], []
    for m in messages:
        c = m.get("content")
        if isinstance(c, str):
            texts.append(c)
        elif isinstance(c, list):
            for part in c:
                if part.get("type") == "text":
                    texts.append(part.get("text", ""))
                elif part.get("type") == "image_url":
                    images.append((part.get("image_url") or {}).get("url", ""))
    return "\n".join(texts), images


def _is_jpeg_url(url: str) -> bool:
    prefix = "data:image/jpeg;base64,"
    if not url.startswith(prefix):
        return False
    try:
        return base64.b64decode(url[len(prefix):len(prefix) + 64] + "==")[:2] == b"\xff\xd8"
    except ValueError:
        return False


def answer_caption(text: str, images: list[str]) -> str:
    m = re.search(r"runs from (\S+) to (\S+);", text)
    span = f"from {m.group(1)} to {m.group(2)}" if m else "in this part"
    tag = hashlib.sha1(text.encode()).hexdigest()[:6]
    return (f"Across {len(images)} frames {span}, a person in a blue jacket carries a box marked {tag} "
            f"from the left side of a kitchen towards a door on the right, then sets it on a table.")


def retell(event: str) -> str:
    """An event as a model retells it: no time stamps, no "Across N frames" lead (the captions' own layout)."""
    text = re.sub(r"\s+([,.;])", r"\1", " ".join(_WHEN.sub(" ", event).split()))
    text = _FRAMES_LEAD.sub("", text).strip(" ,")
    return text or event


def answer_qa(text: str, flags: set[str]) -> str:
    if "malformed" in flags:
        return "Sure! Here is a great question about the video: what happens? The answer is probably B."
    caps = _CAPTION_LINE.findall(text)
    num = _NUMBER.search(text)
    n = int(num.group(1)) if num else 1
    category = next((v for k, v in _CATEGORY.items() if f"{k} reasoning" in text), "temporal")
    digest = int(hashlib.sha1(text.encode()).hexdigest(), 16)
    if not caps:
        caps = [("00:00", "00:10", "something happens")]
    if len(caps) == 1:
        s, e, c = caps[0]
        picked = [(s, s, c), (e, e, c)] if "oneclip" not in flags else [(s, e, c)]
    else:
        i = (n - 1) % (len(caps) - 1)
        picked = [caps[i]] if "oneclip" in flags else [caps[i], caps[-1] if i + 1 == len(caps) - 1 else caps[i + 1]]
    answer = "B" if "biased" in flags else "ABCD"[digest % 4]
    words = " ".join(retell(picked[0][2]).split()[:6])
    options = [f"Choice {k} for {category} question {n} ({digest % 997})" for k in ("red", "green", "blue", "amber")]
    lines = [f"QUESTION: For {category} question {n}, what links the moment where {words} to what happens later "
             f"in the video?", *(f"{letter}. {o}" for letter, o in zip("ABCD", options)), f"ANSWER: {answer}",
             "REASONING:"]
    for s, e, c in picked:
        lines += [f"From {s} to {e}:", f"- {c}", f"- This moment matters for option {answer}."]
    lines.append(f"CONCLUSION: Only option {answer} accounts for both moments.")
    return "\n".join(lines)


def answer_rewrite(text: str, flags: set[str]) -> str:
    section = text.split("Reasoning written from the captions:", 1)[-1].split("Rewrite this reasoning", 1)[0]
    facts = []
    for line in section.splitlines():
        line = line.strip()
        if line.startswith("- "):
            facts.append(line[2:])
        elif line.lower().startswith("conclusion:"):
            facts.append(line.split(":", 1)[1].strip())
    facts = [retell(f).rstrip(".") for f in facts]
    lead = "According to the captions, " if "leak" in flags else "While watching, I notice that "
    body = ". Then I see that ".join(facts) or "the events connect"
    return f"REASONING:\n{lead}{body}. So I am confident in my answer."


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True   # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server: "_Server"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
        # counted before the reply goes out: a client that has its answer must find it in the stats
        self.server.owner._count("status", status)
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, json.dumps({"object": "list", "data": [{"id": "mock", "object": "model"}]}).encode())
        else:
            self._send(404, b'{"error": "not found"}')

    def do_POST(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, b'{"error": "not found"}')
            return
        owner._count("requests", 1)
        owner._enter()
        try:
            self._chat(owner, raw)
        finally:
            owner._leave()

    def _chat(self, owner: "MockLLMServer", raw: bytes) -> None:
        if self.headers.get("Authorization"):
            owner._count("auth", self.headers["Authorization"])
        try:
            body = json.loads(raw)
            messages = body["messages"]
        except (json.JSONDecodeError, KeyError, TypeError):
            self._send(400, b'{"error": {"message": "bad request body"}}')
            return
        model = str(body.get("model", "mock"))
        flags = set(model.split("+")[1:])
        attempt = owner._attempt(hashlib.sha1(raw).hexdigest())
        delay = owner.latency
        if "reject" in flags:
            self._send(400, b'{"error": {"message": "model does not exist"}}')
            return
        if "flaky" in flags and attempt <= 2:
            time.sleep(delay)
            status = 429 if attempt == 1 else 500
            self._send(status, json.dumps({"error": {"message": f"injected {status}"}}).encode(),
                       {"Retry-After": "0"} if status == 429 else None)
            return
        if "ratelimit" in flags and attempt == 1:
            self._send(429, b'{"error": {"message": "rate limited"}}', {"Retry-After": "0.3"})
            return
        if "timeout" in flags and attempt == 1:
            delay = owner.hang
        if "badjson" in flags and attempt == 1:
            time.sleep(delay)
            self._send(200, b'{"choices": [{"message": ')
            return
        text, images = _text_of(messages)
        owner._count("images", len(images))
        owner._count("jpeg_images", sum(_is_jpeg_url(u) for u in images))
        if images:
            content = answer_caption(text, images)
        elif "Rewrite this reasoning" in text:
            content = answer_rewrite(text, flags)
        elif "QUESTION:" in text and "REASONING:" in text:
            content = answer_qa(text, flags)
        else:
            content = "OK: " + " ".join(text.split()[-8:])
        time.sleep(delay)
        reply = {
            "id": f"mock-{attempt}", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(text.split()) + 85 * len(images), "completion_tokens": len(content.split()),
                      "total_tokens": len(text.split()) + len(content.split())},
        }
        self._send(200, json.dumps(reply).encode())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    owner: "MockLLMServer"


class MockLLMServer:
    """Start with `start()` (or as a context manager); `base_url` ends in /v1."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, latency: float = 0.0, hang: float = 5.0):
        self.latency, self.hang = latency, hang
        self._httpd = _Server((host, port), _Handler)
        self._httpd.owner = self
        self._lock = threading.Lock()
        self._attempts: Counter = Counter()
        self.stats: Counter = Counter()
        self.auth: set[str] = set()
        self._in_flight = 0
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def _attempt(self, digest: str) -> int:
        with self._lock:
            self._attempts[digest] += 1
            return self._attempts[digest]

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.stats["max_in_flight"] = max(self.stats["max_in_flight"], self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _count(self, what: str, value) -> None:
        with self._lock:
            if what == "auth":
                self.auth.add(value)
            elif what == "status":
                self.stats[f"status_{value}"] += 1
            else:
                self.stats[what] += value

    def reset(self) -> None:
        with self._lock:
            self._attempts.clear()
            self.stats.clear()
            self.auth.clear()

    def start(self) -> "MockLLMServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "MockLLMServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--latency", type=float, default=0.0, help="seconds every answer waits")
    p.add_argument("--hang", type=float, default=5.0, help="seconds a 'timeout' answer hangs")
    a = p.parse_args(argv)
    srv = MockLLMServer(a.host, a.port, a.latency, a.hang)
    print(f"listening on {srv.base_url}", flush=True)
    try:
        srv._httpd.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
