"""The supervisor of ``dowel run``: one command, two processes.

It binds the dashboard's port (a port in use is a clear error before anything
starts), makes the runtime directory for the channel, and starts the core
process and the web process (``dowel run ... --role core|web``, the same flags).
Then it watches them:

* the web process is restarted whenever it ends (the core never notices: it
  only loses a reader on its channel), on the same listening socket;
* when the core process ends, its exit status is the command's: 0 after a trace
  ran out, 2 for bad input; anything else (a crash, kill -9) lets the page show
  that the device is down for :data:`DOWN_GRACE_S`, then exits 1 so systemd
  restarts the service;
* SIGTERM or Ctrl-C ends both (the core switches LED and buzzer off and closes
  the history) and exits with the core's status.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

from device.cli.common import EXIT_FAIL, STOP_SIGNALS, error, stop_on_signals

#: How long the page says "device down" before the supervisor exits after a core crash.
DOWN_GRACE_S = 2.0
#: Waits for each child to stop after SIGTERM before it is killed.
CORE_STOP_S = 15.0
WEB_STOP_S = 10.0
#: Web restarts: the delay doubles from the first to the last value while it keeps dying.
WEB_RESTART_DELAY_S = (0.2, 5.0)
#: A web process that served this long resets the restart delay.
WEB_HEALTHY_S = 30.0
#: How often the supervisor looks at its children.
POLL_S = 0.1


def supervise(args) -> int:
    from device.cli.config import load_config

    config = load_config(args)                   # a bad config file: exit 2 before any start
    host, port = config["dashboard.host"], config["dashboard.port"]
    try:
        listener = _listen(host, port)
    except OSError as exc:
        return error(f"cannot serve the dashboard on {host}:{port} ({exc.strerror or exc}); "
                     "pick another port with --port, or --no-web")
    from device.runtime.channel import SOCKET_NAME, runtime_dir

    rundir = runtime_dir(mock=bool(args.mock or args.trace))
    children = Children(args, rundir / SOCKET_NAME, listener, port=listener.getsockname()[1])
    stop = stop_on_signals()
    try:
        children.start_core()
        children.start_web()
        _print_dashboard(args, host, listener.getsockname()[1])
        return _watch(children, stop)
    finally:
        children.stop_all()
        listener.close()
        if rundir.name.startswith("smart-dowel-"):       # our own temporary directory
            shutil.rmtree(rundir, ignore_errors=True)


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.create_server((host, port), family=family, backlog=1024)
    listener.set_inheritable(True)
    return listener


def _print_dashboard(args, host: str, port: int) -> None:
    from device.cli.common import data_dir, lan_address
    from device.runtime.token import TokenError, load_or_create_token, pairing_url

    # The token file exists before the address is printed: whoever reads the
    # address (a test, a script) can read the token next.
    try:
        token = load_or_create_token(data_dir(args))
    except TokenError as exc:
        token = None
        print(f"dowel: warning: {exc}; the dashboard can watch but not change anything",
              file=sys.stderr, flush=True)
    everywhere = host in ("0.0.0.0", "::", "")
    shown = lan_address() if everywhere else host
    print(f"Dashboard: http://{shown}:{port}/", flush=True)
    if everywhere:
        print(f"Open that address on a phone on the same network "
              f"(on this computer: http://localhost:{port}/).", flush=True)
    if token:
        print(f"Device token (every change from the page needs it): {token}", flush=True)
        print(f"Pair a phone: {pairing_url(shown, port, token)} "
              "(or scan the QR code of `dowel token --qr`)", flush=True)


def _watch(children: "Children", stop) -> int:
    while not stop.wait(POLL_S):
        core_status = children.core.poll()
        if core_status is not None:
            return children.core_ended(core_status, stop)
        if children.web.poll() is not None:
            children.web_ended(stop)
    return children.stop_all()


class Children:
    """The two child processes and how to (re)start and stop them."""

    def __init__(self, args, channel: Path, listener: socket.socket, port: int):
        self.args = args
        self.port = port
        self.channel = channel
        self.listener = listener
        self.core: Optional[subprocess.Popen] = None
        self.web: Optional[subprocess.Popen] = None
        self.web_started_at = 0.0
        self.web_restart_delay_s = WEB_RESTART_DELAY_S[0]
        self.web_restarts = 0

    def _argv(self, role: str) -> list:
        # The same command line, plus the role, the channel and the port really
        # bound (with --port 0 the children could not know it otherwise).
        return [sys.executable, "-m", "device.cli", *self.args.argv,
                "--role", role, "--channel", str(self.channel), "--port", str(self.port)]

    def start_core(self) -> None:
        env = dict(os.environ)
        # The core process sends the watchdog pings: they must vouch for its loop.
        env.pop("WATCHDOG_PID", None)
        self.core = subprocess.Popen(self._argv("core"), env=env, preexec_fn=_child_start(os.getpid()))

    def start_web(self) -> None:
        env = {k: v for k, v in os.environ.items()
               if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
        fd = self.listener.fileno()
        self.web = subprocess.Popen(self._argv("web") + ["--listen-fd", str(fd)], env=env,
                                    pass_fds=(fd,), preexec_fn=_child_start(os.getpid()))
        self.web_started_at = time.monotonic()

    def web_ended(self, stop) -> None:
        status = self.web.returncode
        if time.monotonic() - self.web_started_at >= WEB_HEALTHY_S:
            self.web_restart_delay_s = WEB_RESTART_DELAY_S[0]
        print(f"dowel: the web process ended ({_describe(status)}); the core goes on, "
              f"restarting the dashboard in {self.web_restart_delay_s:g} s", file=sys.stderr, flush=True)
        if stop.wait(self.web_restart_delay_s):
            return
        self.web_restart_delay_s = min(WEB_RESTART_DELAY_S[1], self.web_restart_delay_s * 2)
        self.web_restarts += 1
        self.start_web()

    def core_ended(self, status: int, stop) -> int:
        if status in (0, 2):
            self.stop_all()
            return status
        print(f"dowel: the core process ended ({_describe(status)}); the device is down",
              file=sys.stderr, flush=True)
        # The page is told at once (the channel closed); let it show that before
        # the dashboard goes too and systemd starts everything again.
        stop.wait(DOWN_GRACE_S)
        self.stop_all()
        return EXIT_FAIL

    def stop_all(self) -> int:
        """SIGTERM to both, wait, kill what does not stop; the core's exit status."""
        for child in (self.web, self.core):
            if child is not None and child.poll() is None:
                child.send_signal(signal.SIGTERM)
        core_status = _reap(self.core, CORE_STOP_S)
        _reap(self.web, WEB_STOP_S)
        return EXIT_FAIL if core_status is None else (core_status if core_status >= 0 else EXIT_FAIL)


def _child_start(supervisor_pid: int):
    """What a child does before exec (``preexec_fn``):

    * SIGINT and SIGTERM are blocked until its handlers are in place
      (:func:`device.cli.common.stop_on_signals` unblocks them): a stop during
      its start-up (seconds on a Pi Zero) waits and is then a clean stop (LED and
      buzzer off, exit 0) instead of killing it half started;
    * SIGTERM when the supervisor dies, even by kill -9 (outside systemd nobody
      else would stop an orphaned core: LED and buzzer off), and at once if it
      died already, before this child asked for that."""
    def start() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        _die_with_parent()
        if os.getppid() != supervisor_pid:
            os.kill(os.getpid(), signal.SIGTERM)     # waits, blocked, for the handler
    return start


def _die_with_parent() -> None:
    import ctypes

    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass                    # not Linux: systemd's control group still stops both


def _reap(child: Optional[subprocess.Popen], timeout_s: float) -> Optional[int]:
    if child is None:
        return None
    try:
        return child.wait(timeout_s)
    except subprocess.TimeoutExpired:
        child.kill()
        return child.wait()


def _describe(status: int) -> str:
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exit {status}"
