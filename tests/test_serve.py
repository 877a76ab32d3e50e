"""`mlkg serve`: the production server as a process — URL line, store built first when missing,
one log line per request, several server processes, and a clean stop of every process it started."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from _live import LiveServer, serving, wait_for

from mlkg._procs import children, descendants, read_serve_url, tcp_connections

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny project of its own (ontology, empty shapes, one data file) and no built store."""
    home = tmp_path_factory.mktemp("project")
    (home / "ontology").mkdir()
    (home / "data").mkdir()
    (home / "queries").mkdir()
    (home / "ontology" / "mlkg.ttl").write_text(
        "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
        "<https://w3id.org/mlkg/def/Thing> a owl:Class .\n",
        encoding="utf-8",
    )
    (home / "ontology" / "shapes.ttl").write_text(
        "@prefix sh: <http://www.w3.org/ns/shacl#> .\n", encoding="utf-8"
    )
    (home / "data" / "one.ttl").write_text(
        "<https://w3id.org/mlkg/thing/one> a <https://w3id.org/mlkg/def/Thing> .\n",
        encoding="utf-8",
    )
    return home


@pytest.fixture(scope="module")
def server(project: Path):
    env = {"MLKG_HOME": str(project), "MLKG_SOURCES": str(project / "no-sources")}
    with LiveServer(
        project / "var", env=env, args=("--processes", "2", "--threads", "4", "--workers", "1")
    ) as live:
        yield live


def test_serve_builds_the_store_first_and_answers(server: LiveServer, project: Path) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
    assert (project / "var" / "current" / "meta.json").exists()
    health = requests.get(f"{server.url}/health", timeout=10).json()
    assert health["status"] == "ok" and health["triples"] >= 2 and health["workers"] == 1
    answer = requests.get(
        f"{server.url}/sparql",
        timeout=10,
        params={"query": "ASK { <https://w3id.org/mlkg/thing/one> a ?c }"},
    )
    assert answer.json()["boolean"] is True


def test_one_log_line_per_request(server: LiveServer) -> None:
    marker = f"probe-{time.monotonic_ns()}"
    for _ in range(3):
        requests.get(f"{server.url}/sparql", params={"query": f"ASK {{}} # {marker}"}, timeout=10)
    requests.get(f"{server.url}/no-such-page-{marker}", timeout=10)
    time.sleep(0.3)
    log = server.read_log()
    lines = [line for line in log.splitlines() if marker in line]
    assert len(lines) == 4
    assert all(re.search(r"mlkg\.access: GET /\S+ \d{3} \d+\.\dms$", line) for line in lines)
    assert (
        sum(" 200 " in line for line in lines) == 3 and sum(" 404 " in line for line in lines) == 1
    )
    assert "Traceback" not in log


def test_processes_share_the_port_and_stop_together(project: Path) -> None:
    env = {"MLKG_HOME": str(project), "MLKG_SOURCES": str(project / "no-sources")}
    live = LiveServer(project / "var", env=env, args=("--processes", "2", "--workers", "2")).start()
    try:
        assert live.process is not None
        parent = live.process.pid
        # 2 server processes, each with 2 query workers (the second starts after the first)
        wait_for(lambda: len(serving(parent)) >= 6)
        assert len(serving(parent)) == 6
        family = descendants(parent)
        assert all(
            requests.get(f"{live.url}/health", timeout=10).status_code == 200 for _ in range(5)
        )
    finally:
        live.stop()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in family):
        time.sleep(0.05)
    assert not [pid for pid in family if Path(f"/proc/{pid}").exists()]


