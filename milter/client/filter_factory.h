// Makes one filter object per MTA connection and decides what the filter
// negotiates by default: the callbacks a class overrides are detected at
// compile time and the MTA is told not to send the other stages.
//
//   FilterOptions options;
//   options.protocol = codec::protocol::kNoReplyHeader;
//   FilterFactory f = MakeFilterFactory<MyFilter>(options);

#ifndef MILTER_CLIENT_FILTER_FACTORY_H_
#define MILTER_CLIENT_FILTER_FACTORY_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include "milter/client/filter.h"
#include "milter/codec/protocol.h"

namespace milter::client {

// Bits naming filter callbacks (the stages an MTA may be told not to send).
namespace callback {
inline constexpr uint32_t kConnect = 1 << 0;
inline constexpr uint32_t kHelo = 1 << 1;
inline constexpr uint32_t kMail = 1 << 2;
inline constexpr uint32_t kRcpt = 1 << 3;
inline constexpr uint32_t kData = 1 << 4;
inline constexpr uint32_t kUnknown = 1 << 5;
inline constexpr uint32_t kHeader = 1 << 6;
inline constexpr uint32_t kEndOfHeaders = 1 << 7;
inline constexpr uint32_t kBody = 1 << 8;
inline constexpr uint32_t kAll = (1 << 9) - 1;
}  // namespace callback

struct FilterOptions {
  // Actions to request; unset: every action the MTA offers.
  std::optional<uint32_t> actions;
  // Protocol flags to request on top of the derived "don't send" ones:
  // kNoReply*, kHeaderLeadingSpace, kSkip, kRcptRejected, kMaxDataSize*.
  // Flags the MTA lacks are emulated by the library.
  uint32_t protocol = 0;
  // Callbacks to ask the MTA for; unset: those the class overrides.
  std::optional<uint32_t> callbacks;
  // Macro lists per stage (codec::MacroStage index), e.g. "i {auth_authen}".
  std::array<std::optional<std::string>, codec::kNumMacroStages> symbol_lists;
};

class FilterFactory {
 public:
  using MakeSync = std::function<std::unique_ptr<Filter>()>;
  using MakeCoroutine = std::function<std::unique_ptr<CoroutineFilter>()>;

  FilterFactory(MakeSync make, uint32_t overridden, FilterOptions options);
  FilterFactory(MakeCoroutine make, uint32_t overridden, FilterOptions options);

  bool is_sync() const { return static_cast<bool>(make_sync_); }
  std::unique_ptr<Filter> NewSync() const { return make_sync_(); }
  std::unique_ptr<CoroutineFilter> NewCoroutine() const {
    return make_coroutine_();
  }
  // Callbacks the MTA is asked to send.
  uint32_t callbacks() const { return callbacks_; }
  const FilterOptions& options() const { return options_; }

  // The default negotiation for an MTA's offer (before OnNegotiate).
  Negotiation DefaultNegotiation(const codec::OptionNegotiation& offer) const;

 private:
  MakeSync make_sync_;
  MakeCoroutine make_coroutine_;
  uint32_t callbacks_;
  FilterOptions options_;
};

namespace internal {
template <class F, class Base>
constexpr uint32_t OverriddenCallbacks() {
#define MILTER_OVERRIDDEN_(name, bit) \
  (std::is_same_v<decltype(&F::name), decltype(&Base::name)> ? 0u : bit)
  return MILTER_OVERRIDDEN_(OnConnect, callback::kConnect) |
         MILTER_OVERRIDDEN_(OnHelo, callback::kHelo) |
         MILTER_OVERRIDDEN_(OnMailFrom, callback::kMail) |
         MILTER_OVERRIDDEN_(OnRcptTo, callback::kRcpt) |
         MILTER_OVERRIDDEN_(OnData, callback::kData) |
         MILTER_OVERRIDDEN_(OnUnknown, callback::kUnknown) |
         MILTER_OVERRIDDEN_(OnHeader, callback::kHeader) |
         MILTER_OVERRIDDEN_(OnEndOfHeaders, callback::kEndOfHeaders) |
         MILTER_OVERRIDDEN_(OnBody, callback::kBody);
#undef MILTER_OVERRIDDEN_
}
}  // namespace internal

// `F` derives from Filter or CoroutineFilter and overrides its callbacks
// publicly. `make` builds one per connection.
template <class F>
FilterFactory MakeFilterFactory(std::function<std::unique_ptr<F>()> make,
                                FilterOptions options = {}) {
  if constexpr (std::is_base_of_v<Filter, F>) {
    return FilterFactory(
        FilterFactory::MakeSync(
            [make]() -> std::unique_ptr<Filter> { return make(); }),
        internal::OverriddenCallbacks<F, Filter>(), std::move(options));
  } else {
    static_assert(std::is_base_of_v<CoroutineFilter, F>,
                  "F must derive from Filter or CoroutineFilter");
    return FilterFactory(
        FilterFactory::MakeCoroutine(
            [make]() -> std::unique_ptr<CoroutineFilter> { return make(); }),
        internal::OverriddenCallbacks<F, CoroutineFilter>(),
        std::move(options));
  }
}

// For a default-constructible `F`.
template <class F>
FilterFactory MakeFilterFactory(FilterOptions options = {}) {
  return MakeFilterFactory<F>(
      std::function<std::unique_ptr<F>()>([] { return std::make_unique<F>(); }),
      std::move(options));
}

}  // namespace milter::client

#endif  // MILTER_CLIENT_FILTER_FACTORY_H_
