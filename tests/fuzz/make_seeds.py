#!/usr/bin/env python3
"""Seed inputs for the libFuzzer targets (see tests/fuzz/run_fuzzer.sh).

    make_seeds.py TARGET OUT [RECORDED_DIR]

TARGET: decoder, engine, session or script. Writes one file per seed into the
directory OUT, or, if OUT ends in ".seeds", one file of records
(4-byte big-endian length, then the bytes) for the Bazel smoke tests.
Seeds: the real-peer captures in RECORDED_DIR (default testdata/recorded)
in the target's direction, plus hand-written sequences.

Input layouts: decoder: [max-payload byte][feed-pattern byte][stream];
engine and session: tests/fuzz/fuzz_util.h ([8-byte header][n][n choice
bytes][stream]); the header bits are described atop each fuzzer's source.
"""

import os
import struct
import sys

be = lambda v: struct.pack(">I", v)


def p(code, payload=b""):
    return be(len(payload) + 1) + code + payload


def session_input(header, choices, stream):
    assert len(header) == 8 and len(choices) < 256
    return header + bytes([len(choices)]) + choices + stream


# --- MTA -> filter (the decoder's command side, the engine).

MTA_ALL = (
    p(b"O", be(6) + be(0x1FF) + be(0x1FFFFF)) + p(b"D", b"Cj\0mx\0{daemon_name}\0smtpd\0")
    + p(b"C", b"host\0" + b"4" + struct.pack(">H", 25) + b"192.0.2.1\0") + p(b"C", b"h6\x006\x01\x01IPv6:::1\0")
    + p(b"C", b"u\0U") + p(b"C", b"l\0L\0\0/sock\0") + p(b"H", b"helo\0") + p(b"M", b"<a@b>\0SIZE=1\0")
    + p(b"R", b"<c@d>\0") + p(b"T") + p(b"L", b"Subject\0\x93\xfa\x96\x7b\0") + p(b"N")
    + p(b"B", b"body\r\n\0\xff") + p(b"E") + p(b"U", b"HELP\0") + p(b"A") + p(b"K") + p(b"Q") + p(b"D"))


def mta_session(offer_protocol=0x1FFFFF, body=b"hello\r\n", quit=b"Q", version=6):
    return (p(b"O", be(version) + be(0x1FF) + be(offer_protocol))
            + p(b"D", b"Cj\0mx.example\0{daemon_name}\0fuzz\0")
            + p(b"C", b"client.example\0" + b"4" + struct.pack(">H", 2525) + b"192.0.2.1\0")
            + p(b"H", b"client.example\0") + p(b"D", b"Mi\0QID1\0")
            + p(b"M", b"<a@example.com>\0SIZE=100\0") + p(b"R", b"<b@example.com>\0")
            + p(b"R", b"<c@example.com>\0NOTIFY=NEVER\0") + p(b"T") + p(b"U", b"XYZZY\0")
            + p(b"L", b"Subject\0hello\0") + p(b"L", b"X-Other\0 spaced\0") + p(b"N")
            + p(b"B", body) + p(b"B", b"more\r\n") + p(b"E", b"tail\r\n") + p(b"A")
            + p(b"M", b"<d@example.com>\0") + p(b"A") + p(quit))


def engine_seeds(recorded):
    zero = bytes(8)
    coro = bytes([0x01]) + bytes(7)
    # bits of [0]: coroutine, symbol lists, restrict actions; split modes.
    headers = {
        "sync": zero,
        "coro": coro,
        "split1": bytes([0x10]) + bytes(7),
        "split2_coro": bytes([0x21]) + bytes(7),
        "split3": bytes([0x32]) + bytes(7),
        # no-reply for every stage, HDR_LEADSPC and SKIP requested
        "noreply": bytes([0x00, 0, 0]) + struct.pack("<I", 0x000FF080 | 0x100000 | 0x400) + b"\0",
        # ask only for header and body callbacks; 1M payloads
        "fewcb": bytes([0x01]) + struct.pack("<H", 0x1FF & ~0x140) + struct.pack("<I", 0x20000000) + b"\0",
        # restrict actions to add-headers|change-body, with symbol lists
        "actions": bytes([0x86]) + bytes(6) + bytes([0x03]),
    }
    # Choice patterns: all continue; varied verdicts with replies, progress,
    # modifications (bit 0x20 at end of message), suspension (0x80).
    choices = {
        "quiet": b"",
        "varied": bytes([0x00, 0x18, 0x33, 0x0C, 0x94, 0x26, 0xFF, 0x3B, 0x45, 0x21, 0x7F, 0x16, 0xA0]),
        "mods": bytes([0x40, 0x20, 0xFF, 0x03, 0x20, 0x7E, 0x09, 0x20, 0x41, 0x0D]),
        "skip": bytes([0x00, 0x00, 0x06, 0x16, 0x06, 0x20, 0xFF]),
    }
    seeds = {}
    for hn, h in headers.items():
        for cn, c in choices.items():
            seeds["hand_%s_%s" % (hn, cn)] = session_input(h, c, mta_session())
    seeds["hand_all_codes"] = session_input(zero, choices["varied"], MTA_ALL)
    seeds["hand_1m_body"] = session_input(
        bytes([0x10, 0, 0]) + struct.pack("<I", 0x20000000) + b"\0", choices["mods"],
        mta_session(0x201FFFFF, body=b"z" * 200000))
    seeds["hand_new_session"] = session_input(coro, choices["varied"],
                                              mta_session(quit=b"K") + mta_session(0x3F, version=2))
    seeds["hand_probe"] = session_input(zero, b"", p(b"Q"))
    seeds["hand_early"] = session_input(zero, b"", p(b"C", b"h\0U") + p(b"O", be(6) + be(0) + be(0)))
    for name, data in recorded("mta_to_filter").items():
        for hn in ("sync", "coro", "noreply"):
            seeds["rec_%s_%s" % (name, hn)] = session_input(headers[hn], choices["varied"], data)
    return seeds


