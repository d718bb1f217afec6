// hpa-deps-probe: loads and uses every library hpa links (MPI, parallel HDF5, Boost.Program_options,
// libjpeg-turbo, libpng, zlib, LibTorch, and NCCL/CUDA in the NCCL build) and prints, for each, the
// version and the file it was loaded from. A quick first check on a new machine or of an offline
// dependency bundle (env/build-offline.sh), before the full build. Run it under mpirun for MPI.
// Deliberately independent of hpa_core so that it builds in about a minute.
#include <ATen/core/Tensor.h>
#include <ATen/ops/ones.h>
#include <boost/program_options.hpp>
#include <boost/version.hpp>
#include <dlfcn.h>
#include <hdf5.h>
#include <jpeglib.h>
#include <mpi.h>
#include <png.h>
#include <torch/cuda.h>
#include <turbojpeg.h>
#include <zlib.h>
#if HPA_WITH_NCCL
#include <cuda_runtime_api.h>
#include <nccl.h>
#endif

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

int rank = 0;

std::string loaded_from(const void* symbol) {
  Dl_info info{};
  if (dladdr(symbol, &info) == 0 || info.dli_fname == nullptr) return "?";
  std::error_code error;
  const auto path = std::filesystem::canonical(info.dli_fname, error);
  return error ? info.dli_fname : path.string();
}

void report(const std::string& name, const std::string& version, const void* symbol) {
  if (rank == 0) std::cout << "probe: " << name << " ok " << version << " from " << loaded_from(symbol) << "\n";
}

void require(bool condition, const std::string& what) {
  if (!condition) throw std::runtime_error(what);
}

void check_hdf5(const std::filesystem::path& dir) {
  // Every rank writes its rank into one dataset of one file through the MPI-IO driver.
  const std::string file = (dir / "hpa-deps-probe.h5").string();
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  require(H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL) >= 0, "H5Pset_fapl_mpio");
  hid_t f = H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  require(f >= 0, "H5Fcreate " + file);
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const hsize_t dims[1] = {static_cast<hsize_t>(size)}, start[1] = {static_cast<hsize_t>(rank)}, one[1] = {1};
  hid_t space = H5Screate_simple(1, dims, nullptr);
  hid_t set = H5Dcreate2(f, "ranks", H5T_NATIVE_INT, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, one, nullptr);
  hid_t memory = H5Screate_simple(1, one, nullptr);
  require(H5Dwrite(set, H5T_NATIVE_INT, memory, space, H5P_DEFAULT, &rank) >= 0, "H5Dwrite");
  H5Sclose(memory), H5Sclose(space), H5Dclose(set), H5Fclose(f), H5Pclose(fapl);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) {
    std::vector<int> ranks(static_cast<size_t>(size), -1);
    f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    set = H5Dopen2(f, "ranks", H5P_DEFAULT);
    require(H5Dread(set, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, ranks.data()) >= 0, "H5Dread");
    H5Dclose(set), H5Fclose(f);
    for (int r = 0; r < size; ++r) require(ranks[static_cast<size_t>(r)] == r, "parallel HDF5 write");
    std::filesystem::remove(file);
  }
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  std::ostringstream version;
  version << major << "." << minor << "." << release << " (MPI-IO, " << size << " ranks)";
  report("hdf5", version.str(), reinterpret_cast<const void*>(&H5Fcreate));
}

