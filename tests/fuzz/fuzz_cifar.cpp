// The CIFAR-10 and CIFAR-100 binary readers on arbitrary bytes: the input is every file of the
// dataset folder (the readers check each file's size and labels).
#include "data/memory_dataset.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (const char* name : {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                           "data_batch_5.bin", "test_batch.bin", "train.bin", "test.bin"})
    hpa::fuzz::write_scratch(name, data, size);
  for (const char* dataset : {"cifar10", "cifar100"})
    hpa::fuzz::guarded([&] { (void)hpa::data::load_cifar_dataset(dataset, hpa::fuzz::scratch_dir()); });
  return 0;
}
