#!/usr/bin/python3
"""A python3-milter (pymilter) filter that reports what it was shown, for the
differential tests of the milter manager (tests/integration/40_manager_*.sh):
chained by Postfix directly and chained through the manager, every instance
must see the same headers (in the same order, byte for byte), the same body
and must therefore add the same report. Run with /usr/bin/python3:

    /usr/bin/python3 testdata/python/witness_filter.py TAG unix:/tmp/w.sock

Prints "witness_filter: listening on SPEC" to stderr, then serves until
killed.

Behaviour (exactly this):
  - MAIL FROM <reject@example.com>: 550 5.7.1 "Sender rejected by witness
    TAG", reject.
  - Headers are received without replies.
  - End of message, in this order:
      add header   X-Witness-TAG: one line per header it was shown,
                   "name=crc32(value)" in order, then "body=LEN:crc32",
                   the body chunk sizes, and the macros it was given at
                   each stage ("stage:name=value": Postfix's defaults and
                   a few more; the queue ID "i" as QUEUEID) (folded, one
                   item a line)
      Subject containing "INSERT":
        insert header X-TAG-At1: 1 at index 1, X-TAG-At3: 3 at index 3
        change header X-Multi #2 -> "changed by TAG"
        change header X-Multi #9 -> "" (deletes an occurrence that is not
                                        there: nothing happens)
        change header X-TAG-Missing #1 -> "added" (not there: appended)
        change header X-Multi #1 -> "" (deletes the first X-Multi)
    and continue.
  Postfix never shows a milter its own Received header, not even below a
  header an earlier milter inserted at index 0; neither does the manager.
"""

import sys
import zlib

import Milter



# Postfix's default macros per stage (milter_*_macros), and a few more.
CONNECT_MACROS = ["j", "{daemon_name}", "{daemon_addr}", "v", "_",
                  "{client_addr}", "{client_name}"]
HELO_MACROS = ["{tls_version}", "{cipher}", "{client_ptr}"]
MAIL_MACROS = ["i", "{auth_type}", "{auth_authen}", "{mail_addr}",
               "{mail_host}", "{mail_mailer}"]
RCPT_MACROS = ["{rcpt_addr}", "{rcpt_host}", "{rcpt_mailer}"]
DATA_MACROS = ["i"]
EOM_MACROS = ["i", "{msg_id}"]


def crc(data):
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    return "%08x" % (zlib.crc32(data) & 0xFFFFFFFF)


class WitnessFilter(Milter.Base):
    tag = "W"

    def __init__(self):
        self.id = Milter.uniqueID()
        self.reset()

    def reset(self):
        self.headers = []
        self.subject = ""
        self.chunks = []
        self.macros = []

    def note_macros(self, stage, names):
        for name in names:
            value = self.getsymval(name)
            if name == "i" and value:
                value = "QUEUEID"  # differs from one message to the next
            if value is not None:
                self.macros.append("%s:%s=%s" % (stage, name, value))

    def connect(self, hostname, family, hostaddr):
        self.note_macros("connect", CONNECT_MACROS)
        self.session_macros = self.macros
        return Milter.CONTINUE

    def hello(self, name):
        self.note_macros("helo", HELO_MACROS)
        self.session_macros = self.macros
        return Milter.CONTINUE

    def envfrom(self, mailfrom, *esmtp):
        self.reset()
        self.macros = list(getattr(self, "session_macros", []))
        self.note_macros("mail", MAIL_MACROS)
        if mailfrom.strip("<>").lower() == "reject@example.com":
            self.setreply("550", "5.7.1",
                          "Sender rejected by witness %s" % self.tag)
            return Milter.REJECT
        return Milter.CONTINUE

    def envrcpt(self, to, *esmtp):
        self.note_macros("rcpt", RCPT_MACROS)
        return Milter.CONTINUE

    def data(self):
        self.note_macros("data", DATA_MACROS)
        return Milter.CONTINUE

    @Milter.noreply
    def header(self, name, value):
        self.headers.append("%s=%s" % (name, crc(value)))
        if name.lower() == "subject" and not self.subject:
            self.subject = value
        return Milter.CONTINUE

    def body(self, chunk):
        self.chunks.append(chunk)
        return Milter.CONTINUE

    def eom(self):
        self.note_macros("eom", EOM_MACROS)
        body = b"".join(self.chunks)
        items = self.headers + [
            "body=%d:%s" % (len(body), crc(body)),
            "chunks=" + ",".join(str(len(c)) for c in self.chunks),
        ] + self.macros
        self.addheader("X-Witness-" + self.tag, "\n\t".join(items))
        if "INSERT" in self.subject:
            t = self.tag
            self.addheader("X-%s-At1" % t, "1", 1)
            self.addheader("X-%s-At3" % t, "3", 3)
            self.chgheader("X-Multi", 2, "changed by %s" % t)
            self.chgheader("X-Multi", 9, "")
            self.chgheader("X-%s-Missing" % t, 1, "added")
            self.chgheader("X-Multi", 1, "")
        self.reset()
        return Milter.CONTINUE

    def abort(self):
        self.reset()
        return Milter.CONTINUE


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: witness_filter.py TAG SOCKET_SPEC\n")
        return 2
    WitnessFilter.tag = sys.argv[1]
    spec = sys.argv[2]
    Milter.factory = WitnessFilter
    Milter.set_flags(Milter.ADDHDRS | Milter.CHGHDRS)
    sys.stderr.write("witness_filter: listening on %s\n" % spec)
    sys.stderr.flush()
    Milter.runmilter("witness_" + WitnessFilter.tag, spec, 60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