void check_images() {
  // A 16x16 gradient through TurboJPEG and back; libjpeg's and libpng's entry points.
  std::vector<unsigned char> pixels(16 * 16 * 3);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<unsigned char>(i % 251);
  tjhandle encoder = tjInitCompress(), decoder = tjInitDecompress();
  unsigned char* jpeg = nullptr;
  unsigned long jpeg_size = 0;
  require(tjCompress2(encoder, pixels.data(), 16, 0, 16, TJPF_RGB, &jpeg, &jpeg_size, TJSAMP_444, 90, 0) == 0,
          "tjCompress2");
  int width = 0, height = 0, subsampling = 0;
  require(tjDecompressHeader2(decoder, jpeg, jpeg_size, &width, &height, &subsampling) == 0 && width == 16 &&
              height == 16,
          "tjDecompressHeader2");
  tjFree(jpeg), tjDestroy(encoder), tjDestroy(decoder);
  report("turbojpeg", "", reinterpret_cast<const void*>(&tjInitCompress));
  jpeg_error_mgr errors{};
  require(jpeg_std_error(&errors) == &errors, "jpeg_std_error");
  report("libjpeg", std::to_string(JPEG_LIB_VERSION), reinterpret_cast<const void*>(&jpeg_std_error));
  report("libpng", png_get_libpng_ver(nullptr), reinterpret_cast<const void*>(&png_access_version_number));
  std::string text(1000, 'h'), packed(compressBound(1000), '\0'), unpacked(1000, '\0');
  uLongf packed_size = packed.size(), unpacked_size = unpacked.size();
  require(compress(reinterpret_cast<Bytef*>(packed.data()), &packed_size, reinterpret_cast<const Bytef*>(text.data()),
                   text.size()) == Z_OK &&
              uncompress(reinterpret_cast<Bytef*>(unpacked.data()), &unpacked_size,
                         reinterpret_cast<const Bytef*>(packed.data()), packed_size) == Z_OK &&
              unpacked == text,
          "zlib round trip");
  report("zlib", zlibVersion(), reinterpret_cast<const void*>(&zlibVersion));
}

void check_torch(const std::string& device) {
  const float sum = at::ones({3}).sum().item<float>();
  require(sum == 3.0f, "LibTorch: ones(3).sum()");
  std::string version = "(cuda devices: " + std::to_string(torch::cuda::device_count()) + ")";
  if (device == "cuda") {
    require(torch::cuda::is_available(), "--device cuda: LibTorch sees no CUDA device");
    require(at::ones({3}, at::TensorOptions().device(at::kCUDA)).sum().item<float>() == 3.0f, "LibTorch on cuda");
  }
  report("libtorch", version, reinterpret_cast<const void*>(&torch::cuda::device_count));
#if HPA_WITH_NCCL
  int nccl_version = 0, runtime_version = 0;
  require(ncclGetVersion(&nccl_version) == ncclSuccess, "ncclGetVersion");
  cudaRuntimeGetVersion(&runtime_version);
  report("nccl", std::to_string(nccl_version), reinterpret_cast<const void*>(&ncclGetVersion));
  report("cudart", std::to_string(runtime_version), reinterpret_cast<const void*>(&cudaRuntimeGetVersion));
#endif
}

}  // namespace

int main(int argc, char** argv) {
  namespace po = boost::program_options;
  std::string dir, device;
  po::options_description options("hpa-deps-probe options");
  options.add_options()("help", "this text")("dir", po::value(&dir)->default_value("."),
                                                "folder for the parallel HDF5 test file (removed after)")(
      "device", po::value(&device)->default_value("cpu"), "cpu, or cuda: also run a tensor on the GPU");
  po::variables_map values;
  try {
    po::store(po::parse_command_line(argc, argv, options), values);
    po::notify(values);
  } catch (const po::error& error) {
    std::cerr << "hpa-deps-probe: " << error.what() << "\n";
    return 2;
  }
  if (values.count("help")) {
    std::cout << "Usage: [mpirun -np N] hpa-deps-probe [--dir DIR] [--device cpu|cuda]\n" << options;
    return 0;
  }
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  int status = 0;
  try {
    int size = 0, total = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Allreduce(&size, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    require(total == size * size, "MPI_Allreduce");
    char library[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    MPI_Get_library_version(library, &length);
    std::string mpi(library, static_cast<size_t>(length));
    report("mpi", mpi.substr(0, mpi.find(',')) + " (" + std::to_string(size) + " ranks)",
           reinterpret_cast<const void*>(&MPI_Init_thread));
    report("boost_program_options", std::to_string(BOOST_VERSION),
           reinterpret_cast<const void*>(&po::validators::check_first_occurrence));
    check_hdf5(dir);
    check_images();
    check_torch(device);
  } catch (const std::exception& error) {
    std::cerr << "hpa-deps-probe: rank " << rank << ": " << error.what() << "\n";
    status = 1;
  }
  int worst = 0;
  MPI_Allreduce(&status, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return worst;
}
