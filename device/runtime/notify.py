"""Telling systemd how the service is doing (``Type=notify``, ``WatchdogSec=``).

The protocol is one datagram per message on the Unix socket named by
``$NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract namespace), each a few
``KEY=value`` lines: ``READY=1`` once started, ``STATUS=...`` for
``systemctl status``, ``WATCHDOG=1`` to say "still alive", ``STOPPING=1`` on the
way out.  Outside systemd there is no socket and every call does nothing.

:class:`Watchdog` pings only while a progress counter advances (the polling
loop's frames plus its retries), so a loop that hangs stops the pings and
systemd restarts the service, while a loop that is alive but waiting for an
unplugged ADC keeps pinging (the fault state recovers by itself).  It knows
nothing about the core: it is given functions, so it works the same whether the
core runs in this process or another one.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Callable, Mapping, Optional

log = logging.getLogger(__name__)


class Notifier:
    """Sends sd_notify messages; a no-op when ``$NOTIFY_SOCKET`` is not set."""

    def __init__(self, address: Optional[str] = None, env: Optional[Mapping] = None):
        env = os.environ if env is None else env
        self.address = address if address is not None else env.get("NOTIFY_SOCKET") or None
        self._sock: Optional[socket.socket] = None
        self._lock = threading.Lock()
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, **fields: object) -> bool:
        """Send ``KEY=value`` lines (``send(READY=1, STATUS="...")``); True if sent."""
        if not self.enabled:
            return False
        # A newline would start a new field: a status text stays on one line.
        text = "\n".join(f"{k}={str(v).replace(chr(10), ' ')}" for k, v in fields.items())
        target = self.address
        if target.startswith("@"):
            target = "\0" + target[1:]                  # abstract namespace
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.sendto(text.encode(), target)
                return True
            except OSError as exc:
                # systemd gone or the socket not ours: say it once, never stop the device.
                if not self._warned:
                    log.warning("cannot notify systemd at %s: %s", self.address, exc)
                    self._warned = True
                return False

    def ready(self, status: Optional[str] = None) -> bool:
        return self.send(READY=1, **({"STATUS": status} if status else {}))

    def status(self, text: str) -> bool:
        return self.send(STATUS=text)

    def stopping(self, status: str = "stopping") -> bool:
        return self.send(STOPPING=1, STATUS=status)

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None


def watchdog_interval_s(env: Optional[Mapping] = None) -> Optional[float]:
    """How often to ping: half of ``WatchdogSec=`` (``$WATCHDOG_USEC``), as systemd
    advises; None when no watchdog is asked for (or it is meant for another pid)."""
    env = os.environ if env is None else env
    usec = env.get("WATCHDOG_USEC")
    pid = env.get("WATCHDOG_PID")
    if not usec:
        return None
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 2e6 if value > 0 else None


def status_text(status: dict) -> str:
    """One line for ``systemctl status``: frames/s, the set and rep, the fault."""
    health = status.get("health", {})
    parts = [f"{health.get('frame_rate_hz', 0.0):.0f} frames/s"]
    set_ = status.get("set")
    number = set_.get("number") if isinstance(set_, dict) else status.get("set_index")
    if status.get("in_set"):
        parts.append(f"set {number}, rep {status.get('rep_count', 0)}")
    else:
        parts.append("idle" if not number else f"idle after set {number}")
    parts.append(f"FAULT: {health['fault']}" if health.get("fault") else "no fault")
    if health.get("read_errors"):
        parts.append(f"{health['read_errors']} read errors")
    parts.extend(f"sensor fault: {f.get('point')} {f.get('kind')}" for f in status.get("sensor_faults") or ())
    parts.extend(f"WARNING: {w}" for w in health.get("warnings") or ())
    return ", ".join(parts)


def loop_progress(status: dict) -> int:
    """What advances while the polling loop runs: frames read plus failed reads
    (an unplugged ADC is retried every few tens of milliseconds)."""
    health = status.get("health", {})
    return int(health.get("frames", 0)) + int(health.get("read_errors", 0))


def loop_ready(status: dict) -> bool:
    """Ready when the ADC answered (a frame was read) or the fault state is up."""
    health = status.get("health", {})
    return bool(health.get("frames")) or bool(health.get("fault"))


class Watchdog:
    """A thread that says READY once ``ready()`` holds, then every ``interval_s``
    sends a ``STATUS=`` line and ``WATCHDOG=1`` if ``progress()`` moved since the
    previous check.

    ``get_status`` returns the core's status snapshot (in-process, or the
    supervisor's copy of the core process's); ``interval_s`` defaults to half of
    ``WatchdogSec=``, or 5 s of status updates when there is no watchdog.
    """

    def __init__(self, notifier: Notifier, get_status: Callable[[], dict], *,
                 interval_s: Optional[float] = None, ready: Callable[[dict], bool] = loop_ready,
                 progress: Callable[[dict], int] = loop_progress,
                 describe: Callable[[dict], str] = status_text,
                 ready_poll_s: float = 0.05, env: Optional[Mapping] = None):
        self.notifier = notifier
        self.get_status = get_status
        watchdog = watchdog_interval_s(env) if interval_s is None else interval_s
        self.pinging = watchdog is not None
        self.interval_s = watchdog if watchdog is not None else 5.0
        self._ready = ready
        self._progress = progress
        self._describe = describe
        self._ready_poll_s = ready_poll_s
        self._last_progress: Optional[int] = None
        self.is_ready = False
        self.stalled = False
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "Watchdog":
        if self.notifier.enabled and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sd-notify", daemon=True)
            self._thread.start()
        return self

    def stop(self, status: str = "stopping: LED and buzzer off, history closed") -> None:
        """Stop pinging and tell systemd the service is on its way out."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.interval_s + 1.0)
        self.notifier.stopping(status)

    def _run(self) -> None:
        while not self._stop.is_set() and not self.check_ready():
            self._stop.wait(self._ready_poll_s)
        while not self._stop.wait(self.interval_s):
            self.check()

    def check_ready(self) -> bool:
        """Send READY=1 (with the first status line) if the core is up; True once sent."""
        if self.is_ready:
            return True
        status = self.get_status()
        if not self._ready(status):
            return False
        self._last_progress = self._progress(status)
        self.notifier.ready(self._describe(status))
        self.is_ready = True
        return True

    def check(self) -> bool:
        """One watchdog round: the status line, and a ping if the loop moved. True if pinged."""
        status = self.get_status()
        progress = self._progress(status)
        moved = self._last_progress is None or progress != self._last_progress
        self._last_progress = progress
        if moved:
            if self.stalled:
                log.warning("polling loop moving again")
            self.stalled = False
            fields = {"STATUS": self._describe(status)}
            if self.pinging:
                fields["WATCHDOG"] = 1
            self.notifier.send(**fields)
            return self.pinging
        if not self.stalled:
            log.error("polling loop made no progress for %.1f s: no watchdog ping", self.interval_s)
        self.stalled = True
        self.notifier.status(f"polling loop stalled at {progress} frames; {self._describe(status)}")
        return False
