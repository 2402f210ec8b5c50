// ScriptedChild: a scripted filter on milter/client, served on a thread.

#include "manager/core/scripted_child.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace milter::manager::testing {
namespace {

using client::Context;
using client::Status;

class ScriptedFilter : public client::Filter {
 public:
  ScriptedFilter(const ChildScript* script, ChildLog* log)
      : script_(script), log_(log) {}

  Status OnConnect(Context& ctx, const client::ConnectionInfo& info) override {
    Record("connect " + info.hostname);
    return Run(script_->connect, ctx);
  }
  Status OnHelo(Context& ctx, std::string_view name) override {
    Record("helo " + std::string(name));
    return Run(script_->helo, ctx);
  }
  Status OnMailFrom(Context& ctx, std::string_view address,
                    client::EsmtpArgs) override {
    body_.clear();
    Record("mail " + std::string(address));
    return Run(script_->mail, ctx);
  }
  Status OnRcptTo(Context& ctx, std::string_view address,
                  client::EsmtpArgs) override {
    Record("rcpt " + std::string(address));
    return script_->rcpt ? script_->rcpt(ctx, address) : Status::kContinue;
  }
  Status OnData(Context& ctx) override {
    Record("data");
    return Run(script_->data, ctx);
  }
  Status OnHeader(Context& ctx, std::string_view name,
                  std::string_view value) override {
    Record("header " + std::string(name) + ":" + std::string(value));
    return script_->header ? script_->header(ctx, name, value)
                           : Status::kContinue;
  }
  Status OnEndOfHeaders(Context& ctx) override {
    Record("eoh");
    return Run(script_->eoh, ctx);
  }
  Status OnBody(Context&, std::string_view chunk) override {
    body_.append(chunk);
    return Status::kContinue;
  }
  Status OnEndOfMessage(Context& ctx) override {
    Record("eom");
    {
      std::lock_guard<std::mutex> lock(log_->mu);
      log_->bodies.push_back(body_);
    }
    return Run(script_->eom, ctx);
  }
  void OnAbort(Context&) override { Record("abort"); }

 private:
  static Status Run(const ChildScript::Hook& hook, Context& ctx) {
    return hook ? hook(ctx) : Status::kContinue;
  }
  void Record(std::string event) {
    std::lock_guard<std::mutex> lock(log_->mu);
    log_->events.push_back(std::move(event));
    log_->changed.notify_all();
  }

  const ChildScript* script_;
  ChildLog* log_;
  std::string body_;
};

}  // namespace

ScriptedChild::ScriptedChild(const std::string& dir, const std::string& name,
                             ChildScript script)
    : spec_(absl::StrCat("unix:", dir, "/", name, ".sock")),
      log_(std::make_shared<ChildLog>()) {
  auto shared_script = std::make_shared<ChildScript>(std::move(script));
  ChildLog* log = log_.get();
  client::FilterOptions options = shared_script->options;
  client::FilterFactory factory = client::MakeFilterFactory<ScriptedFilter>(
      std::function<std::unique_ptr<ScriptedFilter>()>([shared_script, log] {
        return std::make_unique<ScriptedFilter>(shared_script.get(), log);
      }),
      options);
  client::RunnerOptions runner_options;
  runner_options.listen = {spec_};
  runner_options.worker_threads = 0;
  runner_options.handle_signals = false;
  // Going away closes the connections at once (a child that dies).
  runner_options.shutdown_deadline = std::chrono::milliseconds(0);
  runner_ = std::make_unique<client::Runner>(std::move(factory),
                                             std::move(runner_options));
  absl::Status listening = runner_->Listen();
  if (!listening.ok()) {
    spec_ = "unix:/nonexistent/listen-failed";
    return;
  }
  thread_ = std::thread([this] { (void)runner_->Run(); });
}

ScriptedChild::~ScriptedChild() {
  if (thread_.joinable()) {
    runner_->Stop();
    thread_.join();
  }
}

}  // namespace milter::manager::testing
