// The pickle interpreter and the state_dict reader on hand-assembled pickles and zip archives,
// malformed ones included. The real torch.save files are covered by tests/e2e.
#include "common/error.hpp"
#include "formats/model_file.hpp"
#include "formats/pickle.hpp"

#include <ATen/Functions.h>
#include <caffe2/serialize/inline_container.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace {

using namespace std::string_literals;  // "..."s keeps embedded NUL bytes
using hpa::formats::PickleValue;
using Bytes = std::string;

Bytes u32(uint32_t v) {
  return Bytes{char(v & 0xff), char((v >> 8) & 0xff), char((v >> 16) & 0xff), char(v >> 24)};
}
Bytes unicode(const std::string& s) { return "X" + u32(static_cast<uint32_t>(s.size())) + s; }

hpa::formats::PickleValuePtr run(const Bytes& pickle, hpa::formats::PickleCallbacks callbacks = {}) {
  return hpa::formats::unpickle("test.pkl", reinterpret_cast<const uint8_t*>(pickle.data()), pickle.size(),
                                callbacks);
}

std::string error_of(const Bytes& pickle) {
  try {
    run(pickle);
  } catch (const hpa::Error& error) {
    return error.what();
  }
  return "";
}

TEST(Pickle, DictOfScalars) {
  // {"a": 1, "b": (2, -3.5), "c": [True, None]} in protocol 2
  Bytes p = "\x80\x02}q\x00("s + unicode("a") + "K\x01" + unicode("b") +
            "K\x02G\xc0\x0c\x00\x00\x00\x00\x00\x00\x86"s + unicode("c") + "](\x88Ne" + "u.";
  auto value = run(p);
  ASSERT_EQ(value->kind, PickleValue::Kind::dict);
  ASSERT_EQ(value->items.size(), 6u);
  EXPECT_EQ(value->items[0]->text, "a");
  EXPECT_EQ(value->items[1]->integer, 1);
  EXPECT_EQ(value->items[3]->kind, PickleValue::Kind::tuple);
  EXPECT_EQ(value->items[3]->items[1]->floating, -3.5);
  EXPECT_EQ(value->items[5]->items.size(), 2u);
  EXPECT_TRUE(value->items[5]->items[0]->boolean);
}

TEST(Pickle, MemoSharesObjects) {
  // [x, x] where x = {} stored once in the memo: BINPUT 0, then BINGET 0
  Bytes p =
      "\x80\x02](}q\x00"
      "h\x00"
      "e."s;  // split: "\x00e" would be one escape
  auto value = run(p);
  ASSERT_EQ(value->items.size(), 2u);
  EXPECT_EQ(value->items[0].get(), value->items[1].get());
}

// A list nested a million deep, built top down through the memo (13 bytes a level, linear time):
// releasing it must not recurse once per level (the recursive destructor overflowed the stack).
TEST(Pickle, DeepNestingIsReleasedWithoutRecursion) {
  constexpr uint32_t levels = 1000000;
  Bytes p = "\x80\x02]r"s + u32(0);
  p.reserve(p.size() + 13 * size_t{levels} + 1);
  for (uint32_t i = 1; i <= levels; ++i) p += "j" + u32(i - 1) + "]r" + u32(i) + "a0";  // GET, new, PUT, APPEND, POP
  p += ".";
  auto value = run(p);
  uint32_t depth = 0;
  for (const hpa::formats::PickleValue* v = value.get(); !v->items.empty(); v = v->items[0].get()) ++depth;
  EXPECT_EQ(depth, levels);
  value.reset();  // the last owner: the whole chain goes here
}

// The same depth appended bottom up walks each inner list again per level: refused, not hours.
TEST(Pickle, QuadraticNestingIsRefused) {
  constexpr size_t levels = 100000;
  const Bytes p = "\x80\x02"s + Bytes(levels, ']') + Bytes(levels - 1, 'a') + ".";
  EXPECT_NE(error_of(p).find("nested too deeply"), std::string::npos) << error_of(p);
}

TEST(Pickle, NegativeLong1) {
  Bytes p = "\x80\x02\x8a\x02\x00\xff."s;  // -256
  EXPECT_EQ(run(p)->integer, -256);
}

