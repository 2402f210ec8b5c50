// Metrics: the registry, its labels and the text exposition.

#include "manager/metrics/metrics.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace milter::manager::metrics {
namespace {

constexpr std::memory_order kRelaxed = std::memory_order_relaxed;

constexpr const char* kStageLabels[] = {"open",
                                        "connect",
                                        "helo",
                                        "envelope-from",
                                        "envelope-recipient",
                                        "data",
                                        "unknown",
                                        "header",
                                        "end-of-header",
                                        "body",
                                        "end-of-message",
                                        "other"};
constexpr const char* kResultLabels[] = {"continue", "accept",  "reject",
                                         "tempfail", "discard", "skip",
                                         "failed",   "other"};
constexpr const char* kVerdictLabels[] = {
    "accept", "continue", "reject", "tempfail", "discard", "aborted", "other"};
constexpr const char* kFailureLabels[] = {"connect", "timeout", "protocol",
                                          "closed", "other"};
constexpr const char* kHealthLabels[] = {"up", "starting", "down", "disabled"};

static_assert(std::size(kStageLabels) == static_cast<size_t>(Stage::kCount));
static_assert(std::size(kResultLabels) == static_cast<size_t>(Result::kCount));
static_assert(std::size(kVerdictLabels) ==
              static_cast<size_t>(Verdict::kCount));
static_assert(std::size(kFailureLabels) ==
              static_cast<size_t>(Failure::kCount));

template <typename E, size_t N>
E Lookup(const char* const (&labels)[N], std::string_view name, E other) {
  for (size_t i = 0; i < N; ++i) {
    if (name == labels[i]) return static_cast<E>(i);
  }
  return other;
}

void Family(std::string* out, const char* name, const char* type,
            const char* help) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type,
                  "\n");
}

std::string Seconds(double value) { return absl::StrFormat("%.9g", value); }

}  // namespace

Stage StageOf(std::string_view name) {
  return Lookup(kStageLabels, name, Stage::kOther);
}
Result ResultOf(std::string_view name) {
  return Lookup(kResultLabels, name, Result::kOther);
}
Verdict VerdictOf(std::string_view name) {
  return Lookup(kVerdictLabels, name, Verdict::kOther);
}
const char* StageLabel(Stage stage) {
  return kStageLabels[static_cast<int>(stage)];
}
const char* ResultLabel(Result result) {
  return kResultLabels[static_cast<int>(result)];
}
const char* VerdictLabel(Verdict verdict) {
  return kVerdictLabels[static_cast<int>(verdict)];
}
const char* FailureLabel(Failure failure) {
  return kFailureLabels[static_cast<int>(failure)];
}

Failure FailureOf(const absl::Status& error, bool opening) {
  absl::string_view message = error.message();
  bool connecting = absl::StartsWith(message, "connecting to");
  switch (error.code()) {
    case absl::StatusCode::kDeadlineExceeded:
      return connecting ? Failure::kConnect : Failure::kTimeout;
    case absl::StatusCode::kUnavailable:
      return connecting || (opening && !absl::StrContains(message, "closed"))
                 ? Failure::kConnect
                 : Failure::kClosed;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kOutOfRange:
      return Failure::kProtocol;
    default:
      return Failure::kOther;
  }
}

std::string LabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// ChildSeries

void ChildSeries::Record(Stage stage, Result result, absl::Duration elapsed) {
  results_[static_cast<int>(stage) * kResults + static_cast<int>(result)]
      .fetch_add(1, kRelaxed);
  if (result == Result::kFailed) return;
  double seconds = absl::ToDoubleSeconds(elapsed);
  size_t bucket = 0;
  while (bucket < kLatencyBuckets.size() && seconds > kLatencyBuckets[bucket]) {
    ++bucket;
  }
  latency_[bucket].fetch_add(1, kRelaxed);
  int64_t nanos = absl::ToInt64Nanoseconds(elapsed);
  latency_nanos_.fetch_add(nanos > 0 ? static_cast<uint64_t>(nanos) : 0,
                           kRelaxed);
}

void ChildSeries::Failed(Stage stage, Failure kind) {
  failures_[static_cast<int>(kind)].fetch_add(1, kRelaxed);
  if (kind == Failure::kTimeout) {
    timeouts_[static_cast<int>(stage)].fetch_add(1, kRelaxed);
  }
}

void ChildSeries::Stopped(const std::string& condition) {
  absl::MutexLock lock(&stops_mu_);
  ++stops_[condition];
}

