// The two fixed Ruby files the session API fuzzer (session_api_fuzzer.cc)
// runs at every stage: a handler file (on_connect ... on_close, all calling
// one routine) and a Pmilter file for Engine::RunFile. Both feed the hostile
// strings of the input (the facts, and the argument strings the harness
// passes as macros "{fuzz0}".."{fuzz7}") to every method of the API.
//
// Contract: each API call is wrapped in `ok(Classes) { ... }`, which
// rescues only the exceptions that call is documented to raise for bad
// arguments; any other StandardError escapes and fails the call, which the
// harness treats as a finding. Properties the script can check itself (a
// modification outside end of message must raise ArgumentError) raise
// FuzzViolation. FuzzRaise is raised on purpose (steered by the input) to
// exercise the error path of ResolveStatus; the harness accepts it.

#ifndef MANAGER_SCRIPT_FUZZ_FUZZ_SCRIPTS_H_
#define MANAGER_SCRIPT_FUZZ_FUZZ_SCRIPTS_H_

namespace milter::manager::script::fuzz {

inline constexpr char kHandlerScript[] = R"RUBY(
class FuzzRaise < StandardError; end
class FuzzViolation < StandardError; end

def ok(*classes)
  yield
rescue => e
  raise unless classes.any? { |c| e.is_a?(c) }
  nil
end

# Symbols are never freed: only short prefixes of the hostile strings become
# Symbols, so the fuzzing process does not grow without bound.
def sym(a)
  a[0, 8].to_sym
end

def fuzz_args(s)
  a = []
  i = 0
  while i < 8
    v = s["{fuzz#{i}}"]
    break if v.nil?
    a << v
    i += 1
  end
  a << "" if a.empty?
  a
end

def read_facts(s)
  [s.client_address, s.client_host, s.client_port, s.client_family,
   s.daemon_name, s.mta_hostname, s.queue_id, s.helo, s.tls_version,
   s.cipher, s.cipher_bits, s.cert_subject, s.cert_issuer, s.auth_type,
   s.auth_authen, s.auth_author, s.envelope_from, s.envelope_from_args,
   s.recipients, s.recipient, s.recipient_args, s.header_name,
   s.header_value, s.body_chunk, s.unknown_command, s.receive_time.hour,
   s.message_count, s.stage, s.status, s.reply_text, s.children]
  h = s.headers
  h.each { |n, v| h[n]; h.all(n); h.key?(v); h.include?(n) }
  h.names; h.size; h.empty?; h.to_a; h.count { |n, _| n == "Received" }
  s.children.each { |c| s.child_answer(c); s.child_answer(c, :envfrom) }
  s.child_answers.each { |a| [a.child, a.stage, a.status, a.reply] }
end

def macros(s, args)
  args.each do |a|
    s[a]; s.macro(a); s["{#{a}}"]
    ok(ArgumentError) { s[sym(a)] }
  end
end

def regexps(s, args)
  # every argument as a pattern, on the facts and the first four arguments
  subjects = [s.helo, s.header_value, s.body_chunk] + args[0, 4]
  args.each do |pat|
    re = ok(RegexpError) { Regexp.new(pat) }
    ok(RegexpError) { Regexp.new(pat, Regexp::IGNORECASE) }
    Regexp.escape(pat); Regexp.quote(pat)
    next if re.nil?
    [re.source, re.to_s, re.inspect, re.options]
    subjects.each do |subj|
      re =~ subj; re.match?(subj); re === subj; subj =~ re
      m = re.match(subj)
      if m
        [m[0], m.to_a, m.captures, m.named_captures, m.names, m.pre_match,
         m.post_match, m.begin(0), m.end(0), m.size]
        m.names.each { |n| m[n] }
      end
      subj.scan(re)
      ok(ArgumentError, IndexError) { subj.gsub(re, pat) }
      ok(ArgumentError, IndexError) { subj.sub(re, args[-1]) }
      subj.gsub(re) { |x| x.reverse }
      subj.sub(re) { $~ ? $~[0] : "" }
    end
  end
end

def verdicts(s, args)
  args.each do |t|
    ok(ArgumentError) { s.reject(t) }
    ok(ArgumentError) { s.tempfail(t) }
    ok(ArgumentError) { s.reply(t, nil, t) }
    ok(ArgumentError) { s.reply(t[0, 3], t[4, 5], t) }
    ok(ArgumentError) { s.reply(400 + t.bytesize % 200, t, *t.split(",")) }
    ok(ArgumentError) { s.reply(550, "5.7.1", *t.split(",")) }
    ok(ArgumentError) { s.reply(t.bytesize, nil) }
  end
end

def modifications(s, args)
  n = args[0]
  v = args[-1]
  calls = [
    -> { s.add_header(n, v) }, -> { s.insert_header(v.bytesize % 5, n, v) },
    -> { s.insert_header(-v.bytesize, n, v) }, -> { s.change_header(n, 1, v) },
    -> { s.change_header(n, v.bytesize, nil) }, -> { s.delete_header(n) },
    -> { s.delete_header(v, n.bytesize) }, -> { s.change_from(v) },
    -> { s.change_from(v, n) }, -> { s.add_recipient(v) },
    -> { s.add_recipient(n, v) }, -> { s.delete_recipient(v) },
    -> { s.replace_body(v) }, -> { s.quarantine(v) }
  ]
  calls.each do |f|
    raised = false
    begin
      f.call
    rescue ArgumentError
      raised = true
    end
    raise FuzzViolation, "modification at #{s.stage}" unless raised || s.stage == :eom
  end
end

def children(s, args)
  args.each do |a|
    ok(ArgumentError) { s.enable_child(a) }
    ok(ArgumentError) { s.disable_child(a, :session) }
    ok(ArgumentError) { s.disable_child(a[0, a.size / 2]) }
    ok(ArgumentError) { s.enable_child(s.children.first || a, sym(a)) }
    ok(ArgumentError) { s.set_macro(a, args[-1]) }
    ok(ArgumentError) { s.set_macro(sym(a), a) }
  end
  s.children.each { |c| s.disable_child(c, :recipient) }
end

def store(args)
  st = Milter::Store
  args.each do |k|
    ok(ArgumentError) { st.set(k, args[-1], ttl: 10) }
    ok(ArgumentError) { st.get(k); st[k]; st.key?(k); st.ttl(k) }
    ok(ArgumentError, TypeError) { st.incr(k) }
    ok(ArgumentError) { st.incr("n:" + k, k.bytesize - 3, ttl: 0.5) }
    ok(ArgumentError) { st.set(sym(k), k.bytesize, ttl: -1) }
    ok(ArgumentError) { st.delete(k) }
  end
end

def files(args)
  args.each do |path|
    ok(IOError, ArgumentError) { Milter.read_lines(path) }
    ok(IOError, ArgumentError) { Milter.read_set(path) }
  end
end

def finish(s, args)
  c = args[-1].bytes.first || 0
  raise FuzzRaise, args[0] if c % 11 == 10
  case c % 7
  when 0 then s.accept
  when 1 then ok(ArgumentError) { s.reject(args[0]) }
  when 2 then ok(ArgumentError) { s.tempfail(args[0]) }
  when 3 then s.discard
  when 4 then s.skip
  when 5 then s.continue
  end
  case (c / 7) % 6
  when 0 then nil
  when 1 then sym(args[0])
  when 2 then args[0]
  when 3 then c
  when 4 then c % 2 == 1
  else [:accept, :reject, :tempfail, :discard, :skip, :continue][c % 6]
  end
end

def fuzz(s)
  args = fuzz_args(s)
  read_facts(s)
  macros(s, args)
  regexps(s, args)
  verdicts(s, args)
  modifications(s, args)
  children(s, args)
  store(args)
  files(args)
  args.each { |a| puts a; print a; p a }
  finish(s, args)
end

def on_connect(s) fuzz(s) end
def on_helo(s) fuzz(s) end
def on_envfrom(s) fuzz(s) end
def on_envrcpt(s) fuzz(s) end
def on_data(s) fuzz(s) end
def on_unknown(s) fuzz(s) end
def on_header(s) fuzz(s) end
def on_eoh(s) fuzz(s) end
def on_body(s) fuzz(s) end
def on_eom(s) fuzz(s) end
def on_abort(s) fuzz(s) end
def on_close(s) fuzz(s) end
)RUBY";

