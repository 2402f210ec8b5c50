// libFuzzer target for the policy scripts' session API (Milter::Session,
// Milter::Headers, Milter::Store, Milter.read_lines/read_set, Regexp on RE2,
// Pmilter): hostile SMTP facts fed to a fixed script (fuzz_scripts.h) that
// calls every method with them, at every stage. Built outside Bazel by
// tests/fuzz/run_fuzzer.sh script (clang, -fsanitize=fuzzer,address,
// undefined); `bazel test` runs it over seeds and mutations
// (session_api_fuzzer_smoke).
//
// Input layout (at most 64 KiB; longer inputs are cut): fields separated by
// the byte 0x1E, in this order (missing fields are empty); list fields split
// their items on 0x1F:
//   0 control: [0] client family (mod 4), [1..2] port, [3] message count,
//     [4] fallback (mod 8: the six status Symbols, nil, a hostile Symbol)
//   1 client address       2 client host        3 HELO name
//   4 envelope from        5 ESMTP args of MAIL (list)
//   6 recipients (list; the last is the current one)
//   7 ESMTP args of RCPT (list)
//   8 headers (list: name, value, name, value...)
//   9 body chunks (list)   10 macros (list: name, value...; stage = pair
//     index mod 7)         11 unknown command
//   12 argument strings (list, at most 8): macros "{fuzz0}".."{fuzz7}",
//     which the script passes to every method
//   13 child names (list, at most 4), each with an answer at envfrom whose
//     reply is the argument of the same index
// Each stage runs once (header and body once per header / chunk, at most
// 4 each), through Engine::Call (on_STAGE) and then Engine::RunFile (the
// Pmilter file). One Engine serves all inputs: 20 ms per call, a
// SharedStore of 64 entries.
//
// Properties checked after every call (abort on violation):
//   - the outcome is OK, a timeout, or the script's deliberate FuzzRaise: never
//   another exception (an API method
//     raising something undocumented for hostile input) nor a crash;
//   - the GC arena index is unchanged; engine.running() is false and
//     vm_depth() is 0;
//   - requests are well-formed: modifications only at eom; header names
//     non-empty printable ASCII without ':'; no NUL in any recorded string
//     (the wire format is NUL-terminated) except a replacement body; no CR or
//     LF in addresses, ESMTP args, quarantine reasons, macro names; child
//     switches name configured children;
//   - ResolveStatus gives one of the six statuses and leaves it in the
//     session; a non-empty reply passes codec::ParseReply, has at most
//     codec::kMaxReplyLines lines, and its class matches the status (5xx
//     reject, 4xx tempfail); after an error the requests are gone.
// FUZZ_VERBOSE=1 prints every call's stage and outcome.

#include <mruby.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "manager/script/engine.h"
#include "manager/script/fuzz/fuzz_scripts.h"
#include "manager/script/session.h"
#include "manager/script/store.h"
#include "milter/codec/macros.h"
#include "milter/codec/reply.h"
#include "tests/fuzz/fuzz_util.h"

