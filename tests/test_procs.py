"""mlkg._procs: the connection count a server process spreads its clients by."""

from __future__ import annotations

import socket

from mlkg._procs import tcp_connections


def test_tcp_connections_counts_those_held_here_and_all_established() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        accepted = [listener.accept()[0] for _ in range(2)]  # the third waits in the backlog
        try:
            assert tcp_connections(port) == (2, 3)
            accepted[0].close()
            clients[0].close()
            assert tcp_connections(port) == (1, 2)
            assert tcp_connections(port, pid=999_999_999) == (0, 0)  # no such process
        finally:
            for sock in clients + accepted:
                sock.close()
