// The pickle interpreter on arbitrary bytes, with callbacks that accept every REDUCE and persistent
// id (returning an opaque value), so the fuzzer reaches every opcode path behind them.
#include "formats/pickle.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using hpa::formats::PickleValue;
  hpa::formats::PickleCallbacks callbacks;
  callbacks.reduce = [](const std::string&, const PickleValue&) { return PickleValue::make(PickleValue::Kind::opaque); };
  callbacks.persistent_load = [](const PickleValue&) { return PickleValue::make(PickleValue::Kind::opaque); };
  return hpa::fuzz::guarded([&] {
    size_t consumed = 0;
    auto value = hpa::formats::unpickle("fuzz", data, size, callbacks, &consumed);
    if (consumed > size) std::abort();
    (void)value->describe();
  });
}