namespace milter::manager::script {
namespace {

constexpr size_t kMaxInput = 64 << 10;
constexpr char kFieldSeparator = '\x1e';
constexpr char kItemSeparator = '\x1f';
constexpr size_t kMaxArgs = 8;
constexpr size_t kMaxChildren = 4;
constexpr size_t kMaxCallsPerStage = 4;
constexpr absl::Duration kTimeLimit = absl::Milliseconds(20);

struct Fixture {
  std::string dir, handler_path, pmilter_path;
  std::unique_ptr<Engine> engine;
  std::string last_error;  // the engine's latest log line of an error
};

std::string WriteFile(const std::string& dir, const char* name,
                      const char* text) {
  std::string path = absl::StrCat(dir, "/", name);
  std::ofstream(path, std::ios::trunc) << text;
  return path;
}

Fixture& GetFixture() {
  static Fixture* fixture = [] {
    auto* f = new Fixture;
    char dir[] = "/tmp/session_api_fuzzer.XXXXXX";
    FUZZ_CHECK(mkdtemp(dir) != nullptr);
    f->dir = dir;
    f->handler_path = WriteFile(f->dir, "handler.rb", fuzz::kHandlerScript);
    f->pmilter_path = WriteFile(f->dir, "pmilter.rb", fuzz::kPmilterScript);
    Engine::Options options;
    options.time_limit = kTimeLimit;
    options.recheck = absl::Hours(1);  // the files never change
    SharedStore::Options store;
    store.max_entries = 64;
    store.shards = 4;
    store.sweep_every = 16;
    options.store = std::make_shared<SharedStore>(store);
    options.log = [f](std::string_view line) {
      if (line.substr(0, 7) == "script ") f->last_error = std::string(line);
    };
    f->engine = std::make_unique<Engine>(std::move(options));
    absl::Status loaded = f->engine->Load(f->handler_path);
    if (!loaded.ok()) std::fprintf(stderr, "%s\n", loaded.ToString().c_str());
    FUZZ_CHECK(loaded.ok());
    FUZZ_CHECK(f->engine->LoadWholeFile(f->pmilter_path).ok());
    return f;
  }();
  static const int cleanup = std::atexit([] {  // the temp files go at exit
    unlink(fixture->handler_path.c_str());
    unlink(fixture->pmilter_path.c_str());
    rmdir(fixture->dir.c_str());
  });
  (void)cleanup;
  return *fixture;
}

std::vector<std::string> Items(std::string_view field, size_t max) {
  std::vector<std::string> items;
  if (field.empty()) return items;
  for (absl::string_view item : absl::StrSplit(
           absl::string_view(field.data(), field.size()), kItemSeparator)) {
    if (items.size() == max) break;
    items.emplace_back(item);
  }
  return items;
}

// The facts of one input; the Session points into it.
struct Facts {
  std::vector<std::string> fields;
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::string> chunks, args, children;
  std::vector<ChildAnswer> answers;
  codec::MacroMap macros;
  Value fallback;
  std::string Field(size_t i) const {
    return i < fields.size() ? fields[i] : "";
  }
};

Value Fallback(uint8_t b, const std::vector<std::string>& args) {
  static constexpr const char* kNames[] = {"continue", "accept",  "reject",
                                           "tempfail", "discard", "skip"};
  if (b % 8 < 6) return Value::Symbol(kNames[b % 8]);
  if (b % 8 == 6) return Value::Nil();
  return Value::Symbol(args.empty() ? "" : args[0]);
}

void Parse(std::string_view input, Facts& facts, Session& session) {
  for (absl::string_view f : absl::StrSplit(
           absl::string_view(input.data(), input.size()), kFieldSeparator)) {
    facts.fields.emplace_back(f);
  }
  std::string control = facts.Field(0);
  control.resize(5, '\0');
  auto byte = [&](size_t i) { return static_cast<uint8_t>(control[i]); };
  static constexpr codec::Family kFamilies[] = {
      codec::Family::kUnknown, codec::Family::kUnix, codec::Family::kInet,
      codec::Family::kInet6};
  session.client.family = kFamilies[byte(0) % 4];
  session.client.port = static_cast<uint16_t>(byte(1) << 8 | byte(2));
  session.message_count = byte(3);
  session.client.address = facts.Field(1);
  session.client.hostname = facts.Field(2);
  session.helo = facts.Field(3);
  session.envelope_from = facts.Field(4);
  session.envelope_from_args = Items(facts.Field(5), 64);
  session.recipients = Items(facts.Field(6), 64);
  if (!session.recipients.empty()) {
    session.recipient = session.recipients.back();
  }
  session.recipient_args = Items(facts.Field(7), 64);
  std::vector<std::string> h = Items(facts.Field(8), 128);
  for (size_t i = 0; i + 1 < h.size(); i += 2) {
    facts.headers.emplace_back(h[i], h[i + 1]);
  }
  facts.chunks = Items(facts.Field(9), kMaxCallsPerStage);
  std::vector<std::string> m = Items(facts.Field(10), 64);
  for (size_t i = 0; i + 1 < m.size(); i += 2) {
    facts.macros.Set(static_cast<codec::MacroStage>(i / 2 % 7), m[i], m[i + 1]);
  }
  session.unknown_command = facts.Field(11);
  facts.args = Items(facts.Field(12), kMaxArgs);
  for (size_t i = 0; i < facts.args.size(); ++i) {
    facts.macros.Set(codec::MacroStage::kEndOfHeaders,
                     absl::StrCat("{fuzz", i, "}"), facts.args[i]);
  }
  facts.children = Items(facts.Field(13), kMaxChildren);
  for (size_t i = 0; i < facts.children.size(); ++i) {
    facts.answers.push_back({facts.children[i], Stage::kEnvelopeFrom,
                             static_cast<codec::Status>(byte(4 - i % 2) % 6),
                             i < facts.args.size() ? facts.args[i] : ""});
  }
  facts.fallback = Fallback(byte(4), facts.args);
  session.macros = &facts.macros;
  session.child_names = &facts.children;
  session.child_answers = &facts.answers;
  session.receive_time = absl::FromUnixSeconds(1700000000 + byte(3));
}

bool Has(std::string_view s, std::string_view chars) {
  return s.find_first_of(chars) != std::string_view::npos;
}
constexpr std::string_view kNul("\0", 1);
constexpr std::string_view kNulCrLf("\0\r\n", 3);

void CheckHeaderName(const std::string& name) {
  FUZZ_CHECK(!name.empty());
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    FUZZ_CHECK(u > 32 && u < 127 && c != ':');
  }
}

void CheckChange(const codec::Modification& change) {
  std::visit(
      [](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, codec::mod::AddHeader> ||
                      std::is_same_v<T, codec::mod::InsertHeader> ||
                      std::is_same_v<T, codec::mod::ChangeHeader>) {
          CheckHeaderName(m.name);
          FUZZ_CHECK(!Has(m.value, kNul));
        } else if constexpr (std::is_same_v<T, codec::mod::ChangeFrom> ||
                             std::is_same_v<T, codec::mod::AddRecipient>) {
          FUZZ_CHECK(!m.address.empty() && !Has(m.address, kNulCrLf));
          FUZZ_CHECK(!m.args || !Has(*m.args, kNulCrLf));
        } else if constexpr (std::is_same_v<T, codec::mod::DeleteRecipient>) {
          FUZZ_CHECK(!m.address.empty() && !Has(m.address, kNulCrLf));
        } else if constexpr (std::is_same_v<T, codec::mod::Quarantine>) {
          FUZZ_CHECK(!m.reason.empty() && !Has(m.reason, kNulCrLf));
        }
      },
      change);
}

