// The pickle virtual machine: a value stack, a mark stack and a memo; bounds-checked reads only.
#include "formats/pickle.hpp"

#include "common/error.hpp"

#include <cstring>
#include <unordered_map>
#include <unordered_set>

namespace hpa::formats {

PickleValuePtr PickleValue::make(Kind kind) {
  auto value = std::make_shared<PickleValue>();
  value->kind = kind;
  return value;
}

PickleValue::~PickleValue() {
  std::vector<PickleValuePtr> pending = std::move(items);
  while (!pending.empty()) {
    PickleValuePtr value = std::move(pending.back());
    pending.pop_back();
    if (value.use_count() == 1) {  // the last owner: take its items before it goes
      for (PickleValuePtr& item : value->items) pending.push_back(std::move(item));
      value->items.clear();
    }
  }
}

std::string PickleValue::describe() const {
  switch (kind) {
    case Kind::none:
      return "None";
    case Kind::boolean:
      return "bool";
    case Kind::integer:
      return "int";
    case Kind::floating:
      return "float";
    case Kind::string:
      return "str";
    case Kind::bytes:
      return "bytes";
    case Kind::tuple:
      return "tuple";
    case Kind::list:
      return "list";
    case Kind::dict:
      return "dict";
    case Kind::global:
      return "global " + text;
    case Kind::tensor:
      return "tensor";
    case Kind::opaque:
      return "object " + text;
  }
  return "?";
}

namespace {

using Kind = PickleValue::Kind;

class Machine {
 public:
  Machine(const std::string& source, const uint8_t* data, size_t size, const PickleCallbacks& callbacks)
      : source_(source), data_(data), size_(size), callbacks_(callbacks) {}

  size_t position() const { return pos_; }

  PickleValuePtr run() {
    while (true) {
      opcode_offset_ = pos_;
      const uint8_t opcode = read_u8();
      if (opcode == '.') {  // STOP
        if (stack_.size() != 1) fail("STOP with " + std::to_string(stack_.size()) + " values on the stack");
        return stack_.back();
      }
      step(opcode);
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    HPA_FAIL(source_ << ": malformed pickle at byte " << opcode_offset_ << ": " << what);
  }

  void need(size_t count) const {
    if (count > size_ - pos_) fail("truncated (needs " + std::to_string(count) + " more bytes)");
  }
  uint8_t read_u8() {
    need(1);
    return data_[pos_++];
  }
  uint64_t read_le(size_t count) {
    need(count);
    uint64_t value = 0;
    for (size_t i = 0; i < count; ++i) value |= static_cast<uint64_t>(data_[pos_ + i]) << (8 * i);
    pos_ += count;
    return value;
  }
  std::string read_bytes(uint64_t count) {
    if (count > size_ - pos_) fail("truncated string of " + std::to_string(count) + " bytes");
    std::string bytes(reinterpret_cast<const char*>(data_ + pos_), count);
    pos_ += count;
    return bytes;
  }
  std::string read_line() {
    std::string line;
    while (true) {
      const uint8_t c = read_u8();
      if (c == '\n') return line;
      line.push_back(static_cast<char>(c));
    }
  }

  void push(PickleValuePtr value) { stack_.push_back(std::move(value)); }
  PickleValuePtr pop() {
    if (stack_.size() <= mark_floor()) fail("stack underflow");
    PickleValuePtr value = std::move(stack_.back());
    stack_.pop_back();
    return value;
  }
  PickleValuePtr& top() {
    if (stack_.size() <= mark_floor()) fail("stack underflow");
    return stack_.back();
  }
  size_t mark_floor() const { return marks_.empty() ? 0 : marks_.back(); }
  // Pops everything above the latest MARK, and the mark.
  std::vector<PickleValuePtr> pop_to_mark() {
    if (marks_.empty()) fail("no MARK on the stack");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<PickleValuePtr> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }

  PickleValuePtr make_string(Kind kind, std::string text) {
    PickleValuePtr value = PickleValue::make(kind);
    value->text = std::move(text);
    return value;
  }
  PickleValuePtr make_integer(int64_t number) {
    PickleValuePtr value = PickleValue::make(Kind::integer);
    value->integer = number;
    return value;
  }
  PickleValuePtr make_tuple(std::vector<PickleValuePtr> items) {
    PickleValuePtr value = PickleValue::make(Kind::tuple);
    value->items = std::move(items);
    return value;
  }

  void add_to_container(const PickleValuePtr& container, std::vector<PickleValuePtr> items, bool pairs) {
    if (pairs) {
      if (container->kind != Kind::dict) fail("SETITEM(S) on a " + container->describe());
      if (items.size() % 2 != 0) fail("SETITEMS with an odd number of values");
    } else if (container->kind != Kind::list) {
      fail("APPEND(S) on a " + container->describe());
    }
    // A container reachable from its own items would be a shared_ptr cycle, never freed (a memo
    // reference to a list appended to itself, say). No state_dict has one: refused.
    for (const auto& item : items)
      if (reaches(item.get(), container.get())) fail("a " + container->describe() + " that contains itself");
    for (auto& item : items) container->items.push_back(std::move(item));
  }

  // The walk is bounded in total: lists appended bottom-up, each walked again one level deeper,
  // would take quadratic time (hours for a 2 MB pickle). A state_dict needs a few steps per value.
  bool reaches(const PickleValue* from, const PickleValue* target) {
    std::vector<const PickleValue*> pending{from};
    std::unordered_set<const PickleValue*> seen;
    while (!pending.empty()) {
      const PickleValue* value = pending.back();
      pending.pop_back();
      if (walk_budget_ == 0) fail("containers nested too deeply to check for reference cycles");
      --walk_budget_;
      if (value == target) return true;
      if (!seen.insert(value).second) continue;
      for (const PickleValuePtr& item : value->items) pending.push_back(item.get());
    }
    return false;
  }

  PickleValuePtr call_reduce(const PickleValuePtr& callable, const PickleValuePtr& args) {
    if (callable->kind != Kind::global) fail("REDUCE of a " + callable->describe());
    if (args->kind != Kind::tuple) fail("REDUCE with arguments of type " + args->describe());
    if (!callbacks_.reduce) fail("unsupported object " + callable->text);
    PickleValuePtr result = callbacks_.reduce(callable->text, *args);
    if (!result) fail("unsupported object " + callable->text);
    return result;
  }

  void memo_put(uint64_t key) { memo_[key] = top(); }
  void memo_get(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) fail("memo key " + std::to_string(key) + " was never stored");
    push(it->second);
  }

