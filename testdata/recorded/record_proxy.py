#!/usr/bin/env python3
"""Recording milter proxy: sits between an MTA and a filter and writes each
direction's raw bytes to files, unchanged.

  record_proxy.py LISTEN_SPEC UPSTREAM_SPEC OUT_DIR

SPEC is libmilter style: unix:/path/to.sock or inet:PORT@HOST (inet:PORT means
127.0.0.1). The listening unix socket is made world-writable so that Postfix's
smtpd (user postfix) can connect.

For the N-th accepted connection (N from 1) it writes, in OUT_DIR:
  session-NNN.mta_to_filter   every byte the MTA sent
  session-NNN.filter_to_mta   every byte the filter sent
  session-NNN.done            created once both directions have closed
Prints "record_proxy: listening on SPEC" to stderr when ready. Stops on
SIGTERM/SIGINT. Used by testdata/recorded/record_all.sh and
tests/integration/10_record_vectors.sh.
"""
import os
import signal
import socket
import sys
import threading


def parse_spec(spec):
    if spec.startswith("unix:") or spec.startswith("local:"):
        return socket.AF_UNIX, spec.split(":", 1)[1]
    if spec.startswith("inet:"):
        rest = spec[5:]
        port, _, host = rest.partition("@")
        return socket.AF_INET, (host or "127.0.0.1", int(port))
    raise SystemExit("bad socket spec: " + spec)


def pump(src, dst, out_path, finished):
    with open(out_path, "wb") as out:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                out.write(data)
                out.flush()
                dst.sendall(data)
        except OSError:
            pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    finished()


def handle(conn, upstream_spec, out_dir, n):
    family, addr = parse_spec(upstream_spec)
    up = socket.socket(family, socket.SOCK_STREAM)
    up.connect(addr)
    base = os.path.join(out_dir, "session-%03d" % n)
    lock = threading.Lock()
    remaining = [2]

    def finished():
        with lock:
            remaining[0] -= 1
            if remaining[0] == 0:
                conn.close()
                up.close()
                open(base + ".done", "w").close()

    threading.Thread(target=pump, args=(conn, up, base + ".mta_to_filter",
                                        finished), daemon=True).start()
    threading.Thread(target=pump, args=(up, conn, base + ".filter_to_mta",
                                        finished), daemon=True).start()


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    listen_spec, upstream_spec, out_dir = sys.argv[1:]
    os.makedirs(out_dir, exist_ok=True)
    family, addr = parse_spec(listen_spec)
    srv = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_UNIX:
        try:
            os.unlink(addr)
        except FileNotFoundError:
            pass
    else:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(addr)
    if family == socket.AF_UNIX:
        os.chmod(addr, 0o777)
    srv.listen(64)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print("record_proxy: listening on " + listen_spec, file=sys.stderr,
          flush=True)
    n = 0
    while True:
        conn, _ = srv.accept()
        n += 1
        try:
            handle(conn, upstream_spec, out_dir, n)
        except OSError as e:
            print("record_proxy: upstream: %s" % e, file=sys.stderr)
            conn.close()


if __name__ == "__main__":
    main()