def test_keep_alive_connections_end_up_spread_over_the_processes(project: Path) -> None:
    """Four busy keep-alive clients (the benchmark's client processes), two server processes:
    whichever process accepted the connections, within seconds each holds two, and they stay so;
    every answer is a whole 200."""
    from mlkg import bench

    env = {"MLKG_HOME": str(project), "MLKG_SOURCES": str(project / "no-sources")}
    with LiveServer(project / "var", env=env, args=("--processes", "2", "--workers", "1")) as live:
        assert live.process is not None
        port = int(live.url.rsplit(":", 1)[1])
        wait_for(lambda: len(serving(live.process.pid)) >= 4)
        servers = [pid for pid in children(live.process.pid) if pid in serving(live.process.pid)]
        assert len(servers) == 2
        measured: list[bench.Measure] = []
        load = threading.Thread(
            target=lambda: measured.append(
                bench.load(f"{live.url}/sparql", ["ASK {}"], clients=4, seconds=10,
                           accept="application/sparql-results+json")
            )
        )
        load.start()
        seen: list[list[int]] = []  # connections held by each process, every 0.1 s
        while load.is_alive():
            seen.append(sorted(tcp_connections(port, pid)[0] for pid in servers))
            time.sleep(0.1)
        load.join()
    busy = [held for held in seen if sum(held) == 4]  # the clients connected, not yet closing
    assert [2, 2] in busy, busy
    assert busy[-20:] == [[2, 2]] * 20, busy  # still even over the last 2 s
    assert measured[0].errors == 0 and measured[0].done > 1000


def test_a_server_process_that_dies_is_replaced_and_its_waiting_connections_are_answered(
    project: Path,
) -> None:
    """One of two server processes is killed: new connections keep being answered, those the kernel
    queued for the dead one by its replacement (the parent holds every listening socket)."""
    env = {"MLKG_HOME": str(project), "MLKG_SOURCES": str(project / "no-sources")}
    with LiveServer(project / "var", env=env, args=("--processes", "2", "--workers", "1")) as live:
        assert live.process is not None
        wait_for(lambda: len(serving(live.process.pid)) >= 4)
        before = [pid for pid in children(live.process.pid) if pid in serving(live.process.pid)]
        assert len(before) == 2
        os.kill(before[0], signal.SIGKILL)
        statuses = []
        for _ in range(40):  # a new connection each: about half hash to the dead process's queue
            with requests.Session() as fresh:
                statuses.append(fresh.get(f"{live.url}/health", timeout=30).status_code)
        after = [pid for pid in children(live.process.pid) if pid in serving(live.process.pid)]
    assert statuses == [200] * 40
    assert before[0] not in after and before[1] in after and len(after) == 2