  void step(uint8_t opcode) {
    switch (opcode) {
      case 0x80: {  // PROTO
        const uint8_t protocol = read_u8();
        if (protocol > 5) fail("pickle protocol " + std::to_string(protocol) + " is not supported");
        return;
      }
      case 0x95:
        read_le(8);
        return;  // FRAME: frames are only a read-ahead hint
      case '(':
        marks_.push_back(stack_.size());
        return;  // MARK
      case '0':
        pop();
        return;  // POP
      case '1':
        pop_to_mark();
        return;  // POP_MARK
      case '2':
        push(top());
        return;  // DUP
      case 'N':
        push(PickleValue::make(Kind::none));
        return;
      case 0x88:
      case 0x89: {  // NEWTRUE, NEWFALSE
        PickleValuePtr value = PickleValue::make(Kind::boolean);
        value->boolean = opcode == 0x88;
        push(value);
        return;
      }
      case 'J':
        push(make_integer(static_cast<int32_t>(read_le(4))));
        return;  // BININT
      case 'K':
        push(make_integer(read_u8()));
        return;  // BININT1
      case 'M':
        push(make_integer(static_cast<int64_t>(read_le(2))));
        return;     // BININT2
      case 0x8a: {  // LONG1
        const uint8_t count = read_u8();
        if (count > 8) fail("integer of " + std::to_string(count) + " bytes does not fit 64 bits");
        uint64_t raw = count ? read_le(count) : 0;
        if (count > 0 && count < 8 && (raw >> (8 * count - 1)) & 1) raw |= ~uint64_t{0} << (8 * count);
        push(make_integer(static_cast<int64_t>(raw)));
        return;
      }
      case 'G': {  // BINFLOAT, big-endian
        need(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | data_[pos_ + i];
        pos_ += 8;
        PickleValuePtr value = PickleValue::make(Kind::floating);
        std::memcpy(&value->floating, &bits, sizeof bits);
        push(value);
        return;
      }
      case 'X':
        push(make_string(Kind::string, read_bytes(read_le(4))));
        return;  // BINUNICODE
      case 0x8c:
        push(make_string(Kind::string, read_bytes(read_u8())));
        return;  // SHORT_BINUNICODE
      case 0x8d:
        push(make_string(Kind::string, read_bytes(read_le(8))));
        return;  // BINUNICODE8
      case 'T':
        push(make_string(Kind::string, read_bytes(read_le(4))));
        return;  // BINSTRING
      case 'U':
        push(make_string(Kind::string, read_bytes(read_u8())));
        return;  // SHORT_BINSTRING
      case 'B':
        push(make_string(Kind::bytes, read_bytes(read_le(4))));
        return;  // BINBYTES
      case 'C':
        push(make_string(Kind::bytes, read_bytes(read_u8())));
        return;  // SHORT_BINBYTES
      case ')':
        push(make_tuple({}));
        return;  // EMPTY_TUPLE
      case 't':
        push(make_tuple(pop_to_mark()));
        return;  // TUPLE
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        const size_t count = static_cast<size_t>(opcode - 0x85 + 1);
        std::vector<PickleValuePtr> items(count);
        for (size_t i = count; i-- > 0;) items[i] = pop();
        push(make_tuple(std::move(items)));
        return;
      }
      case ']':
        push(PickleValue::make(Kind::list));
        return;  // EMPTY_LIST
      case 0x8f:
        push(PickleValue::make(Kind::list));
        return;    // EMPTY_SET, kept as a list
      case 'l': {  // LIST
        PickleValuePtr list = PickleValue::make(Kind::list);
        list->items = pop_to_mark();
        push(list);
        return;
      }
      case 'a': {  // APPEND
        PickleValuePtr item = pop();
        add_to_container(top(), {item}, /*pairs=*/false);
        return;
      }
      case 'e':
      case 0x90: {  // APPENDS, ADDITEMS
        std::vector<PickleValuePtr> items = pop_to_mark();
        add_to_container(top(), std::move(items), /*pairs=*/false);
        return;
      }
      case '}':
        push(PickleValue::make(Kind::dict));
        return;    // EMPTY_DICT
      case 'd': {  // DICT
        PickleValuePtr dict = PickleValue::make(Kind::dict);
        std::vector<PickleValuePtr> items = pop_to_mark();
        add_to_container(dict, std::move(items), /*pairs=*/true);
        push(dict);
        return;
      }
      case 's': {  // SETITEM
        PickleValuePtr value = pop();
        PickleValuePtr key = pop();
        add_to_container(top(), {key, value}, /*pairs=*/true);
        return;
      }
      case 'u': {  // SETITEMS
        std::vector<PickleValuePtr> items = pop_to_mark();
        add_to_container(top(), std::move(items), /*pairs=*/true);
        return;
      }
      case 'c': {  // GLOBAL "module\nname\n"
        std::string module = read_line();
        std::string name = read_line();
        push(make_string(Kind::global, module + "." + name));
        return;
      }
      case 0x93: {  // STACK_GLOBAL
        PickleValuePtr name = pop();
        PickleValuePtr module = pop();
        if (module->kind != Kind::string || name->kind != Kind::string)
          fail("STACK_GLOBAL needs two strings");
        push(make_string(Kind::global, module->text + "." + name->text));
        return;
      }
      case 'R':
      case 0x81: {  // REDUCE, NEWOBJ: both are "call the class with these arguments" here
        PickleValuePtr args = pop();
        PickleValuePtr callable = pop();
        push(call_reduce(callable, args));
        return;
      }
      case 'b': {  // BUILD: sets instance state; the attributes torch attaches (_metadata) are not needed
        pop();
        top();
        return;
      }
      case 'Q': {  // BINPERSID
        PickleValuePtr persistent_id = pop();
        if (!callbacks_.persistent_load) fail("persistent id without a loader");
        push(callbacks_.persistent_load(*persistent_id));
        return;
      }
      case 'q':
        memo_put(read_u8());
        return;  // BINPUT
      case 'r':
        memo_put(read_le(4));
        return;  // LONG_BINPUT
      case 0x94:
        memo_put(memo_.size());
        return;  // MEMOIZE
      case 'h':
        memo_get(read_u8());
        return;  // BINGET
      case 'j':
        memo_get(read_le(4));
        return;  // LONG_BINGET
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", opcode);
        fail(std::string("unsupported pickle opcode ") + hex);
      }
    }
  }

  const std::string& source_;
  const uint8_t* data_;
  size_t size_;
  const PickleCallbacks& callbacks_;
  size_t pos_ = 0;
  size_t walk_budget_ = 64 * size_ + (size_t{1} << 20);  // steps of reaches() in all
  size_t opcode_offset_ = 0;
  std::vector<PickleValuePtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PickleValuePtr> memo_;
};

}  // namespace

PickleValuePtr unpickle(const std::string& source, const uint8_t* data, size_t size,
                        const PickleCallbacks& callbacks, size_t* consumed) {
  Machine machine(source, data, size, callbacks);
  PickleValuePtr value = machine.run();
  if (consumed) *consumed = machine.position();
  return value;
}

}  // namespace hpa::formats
