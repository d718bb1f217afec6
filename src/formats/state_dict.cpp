// state_dict reader: unpickles data.pkl with the storages of the zip container as persistent ids.
// LibTorch 1.13's torch::pickle_load turns the collections.OrderedDict of a real state_dict into
// None, hence this reader of the subset torch.save writes.
#include "common/error.hpp"
#include "formats/model_file.hpp"
#include "formats/pickle.hpp"
#include "formats/torch_archive.hpp"

#include <ATen/Functions.h>
#include <c10/util/Exception.h>
#include <caffe2/serialize/inline_container.h>

#include <fstream>
#include <map>

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

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

class StateDictLoader {
 public:
  StateDictLoader(const std::string& path, caffe2::serialize::PyTorchStreamReader& reader)
      : path_(path), reader_(reader) {}

  PickleValuePtr load() {
    auto [data, size] = reader_.getRecord("data.pkl");
    PickleCallbacks callbacks;
    callbacks.reduce = [this](const std::string& global, const PickleValue& args) {
      return reduce(global, args);
    };
    callbacks.persistent_load = [this](const PickleValue& id) { return load_storage(id); };
    return unpickle(path_ + " (data.pkl)", static_cast<const uint8_t*>(data.get()), size, callbacks);
  }

 private:
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
    // The largest element index must lie inside the storage, or as_strided would read past it.
    int64_t last_index = offset;
    bool empty = false;
    for (size_t d = 0; d < sizes.size(); ++d) {
      if (sizes[d] == 0)
        empty = true;
      else
        last_index += (sizes[d] - 1) * strides[d];
    }
    if (!empty && last_index >= storage.numel())
      fail("tensor of shape " + c10::str(c10::IntArrayRef(sizes)) + " reaches past its storage of " +
           std::to_string(storage.numel()) + " elements");
    PickleValuePtr value = PickleValue::make(Kind::tensor);
    value->tensor = empty ? at::empty(sizes, storage.options())
                          : storage.as_strided(sizes, strides, offset).clone(at::MemoryFormat::Contiguous);
    return value;
  }

  // ('storage', torch.FloatStorage, key, location, numel)
  PickleValuePtr load_storage(const PickleValue& id) {
    if (id.kind != Kind::tuple || id.items.size() < 5 || id.items[0]->kind != Kind::string ||
        id.items[0]->text != "storage" || id.items[1]->kind != Kind::global ||
        id.items[2]->kind != Kind::string || id.items[4]->kind != Kind::integer || id.items[4]->integer < 0)
      fail("unexpected persistent id in data.pkl");
    const std::string& key = id.items[2]->text;
    auto cached = storages_.find(key);
    if (cached != storages_.end()) return cached->second;

    const StorageType* type = nullptr;
    for (const StorageType& candidate : kStorageTypes)
      if (id.items[1]->text == candidate.name) type = &candidate;
    if (!type) fail("storage type " + id.items[1]->text + " is not supported");
    const std::string record = "data/" + key;
    if (!reader_.hasRecord(record)) fail("storage " + record + " is missing from the archive");
    auto [data, size_bytes] = reader_.getRecord(record);
    const int64_t numel = id.items[4]->integer;
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
  caffe2::serialize::PyTorchStreamReader& reader_;
  std::map<std::string, PickleValuePtr> storages_;
};

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
    HPA_FAIL(path << ": not a PyTorch model file (no zip archive; files from torch.save before "
                     "PyTorch 1.6 must be re-saved with a newer torch.save)");
  try {
    return std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const c10::Error& error) {
    HPA_FAIL(path << ": unreadable PyTorch zip archive (truncated or corrupt?): "
                  << first_line(error.what_without_backtrace()));
  }
}

NamedTensors read_state_dict(const std::string& path) {
  auto reader = open_torch_archive(path);
  PickleValuePtr root;
  try {
    if (!reader->hasRecord("data.pkl"))
      HPA_FAIL(path << ": zip archive without data.pkl, not written by torch.save");
    root = StateDictLoader(path, *reader).load();
  } catch (const c10::Error& error) {
    HPA_FAIL(path << ": unreadable PyTorch zip archive (truncated or corrupt?): "
                  << first_line(error.what_without_backtrace()));
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
