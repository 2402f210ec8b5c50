// milter-test-server's output for one session or a load run, as text or
// JSON (see report.h).

#include "tools/milter-test-server/report.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "milter/codec/modification.h"
#include "milter/codec/protocol.h"

namespace milter_test_server {
namespace {

using milter::server::Modification;

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

std::string ArgsJson(const std::optional<std::string>& args) {
  return args ? absl::StrCat(",\"args\":", JsonString(*args)) : "";
}

std::string ModificationJson(const Modification& m) {
  namespace mod = milter::codec::mod;
  std::string fields = std::visit(
      Overloaded{
          [](const mod::AddHeader& h) {
            return absl::StrCat(",\"name\":", JsonString(h.name),
                                ",\"value\":", JsonString(h.value));
          },
          [](const mod::InsertHeader& h) {
            return absl::StrCat(",\"index\":", h.index,
                                ",\"name\":", JsonString(h.name),
                                ",\"value\":", JsonString(h.value));
          },
          [](const mod::ChangeHeader& h) {
            return absl::StrCat(",\"index\":", h.index,
                                ",\"name\":", JsonString(h.name),
                                ",\"value\":", JsonString(h.value));
          },
          [](const mod::ChangeFrom& c) {
            return absl::StrCat(",\"address\":", JsonString(c.address),
                                ArgsJson(c.args));
          },
          [](const mod::AddRecipient& r) {
            return absl::StrCat(",\"address\":", JsonString(r.address),
                                ArgsJson(r.args));
          },
          [](const mod::DeleteRecipient& r) {
            return absl::StrCat(",\"address\":", JsonString(r.address));
          },
          [](const mod::ReplaceBody& b) {
            return absl::StrCat(",\"body\":", JsonString(b.data));
          },
          [](const mod::Quarantine& q) {
            return absl::StrCat(",\"reason\":", JsonString(q.reason));
          },
      },
      m);
  return absl::StrCat(
      "{\"type\":", JsonString(milter::codec::ModificationName(m)), fields,
      "}");
}

std::string MessageJson(const milter::server::MailMessage& m) {
  std::vector<std::string> headers, recipients;
  for (const auto& h : m.headers) {
    headers.push_back(absl::StrCat("{\"name\":", JsonString(h.name),
                                   ",\"value\":", JsonString(h.value), "}"));
  }
  for (const auto& r : m.recipients) recipients.push_back(JsonString(r));
  return absl::StrCat("{\"envelope_from\":", JsonString(m.envelope_from),
                      ",\"recipients\":[", absl::StrJoin(recipients, ","),
                      "],\"headers\":[", absl::StrJoin(headers, ","),
                      "],\"body\":", JsonString(m.body), "}");
}

}  // namespace

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

namespace {
// Stages, status, reply, quarantine, progress and modifications of a message.
std::string MessageText(const Outcome& o);
}  // namespace

std::string FormatOutcome(const Outcome& o,
                          const milter::server::MailMessage* message,
                          bool json) {
  if (json) {
    std::vector<std::string> stages, mods;
    for (const StageLog& s : o.stages) {
      stages.push_back(absl::StrCat("{\"stage\":", JsonString(s.stage),
                                    ",\"decision\":", JsonString(s.decision),
                                    ",\"reply\":", JsonString(s.reply),
                                    s.note.empty() ? "" : ",\"note\":",
                                    s.note.empty() ? "" : JsonString(s.note),
                                    "}"));
    }
    for (const Modification& m : o.modifications) {
      mods.push_back(ModificationJson(m));
    }
    std::string out = "{";
    if (!o.error.ok()) {
      absl::StrAppend(&out, "\"status\":\"error\",\"error\":",
                      JsonString(o.error.ToString()), ",");
    } else {
      absl::StrAppend(&out, "\"status\":", JsonString(o.status), ",");
    }
    absl::StrAppend(
        &out, "\"negotiated\":{\"version\":", o.version, ",\"actions\":",
        JsonString(milter::codec::ActionFlagsToString(o.actions)),
        ",\"protocol\":",
        JsonString(milter::codec::ProtocolFlagsToString(o.protocol)), "},");
    absl::StrAppend(
        &out, "\"reply\":", JsonString(o.reply),
        ",\"elapsed_seconds\":", absl::StrFormat("%.6f", o.elapsed_seconds),
        ",\"progress\":", o.progress, ",\"stages\":[",
        absl::StrJoin(stages, ","), "],\"modifications\":[",
        absl::StrJoin(mods, ","), "]");
    if (o.quarantine) {
      absl::StrAppend(&out, ",\"quarantine\":", JsonString(*o.quarantine));
    }
    if (!o.previous_messages.empty()) {
      std::vector<std::string> previous;
      for (const Outcome& p : o.previous_messages) {
        std::string one = FormatOutcome(p, nullptr, true);
        one.pop_back();  // the newline
        previous.push_back(std::move(one));
      }
      absl::StrAppend(&out, ",\"previous_messages\":[",
                      absl::StrJoin(previous, ","), "]");
    }
    if (message != nullptr) {
      absl::StrAppend(&out, ",\"message\":", MessageJson(*message));
    }
    return out + "}\n";
  }
  std::string out;
  if (!o.stages.empty()) {
    absl::StrAppend(&out, "negotiated: version ", o.version, " actions ",
                    milter::codec::ActionFlagsToString(o.actions), " protocol ",
                    milter::codec::ProtocolFlagsToString(o.protocol), "\n");
  }
  int number = 1;
  for (const Outcome& p : o.previous_messages) {
    absl::StrAppend(&out, "message: ", number++, "\n", MessageText(p));
  }
  if (number > 1) absl::StrAppend(&out, "message: ", number, "\n");
  absl::StrAppend(&out, MessageText(o));
  absl::StrAppend(&out,
                  "elapsed-time: ", absl::StrFormat("%.6f", o.elapsed_seconds),
                  " seconds\n");
  if (message != nullptr) {
    absl::StrAppend(&out, "envelope-from: ", message->envelope_from, "\n");
    for (const std::string& r : message->recipients) {
      absl::StrAppend(&out, "envelope-recipient: ", r, "\n");
    }
    absl::StrAppend(&out, "message:\n",
                    milter::server::SerializeMessage(*message, true));
  }
  return out;
}

namespace {

std::string MessageText(const Outcome& o) {
  std::string out;
  for (const StageLog& s : o.stages) {
    absl::StrAppend(&out, "stage: ", s.stage, ": ", s.decision,
                    s.reply.empty() ? "" : " ", s.reply,
                    s.note.empty() ? "" : " (", s.note,
                    s.note.empty() ? "" : ")", "\n");
  }
  if (!o.error.ok()) {
    absl::StrAppend(&out, "status: error\nerror: ", o.error.ToString(), "\n");
  } else {
    absl::StrAppend(&out, "status: ", o.status, "\n");
    if (!o.reply.empty()) absl::StrAppend(&out, "reply-code: ", o.reply, "\n");
  }
  if (o.quarantine) absl::StrAppend(&out, "quarantine: ", *o.quarantine, "\n");
  if (o.progress > 0) absl::StrAppend(&out, "progress: ", o.progress, "\n");
  for (const Modification& m : o.modifications) {
    absl::StrAppend(&out, "modification: ", milter::codec::ToString(m), "\n");
  }
  return out;
}

}  // namespace

std::string FormatSummary(const Summary& s, int concurrency, bool json) {
  double cpu = s.cpu_user_seconds + s.cpu_system_seconds;
  double cpu_us_per_session = s.sessions > 0 ? cpu * 1e6 / s.sessions : 0;
  if (json) {
    std::vector<std::string> statuses, errors;
    for (const auto& [k, v] : s.statuses) {
      statuses.push_back(absl::StrCat(JsonString(k), ":", v));
    }
    for (const auto& [k, v] : s.error_messages) {
      errors.push_back(absl::StrCat(JsonString(k), ":", v));
    }
    return absl::StrFormat(
        "{\"sessions\":%d,\"concurrency\":%d,\"errors\":%d,\"statuses\":{%s},"
        "\"error_kinds\":{%s},\"elapsed_seconds\":%.3f,"
        "\"sessions_per_second\":%.1f,\"latency_ms\":{\"p50\":%.3f,\"p90\":%."
        "3f,\"p99\":%.3f,\"max\":%.3f},\"cpu_seconds\":{\"user\":%.3f,"
        "\"system\":%.3f},\"cpu_us_per_session\":%.1f}\n",
        s.sessions, concurrency, s.errors, absl::StrJoin(statuses, ","),
        absl::StrJoin(errors, ","), s.elapsed_seconds, s.sessions_per_second,
        s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms, s.cpu_user_seconds,
        s.cpu_system_seconds, cpu_us_per_session);
  }
  std::string out = absl::StrFormat("sessions: %d (concurrency %d)\n",
                                    s.sessions, concurrency);
  for (const auto& [k, v] : s.statuses) {
    absl::StrAppend(&out, "status: ", k, ": ", v, "\n");
  }
  absl::StrAppend(&out, "errors: ", s.errors, "\n");
  for (const auto& [k, v] : s.error_messages) {
    absl::StrAppend(&out, "error: ", k, ": ", v, "\n");
  }
  absl::StrAppend(
      &out,
      absl::StrFormat(
          "throughput: %.1f sessions/s\nlatency: p50 %.3f ms, p90 %.3f ms, "
          "p99 %.3f ms, max %.3f ms\ncpu: user %.3f s, system %.3f s, %.1f "
          "us/session\nelapsed-time: %.3f seconds\n",
          s.sessions_per_second, s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms,
          s.cpu_user_seconds, s.cpu_system_seconds, cpu_us_per_session,
          s.elapsed_seconds));
  return out;
}

}  // namespace milter_test_server
