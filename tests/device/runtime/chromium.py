"""A headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`): standard library only.

    with Chromium() as browser:
        page = browser.open("http://127.0.0.1:8222/live/abc", prompt_answer="read-key")
        page.evaluate("document.title")
        page.screenshot(path)

Messages are JSON separated by NUL bytes, written to the browser's fd 3 and read from its fd 4. A prompt() the
page opens is answered with `prompt_answer` (the live page asks for its read key that way).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

BINARY = shutil.which("chromium") or shutil.which("chromium-browser")


class Chromium:
    def __init__(self, size: tuple[int, int] = (1280, 720)):
        assert BINARY, "chromium is not installed"
        self.profile = tempfile.mkdtemp(prefix="suksham-chromium-")
        to_browser_r, self._w = os.pipe()
        self._r, from_browser_w = os.pipe()
        # Above any fd the child already has, so that moving them onto 3 and 4 clobbers neither.
        high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 100)
        high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 100)
        os.close(to_browser_r)
        os.close(from_browser_w)

        def onto_3_and_4():
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        args = [BINARY, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe", "--no-first-run"]
        args += ["--disable-dev-shm-usage", f"--user-data-dir={self.profile}", f"--window-size={size[0]},{size[1]}"]
        self.proc = subprocess.Popen(
            [*args, "about:blank"],
            pass_fds=(3, 4, high_r, high_w),
            preexec_fn=onto_3_and_4,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        os.close(high_r)
        os.close(high_w)
        self._buf = b""
        self._id = 0
        self.prompt_answers: dict[str, str] = {}  # session -> text typed into a prompt() there
        self.console: list[str] = []

    def _write(self, message: dict) -> int:
        self._id += 1
        os.write(self._w, json.dumps({"id": self._id, **message}).encode() + b"\0")
        return self._id

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30) -> dict:
        message = {"method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        wanted = self._write(message)
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self._buf:
                raw, self._buf = self._buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == wanted:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
                self._event(reply)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"chromium did not answer {method} within {timeout} s")
            ready, _, _ = select.select([self._r], [], [], left)
            if ready:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise RuntimeError(f"chromium exited: {self.proc.stderr.read().decode(errors='replace')[-2000:]}")
                self._buf += chunk

    def _event(self, message: dict) -> None:
        method, session = message.get("method"), message.get("sessionId")
        if method == "Page.javascriptDialogOpening" and session in self.prompt_answers:
            params = {"accept": True, "promptText": self.prompt_answers[session]}
            self._write({"method": "Page.handleJavaScriptDialog", "params": params, "sessionId": session})
        elif method == "Runtime.consoleAPICalled":
            args = message["params"].get("args", [])
            self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))

    def open(self, url: str, prompt_answer: str | None = None) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        if prompt_answer is not None:
            self.prompt_answers[session] = prompt_answer
        self.send("Page.enable", session=session)
        self.send("Runtime.enable", session=session)
        self.send("Page.navigate", {"url": url}, session=session)
        return Page(self, session)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self._w)
        os.close(self._r)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Page:
    def __init__(self, browser: Chromium, session: str):
        self.browser, self.session = browser, session

    def evaluate(self, expression: str):
        result = self.browser.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=self.session
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        data = self.browser.send("Page.captureScreenshot", {"format": "png"}, session=self.session)["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)