inline constexpr char kPmilterScript[] = R"RUBY(
def ok(*classes)
  yield
rescue => e
  raise unless classes.any? { |c| e.is_a?(c) }
  nil
end

s = Pmilter::Session.new
[s.client_ipaddr, s.client_hostname, s.client_daemon, s.handler_phase_name,
 s.helo_hostname, s.envelope_from, s.envelope_to, s.mail_addr, s.rcpt_addr,
 s.receive_time, s.body_chunk, s.myhostname, s.message_id, s.auth_type,
 s.auth_authen, s.auth_author, s.cert_issuer, s.cert_subject, s.cipher_bits,
 s.cipher, s.tls_version, Pmilter.name, Pmilter.status]
h = Pmilter::Session::Headers.new
h.header
cur = Milter::Session.current
args = []
8.times { |i| v = cur["{fuzz#{i}}"]; args << v if v }
args << "" if args.empty?
args.each do |a|
  h[a] = args[-1]
  h[a]
  # a NUL byte raises ArgumentError, as Pmilter's C-string arguments do
  ok(ArgumentError) { s.change_envelope_from(a) }
  ok(ArgumentError) { s.add_envelope_to(a) }
  ok(ArgumentError) { Pmilter.status = a.bytesize }
  ok(ArgumentError) { cur.reject(a) }
end
c = args[-1].bytes.first || 0
codes = [Pmilter::SMFIS_CONTINUE, Pmilter::SMFIS_REJECT, Pmilter::SMFIS_DISCARD,
         Pmilter::SMFIS_ACCEPT, Pmilter::SMFIS_TEMPFAIL, Pmilter::SMFIS_SKIP,
         Pmilter::SMFIS_NOREPLY, Pmilter::SMFIS_ALL_OPTS]
Pmilter.status = codes[c % codes.size]
ok(ArgumentError) { cur.tempfail(args[0]) } if c % 3 == 1
)RUBY";

}  // namespace milter::manager::script::fuzz

#endif  // MANAGER_SCRIPT_FUZZ_FUZZ_SCRIPTS_H_
