// state_dict reader: unpickles data.pkl with the storages of the zip container as persistent ids.
// LibTorch 1.13's torch::pickle_load turns the collections.OrderedDict of a real state_dict into
// None, hence this reader of the subset torch.save writes. Also the legacy (pre-1.6, non-zip)
// torch.save format of torchvision's published weights: magic number, protocol version and system
// info pickles, the object pickle, the sorted storage keys, then each storage as an int64 element
// count and its raw little-endian bytes.
#include "common/checked.hpp"
#include "common/error.hpp"
#include "common/text.hpp"
#include "formats/model_file.hpp"
#include "formats/pickle.hpp"
#include "formats/torch_archive.hpp"

#include <ATen/Functions.h>
#include <c10/util/Exception.h>
#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

namespace hpa::formats {
namespace {

using Kind = PickleValue::Kind;

struct StorageType {
  const char* name;
  at::ScalarType dtype;
};
constexpr StorageType kStorageTypes[] = {
    {"torch.FloatStorage", at::kFloat}, {"torch.DoubleStorage", at::kDouble},
    {"torch.HalfStorage", at::kHalf},   {"torch.BFloat16Storage", at::kBFloat16},
    {"torch.LongStorage", at::kLong},   {"torch.IntStorage", at::kInt},
    {"torch.ShortStorage", at::kShort}, {"torch.CharStorage", at::kChar},
    {"torch.ByteStorage", at::kByte},   {"torch.BoolStorage", at::kBool},
};


// Unpickles a state_dict whose storages come from a zip archive (`reader`) or, without one, from
// the legacy format's storage section (fill_legacy_storages, after the object pickle).
class StateDictLoader {
 public:
  StateDictLoader(const std::string& path, caffe2::serialize::PyTorchStreamReader* reader)
      : path_(path), reader_(reader) {}

  PickleCallbacks callbacks() {
    PickleCallbacks callbacks;
    callbacks.reduce = [this](const std::string& global, const PickleValue& args) {
      return reduce(global, args);
    };
    callbacks.persistent_load = [this](const PickleValue& id) { return load_storage(id); };
    return callbacks;
  }

  PickleValuePtr load() {
    auto [data, size] = reader_->getRecord("data.pkl");
    return unpickle(path_ + " (data.pkl)", static_cast<const uint8_t*>(data.get()), size, callbacks());
  }

  // Legacy format: reads every storage named in `keys` from `data` at `pos` into the tensors the
  // object pickle already refers to, then makes those tensors own contiguous copies.
  void fill_legacy_storages(const PickleValue& keys, const std::vector<uint8_t>& data, size_t pos,
                            const PickleValue& root) {
    if (keys.kind != Kind::list) fail("legacy file: storage keys are a " + keys.describe() + ", not a list");
    for (const PickleValuePtr& key : keys.items) {
      if (key->kind != Kind::string) fail("legacy file: a storage key is a " + key->describe());
      auto found = storages_.find(key->text);
      if (found == storages_.end()) fail("legacy file: storage " + key->text + " is not used by any tensor");
      at::Tensor& storage = found->second->tensor;
      int64_t count = 0;
      if (data.size() - pos < sizeof count) fail("truncated legacy file: storage " + key->text + " is missing");
      std::memcpy(&count, data.data() + pos, sizeof count);
      pos += sizeof count;
      if (count != storage.numel())
        fail("legacy file: storage " + key->text + " holds " + std::to_string(count) + " elements, its tensors expect " +
             std::to_string(storage.numel()));
      const size_t bytes = static_cast<size_t>(count) * storage.element_size();
      if (data.size() - pos < bytes) fail("truncated legacy file: storage " + key->text + " is cut short");
      std::memcpy(storage.data_ptr(), data.data() + pos, bytes);
      pos += bytes;
      filled_.insert(key->text);
    }
    if (filled_.size() != storages_.size()) fail("legacy file: some storages have no data");
    if (pos != data.size()) fail("legacy file: " + std::to_string(data.size() - pos) + " bytes after the last storage");
    own_copies(root);
  }

 private:
  void own_copies(const PickleValue& value) {
    for (const PickleValuePtr& item : value.items) {
      if (item->kind == Kind::tensor) item->tensor = item->tensor.clone(at::MemoryFormat::Contiguous);
      own_copies(*item);
    }
  }

  [[noreturn]] void fail(const std::string& what) const { HPA_FAIL(path_ << ": " << what); }

  static int64_t integer_at(const PickleValue& tuple, size_t i) {
    return tuple.items.at(i)->kind == Kind::integer ? tuple.items[i]->integer : -1;
  }
  std::vector<int64_t> int_tuple(const PickleValuePtr& value, const char* what) const {
    if (value->kind != Kind::tuple) fail(std::string("tensor ") + what + " is a " + value->describe());
    std::vector<int64_t> numbers;
    for (const PickleValuePtr& item : value->items) {
      if (item->kind != Kind::integer || item->integer < 0)
        fail(std::string("tensor ") + what + " holds a bad entry");
      numbers.push_back(item->integer);
    }
    return numbers;
  }

