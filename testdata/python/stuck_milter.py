#!/usr/bin/python3
"""A milter that stops answering: a misbehaving child for the milter
manager's failure tests (tests/integration/40_manager_failures.sh). It
speaks the milter protocol itself (no libmilter), so that it can go silent
exactly where it is told to:

    python3 testdata/python/stuck_milter.py unix:/tmp/s.sock STAGE

STAGE is a command letter of the protocol: O (negotiation), C (connect),
M (MAIL), E (end of message), ...; at that command the milter stops
answering and keeps the connection open until the other side closes it.
Every other command gets "continue" (negotiation: version 6, no actions, no
protocol flags; macros, abort and quit get no answer).

Prints "stuck_milter: listening on SPEC" once the socket is open, and
"stuck_milter: silent at STAGE" each time it goes silent, to stderr (line
buffered), so that a test can wait for it.
"""

import os
import socket
import struct
import sys
import threading


def read_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def send(conn, letter, payload=b""):
    conn.sendall(struct.pack("!I", len(payload) + 1) + letter + payload)


def serve(conn, stage):
    try:
        while True:
            head = read_exact(conn, 4)
            if head is None:
                return
            (length,) = struct.unpack("!I", head)
            packet = read_exact(conn, length)
            if packet is None or not packet:
                return
            cmd = packet[:1]
            if cmd == stage:
                sys.stderr.write("stuck_milter: silent at %s\n" %
                                 stage.decode())
                sys.stderr.flush()
                while conn.recv(65536):
                    pass
                return
            if cmd == b"O":
                send(conn, b"O", struct.pack("!III", 6, 0, 0))
            elif cmd in (b"D", b"A"):
                continue
            elif cmd == b"Q":
                return
            else:
                send(conn, b"c")
    except OSError:
        return
    finally:
        conn.close()


def main():
    if len(sys.argv) != 3 or not sys.argv[1].startswith("unix:"):
        sys.stderr.write("usage: stuck_milter.py unix:PATH STAGE\n")
        return 2
    path = sys.argv[1][len("unix:"):]
    stage = sys.argv[2].encode()
    if os.path.exists(path):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    os.chmod(path, 0o666)
    server.listen(64)
    sys.stderr.write("stuck_milter: listening on %s\n" % sys.argv[1])
    sys.stderr.flush()
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn, stage), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