def test_a_stop_while_the_server_processes_start_ends_every_process_at_once(
    project: Path,
) -> None:
    """SIGTERM as soon as the URL line is out, while the server processes are still building their
    app: the supervisor and all it started end within seconds, and none is left serving."""
    env = {
        **os.environ,
        "MLKG_HOME": str(project),
        "MLKG_SOURCES": str(project / "no-sources"),
        "MLKG_VAR": str(project / "var"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "mlkg", "serve", "--host", "127.0.0.1", "--port", "0",
         "--processes", "2", "--workers", "2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        start_new_session=True,
    )
    try:
        assert read_serve_url(process.stdout, time.monotonic() + 60)
        family = descendants(process.pid)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        assert time.monotonic() - started < 5  # not granian's kill timeout (20 s here)
        wait_for(lambda: not any(Path(f"/proc/{p}").exists() for p in family), timeout=5)
        assert not [pid for pid in family if Path(f"/proc/{pid}").exists()]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
        if process.stdout:
            process.stdout.close()


def test_ctrl_c_to_the_whole_process_group_stops_every_process_at_once(project: Path) -> None:
    """Ctrl-C in a terminal: SIGINT to every process of the group at once (supervisor, server
    processes, query workers), here once they have all served and then idled a moment. Before the
    server processes left SIGINT to the supervisor, one of them stayed until granian's kill timeout
    (20.1-20.2 s in every try; without the idle moment, the same signal did not show it)."""
    env = {"MLKG_HOME": str(project), "MLKG_SOURCES": str(project / "no-sources")}
    live = LiveServer(project / "var", env=env, args=("--processes", "2", "--workers", "1")).start()
    try:
        assert live.process is not None
        parent = live.process.pid
        wait_for(lambda: len(serving(parent)) >= 4)  # 2 server processes, 1 query worker each
        family = descendants(parent)
        assert requests.get(f"{live.url}/health", timeout=10).status_code == 200
        time.sleep(1.5)  # idle: how the hang was found
        started = time.monotonic()
        os.killpg(parent, signal.SIGINT)
        live.process.wait(timeout=30)
        assert time.monotonic() - started < 5, "a process waited for the kill timeout"
        wait_for(lambda: not any(Path(f"/proc/{p}").exists() for p in family), timeout=5)
        assert not [pid for pid in family if Path(f"/proc/{pid}").exists()]
    finally:
        live.stop()


def test_the_first_line_on_stdout_is_the_url_also_when_it_builds_first(project: Path,
                                                                       tmp_path: Path) -> None:
    """Scripts read the first line: the build notice went there before the URL."""
    env = {**os.environ, "MLKG_HOME": str(project), "MLKG_SOURCES": str(project / "no-sources"),
           "MLKG_VAR": str(tmp_path / "var")}
    process = subprocess.Popen(
        [sys.executable, "-m", "mlkg", "serve", "--port", "0", "--processes", "1", "--workers", "1"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("mlkg serving http://127.0.0.1:")
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    assert "building it first" in err


def test_stale_files_lists_data_changed_after_the_build(tmp_path) -> None:
    """`mlkg serve` warns when data files are newer than the store it would serve."""
    import json
    import os

    from mlkg.config import Settings
    from mlkg.serve import stale_files

    data = tmp_path / "data"
    data.mkdir()
    (data / "a.ttl").write_text("")
    store = tmp_path / "store"
    store.mkdir()
    meta = {"id": "x", "content_hash": "h", "triples": 0, "quads": 0, "graphs": 0, "built_at": 1000.0}
    (store / "meta.json").write_text(json.dumps(meta))
    settings = Settings().with_overrides(ontology_dir=tmp_path / "none", data_dirs=(data,))
    os.utime(data / "a.ttl", (500, 500))
    assert stale_files(settings, store) == []
    os.utime(data / "a.ttl", (2000, 2000))
    assert stale_files(settings, store) == [str(data / "a.ttl")]


def test_read_serve_url_skips_warnings_before_the_serving_line() -> None:
    """The URL comes from the `mlkg serving` line, whatever is printed before it."""
    import io
    import time

    from mlkg._procs import read_serve_url

    out = io.StringIO("warning: something\nmlkg serving http://127.0.0.1:4321/ (store x)\n")
    assert read_serve_url(out, time.monotonic() + 5) == "http://127.0.0.1:4321"
    assert read_serve_url(io.StringIO("Error: no store\n"), time.monotonic() + 5) == ""


def test_listeners_for_several_processes_share_one_port_and_each_gets_connections() -> None:
    """One socket per server process on the port the OS picked; new connections land on each."""
    import socket

    from mlkg.serve import listeners

    socks = listeners("127.0.0.1", 0, 256, 3)
    try:
        assert len({sock.getsockname() for sock in socks}) == 1
        clients = [socket.create_connection(socks[0].getsockname()[:2]) for _ in range(90)]
        landed = []
        for sock in socks:
            sock.setblocking(False)
            got = 0
            with contextlib.suppress(BlockingIOError):
                while True:
                    sock.accept()[0].close()
                    got += 1
            landed.append(got)
        for client in clients:
            client.close()
    finally:
        for sock in socks:
            sock.close()
    assert sum(landed) == 90 and min(landed) >= 10, landed  # by a hash of the client port


def test_listeners_for_one_process_do_not_let_others_join_the_port() -> None:
    import socket

    from mlkg.serve import listeners

    (sock,) = listeners("127.0.0.1", 0, 16, 1)
    try:
        intruder = socket.socket()
        intruder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        with pytest.raises(OSError):
            intruder.bind(sock.getsockname())
        intruder.close()
    finally:
        sock.close()


def test_listeners_refuse_a_port_another_group_listens_on() -> None:
    """A second server's SO_REUSEPORT sockets would join the first's group and take half its
    connections: the port is refused instead, whether the second runs one process or several."""
    from mlkg.errors import ConfigError
    from mlkg.serve import listeners

    first = listeners("127.0.0.1", 0, 16, 2)
    port = first[0].getsockname()[1]
    try:
        for count in (1, 2, 3):
            with pytest.raises(ConfigError, match=rf"cannot listen on 127\.0\.0\.1:{port}: .*in use"):
                listeners("127.0.0.1", port, 16, count)
    finally:
        for sock in first:
            sock.close()
    again = listeners("127.0.0.1", port, 16, 2)  # free again once the first group is closed
    assert {sock.getsockname()[1] for sock in again} == {port}
    for sock in again:
        sock.close()


def test_a_second_server_on_a_busy_port_says_so_and_the_first_keeps_answering(
    server: LiveServer, project: Path
) -> None:
    port = server.url.rsplit(":", 1)[1]
    env = {
        **os.environ,
        "MLKG_VAR": str(project / "var"),
        "MLKG_HOME": str(project),
        "MLKG_SOURCES": str(project / "no-sources"),
    }
    second = subprocess.run(
        [sys.executable, "-m", "mlkg", "serve", "--port", port, "--processes", "2"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in second.stderr
    assert "another program holds that port" in second.stderr
    assert "Traceback" not in second.stderr and "mlkg serving" not in second.stdout
    for _ in range(20):  # fresh connections: none lands on a queue nobody accepts from
        with requests.get(f"{server.url}/health", timeout=10, headers={"Connection": "close"}) as r:
            assert r.status_code == 200


def test_the_listening_socket_hands_connections_over_without_nagle() -> None:
    """Accepted connections inherit TCP_NODELAY: an answer written in parts (headers, then body) is
    not held back until the client's delayed ACK (it made every entity page take ~40 ms)."""
    import socket

    from mlkg.serve import bind

    listener = bind("127.0.0.1", 0, 16)
    try:
        client = socket.create_connection(listener.getsockname()[:2])
        accepted, _ = listener.accept()
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        accepted.close()
        client.close()
    finally:
        listener.close()


def test_reload_signals_only_the_server_that_wrote_the_pid_file(tmp_path) -> None:
    """A server killed with SIGKILL leaves its pid file; when another process got that pid,
    `mlkg reload` sent it SIGHUP (which ended it) and counted it as a server asked to reload."""
    from mlkg.config import Settings
    from mlkg.serve import pid_dir, reload_servers

    settings = Settings().with_overrides(var_dir=tmp_path)
    write = ("import signal, sys, time\n"
             "from pathlib import Path\nfrom mlkg.config import Settings\nfrom mlkg.serve import write_pidfile\n"
             "signal.signal(signal.SIGHUP, lambda *_: sys.exit(3))\n"
             f"write_pidfile(Settings().with_overrides(var_dir=Path({str(tmp_path)!r})))\n"
             "print('ready', flush=True)\ntime.sleep(float(sys.argv[1]))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    gone = subprocess.run([sys.executable, "-c", write, "0"], env=env, check=True)
    assert gone.returncode == 0
    (stale,) = pid_dir(settings).glob("serve-*.pid")
    other = subprocess.Popen(["sleep", "30"])  # another program, now holding the dead server's pid
    try:
        reused = pid_dir(settings) / f"serve-{other.pid}.pid"
        reused.write_text(stale.read_text().replace(stale.name[6:-4], str(other.pid), 1))
        stale.unlink()
        assert reload_servers(settings) == []
        assert other.poll() is None and not reused.exists()
        live = subprocess.Popen([sys.executable, "-c", write, "30"], env=env, stdout=subprocess.PIPE, text=True)
        assert live.stdout.readline() == "ready\n"
        assert reload_servers(settings) == [live.pid]
        assert live.wait(timeout=10) == 3
    finally:
        other.kill()
        other.wait()