  PickleValuePtr reduce(const std::string& global, const PickleValue& args) {
    if (global == "collections.OrderedDict" || global == "builtins.dict")
      return PickleValue::make(Kind::dict);
    if (global == "torch._utils._rebuild_tensor_v2" || global == "torch._utils._rebuild_tensor")
      return rebuild_tensor(args);
    if (global == "torch._utils._rebuild_parameter") {
      if (args.items.empty() || args.items[0]->kind != Kind::tensor) fail("parameter without tensor data");
      return args.items[0];
    }
    fail("holds a " + global +
         " object, which is not part of a state_dict (save model.state_dict(), "
         "not the model, or export TorchScript)");
  }

  // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  PickleValuePtr rebuild_tensor(const PickleValue& args) {
    if (args.items.size() < 4 || args.items[0]->kind != Kind::tensor)
      fail("tensor record with " + std::to_string(args.items.size()) + " fields");
    const at::Tensor& storage = args.items[0]->tensor;
    const int64_t offset = integer_at(args, 1);
    const std::vector<int64_t> sizes = int_tuple(args.items[2], "size");
    const std::vector<int64_t> strides = int_tuple(args.items[3], "stride");
    if (offset < 0 || sizes.size() != strides.size()) fail("tensor record with bad offset or stride");
    // The largest element index must lie inside the storage, or as_strided would read past it; the
    // sum is computed overflow-safe: the sizes and strides (non-negative, int_tuple checks) are the file's.
    int64_t last_index = offset;
    bool empty = false;
    for (size_t d = 0; d < sizes.size(); ++d) {
      int64_t step = 0;
      if (sizes[d] == 0)
        empty = true;
      else if (!checked_mul(sizes[d] - 1, strides[d], &step) || !checked_add(last_index, step, &last_index))
        fail("tensor of shape " + c10::str(c10::IntArrayRef(sizes)) + " overflows its element index");
    }
    if (!empty && last_index >= storage.numel())
      fail("tensor of shape " + c10::str(c10::IntArrayRef(sizes)) + " reaches past its storage of " +
           std::to_string(storage.numel()) + " elements");
    PickleValuePtr value = PickleValue::make(Kind::tensor);
    // Legacy files: a view for now, as the storage's bytes come after the pickle (copied later).
    value->tensor = empty     ? at::empty(sizes, storage.options())
                    : reader_ ? storage.as_strided(sizes, strides, offset).clone(at::MemoryFormat::Contiguous)
                              : storage.as_strided(sizes, strides, offset);
    return value;
  }

  // ('storage', torch.FloatStorage, key, location, numel[, view metadata (legacy)])
  PickleValuePtr load_storage(const PickleValue& id) {
    if (id.kind != Kind::tuple || id.items.size() < 5 || id.items[0]->kind != Kind::string ||
        id.items[0]->text != "storage" || id.items[1]->kind != Kind::global ||
        id.items[2]->kind != Kind::string || id.items[4]->kind != Kind::integer || id.items[4]->integer < 0)
      fail("unexpected persistent id in the pickle");
    if (id.items.size() > 5 && id.items[5]->kind != Kind::none)
      fail("storage views of the legacy format are not supported (re-save the state_dict)");
    const std::string& key = id.items[2]->text;
    auto cached = storages_.find(key);
    if (cached != storages_.end()) return cached->second;

    const StorageType* type = nullptr;
    for (const StorageType& candidate : kStorageTypes)
      if (id.items[1]->text == candidate.name) type = &candidate;
    if (!type) fail("storage type " + id.items[1]->text + " is not supported");
    const int64_t numel = id.items[4]->integer;
    if (!reader_) {  // legacy: allocated now, filled from the storage section after the pickle
      if (numel < 0 || numel > (int64_t{1} << 40))
        fail("storage " + key + " claims " + std::to_string(numel) + " elements");
      PickleValuePtr value = PickleValue::make(Kind::tensor);
      value->tensor = at::empty({numel}, at::TensorOptions().dtype(type->dtype));
      storages_[key] = value;
      return value;
    }
    const std::string record = "data/" + key;
    if (!reader_->hasRecord(record)) fail("storage " + record + " is missing from the archive");
    auto [data, size_bytes] = reader_->getRecord(record);
    const size_t element_bytes = at::elementSize(type->dtype);
    if (static_cast<uint64_t>(numel) > size_bytes / element_bytes)
      fail("storage " + record + " holds " + std::to_string(size_bytes) + " bytes, fewer than its " +
           std::to_string(numel) + " elements need");
    PickleValuePtr value = PickleValue::make(Kind::tensor);
    value->tensor = at::empty({numel}, at::TensorOptions().dtype(type->dtype));
    std::memcpy(value->tensor.data_ptr(), data.get(), static_cast<size_t>(numel) * element_bytes);
    storages_[key] = value;
    return value;
  }