bool IsSessionStatus(codec::Status s) {
  switch (s) {
    case codec::Status::kContinue:
    case codec::Status::kAccept:
    case codec::Status::kReject:
    case codec::Status::kTempfail:
    case codec::Status::kDiscard:
    case codec::Status::kSkip:
      return true;
    default:
      return false;
  }
}

void CheckOutcome(Fixture& f, const Engine::Outcome& outcome) {
  const absl::Status& e = outcome.error;
  bool clean = e.ok() || e.code() == absl::StatusCode::kDeadlineExceeded ||
               (e.code() == absl::StatusCode::kInternal &&
                absl::StrContains(e.message(), "FuzzRaise"));
  if (!clean) {
    std::fprintf(stderr, "unclean outcome: %s\nlog: %s\n", e.ToString().c_str(),
                 f.last_error.c_str());
  }
  FUZZ_CHECK(clean);
}

void CheckRequests(const Engine::Outcome& outcome, Session& session) {
  if (session.stage != Stage::kEndOfMessage) {
    FUZZ_CHECK(session.changes.empty());
  }
  for (const codec::Modification& change : session.changes) {
    CheckChange(change);
  }
  for (const ChildSwitch& sw : session.switches) {
    bool known = false;
    for (const std::string& c : *session.child_names) known |= c == sw.child;
    FUZZ_CHECK(known);
  }
  for (const auto& [name, value] : session.macro_sets) {
    FUZZ_CHECK(!name.empty() && !Has(name, kNulCrLf) && !Has(value, kNul));
  }
  codec::Status status = ResolveStatus(outcome, session);
  FUZZ_CHECK(IsSessionStatus(status));
  FUZZ_CHECK(status == session.status);
  if (!outcome.error.ok()) {
    FUZZ_CHECK(session.reply.empty() && session.changes.empty() &&
               session.switches.empty() && session.macro_sets.empty());
  }
  if (session.reply.empty()) return;
  absl::StatusOr<codec::ParsedReply> parsed = codec::ParseReply(session.reply);
  if (!parsed.ok()) {
    std::fprintf(stderr, "reply \"%s\": %s\n", session.reply.c_str(),
                 parsed.status().ToString().c_str());
  }
  FUZZ_CHECK(parsed.ok());
  FUZZ_CHECK(parsed->lines.size() <= codec::kMaxReplyLines);
  FUZZ_CHECK(!Has(session.reply, kNul));
  char cls = parsed->code[0];
  FUZZ_CHECK((cls == '5' && status == codec::Status::kReject) ||
             (cls == '4' && status == codec::Status::kTempfail));
}