uint64_t ChildSeries::results(Stage stage, Result result) const {
  return results_[static_cast<int>(stage) * kResults + static_cast<int>(result)]
      .load(kRelaxed);
}

uint64_t ChildSeries::failures(Failure kind) const {
  return failures_[static_cast<int>(kind)].load(kRelaxed);
}

uint64_t ChildSeries::timeouts(Stage stage) const {
  return timeouts_[static_cast<int>(stage)].load(kRelaxed);
}

uint64_t ChildSeries::stops(const std::string& condition) const {
  absl::MutexLock lock(&stops_mu_);
  auto it = stops_.find(condition);
  return it == stops_.end() ? 0 : it->second;
}

std::array<uint64_t, kLatencyBuckets.size()> ChildSeries::buckets() const {
  std::array<uint64_t, kLatencyBuckets.size()> out{};
  uint64_t sum = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    sum += latency_[i].load(kRelaxed);
    out[i] = sum;
  }
  return out;
}

uint64_t ChildSeries::answers() const {
  uint64_t sum = 0;
  for (const auto& c : latency_) sum += c.load(kRelaxed);
  return sum;
}

double ChildSeries::answer_seconds() const {
  return static_cast<double>(latency_nanos_.load(kRelaxed)) / 1e9;
}

// Metrics

ChildSeries* Metrics::Child(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto it = by_name_.find(name);
  if (it != by_name_.end()) return it->second;
  children_.push_back(std::make_unique<ChildSeries>(name));
  ChildSeries* series = children_.back().get();
  by_name_.emplace(name, series);
  return series;
}

std::string Metrics::Render(const std::vector<ChildState>& states) const {
  std::string out;
  Family(&out, "milter_manager_start_time_seconds", "gauge",
         "When the manager started, in seconds since the Unix epoch.");
  absl::StrAppend(&out, "milter_manager_start_time_seconds ",
                  Seconds(absl::ToDoubleSeconds(start_ - absl::UnixEpoch())),
                  "\n");
  Family(&out, "milter_manager_sessions_total", "counter",
         "MTA sessions (connections) served.");
  absl::StrAppend(&out, "milter_manager_sessions_total ",
                  sessions_total_.load(kRelaxed), "\n");
  Family(&out, "milter_manager_sessions_active", "gauge",
         "MTA sessions in progress.");
  absl::StrAppend(&out, "milter_manager_sessions_active ",
                  sessions_active_.load(kRelaxed), "\n");
  Family(&out, "milter_manager_messages_total", "counter",
         "Messages by the manager's verdict.");
  for (int v = 0; v < static_cast<int>(Verdict::kCount); ++v) {
    absl::StrAppend(&out, "milter_manager_messages_total{verdict=\"",
                    kVerdictLabels[v], "\"} ", messages_[v].load(kRelaxed),
                    "\n");
  }
  RenderChildren(&out);
  Family(&out, "milter_manager_child_restarts_total", "counter",
         "Times the manager restarted the child's command.");
  for (const ChildState& s : states) {
    absl::StrAppend(&out, "milter_manager_child_restarts_total{child=\"",
                    LabelValue(s.name), "\"} ", s.restarts, "\n");
  }
  Family(&out, "milter_manager_child_state", "gauge",
         "The child's health: 1 for its current state, 0 for the others.");
  for (const ChildState& s : states) {
    for (int h = 0; h < 4; ++h) {
      bool current = static_cast<int>(s.health) == h;
      absl::StrAppend(&out, "milter_manager_child_state{child=\"",
                      LabelValue(s.name), "\",state=\"", kHealthLabels[h],
                      "\"} ", current ? 1 : 0, "\n");
    }
  }
  return out;
}

