// Milter::Store: the Ruby face of SharedStore (store.h). Class methods get,
// set(key, value, ttl: seconds), incr(key, by = 1, ttl: seconds), delete,
// key?, ttl. Keys are Strings or Symbols (at most kMaxKey bytes), values
// Strings (at most kMaxValue bytes) or Integers; a ttl is a positive number
// of seconds (Integer or Float), none meaning no expiry.

#include <mruby.h>
#include <mruby/class.h>
#include <mruby/string.h>

#include <cmath>
#include <string>
#include <variant>

#include "manager/script/api_util.h"
#include "manager/script/store.h"

namespace milter::manager::script::api {
namespace {

constexpr mrb_int kMaxKey = 1024;
constexpr mrb_int kMaxValue = 65536;

// Raises unless the engine has a store.
SharedStore* StoreOf(mrb_state* mrb) {
  SharedStore* store = EngineOf(mrb)->store();
  if (store == nullptr) {
    mrb_raise(mrb, E_RUNTIME_ERROR,
              "Milter::Store: no shared store is configured");
  }
  return store;
}

// Raises unless `key` is a String or Symbol of a valid size.
std::string_view Key(mrb_state* mrb, mrb_value* key) {
  if (mrb_symbol_p(*key)) *key = mrb_sym_str(mrb, mrb_symbol(*key));
  if (!mrb_string_p(*key)) {
    mrb_raise(mrb, E_TYPE_ERROR, "Milter::Store: a key is a String or Symbol");
  }
  if (RSTRING_LEN(*key) == 0 || RSTRING_LEN(*key) > kMaxKey) {
    mrb_raise(mrb, E_ARGUMENT_ERROR,
              "Milter::Store: a key has 1 to 1024 bytes");
  }
  return View(*key);
}

// The ttl: keyword (undef/nil: no expiry). Raises unless positive.
absl::Duration Ttl(mrb_state* mrb, mrb_value ttl) {
  if (mrb_undef_p(ttl) || mrb_nil_p(ttl)) return absl::InfiniteDuration();
  double seconds = 0;
  if (mrb_integer_p(ttl)) {
    seconds = static_cast<double>(mrb_integer(ttl));
  } else if (mrb_float_p(ttl)) {
    seconds = mrb_float(ttl);
  } else {
    mrb_raise(mrb, E_TYPE_ERROR, "Milter::Store: ttl is a number of seconds");
  }
  if (!(seconds > 0) || std::isinf(seconds)) {
    mrb_raise(mrb, E_ARGUMENT_ERROR,
              "Milter::Store: ttl must be a positive, finite number of "
              "seconds");
  }
  return absl::Seconds(seconds);
}

mrb_value ToRuby(mrb_state* mrb, const SharedStore::Value& value) {
  if (const int64_t* n = std::get_if<int64_t>(&value)) {
    return mrb_int_value(mrb, *n);
  }
  return Str(mrb, std::get<std::string>(value));
}

mrb_value Get(mrb_state* mrb, mrb_value) {
  mrb_value key;
  mrb_get_args(mrb, "o", &key);
  SharedStore* store = StoreOf(mrb);
  std::string_view k = Key(mrb, &key);
  std::optional<SharedStore::Value> value = store->Get(k);
  return value ? ToRuby(mrb, *value) : mrb_nil_value();
}

void DoSet(SharedStore* store, std::string_view key, mrb_value value,
           absl::Duration ttl) {
  if (mrb_integer_p(value)) {
    store->Set(key, int64_t{mrb_integer(value)}, ttl);
  } else {
    store->Set(key, std::string(View(value)), ttl);
  }
}

mrb_value Set(mrb_state* mrb, mrb_value) {
  mrb_value key, value;
  mrb_sym names[1] = {mrb_intern_lit(mrb, "ttl")};
  mrb_value values[1];
  mrb_kwargs kwargs = {1, 0, names, values, nullptr};
  mrb_get_args(mrb, "oo:", &key, &value, &kwargs);
  SharedStore* store = StoreOf(mrb);
  std::string_view k = Key(mrb, &key);
  absl::Duration ttl = Ttl(mrb, values[0]);
  if (!mrb_integer_p(value) && !mrb_string_p(value)) {
    mrb_raise(mrb, E_TYPE_ERROR,
              "Milter::Store: a value is a String or an Integer");
  }
  if (mrb_string_p(value) && RSTRING_LEN(value) > kMaxValue) {
    mrb_raise(mrb, E_ARGUMENT_ERROR,
              "Milter::Store: a String value has at most 65536 bytes");
  }
  DoSet(store, k, value, ttl);
  return value;
}

struct Count {
  bool ok;
  int64_t value;
};

Count DoIncrement(SharedStore* store, std::string_view key, int64_t by,
                  absl::Duration ttl) {
  absl::StatusOr<int64_t> count = store->Increment(key, by, ttl);
  return count.ok() ? Count{true, *count} : Count{false, 0};
}

mrb_value Incr(mrb_state* mrb, mrb_value) {
  mrb_value key;
  mrb_int by = 1;
  mrb_sym names[1] = {mrb_intern_lit(mrb, "ttl")};
  mrb_value values[1];
  mrb_kwargs kwargs = {1, 0, names, values, nullptr};
  mrb_get_args(mrb, "o|i:", &key, &by, &kwargs);
  SharedStore* store = StoreOf(mrb);
  std::string_view k = Key(mrb, &key);
  absl::Duration ttl = Ttl(mrb, values[0]);
  Count count = DoIncrement(store, k, by, ttl);
  if (!count.ok) {
    mrb_raisef(mrb, E_TYPE_ERROR,
               "Milter::Store.incr: %v holds a String, not a count", key);
  }
  return mrb_int_value(mrb, count.value);
}

mrb_value Delete(mrb_state* mrb, mrb_value) {
  mrb_value key;
  mrb_get_args(mrb, "o", &key);
  SharedStore* store = StoreOf(mrb);
  return mrb_bool_value(store->Delete(Key(mrb, &key)));
}

mrb_value HasKey(mrb_state* mrb, mrb_value) {
  mrb_value key;
  mrb_get_args(mrb, "o", &key);
  SharedStore* store = StoreOf(mrb);
  return mrb_bool_value(store->Contains(Key(mrb, &key)));
}

// ttl(key): seconds left as a Float, Float::INFINITY without expiry, nil
// when missing.
mrb_value TtlOf(mrb_state* mrb, mrb_value) {
  mrb_value key;
  mrb_get_args(mrb, "o", &key);
  SharedStore* store = StoreOf(mrb);
  std::optional<absl::Duration> left = store->Ttl(Key(mrb, &key));
  if (!left) return mrb_nil_value();
  if (*left == absl::InfiniteDuration()) {
    return mrb_float_value(mrb, HUGE_VAL);
  }
  return mrb_float_value(mrb, absl::ToDoubleSeconds(*left));
}

}  // namespace

void InstallStoreApi(mrb_state* mrb) {
  RClass* milter = mrb_define_module(mrb, "Milter");
  RClass* store = mrb_define_module_under(mrb, milter, "Store");
  mrb_define_module_function(mrb, store, "get", Get, MRB_ARGS_REQ(1));
  mrb_define_module_function(mrb, store, "[]", Get, MRB_ARGS_REQ(1));
  mrb_define_module_function(mrb, store, "set", Set, MRB_ARGS_ANY());
  mrb_define_module_function(mrb, store, "incr", Incr, MRB_ARGS_ANY());
  mrb_define_module_function(mrb, store, "delete", Delete, MRB_ARGS_REQ(1));
  mrb_define_module_function(mrb, store, "key?", HasKey, MRB_ARGS_REQ(1));
  mrb_define_module_function(mrb, store, "ttl", TtlOf, MRB_ARGS_REQ(1));
}

}  // namespace milter::manager::script::api
