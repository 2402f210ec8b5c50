-- miltertest script for the example filter (examples/sample). Run with
--   miltertest -s sample_filter.lua -D sock=unix:/path/to/filter.sock
-- Prints "PASS" and exits 0, or prints "FAIL: ..." and exits 1. Debian 12's
-- miltertest exits 1 silently on an uncaught Lua error, hence the pcall.

local function check(cond, what)
  if not cond then error(what, 2) end
  mt.echo("ok: " .. what)
end

-- Sends a step unless the filter negotiated it away (miltertest treats a
-- negotiated-away step as an error).
local function step(conn, option, fn, ...)
  if mt.test_option(conn, option) then return nil end
  return fn(conn, ...)
end

local function new_conn()
  local conn = mt.connect(sock, 40, 0.25)
  if conn == nil then error("cannot connect to " .. tostring(sock)) end
  check(mt.negotiate(conn, nil, nil, nil) == nil, "negotiate")
  step(conn, SMFIP_NOCONNECT, mt.conninfo, "client.example", "192.0.2.1")
  step(conn, SMFIP_NOHELO, mt.helo, "client.example")
  return conn
end

-- One message up to end of message; returns the connection.
local function message(conn, subject)
  check(mt.mailfrom(conn, "<a@example.net>") == nil, "MAIL FROM sent")
  check(mt.getreply(conn) == SMFIR_CONTINUE, "MAIL FROM continues")
  check(mt.rcptto(conn, "<b@example.org>") == nil, "RCPT TO sent")
  check(mt.rcptto(conn, "<c@other.example>") == nil, "second RCPT TO sent")
  step(conn, SMFIP_NODATA, mt.data)
  check(mt.header(conn, "From", "a@example.net") == nil, "From header sent")
  check(mt.header(conn, "Subject", subject) == nil, "Subject header sent")
  step(conn, SMFIP_NOEOH, mt.eoh)
  step(conn, SMFIP_NOBODY, mt.bodystring, "original body\r\n")
  check(mt.eom(conn) == nil, "end of message sent")
end

local ok, err = pcall(function()
  check(sock ~= nil, "socket given with -D sock=...")
  local conn = new_conn()
  check(mt.test_action(conn, SMFIF_ADDHDRS), "add-headers negotiated")
  check(mt.test_action(conn, SMFIF_CHGHDRS), "change-headers negotiated")
  check(mt.test_action(conn, SMFIF_ADDRCPT), "add-recipient negotiated")
  check(mt.test_action(conn, SMFIF_CHGBODY), "change-body negotiated")
  check(mt.test_option(conn, SMFIP_NOBODY), "body negotiated away (no callback)")

  -- Reject.
  check(mt.mailfrom(conn, "<reject@example.com>") == nil, "reject sender sent")
  check(mt.getreply(conn) == SMFIR_REPLYCODE, "reject sender gets a reply code")
  check(mt.abort(conn) == nil, "abort after reject")

  -- Modifications.
  message(conn, "hello")
  check(mt.getreply(conn) == SMFIR_CONTINUE, "end of message continues")
  check(mt.eom_check(conn, MT_HDRADD, "X-Sample", "yes"), "X-Sample: yes added")
  check(mt.eom_check(conn, MT_HDRCHANGE, "Subject", "[sample] hello"),
        "Subject changed to [sample] hello")
  check(mt.eom_check(conn, MT_RCPTADD, "<added@example.org>"),
        "<added@example.org> added")
  check(not mt.eom_check(conn, MT_BODYCHANGE), "body kept")
  check(mt.abort(conn) == nil, "abort between messages (as Postfix does)")

  -- REPLACE.
  message(conn, "please REPLACE")
  check(mt.getreply(conn) == SMFIR_CONTINUE, "REPLACE: end of message continues")
  check(mt.eom_check(conn, MT_BODYCHANGE, "replaced\r\n"), "body replaced")
  check(mt.eom_check(conn, MT_HDRCHANGE, "Subject", "[sample] please REPLACE"),
        "REPLACE: Subject changed")
  check(mt.abort(conn) == nil, "abort")

  -- NOMOD.
  message(conn, "NOMOD please")
  check(mt.getreply(conn) == SMFIR_ACCEPT, "NOMOD accepted")
  check(not mt.eom_check(conn, MT_HDRADD), "NOMOD: no header added")
  check(not mt.eom_check(conn, MT_HDRCHANGE), "NOMOD: no header changed")
  check(not mt.eom_check(conn, MT_RCPTADD, "<added@example.org>"),
        "NOMOD: no recipient added")
  check(not mt.eom_check(conn, MT_BODYCHANGE), "NOMOD: body kept")

  check(mt.disconnect(conn) == nil, "disconnect")

  -- A second connection: per-connection state starts fresh.
  conn = new_conn()
  message(conn, "second")
  check(mt.eom_check(conn, MT_HDRCHANGE, "Subject", "[sample] second"),
        "second connection: Subject changed")
  check(mt.disconnect(conn) == nil, "disconnect")
end)

if not ok then
  mt.echo("FAIL: " .. tostring(err))
  os.exit(1)
end
mt.echo("PASS")
