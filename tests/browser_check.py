"""Headless Chromium driven through the Chrome DevTools protocol, for ``tests/test_docs.py``.

:func:`serve` serves a folder on 127.0.0.1; :class:`DevTools` starts a Chromium that can resolve
no host name but 127.0.0.1 (so nothing it asks for can leave the machine) and records every
request a page makes; :meth:`DevTools.visit` loads a page, waits for its fonts and reports the
requests, the failed ones, and what the page's equations became.
"""
import contextlib
import functools
import http.server
import itertools
import json
import subprocess
import threading
import time

import websocket

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--remote-debugging-port=0")

STATE = """document.fonts.ready.then(() => new Promise(done => setTimeout(done, 100))).then(() => {
  const math = [...document.querySelectorAll('.arithmatex')];
  const untypeset = math.filter(e => !e.querySelector('.katex')).length;
  const main = (document.querySelector('[role=main]') || document.body).cloneNode(true);
  main.querySelectorAll('pre, code, .katex-mathml, script').forEach(e => e.remove());
  const raw = main.textContent.match(/\\\\\\(|\\\\\\[|\\$\\$/g) || [];
  return JSON.stringify({typeset: math.length - untypeset, untypeset: untypeset, rawTex: raw.slice(0, 5),
                         katexErrors: document.querySelectorAll('.katex-error').length});
})"""


@contextlib.contextmanager
def serve(folder):
    """Serve ``folder`` over HTTP on 127.0.0.1 (a free port); yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class DevTools:
    """A headless Chromium with a fresh profile in ``profile`` and one tab, as a context manager."""

    def __init__(self, binary, profile, timeout=60):
        self.binary, self.profile, self.timeout = binary, profile, timeout
        self.ids, self.events = itertools.count(1), []

    def __enter__(self):
        self.profile.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([self.binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            port, path = self._endpoint()
            self.ws = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=self.timeout,
                                                  suppress_origin=True)
            target = self.call("Target.createTarget", url="about:blank")["targetId"]
            self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            for method in ("Page.enable", "Network.enable", "Runtime.enable"):
                self.call(method, session=self.session)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        if getattr(self, "ws", None) is not None:
            self.ws.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def _endpoint(self):
        """The port and path Chromium writes to ``DevToolsActivePort`` once it listens."""
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.binary} exited with status {self.proc.returncode}")
            lines = marker.read_text().split() if marker.is_file() else []
            if len(lines) == 2:
                return lines
            time.sleep(0.1)
        raise TimeoutError(f"{self.binary} did not open its DevTools port in {self.timeout} s")

    def call(self, method, session=None, **params):
        """Send one command and wait for its answer; events that arrive meanwhile are kept."""
        msg_id = next(self.ids)
        message = {"id": msg_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def _wait_for(self, method):
        deadline = time.monotonic() + self.timeout
        while not any(e.get("method") == method for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} in {self.timeout} s")
            self.events.append(json.loads(self.ws.recv()))

    def visit(self, url):
        """Load ``url``; ``{"requests": [url, ...], "failed": [(url, reason), ...], "state": {...}}``."""
        self.events = []
        self.call("Page.navigate", session=self.session, url=url)
        self._wait_for("Page.loadEventFired")
        state = self.call("Runtime.evaluate", session=self.session, expression=STATE, awaitPromise=True,
                          returnByValue=True)
        if "exceptionDetails" in state:
            raise RuntimeError(f"{url}: {state['exceptionDetails']}")
        urls, failed = {}, []
        for e in self.events:
            p = e.get("params", {})
            if e.get("method") == "Network.requestWillBeSent":
                urls[p["requestId"]] = p["request"]["url"]
            elif e.get("method") == "Network.loadingFailed":
                failed.append((urls.get(p["requestId"]), p.get("errorText")))
            elif e.get("method") == "Network.responseReceived" and p["response"]["status"] >= 400:
                failed.append((p["response"]["url"], p["response"]["status"]))
        return {"requests": list(urls.values()), "failed": failed, "state": json.loads(state["result"]["value"])}