// FUZZ_VERBOSE=1 prints each call (for replaying a finding).
bool Verbose() {
  static const bool verbose = std::getenv("FUZZ_VERBOSE") != nullptr;
  return verbose;
}

void RunStage(Fixture& f, Facts& facts, Session& session, Stage stage) {
  Engine& engine = *f.engine;
  session.stage = stage;
  for (bool pmilter : {false, true}) {
    session.Reset();
    int arena = mrb_gc_arena_save(engine.vm());
    f.last_error.clear();
    Engine::Outcome outcome =
        pmilter ? engine.RunFile(f.pmilter_path, session, facts.fallback,
                                 kTimeLimit)
                : engine.Call(f.handler_path, HandlerName(stage), session,
                              facts.fallback, kTimeLimit);
    FUZZ_CHECK(mrb_gc_arena_save(engine.vm()) == arena);
    FUZZ_CHECK(!engine.running());
    FUZZ_CHECK(engine.vm_depth() == 0);
    if (Verbose()) {
      std::fprintf(stderr, "%s %s: %s, status %d, reply \"%s\", %zu changes\n",
                   pmilter ? "pmilter" : "handler",
                   std::string(StageName(stage)).c_str(),
                   outcome.error.ToString().c_str(),
                   static_cast<int>(session.status), session.reply.c_str(),
                   session.changes.size());
    }
    CheckOutcome(f, outcome);
    CheckRequests(outcome, session);
  }
}

void RunAll(Fixture& f, Facts& facts, Session& session) {
  for (int i = 0; i < kNumStages; ++i) {
    auto stage = static_cast<Stage>(i);
    if (stage == Stage::kHeader) {
      for (size_t h = 0; h < facts.headers.size() && h < kMaxCallsPerStage;
           ++h) {
        session.headers.push_back(facts.headers[h]);
        session.header_name = facts.headers[h].first;
        session.header_value = facts.headers[h].second;
        RunStage(f, facts, session, stage);
      }
      session.headers = facts.headers;
      continue;
    }
    if (stage == Stage::kBody) {
      for (const std::string& chunk : facts.chunks) {
        session.body_chunk = chunk;
        RunStage(f, facts, session, stage);
      }
      continue;
    }
    RunStage(f, facts, session, stage);
  }
}

}  // namespace
}  // namespace milter::manager::script

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace milter::manager::script;
  Fixture& f = GetFixture();
  std::string_view input(reinterpret_cast<const char*>(data),
                         std::min(size, kMaxInput));
  Facts facts;
  Session session;
  Parse(input, facts, session);
  RunAll(f, facts, session);
  return 0;
}
