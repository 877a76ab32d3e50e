"""Process helpers for `mlkg serve`, tests and the benchmark (Linux /proc): whether a process is
alive, stopping a child, ports a process listens on, its children and descendants and their CPU
time, and an Oxigraph server run on 127.0.0.1 with an OS-picked port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


SERVING = "mlkg serving "


def read_serve_url(stdout, deadline: float) -> str:
    """The base URL from the `mlkg serving http://HOST:PORT/ …` line of `mlkg serve`'s output.

    Returns "" when the process ends (or `deadline`, a time.monotonic() value, passes) first.
    """
    while time.monotonic() < deadline:
        line = stdout.readline()
        if not line:
            return ""
        if line.startswith(SERVING):
            return line.split()[2].rstrip("/")
    return ""


def alive(pid: int) -> bool:
    """Whether a process with this id exists (someone else's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def end_with_parent(parent: int) -> None:
    """In a child process: SIGTERM when the parent (the thread that started it) dies, raising
    SystemExit so that `finally` clauses run (a temporary file is removed); exit now if the parent
    is gone already."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        sys.exit(1)


def stop(process: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM, then wait `timeout` s, then SIGKILL."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def listening_ports(pid: int) -> list[int]:
    """TCP ports that process `pid` listens on (from /proc; [] when unknown)."""
    inodes = _socket_inodes(pid)
    if inodes is None:
        return []
    rows = _tcp_rows(("tcp", "tcp6"))
    return sorted({port for port, state, inode in rows if state == "0A" and inode in inodes})


def _socket_inodes(pid: int | str) -> set[str] | None:
    """The inodes of the sockets process `pid` has open (None when it cannot be read)."""
    folder = f"/proc/{pid}/fd"
    try:
        names = os.listdir(folder)
    except OSError:
        return None
    inodes = set()
    for name in names:
        try:
            link = os.readlink(f"{folder}/{name}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    return inodes


def _tcp_rows(tables: tuple[str, ...]):
    """(local port, state, inode) of each row of /proc/net/`tables` (state 0A: listening, 01:
    established)."""
    for table in tables:
        try:
            lines = Path("/proc/net", table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()  # sl, local address:port, remote, state, ..., inode (10th)
            if len(fields) > 9:
                yield int(fields[1].rsplit(":", 1)[1], 16), fields[3], fields[9]


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def start_time(pid: int) -> int | None:
    """When `pid` started, in clock ticks after boot (None when it is gone): with the pid, it tells
    a process from a later one that was given the same pid."""
    fields = _stat(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def children(pid: int) -> list[int]:
    """The live child processes of `pid`."""
    return _children_by_parent().get(pid, [])


def descendants(pid: int) -> list[int]:
    """All live descendants of `pid`."""
    by_parent = _children_by_parent()
    found, todo = [], [pid]
    while todo:
        for child in by_parent.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def command_line(pid: int) -> list[str]:
    """The arguments `pid` was started with ([] when it is gone or a zombie)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode("utf-8", "replace").split("\0")[:-1]


def tcp_connections(
    port: int, pid: int | str = "self", tables: tuple[str, ...] = ("tcp", "tcp6")
) -> tuple[int, int]:
    """(established TCP connections to local `port` that process `pid` holds, all of them on this
    machine): from the process's open files and /proc/net/`tables` (IPv4 and IPv6 by default; each
    read costs the kernel a walk of its whole connection table, 3–6 ms of CPU here); (0, 0) when unknown."""
    inodes = _socket_inodes(pid)
    if inodes is None:
        return 0, 0
    mine = total = 0
    for local, state, inode in _tcp_rows(tables):
        if local == port and state == "01":
            total += 1
            mine += inode in inodes
    return mine, total


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time used so far by `pids` (the ones still alive)."""
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields:
            total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def peak_rss_kb(pids: list[int]) -> int:
    """Sum of the peak resident set sizes (VmHWM) of `pids`, in KiB."""
    return _sum_kb(pids, "status", "VmHWM:")


def pss_kb(pids: list[int]) -> int:
    """Sum of the proportional set sizes (Pss: shared pages split between the processes that map
    them, so a store's pages are not counted once per process) of `pids` now, in KiB."""
    return _sum_kb(pids, "smaps_rollup", "Pss:")


def _sum_kb(pids: list[int], name: str, field: str) -> int:
    """Sum over `pids` of the kB value of `field` in /proc/<pid>/<name> (gone processes: 0)."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
                if line.startswith(field):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def oxigraph_binary() -> str:
    """The `oxigraph` command beside this Python (the PyPI package `oxigraph`)."""
    candidate = Path(sys.executable).with_name("oxigraph")
    return str(candidate) if candidate.exists() else "oxigraph"


class OxigraphServer:
    """`oxigraph serve` (or `serve-read-only`) on 127.0.0.1 with a port the OS picks."""

    def __init__(
        self, location: Path, *, read_only: bool = False, extra: tuple[str, ...] = ()
    ) -> None:
        self.location, self.read_only, self.extra = Path(location), read_only, extra
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 30.0) -> OxigraphServer:
        command = "serve-read-only" if self.read_only else "serve"
        self.process = subprocess.Popen(
            [
                oxigraph_binary(),
                command,
                "--location",
                str(self.location),
                "--bind",
                "127.0.0.1:0",
                *self.extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ports = listening_ports(self.process.pid)
            if ports:
                self.url = f"http://127.0.0.1:{ports[0]}"
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("the Oxigraph server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def __enter__(self) -> OxigraphServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
