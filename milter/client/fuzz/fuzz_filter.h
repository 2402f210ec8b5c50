// The filter the engine fuzzer drives: every callback's behaviour (verdict,
// reply, progress, modifications, suspension) is chosen by the fuzz input's
// choice bytes. It checks what the engine hands it (stage, data, call order)
// and records what it asked for, so the harness can check what the engine
// then put on the wire. Brain (brain.cc) decides and records; the filter
// objects (fuzz_filter.cc) check the calls and forward them.

#ifndef MILTER_CLIENT_FUZZ_FUZZ_FILTER_H_
#define MILTER_CLIENT_FUZZ_FUZZ_FILTER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "milter/client/context.h"
#include "milter/client/filter.h"
#include "milter/client/filter_factory.h"
#include "milter/client/status.h"
#include "milter/codec/message.h"
#include "tests/fuzz/fuzz_util.h"

namespace milter::client::fuzz {

struct FilterConfig {
  bool coroutine = false;
  uint32_t callbacks = callback::kAll;  // stages asked for
  std::optional<uint32_t> actions;      // unset: every action offered
  uint32_t protocol = 0;                // FilterOptions::protocol
  bool symbol_lists = false;
  // Bytes of replies and modifications the filter may ask for in all (keeps
  // runs fast; the harness bounds the output by what was asked).
  size_t budget = 0;
};

// One modification as the wire must carry it: its response code and, for
// replace-body, the bytes (consecutive calls merge).
struct ModRecord {
  char code = 0;
  size_t body_bytes = 0;
};

// What the filter did while the engine handled one command.
struct Observed {
  int callbacks = 0;
  Status last_status = Status::kContinue;
  std::optional<std::string> reply;  // the reply in force for this command
  int progress = 0;
  std::vector<ModRecord> mods;
};

class Brain {
 public:
  Brain(milter::fuzz::Choices* choices, FilterConfig config);
  ~Brain();
  Brain(const Brain&) = delete;
  Brain& operator=(const Brain&) = delete;

  const FilterConfig& config() const { return config_; }
  // Called by the harness around each command. `command` must outlive the
  // matching EndCommand().
  void BeginCommand(const codec::Command& command);
  void EndCommand();
  const Observed& observed() const { return observed_; }
  // Bytes of replies, progress and modifications asked for so far.
  size_t requested_bytes() const { return requested_; }
  int live_filters() const { return live_; }

  // --- For the filter objects.
  void Made() { ++live_; }
  void Destroyed() { --live_; }
  Status OnNegotiate(Context& ctx, Negotiation& n);
  // A stage callback; `data` is what the stage carries (host name, address,
  // header value, body chunk...), already checked by the caller.
  Status OnStage(Context& ctx, Stage stage, std::string_view data);
  void OnAbort(Context& ctx);
  void OnClose(Context& ctx);
  // Whether a coroutine filter suspends before it answers (last decision).
  bool suspend() const { return suspend_; }
  const codec::Command* command() const { return command_; }

 private:
  void TrySetReply(Context& ctx, bool allowed);
  void TryProgress(Context& ctx, bool allowed);
  void TryOutsideEom(Context& ctx);
  void Modify(Context& ctx);
  void ModifyOne(Context& ctx, int which);
  std::string Value(uint8_t how);
  std::string Name(uint8_t how);
  std::string Address(uint8_t how);
  bool Spend(size_t bytes);
  void Record(char code, size_t body_bytes = 0);

  milter::fuzz::Choices* choices_;
  FilterConfig config_;
  Observed observed_;
  const codec::Command* command_ = nullptr;
  std::string message_data_;  // bytes seen this session, for echoing back
  std::string last_header_;
  bool body_skipped_ = false;
  bool suspend_ = false;
  size_t requested_ = 0;
  size_t spent_ = 0;
  int live_ = 0;
};

// A factory making sync or coroutine filters that forward to `brain`.
FilterFactory MakeFuzzFilterFactory(Brain* brain);

}  // namespace milter::client::fuzz

#endif  // MILTER_CLIENT_FUZZ_FUZZ_FILTER_H_
