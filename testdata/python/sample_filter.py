#!/usr/bin/python3
"""A small python3-milter (pymilter) filter: a real peer for libmilter++'s
MTA side (milter-test-server). Run with /usr/bin/python3 (the one that has
the `Milter` module):

    /usr/bin/python3 testdata/python/sample_filter.py unix:/tmp/py.sock

Prints "python_filter: listening on SPEC" to stderr, then serves until killed.

Behaviour (exactly this):
  - MAIL FROM <reject@example.com>: 550 5.7.1 "Sender rejected by python
    filter", reject.
  - RCPT TO <tempfail@...>: 451 4.7.1 "Try again later", tempfail (that
    recipient only).
  - Headers are received without replies (@Milter.noreply: NR_HDR).
  - End of message, Subject containing "NOMOD": accept, no modification.
  - Otherwise at end of message, in this order:
      add header        X-Python: yes
      insert header     X-Python-First: 1 at index 0
      change header     Subject -> "[python] " + old subject
      add recipient     <added@D>, D = domain of the first RCPT TO
      Subject containing "REPLACE": replace body with "replaced by python\r\n"
      Subject containing "CHGFROM": change sender to <changed@example.com>
      Subject containing "DELRCPT": delete the first recipient
      Subject containing "QUARANTINE": quarantine "python says so"
    and continue.
"""

import sys

import Milter


class SampleFilter(Milter.Base):
    def __init__(self):
        self.id = Milter.uniqueID()
        self.reset()

    def reset(self):
        self.rcpts = []
        self.subject = None

    def envfrom(self, mailfrom, *esmtp):
        self.reset()
        if mailfrom.strip("<>").lower() == "reject@example.com":
            self.setreply("550", "5.7.1", "Sender rejected by python filter")
            return Milter.REJECT
        return Milter.CONTINUE

    def envrcpt(self, to, *esmtp):
        if to.strip("<>").lower().startswith("tempfail@"):
            self.setreply("451", "4.7.1", "Try again later")
            return Milter.TEMPFAIL
        self.rcpts.append(to)
        return Milter.CONTINUE

    @Milter.noreply
    def header(self, name, value):
        if name.lower() == "subject" and self.subject is None:
            self.subject = value
        return Milter.CONTINUE

    def eom(self):
        subject = self.subject or ""
        if "NOMOD" in subject:
            return Milter.ACCEPT
        self.addheader("X-Python", "yes")
        self.addheader("X-Python-First", "1", 0)
        self.chgheader("Subject", 1, "[python] " + subject)
        if self.rcpts and "@" in self.rcpts[0]:
            domain = self.rcpts[0].strip("<>").split("@")[-1]
            self.addrcpt("<added@%s>" % domain)
        if "REPLACE" in subject:
            self.replacebody(b"replaced by python\r\n")
        if "CHGFROM" in subject:
            self.chgfrom("<changed@example.com>")
        if "DELRCPT" in subject and self.rcpts:
            self.delrcpt(self.rcpts[0])
        if "QUARANTINE" in subject:
            self.quarantine("python says so")
        return Milter.CONTINUE

    def abort(self):
        self.reset()
        return Milter.CONTINUE


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: sample_filter.py SOCKET_SPEC\n")
        return 2
    spec = sys.argv[1]
    Milter.factory = SampleFilter
    Milter.set_flags(Milter.ADDHDRS | Milter.CHGHDRS | Milter.ADDRCPT |
                     Milter.DELRCPT | Milter.CHGBODY | Milter.QUARANTINE |
                     Milter.CHGFROM)
    sys.stderr.write("python_filter: listening on %s\n" % spec)
    sys.stderr.flush()
    Milter.runmilter("python_filter", spec, 60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
