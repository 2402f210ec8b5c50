#!/usr/bin/env python3
"""A peer that is not a milter, for the failure tests of the tools.

    not_a_milter.py SOCKET_PATH MODE

Listens on a Unix socket, says "listening on unix:PATH" on stderr, and
treats every connection by MODE until killed:
  garbage  reads what comes, answers with bytes that are no milter packet
           (an HTTP status line: its first 4 bytes make a 1.2 GB length)
  close    closes at once
  silent   reads and never answers
"""
import socket
import sys


def main():
    path, mode = sys.argv[1], sys.argv[2]
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(64)
    print(f"listening on unix:{path}", file=sys.stderr, flush=True)
    held = []
    while True:
        conn, _ = server.accept()
        if mode == "close":
            conn.close()
        elif mode == "garbage":
            conn.recv(65536)
            conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
            conn.close()
        else:
            held.append(conn)


if __name__ == "__main__":
    main()
