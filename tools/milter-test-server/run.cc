// milter-test-server's sessions: the plan built from the options, one
// session as a coroutine, many on a few event loops (see run.h).

#include "tools/milter-test-server/run.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "asio/co_spawn.hpp"
#include "asio/io_context.hpp"
#include "milter/codec/header_value.h"
#include "milter/codec/macros.h"
#include "milter/codec/protocol.h"

namespace milter_test_server {
namespace {

using milter::server::Decision;
using milter::server::Macros;
using milter::server::Verdict;

std::string StripBrackets(const std::string& address) {
  std::string a = address;
  if (!a.empty() && a.front() == '<') a.erase(0, 1);
  if (!a.empty() && a.back() == '>') a.pop_back();
  return a;
}

std::string DomainOf(const std::string& address) {
  std::string a = StripBrackets(address);
  size_t at = a.rfind('@');
  return at == std::string::npos ? "" : a.substr(at + 1);
}

// `defaults` with `user` values replacing same-named ones, then the rest.
Macros Merge(Macros defaults, const Macros& user) {
  for (const auto& [name, value] : user) {
    bool replaced = false;
    for (auto& [n, v] : defaults) {
      if (milter::codec::CanonicalMacroName(n) ==
          milter::codec::CanonicalMacroName(name)) {
        v = value;
        replaced = true;
      }
    }
    if (!replaced) defaults.emplace_back(name, value);
  }
  return defaults;
}

const char* StatusOf(Decision decision) {
  switch (decision) {
    case Decision::kContinue:
    case Decision::kSkip:
    case Decision::kNoReply:
      return "pass";
    case Decision::kAccept:
      return "accept";
    case Decision::kReject:
      return "reject";
    case Decision::kTempfail:
    case Decision::kShutdown:
    case Decision::kConnectionFail:
      return "temporary-failure";
    case Decision::kDiscard:
      return "discard";
  }
  return "pass";
}

}  // namespace

absl::StatusOr<Plan> MakePlan(const ToolOptions& o) {
  Plan plan;
  absl::StatusOr<milter::net::SocketSpec> spec =
      milter::net::ParseSocketSpec(o.connection_spec);
  if (!spec.ok()) return spec.status();
  plan.spec = *spec;
  plan.session = o.session;
  plan.connect = o.connect;
  plan.helo = o.helo;
  plan.unknown = o.unknown;
  plan.message = o.message;
  plan.n_messages = o.n_messages;
  plan.body_chunks = o.body_chunks;
  auto user = [&](const char* stage) -> Macros {
    auto it = o.macros.find(stage);
    return it == o.macros.end() ? Macros{} : it->second;
  };
  std::string client = o.connect.family == milter::codec::Family::kInet6
                           ? absl::StrCat("IPv6:", o.connect.address)
                           : o.connect.address;
  plan.connect_macros =
      Merge({{"j", "mail.example.net"},
             {"{daemon_name}", "milter-test-server"},
             {"{daemon_addr}", "127.0.0.1"},
             {"{if_name}", "localhost"},
             {"{if_addr}", "127.0.0.1"},
             {"{client_addr}", o.connect.address},
             {"{client_name}", o.connect.hostname},
             {"_", absl::StrCat(o.connect.hostname, " [", client, "]")}},
            user("connect"));
  plan.helo_macros = user("helo");
  Macros mail = {{"{mail_addr}", StripBrackets(o.message.envelope_from)},
                 {"{mail_host}", DomainOf(o.message.envelope_from)},
                 {"{mail_mailer}", "esmtp"}};
  if (!o.auth_name.empty()) mail.emplace_back("{auth_authen}", o.auth_name);
  if (!o.auth_type.empty()) mail.emplace_back("{auth_type}", o.auth_type);
  if (!o.auth_author.empty()) {
    mail.emplace_back("{auth_author}", o.auth_author);
  }
  plan.mail_macros = Merge(mail, user("envelope-from"));
  for (const std::string& rcpt : o.message.recipients) {
    plan.rcpt_macros.push_back(Merge({{"{rcpt_addr}", StripBrackets(rcpt)},
                                      {"{rcpt_host}", DomainOf(rcpt)},
                                      {"{rcpt_mailer}", "smtp"}},
                                     user("envelope-recipient")));
  }
  plan.data_macros = Merge({{"i", "4Dx1Yz0TestQ"}}, user("data"));
  plan.end_of_header_macros =
      Merge({{"i", "4Dx1Yz0TestQ"}}, user("end-of-header"));
  plan.end_of_message_macros =
      Merge({{"i", "4Dx1Yz0TestQ"}}, user("end-of-message"));
  return plan;
}

namespace {

StageLog LogOf(const char* name, const Verdict& v) {
  return {name, milter::server::StatusName(v.decision), v.reply,
          !v.sent       ? "not sent"
          : !v.answered ? "no reply"
                        : ""};
}

// Records a stage in `out`; returns true if its verdict ends the session.
bool Record(const char* name, const Verdict& v, bool log_stages, Outcome* out) {
  out->progress += v.progress;
  if (log_stages) {
    out->stages.push_back(LogOf(name, v));
  }
  if (v.decision == Decision::kShutdown ||
      v.decision == Decision::kConnectionFail) {
    out->connection_ended = true;
  }
  if (v.Final()) {
    out->status = StatusOf(v.decision);
    out->reply = v.reply;
    return true;
  }
  return false;
}

// True (stop) on an error or a final verdict.
bool Stop(const absl::StatusOr<Verdict>& v, const char* name, bool log_stages,
          Outcome* out) {
  if (!v.ok()) {
    out->error = v.status();
    return true;
  }
  return Record(name, *v, log_stages, out);
}

// Connect, HELO and the unknown command. Sets out->error or, if the session
// ends here, out->status.
asio::awaitable<void> RunConnectionStages(milter::server::Session& session,
                                          const Plan& plan, bool log_stages,
                                          Outcome* out) {
  auto stop = [&](const absl::StatusOr<Verdict>& v, const char* name) {
    return Stop(v, name, log_stages, out);
  };
  if (stop(co_await session.ConnectStage(plan.connect, plan.connect_macros),
           "connect") ||
      stop(co_await session.Helo(plan.helo, plan.helo_macros), "helo")) {
    co_return;
  }
  if (plan.unknown) {
    absl::StatusOr<Verdict> v = co_await session.Unknown(*plan.unknown);
    if (!v.ok()) {
      out->error = v.status();
      co_return;
    }
    // A refused unknown command refuses only that command.
    Verdict logged = *v;
    if (logged.decision != Decision::kShutdown &&
        logged.decision != Decision::kConnectionFail) {
      if (log_stages) {
        out->stages.push_back(LogOf("unknown", *v));
      }
    } else {
      Record("unknown", logged, log_stages, out);
    }
  }
}

// One message, MAIL FROM to end of message. Sets out->error or out->status.
asio::awaitable<void> RunMessage(milter::server::Session& session,
                                 const Plan& plan, bool log_stages,
                                 Outcome* out) {
  auto stop = [&](const absl::StatusOr<Verdict>& v, const char* name) {
    return Stop(v, name, log_stages, out);
  };
  if (stop(co_await session.Mail(plan.message.envelope_from, {},
                                 plan.mail_macros),
           "envelope-from")) {
    co_return;
  }
  int accepted = 0;
  Verdict last_refusal;
  for (size_t i = 0; i < plan.message.recipients.size(); ++i) {
    absl::StatusOr<Verdict> v = co_await session.Rcpt(
        plan.message.recipients[i], {}, plan.rcpt_macros[i]);
    if (!v.ok()) {
      out->error = v.status();
      co_return;
    }
    // Reject and tempfail refuse this recipient only.
    if (v->decision == Decision::kReject ||
        v->decision == Decision::kTempfail) {
      out->progress += v->progress;
      if (log_stages) {
        out->stages.push_back(LogOf("envelope-recipient", *v));
      }
      last_refusal = *v;
      out->refused_recipients.push_back(plan.message.recipients[i]);
      continue;
    }
    if (Record("envelope-recipient", *v, log_stages, out)) co_return;
    ++accepted;
  }
  if (accepted == 0 && !plan.message.recipients.empty()) {
    out->status = StatusOf(last_refusal.decision);
    out->reply = last_refusal.reply;
    co_return;
  }
  if (stop(co_await session.Data(plan.data_macros), "data")) co_return;
  for (const milter::server::HeaderField& h : plan.message.headers) {
    if (stop(co_await session.Header(
                 h.name, milter::codec::HeaderValueForFilter(
                             h.value, session.header_leading_space())),
             "header")) {
      co_return;
    }
  }
  if (stop(co_await session.EndOfHeaders(plan.end_of_header_macros),
           "end-of-header")) {
    co_return;
  }
  absl::StatusOr<Verdict> body = Verdict{};
  if (plan.body_chunks.empty()) {
    body = co_await session.Body(plan.message.body);
  } else {
    for (const std::string& chunk : plan.body_chunks) {
      body = co_await session.Body(chunk);
      if (!body.ok() || body->decision != Decision::kContinue) break;
    }
  }
  // Skip is not final: carry on to end of message.
  if (stop(body, "body")) co_return;
  absl::StatusOr<milter::server::EndOfMessageResult> eom =
      co_await session.EndOfMessage(plan.end_of_message_macros);
  if (!eom.ok()) {
    out->error = eom.status();
    co_return;
  }
  // Quarantine is reported on its own, not as a change to the message.
  out->quarantine = eom->quarantine();
  out->modifications = std::move(eom->modifications);
  std::erase_if(out->modifications, [](const milter::server::Modification& m) {
    return std::holds_alternative<milter::codec::mod::Quarantine>(m);
  });
  if (!Record("end-of-message", eom->verdict, log_stages, out)) {
    out->status = "pass";
  }
  if (out->quarantine && (out->status == "pass" || out->status == "accept")) {
    out->status = "quarantine";
  }
}

}  // namespace

asio::awaitable<Outcome> RunSession(asio::any_io_executor executor,
                                    const Plan& plan, bool log_stages) {
  auto start = std::chrono::steady_clock::now();
  Outcome out;
  milter::server::Session session(executor, plan.session);
  // (Not a conditional expression: GCC miscompiles co_await inside one.)
  if (plan.resolved) {
    out.error = co_await session.Open(*plan.resolved);
  } else {
    out.error = co_await session.Open(plan.spec);
  }
  if (out.error.ok()) {
    out.header_leading_space = session.header_leading_space();
    out.version = session.negotiated().version;
    out.actions = session.negotiated().actions;
    out.protocol = session.negotiated().protocol;
    co_await RunConnectionStages(session, plan, log_stages, &out);
    bool connection_ended = !out.status.empty();
    auto message_start = start;
    for (int m = 0; m < plan.n_messages && out.error.ok() && !connection_ended;
         ++m) {
      auto now = std::chrono::steady_clock::now();
      if (m > 0) {
        // The previous message's result moves aside, with its own time (MAIL
        // to its last answer); the next one starts after an abort, as
        // Postfix sends after every message.
        out.elapsed_seconds =
            std::chrono::duration<double>(now - message_start).count();
        Outcome next;
        next.error = co_await session.Abort();
        next.version = out.version;
        next.actions = out.actions;
        next.protocol = out.protocol;
        next.header_leading_space = out.header_leading_space;
        next.previous_messages = std::move(out.previous_messages);
        out.previous_messages.clear();
        next.previous_messages.push_back(std::move(out));
        out = std::move(next);
        if (!out.error.ok()) break;
      }
      message_start = now;
      co_await RunMessage(session, plan, log_stages, &out);
      if (out.connection_ended) connection_ended = true;
    }
    if (out.error.ok()) {
      if (out.status.empty()) out.status = "pass";
      out.error = co_await session.Quit();
    }
  }
  out.elapsed_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  co_return out;
}

int ExitStatusFor(const Outcome& outcome) {
  if (!outcome.error.ok()) return kExitError;
  const std::string& s = outcome.status;
  if (s == "reject") return kExitReject;
  if (s == "temporary-failure") return kExitTemporaryFailure;
  if (s == "discard") return kExitDiscard;
  if (s == "quarantine") return kExitQuarantine;
  return kExitPass;
}

namespace {

struct LoopStats {
  std::vector<uint32_t> latencies_us;
  std::map<std::string, int64_t> statuses;
  std::map<std::string, int64_t> errors;
  int64_t error_count = 0;
};

asio::awaitable<void> Worker(const Plan& plan, std::atomic<int64_t>* next,
                             int64_t total, LoopStats* stats) {
  auto executor = co_await asio::this_coro::executor;
  while (next->fetch_add(1, std::memory_order_relaxed) < total) {
    Outcome outcome = co_await RunSession(executor, plan, false);
    stats->latencies_us.push_back(
        static_cast<uint32_t>(outcome.elapsed_seconds * 1e6));
    if (!outcome.error.ok()) {
      ++stats->error_count;
      std::string key(outcome.error.message().substr(0, 80));
      if (stats->errors.size() < 10 || stats->errors.count(key)) {
        ++stats->errors[key];
      }
    } else {
      ++stats->statuses[outcome.status];
    }
  }
}

void CountException(std::exception_ptr e, LoopStats* stats) {
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    what = x.what();
  } catch (...) {
  }
  ++stats->error_count;
  ++stats->errors[what.substr(0, 80)];
}

double Percentile(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t index = static_cast<size_t>(p * (sorted.size() - 1) + 0.5);
  return sorted[std::min(index, sorted.size() - 1)] / 1000.0;
}

}  // namespace

