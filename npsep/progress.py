"""A one-line progress bar on stderr, for work that takes more than a few seconds.

The bar is drawn only when the stream is a terminal and the caller did not ask
for quiet, and only once ``delay`` seconds (default 2) have passed: short jobs
print nothing. It redraws at most ten times a second, shows elapsed time and
an ETA extrapolated from the rate so far, and is erased by :meth:`Progress.close`.
When the stream is not a terminal (a log file, CI) and ``log_interval`` is given, a
plain line (percentage, elapsed, ETA, times real time) is printed every
``log_interval`` seconds instead.
"""
import shutil
import sys
import time


def format_seconds(s):
    """``75 -> '1:15'``, ``3725 -> '1:02:05'``."""
    s = int(max(0, round(s)))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


class Progress:
    """Progress of ``total`` units of work (e.g. seconds of audio).

    Use :meth:`update` with the amount done so far (or :meth:`advance` with
    an increment) and :meth:`close` at the end. ``enabled=None`` means: draw
    iff ``stream.isatty()``.
    """

    def __init__(self, total, label="", stream=None, enabled=None, delay=2.0,
                 clock=time.monotonic, log_interval=None):
        self.total = float(total)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.log_interval = None
        if enabled is None:
            try:
                enabled = self.stream.isatty()
            except (AttributeError, ValueError):
                enabled = False
            if not enabled:
                self.log_interval = log_interval
        self.enabled = bool(enabled)
        self.delay = delay
        self.clock = clock
        self.start = clock()
        self.done = 0.0
        self._last_draw = None
        self._drawn = False

    def advance(self, amount):
        """Add ``amount`` units (the same units as ``total``) to the work done."""
        self.update(self.done + amount)

    def update(self, done, force=False):
        """Set the work done to ``done`` units (capped at ``total``); redraw at most every 0.1 s
        (``force``: regardless), and only after ``delay`` seconds."""
        self.done = min(float(done), self.total) if self.total > 0 else float(done)
        if self.log_interval is not None:
            self._log()
        if not self.enabled:
            return
        now = self.clock()
        if now - self.start < self.delay:
            return
        if not force and self._last_draw is not None and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        self._draw(now)

    def line(self, now=None):
        """The text of the bar (without carriage return) at time ``now``."""
        now = self.clock() if now is None else now
        elapsed = now - self.start
        frac = self.done / self.total if self.total > 0 else 0.0
        if frac > 0:
            eta = format_seconds(elapsed * (1 - frac) / frac)
        else:
            eta = "?"
        tail = f" {100 * frac:3.0f}%  {format_seconds(elapsed)} elapsed  ETA {eta}"
        head = f"{self.label} " if self.label else ""
        width = shutil.get_terminal_size((80, 20)).columns - 1
        bar_width = max(10, min(40, width - len(head) - len(tail) - 2))
        filled = int(round(bar_width * frac))
        return f"{head}[{'#' * filled}{'.' * (bar_width - filled)}]{tail}"

    def _log(self):
        now = self.clock()
        if now - (self._last_draw if self._last_draw is not None else self.start) < self.log_interval:
            return
        self._last_draw = now
        elapsed = now - self.start
        frac = self.done / self.total if self.total > 0 else 0.0
        eta = format_seconds(elapsed * (1 - frac) / frac) if frac > 0 else "?"
        speed = f", {self.done / elapsed:.1f}x real time" if elapsed > 0 else ""
        try:
            print(f"{self.label or 'progress'}: {100 * frac:.0f}%, {format_seconds(elapsed)} "
                  f"elapsed, ETA {eta}{speed}", file=self.stream, flush=True)
        except (OSError, ValueError):
            self.log_interval = None

    def _draw(self, now):
        text = self.line(now)
        try:
            self.stream.write("\r" + text)
            self.stream.flush()
        except (OSError, ValueError):
            self.enabled = False
            return
        self._drawn = True
        self._width = len(text)

    def clear(self):
        """Erase the bar (before printing a message line)."""
        if self._drawn:
            try:
                self.stream.write("\r" + " " * self._width + "\r")
                self.stream.flush()
            except (OSError, ValueError):
                pass
            self._drawn = False
            self._last_draw = None

    def close(self):
        """Erase the bar and stop drawing."""
        self.clear()
        self.enabled = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
