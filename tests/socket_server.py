"""An execnet socket server for the tests that simulate remote hosts.

``python -m execnet.script.socketserver HOST:PORT`` needs a free port chosen
beforehand, and between choosing it and the server binding it another test
running at the same time may take it: the worker then bootstraps against the
wrong server. This script binds first (port 0 lets the kernel choose), prints
the port it got on its first line, then serves like execnet's script.

Usage: ``python socket_server.py [PORT]`` (0 or absent: any free port).
"""

from __future__ import annotations

import os
import sys

import execnet.script.socketserver as server
from execnet.gateway_base import get_execmodel


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server.execmodel = get_execmodel("thread")  # what the script sets in its __main__
    sock = server.bind_and_listen(("127.0.0.1", port), server.execmodel)
    sys.stdout.write(f"{sock.getsockname()[1]}\n")
    sys.stdout.flush()
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the server's chatter, for its whole life
    server.startserver(sock, loop=True)


if __name__ == "__main__":
    main()