  const std::string& path_;
  caffe2::serialize::PyTorchStreamReader* reader_;  // null: legacy format
  std::map<std::string, PickleValuePtr> storages_;
  std::set<std::string> filled_;
};

// The first pickle of a legacy torch.save file: the magic number 0x1950a86a20f9469cfc6c (protocol 2).
constexpr uint8_t kLegacyMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                    0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};

bool has_tensor_values(const PickleValue& dict) {
  for (size_t i = 1; i < dict.items.size(); i += 2)
    if (dict.items[i]->kind == Kind::tensor) return true;
  return false;
}

// A training checkpoint often wraps the state_dict: {"state_dict": {...}, "epoch": ...}.
const PickleValue* unwrap_state_dict(const PickleValue& root) {
  if (root.kind != Kind::dict) return nullptr;
  if (has_tensor_values(root)) return &root;
  for (size_t i = 0; i + 1 < root.items.size(); i += 2) {
    const PickleValue& key = *root.items[i];
    const PickleValue& value = *root.items[i + 1];
    if (key.kind == Kind::string && (key.text == "state_dict" || key.text == "model") &&
        value.kind == Kind::dict && has_tensor_values(value))
      return &value;
  }
  return nullptr;
}

}  // namespace

std::unique_ptr<caffe2::serialize::PyTorchStreamReader> open_torch_archive(const std::string& path) {
  std::ifstream probe(path, std::ios::binary);
  if (!probe) HPA_FAIL(path << ": cannot open for reading");
  char magic[2] = {0, 0};
  probe.read(magic, 2);
  if (!(magic[0] == 'P' && magic[1] == 'K'))
    HPA_FAIL(path << ": not a PyTorch model file (neither a zip archive nor the legacy torch.save format)");
  check_zip_records(path);
  try {
    return std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const c10::Error& error) {
    HPA_FAIL(path << ": unreadable PyTorch zip archive (truncated or corrupt?): "
                  << first_line(error.what_without_backtrace()));
  }
}

bool is_legacy_torch_save(const std::string& path) {
  std::ifstream probe(path, std::ios::binary);
  uint8_t head[sizeof kLegacyMagic] = {};
  probe.read(reinterpret_cast<char*>(head), sizeof head);
  return probe && std::memcmp(head, kLegacyMagic, sizeof head) == 0;
}

namespace {

PickleValuePtr load_legacy(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) HPA_FAIL(path << ": cannot open for reading");
  const std::vector<uint8_t> data((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  size_t pos = sizeof kLegacyMagic;
  const auto next_pickle = [&](const char* what, const PickleCallbacks& callbacks) {
    if (pos >= data.size()) HPA_FAIL(path << ": truncated legacy torch.save file (its " << what << " is missing)");
    size_t used = 0;
    PickleValuePtr value =
        unpickle(path + " (legacy " + what + ")", data.data() + pos, data.size() - pos, callbacks, &used);
    pos += used;
    return value;
  };
  const PickleCallbacks plain;
  const PickleValuePtr version = next_pickle("protocol version", plain);
  if (version->kind != Kind::integer || version->integer != 1001)
    HPA_FAIL(path << ": legacy torch.save protocol " << version->describe() << " is not 1001");
  const PickleValuePtr info = next_pickle("system info", plain);
  for (size_t i = 0; info->kind == Kind::dict && i + 1 < info->items.size(); i += 2)
    if (info->items[i]->text == "little_endian" && info->items[i + 1]->kind == Kind::boolean &&
        !info->items[i + 1]->boolean)
      HPA_FAIL(path << ": written on a big-endian machine, not supported");
  StateDictLoader loader(path, nullptr);
  const PickleValuePtr root = next_pickle("object", loader.callbacks());
  const PickleValuePtr keys = next_pickle("storage keys", plain);
  loader.fill_legacy_storages(*keys, data, pos, *root);
  return root;
}

}  // namespace

NamedTensors read_state_dict(const std::string& path) {
  PickleValuePtr root;
  if (is_legacy_torch_save(path)) {
    root = load_legacy(path);
  } else {
    auto reader = open_torch_archive(path);
    try {
      if (!reader->hasRecord("data.pkl"))
        HPA_FAIL(path << ": zip archive without data.pkl, not written by torch.save");
      root = StateDictLoader(path, reader.get()).load();
    } catch (const c10::Error& error) {
      HPA_FAIL(path << ": unreadable PyTorch zip archive (truncated or corrupt?): "
                    << first_line(error.what_without_backtrace()));
    }
  }
  const PickleValue* dict = unwrap_state_dict(*root);
  if (!dict) HPA_FAIL(path << ": holds a " << root->describe() << ", not a state_dict of tensors");
  NamedTensors tensors;
  for (size_t i = 0; i + 1 < dict->items.size(); i += 2) {
    const PickleValue& key = *dict->items[i];
    const PickleValue& value = *dict->items[i + 1];
    if (key.kind != Kind::string) HPA_FAIL(path << ": state_dict key of type " << key.describe());
    if (value.kind != Kind::tensor) continue;  // e.g. non-tensor extras next to the weights
    tensors.emplace_back(key.text, value.tensor);
  }
  return tensors;
}

}  // namespace hpa::formats