# --- filter -> MTA (the decoder's response side, the server session).

FILTER_ALL = (
    p(b"O", be(6) + be(0x1FF) + be(0x101000) + be(0) + b"j {daemon_name}\0" + be(5) + b"i\0")
    + b"".join(p(c) for c in [b"c", b"a", b"r", b"t", b"d", b"s", b"p", b"4", b"f"])
    + p(b"y", b"550-5.7.1 a\r\n550 5.7.1 b\0") + p(b"q", b"why\0") + p(b"h", b"X\0y\0")
    + p(b"i", be(0) + b"X\0y\0") + p(b"m", be(1) + b"Subject\0\0") + p(b"e", b"<a>\0") + p(b"e", b"<a>\0X=Y\0")
    + p(b"+", b"<r>\0") + p(b"2", b"<r>\0A=B\0") + p(b"-", b"<r>\0") + p(b"b", b"replaced\r\n"))

EOM_MODS = [p(b"p"), p(b"h", b"X-Fuzz\0yes\0"), p(b"i", be(0) + b"X-First\0" + b"1\0"),
            p(b"m", be(1) + b"Subject\0[tag] hi\0"), p(b"e", b"<new@example.com>\0SIZE=1\0"),
            p(b"+", b"<added@example.com>\0"), p(b"2", b"<args@example.com>\0NOTIFY=NEVER\0"),
            p(b"-", b"<b@example.com>\0"), p(b"b", b"new "), p(b"b", b"body\r\n"),
            p(b"q", b"suspicious\0")]


def answers(stage_answers, eom):
    """A filter answering the session fuzzer's script, one chunk per packet."""
    packets = [p(b"O", be(6) + be(0x1FF) + be(0))] + stage_answers + eom
    choices = bytes(min(len(x) - 1, 127) for x in packets)
    return choices, b"".join(packets)


def session_seeds(recorded):
    zero = bytes(8)
    c = p(b"c")
    # connect helo mail rcpt rcpt data unknown header header eoh body chunk
    all_continue = [c] * 12
    seeds = {}
    ch, stream = answers(all_continue, EOM_MODS + [p(b"a")])
    for name, h in {"v6": zero, "defer": bytes([0x04]) + bytes(7), "limit": bytes([0x20]) + bytes(7),
                    "big_body": bytes(6) + bytes([0x08, 0]), "two": bytes([0x40]) + bytes(7)}.items():
        seeds["hand_full_" + name] = session_input(h, ch, stream + c * 5 + p(b"a"))
    ch, stream = answers([c] * 10 + [p(b"s")], [p(b"y", b"550 5.7.1 no\0")])
    seeds["hand_skip_reply"] = session_input(zero, ch, stream)
    ch, stream = answers([c, c, p(b"p"), p(b"r")], [])
    seeds["hand_reject_mail"] = session_input(zero, ch, stream)
    # no-reply for headers and body negotiated by the filter
    nr = p(b"O", be(6) + be(0x1FF) + be(0x00080080))
    seeds["hand_noreply"] = session_input(zero, bytes([16] + [4] * 8 + [4]),
                                          nr + c * 8 + p(b"c"))
    seeds["hand_keep_open"] = session_input(bytes([0x08]) + bytes(6) + b"\x02", b"\x10", nr)
    ch, stream = answers(all_continue, [p(b"c")])
    seeds["hand_new_session"] = session_input(bytes([0x80]) + bytes(7), ch + ch, stream + stream)
    seeds["hand_all_codes"] = session_input(zero, b"\x80", FILTER_ALL)
    for name, data in recorded("filter_to_mta").items():
        seeds["rec_" + name] = session_input(zero, b"", data)
        seeds["rec_%s_split" % name] = session_input(bytes(6) + b"\x02\x00", b"\x04\x10\x83", data)
    return seeds