void Metrics::RenderChildren(std::string* out) const {
  std::vector<const ChildSeries*> children;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& c : children_) children.push_back(c.get());
  }
  Family(out, "milter_manager_child_results_total", "counter",
         "Children's answers by stage and status (failed: no answer).");
  for (const ChildSeries* c : children) {
    std::string child = LabelValue(c->name());
    for (int s = 0; s < ChildSeries::kStages; ++s) {
      for (int r = 0; r < ChildSeries::kResults; ++r) {
        uint64_t n = c->results_[s * ChildSeries::kResults + r].load(kRelaxed);
        if (n == 0) continue;
        absl::StrAppend(out, "milter_manager_child_results_total{child=\"",
                        child, "\",stage=\"", kStageLabels[s], "\",status=\"",
                        kResultLabels[r], "\"} ", n, "\n");
      }
    }
  }
  Family(out, "milter_manager_child_answer_seconds", "histogram",
         "Time a child took to answer a stage.");
  for (const ChildSeries* c : children) {
    std::string child = LabelValue(c->name());
    std::array<uint64_t, kLatencyBuckets.size()> buckets = c->buckets();
    for (size_t i = 0; i < buckets.size(); ++i) {
      absl::StrAppend(
          out, "milter_manager_child_answer_seconds_bucket{child=\"", child,
          "\",le=\"", absl::StrFormat("%g", kLatencyBuckets[i]), "\"} ",
          buckets[i], "\n");
    }
    absl::StrAppend(out, "milter_manager_child_answer_seconds_bucket{child=\"",
                    child, "\",le=\"+Inf\"} ", c->answers(), "\n",
                    "milter_manager_child_answer_seconds_sum{child=\"", child,
                    "\"} ", Seconds(c->answer_seconds()), "\n",
                    "milter_manager_child_answer_seconds_count{child=\"", child,
                    "\"} ", c->answers(), "\n");
  }
  Family(out, "milter_manager_child_failures_total", "counter",
         "Children's failures (fallback status applied) by kind.");
  for (const ChildSeries* c : children) {
    for (int k = 0; k < static_cast<int>(Failure::kCount); ++k) {
      absl::StrAppend(out, "milter_manager_child_failures_total{child=\"",
                      LabelValue(c->name()), "\",kind=\"", kFailureLabels[k],
                      "\"} ", c->failures_[k].load(kRelaxed), "\n");
    }
  }
  Family(out, "milter_manager_child_timeouts_total", "counter",
         "Children that did not answer in time, by stage.");
  for (const ChildSeries* c : children) {
    for (int s = 0; s < ChildSeries::kStages; ++s) {
      uint64_t n = c->timeouts_[s].load(kRelaxed);
      if (n == 0) continue;
      absl::StrAppend(out, "milter_manager_child_timeouts_total{child=\"",
                      LabelValue(c->name()), "\",stage=\"", kStageLabels[s],
                      "\"} ", n, "\n");
    }
  }
  Family(out, "milter_manager_condition_stops_total", "counter",
         "Times an applicable condition stopped a child.");
  for (const ChildSeries* c : children) {
    absl::MutexLock lock(&c->stops_mu_);
    for (const auto& [condition, n] : c->stops_) {
      absl::StrAppend(out, "milter_manager_condition_stops_total{child=\"",
                      LabelValue(c->name()), "\",condition=\"",
                      LabelValue(condition), "\"} ", n, "\n");
    }
  }
}

// SessionRecorder

SessionRecorder::SessionRecorder(std::shared_ptr<Metrics> metrics)
    : metrics_(std::move(metrics)) {
  if (metrics_ != nullptr) metrics_->SessionStarted();
}

SessionRecorder::~SessionRecorder() {
  if (metrics_ != nullptr) metrics_->SessionEnded();
}

ChildSeries* SessionRecorder::Series(const std::string& child) {
  for (ChildSeries* s : seen_) {
    if (s->name() == child) return s;
  }
  seen_.push_back(metrics_->Child(child));
  return seen_.back();
}

void SessionRecorder::ChildResult(const std::string& child,
                                  std::string_view stage,
                                  std::string_view status,
                                  absl::Duration elapsed,
                                  const absl::Status& error) {
  if (metrics_ == nullptr) return;
  ChildSeries* series = Series(child);
  Stage s = StageOf(stage);
  Result r = ResultOf(status);
  series->Record(s, r, elapsed);
  if (r == Result::kFailed) series->Failed(s, FailureOf(error, false));
}

void SessionRecorder::ChildUnavailable(const std::string& child,
                                       const absl::Status& error) {
  if (metrics_ == nullptr) return;
  Series(child)->Failed(Stage::kOpen, FailureOf(error, true));
}

void SessionRecorder::Stopped(const std::string& child,
                              const std::string& condition) {
  if (metrics_ == nullptr) return;
  Series(child)->Stopped(condition);
}

void SessionRecorder::MessageDone(std::string_view verdict) {
  if (metrics_ == nullptr) return;
  metrics_->MessageDone(VerdictOf(verdict));
}

}  // namespace milter::manager::metrics