TEST(Pickle, MalformedInputsGiveOneClearError) {
  EXPECT_NE(error_of("").find("truncated"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02}").find("truncated"), std::string::npos);  // no STOP
  EXPECT_NE(error_of("\x80\x02X\xff\x00\x00\x00ab."s).find("truncated"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02s.").find("underflow"), std::string::npos);  // SETITEM on nothing
  EXPECT_NE(error_of("\x80\x02h\x05.").find("memo key 5"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02\xfe.").find("unsupported pickle opcode 0xfe"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02}}.").find("STOP with 2 values"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02K\x01}s.").find("underflow"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02K\x01K\x02u.").find("no MARK"), std::string::npos);
  // reference cycles (they would leak): a list appended to itself, a dict holding itself, via the memo
  EXPECT_NE(error_of("\x80\x02]q\x00h\x00" "a."s).find("a list that contains itself"), std::string::npos);
  EXPECT_NE(error_of("\x80\x02}q\x00K\x01]h\x00" "as."s).find("a dict that contains itself"), std::string::npos)
      << error_of("\x80\x02}q\x00K\x01]h\x00" "as."s);
  // GLOBAL + REDUCE without a handler: never executed, always refused
  EXPECT_NE(error_of("\x80\x02"
                     "cos\nsystem\n"
                     ")R.")
                .find("unsupported object os.system"),
            std::string::npos);
  EXPECT_NE(error_of("\x80\x02"
                     "cos\nsystem\n")
                .find("test.pkl"),
            std::string::npos);
}

// --- state_dict archives written with LibTorch's own zip writer -----------------------------------

class StateDictFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("hpa_pickle_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // An OrderedDict {"conv.weight": <2x1x2x2 float>, "conv.bias": <2 float>} as torch.save writes it.
  static Bytes state_dict_pickle(uint32_t weight_numel = 8, const Bytes& weight_size = "(K\x02K\x01K\x02K\x02t",
                                 const Bytes& weight_stride = "(K\x04K\x04K\x02K\x01t") {
    auto rebuild = [](const std::string& key, uint32_t numel, const Bytes& size, const Bytes& stride) {
      return Bytes("ctorch._utils\n_rebuild_tensor_v2\n(") + "(" + unicode("storage") +
             "ctorch\nFloatStorage\n" + unicode(key) + unicode("cpu") + "J" + u32(numel) + "tQK\x00"s + size +
             stride + "\x89" + "ccollections\nOrderedDict\n)RtR";
    };
    return "\x80\x02"
           "ccollections\nOrderedDict\n)R(" +
           unicode("conv.weight") +
           rebuild("0", weight_numel, weight_size, weight_stride) +
           unicode("conv.bias") + rebuild("1", 2, "K\x02\x85", "K\x01\x85") + "u}b.";
  }

  std::string write_archive(const std::string& name, const Bytes& pickle, const std::vector<float>& weight,
                            const std::vector<float>& bias) {
    const std::string path = (dir_ / name).string();
    caffe2::serialize::PyTorchStreamWriter writer(path);
    writer.writeRecord("data.pkl", pickle.data(), pickle.size());
    writer.writeRecord("data/0", weight.data(), weight.size() * sizeof(float));
    writer.writeRecord("data/1", bias.data(), bias.size() * sizeof(float));
    writer.writeEndOfFile();
    return path;
  }

  std::string error_reading(const std::string& path) {
    try {
      hpa::formats::read_model_file(path);
    } catch (const hpa::Error& error) {
      return error.what();
    }
    return "";
  }

  std::filesystem::path dir_;
};

TEST_F(StateDictFile, ReadsTensorsInOrderWithValues) {
  const std::string path =
      write_archive("ok.pth", state_dict_pickle(), {1, 2, 3, 4, 5, 6, 7, 8}, {0.5f, -0.5f});
  const hpa::formats::ModelFile file = hpa::formats::read_model_file(path);
  EXPECT_EQ(file.kind, hpa::formats::ModelFileKind::state_dict);
  ASSERT_EQ(file.tensors.size(), 2u);
  EXPECT_EQ(file.tensors[0].first, "conv.weight");
  EXPECT_EQ(file.tensors[0].second.sizes(), (std::vector<int64_t>{2, 1, 2, 2}));
  EXPECT_EQ(file.tensors[0].second[1][0][1][0].item<float>(), 7.0f);
  EXPECT_EQ(file.tensors[1].first, "conv.bias");
  EXPECT_EQ(file.tensors[1].second[1].item<float>(), -0.5f);
}

TEST_F(StateDictFile, StorageTooSmallForTheTensorIsRefused) {
  // The record says 8 elements but the size/stride need them, while only 4 floats are stored.
  const std::string path = write_archive("short.pth", state_dict_pickle(), {1, 2, 3, 4}, {0, 0});
  EXPECT_NE(error_reading(path).find("fewer than its 8 elements"), std::string::npos) << error_reading(path);
  // The record claims 4 elements, but shape [2,1,2,2] reaches index 7.
  const std::string path2 = write_archive("past.pth", state_dict_pickle(4), {1, 2, 3, 4}, {0, 0});
  EXPECT_NE(error_reading(path2).find("reaches past its storage"), std::string::npos) << error_reading(path2);
}

TEST_F(StateDictFile, NegativeOrOverflowingStridesAreRefused) {
  const std::vector<float> weight{1, 2, 3, 4, 5, 6, 7, 8};
  // stride -1 (BININT 0xffffffff) on the last dimension
  const std::string negative = write_archive(
      "negative.pth", state_dict_pickle(8, "(K\x02K\x01K\x02K\x02t", "(K\x04K\x04K\x02J\xff\xff\xff\xfft"s),
      weight, {0, 0});
  EXPECT_NE(error_reading(negative).find("tensor stride holds a bad entry"), std::string::npos) << error_reading(negative);
  // (3 - 1) * 2^62 does not fit int64: without checked arithmetic it wraps and passes the bound
  const Bytes huge = "\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x40"s;  // LONG1 2^62
  const std::string overflow =
      write_archive("overflow.pth", state_dict_pickle(8, "(K\x03K\x01K\x01K\x01t", "(" + huge + "K\x01K\x01K\x01t"),
                    weight, {0, 0});
  EXPECT_NE(error_reading(overflow).find("overflows its element index"), std::string::npos) << error_reading(overflow);
}

TEST_F(StateDictFile, TruncatedArchiveNamesTheFile) {
  const std::string path = write_archive("full.pth", state_dict_pickle(), {1, 2, 3, 4, 5, 6, 7, 8}, {0, 0});
  const auto size = std::filesystem::file_size(path);
  std::filesystem::resize_file(path, size / 2);
  const std::string message = error_reading(path);
  EXPECT_NE(message.find(path), std::string::npos) << message;
}

// LibTorch's reader allocates the size a central directory entry claims before reading it: the
// claims are checked against the file first (a real zip64 archive of 4.4 GB still reads; docs/fuzzing.md).
TEST_F(StateDictFile, CentralDirectoryClaimsAreCheckedAgainstTheFile) {
  const std::string path = write_archive("zip.pth", state_dict_pickle(), {1, 2, 3, 4, 5, 6, 7, 8}, {0, 0});
  std::ifstream in(path, std::ios::binary);
  const Bytes original((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto rewrite = [&](std::vector<std::pair<size_t, Bytes>> patches) {
    Bytes changed = original;
    for (const auto& [offset, bytes] : patches) changed.replace(offset, bytes.size(), bytes);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << changed;
    return error_reading(path);
  };
  size_t entry = Bytes::npos;  // the central directory entry of the weight's storage, data/0
  for (size_t at = original.find("PK\x01\x02"); at != Bytes::npos; at = original.find("PK\x01\x02", at + 1)) {
    const size_t name_size = static_cast<uint8_t>(original[at + 28]) | static_cast<uint8_t>(original[at + 29]) << 8;
    if (original.compare(at + 46 + name_size - 6, 6, "data/0") == 0) entry = at;
  }
  ASSERT_NE(entry, Bytes::npos);
  const size_t end = original.rfind("PK\x05\x06");
  ASSERT_NE(end, Bytes::npos);
  EXPECT_EQ(rewrite({}), "");  // the unchanged archive reads
  std::string message = rewrite({{entry + 24, u32(0x7fffffff)}});  // uncompressed size: 2 GiB
  EXPECT_NE(message.find(path + ": unreadable PyTorch zip archive"), std::string::npos) << message;
  EXPECT_NE(message.find("data/0' claims 2147483647 bytes"), std::string::npos) << message;
  // Deflated (method 8) from 1 byte to 2000: more than deflate's 1032x.
  message = rewrite({{entry + 10, "\x08"s}, {entry + 20, u32(1)}, {entry + 24, u32(2000)}});
  EXPECT_NE(message.find("data/0' claims 2000 bytes"), std::string::npos) << message;
  message = rewrite({{end + 16, u32(static_cast<uint32_t>(original.size()) + 100)}});  // directory offset
  EXPECT_NE(message.find("central directory lies past the end of the file"), std::string::npos) << message;
  message = rewrite({{end + 10, "\xff\x00"s}});  // 255 entries in a directory that holds fewer
  EXPECT_NE(message.find("is damaged"), std::string::npos) << message;
  message = rewrite({{end, "PK\x05\x07"}});  // no end record left
  EXPECT_NE(message.find("no end of central directory"), std::string::npos) << message;
  // The record's bytes: weight 5.0f (00 00 a0 40) becomes 5.0000005f, one bit, not its CRC-32.
  const size_t five = original.find("\x00\x00\xa0\x40"s);
  ASSERT_NE(five, Bytes::npos);
  message = rewrite({{five, "\x01"s}});
  EXPECT_NE(message.find("data/0' fails its CRC-32 check"), std::string::npos) << message;
  message = rewrite({{entry + 10, "\x0c"s}});  // bzip2, which LibTorch cannot read either
  EXPECT_NE(message.find("data/0' uses compression method 12"), std::string::npos) << message;
}

TEST_F(StateDictFile, NotAZipAndMissingFile) {
  const std::string path = (dir_ / "text.pth").string();
  std::ofstream(path) << "hello, not a model";
  EXPECT_NE(error_reading(path).find("not a PyTorch model file"), std::string::npos);
  EXPECT_NE(error_reading((dir_ / "missing.pth").string()).find("cannot open"), std::string::npos);
}

TEST_F(StateDictFile, PickledObjectsOtherThanTensorsAreRefused) {
  const Bytes whole_model =
      "\x80\x02"
      "ctorchvision.models.vgg\nVGG\n)R}b.";
  const std::string path = write_archive("model.pth", whole_model, {1}, {1});
  EXPECT_NE(error_reading(path).find("torchvision.models.vgg.VGG"), std::string::npos) << error_reading(path);
  const std::string dict_path =
      write_archive("dict.pth", "\x80\x02}(" + unicode("epoch") + "K\x03u.", {1}, {1});
  EXPECT_NE(error_reading(dict_path).find("not a state_dict"), std::string::npos) << error_reading(dict_path);
}

}  // namespace