def decoder_seeds(recorded):
    seeds = {}
    n = 0
    for direction in ("mta_to_filter", "filter_to_mta"):
        for name, data in recorded(direction).items():
            for prefix in (b"\x00\x00", b"\x00\x07", b"\x02\x01"):
                n += 1
                seeds["recorded_%d" % n] = prefix + data
    hand = {
        "cmd_all": MTA_ALL,
        "rsp_all": FILTER_ALL,
        "zero_length": b"\0\0\0\0",
        "huge_length": b"\xff\xff\xff\xffB" + b"x" * 32,
        "bad_family": p(b"C", b"host\0X"),
        "bad_stage": p(b"O", be(6) + be(0) + be(0) + be(9) + b"j\0"),
        "big_body": p(b"B", b"z" * 65535) + p(b"E"),
    }
    for name, data in hand.items():
        for prefix in (b"\0\0", b"\0\x05", b"\x03\x01"):
            seeds["%s_%02x%02x" % (name, prefix[0], prefix[1])] = prefix + data
    return seeds


# --- policy scripts' session API (manager/script/fuzz).

def script_input(control=b"\x02\x9c\x40\x01\x00", address=b"192.0.2.7", host=b"client.example.com",
                 helo=b"client.example.com", mail=b"<a@example.com>", mail_args=(b"SIZE=100",),
                 rcpts=(b"<b@example.net>",), rcpt_args=(b"NOTIFY=NEVER",),
                 headers=(b"From", b"a@example.com", b"Subject", b"hello"), chunks=(b"body\r\n",),
                 macros=(b"j", b"mx.example.org", b"{auth_authen}", b"alice", b"i", b"QID1"),
                 unknown=b"XFOO bar", args=(b"X-Spam",), children=(b"spamd", b"clamav")):
    items = lambda xs: b"\x1f".join(xs)
    return b"\x1e".join([control, address, host, helo, mail, items(mail_args), items(rcpts),
                         items(rcpt_args), items(headers), items(chunks), items(macros), unknown,
                         items(args), items(children)])


def script_seeds(recorded):
    del recorded  # the script target has no captures
    return {
        "plain": script_input(),
        # argument strings exercising replies, regexps, header names, paths
        "replies": script_input(args=(b"550 5.7.1 no", b"451-4.7.1 a\r\n451 4.7.1 b", b"5.7.1,two,three",
                                      b"\x01")),
        "regexps": script_input(args=(b"(a+)+$", b"(?P<n>x)\\1", b"[", b"\\k<n>", b"^.*$", b"\x02")),
        "headers": script_input(args=(b"X-Tag", b"Bad:Name", b"a\x00b", b"\r\n", b"\x03")),
        "store": script_input(args=(b"count:192.0.2.7", b"k" * 300, b"", b"\x04")),
        "paths": script_input(args=(b"/nonexistent", b"/tmp", b"/dev/zero", b"../../etc/hostname", b"", b"\x05")),
        "children": script_input(args=(b"spamd", b"clamav", b"unknown", b"\x06"), children=(b"spamd", b"clamav")),
        "raise": script_input(args=(b"boom", b"\x0a")),
        "hostile_facts": script_input(
            control=b"\x03\xff\xff\xff\x07", address=b"IPv6:::1\x00", host=b"\xff\xfe",
            helo=b"a" * 1000, mail=b"<\x00>", mail_args=(b"", b"=", b"\r\n"), rcpts=(b"", b"\x00"),
            headers=(b"", b"", b"X\x00", b"\xff" * 100, b":", b"\r\n"), chunks=(b"", b"\x00" * 2000),
            macros=(b"", b"", b"{}", b"x", b"{fuzz0}", b"(.*)*"), unknown=b"\x00",
            args=(b"%s%n%d", b"\xc3\x28", b"\x00", b"\x09")),
        "empty": b"",
    }


def main():
    target, out = sys.argv[1], sys.argv[2]
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    rec_dir = sys.argv[3] if len(sys.argv) > 3 else os.path.join(root, "testdata", "recorded")

    def recorded(direction):
        found = {}
        for f in sorted(os.listdir(rec_dir)):
            if f.endswith("." + direction):
                with open(os.path.join(rec_dir, f), "rb") as fh:
                    found[f.split(".")[0]] = fh.read()
        return found

    make = {"decoder": decoder_seeds, "engine": engine_seeds, "session": session_seeds,
            "script": script_seeds}[target]
    seeds = make(recorded)
    if out.endswith(".seeds"):
        with open(out, "wb") as fh:
            for name in sorted(seeds):
                fh.write(be(len(seeds[name])) + seeds[name])
    else:
        os.makedirs(out, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(out, name), "wb") as fh:
                fh.write(data)
    print("%d seeds" % len(seeds))


if __name__ == "__main__":
    main()
