// The status document: built from the provider, read back for a person.

#include "manager/status/status_document.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace milter::manager::status {
namespace {

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string ChildJson(const ChildState& c) {
  std::string since =
      c.since == absl::InfinitePast() ? "null" : JsonString(Rfc3339(c.since));
  return absl::StrCat(
      "{\"name\":", JsonString(c.name),
      ",\"health\":", JsonString(HealthName(c.health)), ",\"since\":", since,
      ",\"launched\":", c.launched ? "true" : "false", ",\"pid\":", c.pid,
      ",\"restarts\":", c.restarts, ",\"failures\":", c.failures,
      ",\"last_error\":", JsonString(c.last_error),
      ",\"sessions\":", c.sessions, ",\"mean_latency_seconds\":",
      JsonNumber(absl::ToDoubleSeconds(c.mean_latency)), "}");
}

std::string CountersJson(const metrics::Metrics* m) {
  std::vector<std::string> messages;
  for (int v = 0; v < static_cast<int>(metrics::Verdict::kCount); ++v) {
    auto verdict = static_cast<metrics::Verdict>(v);
    messages.push_back(absl::StrCat(JsonString(metrics::VerdictLabel(verdict)),
                                    ":", m ? m->messages(verdict) : 0));
  }
  return absl::StrCat("{\"sessions_total\":", m ? m->sessions_total() : 0,
                      ",\"sessions_active\":", m ? m->sessions_active() : 0,
                      ",\"messages\":{", absl::StrJoin(messages, ","), "}}");
}

// "3d 4h 5m 6s", leading zero units left out.
std::string Uptime(double seconds) {
  int64_t s = seconds > 0 ? static_cast<int64_t>(seconds) : 0;
  std::string out;
  for (auto [unit, size] :
       {std::pair{"d", 86400}, std::pair{"h", 3600}, std::pair{"m", 60}}) {
    if (s >= size || !out.empty()) {
      absl::StrAppend(&out, s / size, unit, " ");
      s %= size;
    }
  }
  return absl::StrCat(out, s, "s");
}

std::string Latency(double seconds) {
  if (seconds <= 0) return "-";
  if (seconds < 1) return absl::StrFormat("%.1fms", seconds * 1000);
  return absl::StrFormat("%.2fs", seconds);
}

std::string Count(const JsonValue& v, std::string_view key) {
  const JsonValue* n = v.Find(key);
  if (n == nullptr || n->type != JsonValue::Type::kNumber) return "-";
  return JsonNumber(n->number);
}

std::string ChildrenTable(const JsonValue* children) {
  if (children == nullptr || children->type != JsonValue::Type::kArray ||
      children->items.empty()) {
    return "children: none\n";
  }
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "STATE", "SINCE", "PID", "RESTARTS", "FAILURES", "SESSIONS",
       "LATENCY", "LAST ERROR"}};
  for (const JsonValue& c : children->items) {
    double pid = c.NumberOr("pid", 0);
    std::string error = c.StringOr("last_error", "");
    rows.push_back({c.StringOr("name", "-"), c.StringOr("health", "-"),
                    c.StringOr("since", "-"), pid > 0 ? JsonNumber(pid) : "-",
                    Count(c, "restarts"), Count(c, "failures"),
                    Count(c, "sessions"),
                    Latency(c.NumberOr("mean_latency_seconds", 0)),
                    error.empty() ? "-" : error});
  }
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string out = "children:\n";
  for (const auto& row : rows) {
    std::string line = " ";
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&line, " ", row[i]);
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size(), ' ');
    }
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

}  // namespace

std::string StatusJson(const StatusProvider& provider,
                       const metrics::Metrics* metrics,
                       std::string_view version, absl::Time now) {
  absl::Time started = metrics ? metrics->start_time() : now;
  std::vector<ChildState> children;
  if (provider.children) children = provider.children();
  std::vector<std::string> items;
  items.reserve(children.size());
  for (const ChildState& c : children) items.push_back(ChildJson(c));
  std::string configuration =
      provider.configuration ? provider.configuration() : "";
  return absl::StrCat(
      "{\"version\":", JsonString(version),
      ",\"started\":", JsonString(Rfc3339(started)),
      ",\"uptime_seconds\":", JsonNumber(absl::ToDoubleSeconds(now - started)),
      ",\"configuration\":", JsonString(configuration), ",\"children\":[",
      absl::StrJoin(items, ","), "],\"counters\":", CountersJson(metrics),
      "}\n");
}

std::string FormatStatus(const JsonValue& document) {
  std::string out =
      absl::StrCat("milter-manager ", document.StringOr("version", "-"),
                   ", up ", Uptime(document.NumberOr("uptime_seconds", 0)),
                   " (since ", document.StringOr("started", "-"), ")\n");
  const JsonValue* counters = document.Find("counters");
  JsonValue none;
  if (counters == nullptr) counters = &none;
  absl::StrAppend(&out, "sessions: ", Count(*counters, "sessions_total"),
                  " total, ", Count(*counters, "sessions_active"), " active\n");
  const JsonValue* messages = counters->Find("messages");
  if (messages != nullptr && messages->type == JsonValue::Type::kObject) {
    std::vector<std::string> parts;
    for (size_t i = 0; i < messages->keys.size(); ++i) {
      parts.push_back(absl::StrCat(messages->keys[i], " ",
                                   Count(*messages, messages->keys[i])));
    }
    absl::StrAppend(&out, "messages: ", absl::StrJoin(parts, ", "), "\n");
  }
  return out + ChildrenTable(document.Find("children"));
}

}  // namespace milter::manager::status
