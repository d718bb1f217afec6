// A small, strict interpreter for the subset of Python's pickle format that torch.save writes
// (protocols 2-4: dicts, tuples, strings, numbers, globals, REDUCE/BUILD and persistent ids).
// It builds a value tree and never executes anything: REDUCE and persistent ids are handed to
// callbacks that decide what a known global means, and reject the rest.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace hpa::formats {

struct PickleValue;
using PickleValuePtr = std::shared_ptr<PickleValue>;

struct PickleValue {
  enum class Kind {
    none,
    boolean,
    integer,
    floating,
    string,
    bytes,
    tuple,
    list,
    dict,
    global,
    tensor,
    opaque
  };
  Kind kind = Kind::none;
  bool boolean = false;
  int64_t integer = 0;
  double floating = 0.0;
  std::string text;                   // string, bytes, or "module.name" of a global
  std::vector<PickleValuePtr> items;  // tuple and list elements; dict as key, value, key, value...
  at::Tensor tensor;                  // kind == tensor (built by a callback)

  PickleValue() = default;
  PickleValue(const PickleValue&) = default;
  PickleValue(PickleValue&&) = default;
  PickleValue& operator=(const PickleValue&) = default;
  PickleValue& operator=(PickleValue&&) = default;
  // Releases nested items with a loop, not recursion: a pickle can nest lists as deep as it has
  // bytes, and the recursive default destructor overflowed the stack (found by fuzzing).
  ~PickleValue();

  static PickleValuePtr make(Kind kind);
  std::string describe() const;  // short type name for error messages
};

struct PickleCallbacks {
  // Called for REDUCE and NEWOBJ with the global "module.name" and the argument tuple.
  std::function<PickleValuePtr(const std::string& global, const PickleValue& args)> reduce;
  // Called for BINPERSID with the persistent id.
  std::function<PickleValuePtr(const PickleValue& persistent_id)> persistent_load;
};

// Interprets the pickle at the start of `data`; throws hpa::Error naming `source` and the byte
// offset on anything malformed or unsupported. `consumed` (optional) receives the bytes up to and
// including its STOP, where a following pickle would start.
PickleValuePtr unpickle(const std::string& source, const uint8_t* data, size_t size,
                        const PickleCallbacks& callbacks, size_t* consumed = nullptr);

}  // namespace hpa::formats