Summary RunMany(const Plan& one_plan, int n_sessions, int concurrency,
                int event_loops) {
  // Costs paid once rather than per session: the address lookup (a failed
  // one is left to each session, which reports it), and one write for the
  // stages the filter does not answer together with the next one.
  Plan plan = one_plan;
  plan.session.defer_unanswered_writes = true;
  if (!plan.resolved) {
    absl::StatusOr<milter::server::ResolvedSpec> resolved =
        milter::server::Resolve(plan.spec);
    if (resolved.ok()) plan.resolved = *std::move(resolved);
  }
  event_loops = std::max(1, std::min(event_loops, concurrency));
  std::atomic<int64_t> next{0};
  std::vector<std::unique_ptr<asio::io_context>> loops;
  std::vector<LoopStats> stats(event_loops);
  for (int i = 0; i < event_loops; ++i) {
    loops.push_back(std::make_unique<asio::io_context>(1));
    stats[i].latencies_us.reserve(n_sessions / event_loops + 1);
  }
  for (int w = 0; w < concurrency; ++w) {
    int loop = w % event_loops;
    LoopStats* loop_stats = &stats[loop];
    // A worker that throws ends; its session counts as an error.
    asio::co_spawn(*loops[loop], Worker(plan, &next, n_sessions, loop_stats),
                   [loop_stats](std::exception_ptr e) {
                     if (e) CountException(e, loop_stats);
                   });
  }
  rusage before;
  getrusage(RUSAGE_SELF, &before);
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int i = 1; i < event_loops; ++i) {
    threads.emplace_back([&loops, i] { loops[i]->run(); });
  }
  loops[0]->run();
  for (std::thread& t : threads) t.join();
  Summary summary;
  summary.elapsed_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  rusage after;
  getrusage(RUSAGE_SELF, &after);
  auto seconds = [](const timeval& a, const timeval& b) {
    return (b.tv_sec - a.tv_sec) + (b.tv_usec - a.tv_usec) / 1e6;
  };
  summary.cpu_user_seconds = seconds(before.ru_utime, after.ru_utime);
  summary.cpu_system_seconds = seconds(before.ru_stime, after.ru_stime);
  std::vector<uint32_t> all;
  all.reserve(n_sessions);
  for (LoopStats& s : stats) {
    all.insert(all.end(), s.latencies_us.begin(), s.latencies_us.end());
    for (const auto& [k, v] : s.statuses) summary.statuses[k] += v;
    for (const auto& [k, v] : s.errors) summary.error_messages[k] += v;
    summary.errors += s.error_count;
  }
  summary.sessions = static_cast<int64_t>(all.size());
  std::sort(all.begin(), all.end());
  summary.p50_ms = Percentile(all, 0.50);
  summary.p90_ms = Percentile(all, 0.90);
  summary.p99_ms = Percentile(all, 0.99);
  summary.max_ms = all.empty() ? 0 : all.back() / 1000.0;
  summary.sessions_per_second = summary.elapsed_seconds > 0
                                    ? summary.sessions / summary.elapsed_seconds
                                    : 0;
  return summary;
}

}  // namespace milter_test_server
