// foldopt: libFuzzer target for the MatrixMarket and PETSc binary readers (src/io).
//
// The first byte of an input chooses the reader: bit 0 clear reads a vector (io::read_vec), set
// reads a matrix (io::read_mat); bit 1 clear is MatrixMarket (`.mtx`), set is PETSc binary. The
// rest of the input is written to a temporary file of that name and read on one rank.
// foldopt::Error is the expected outcome of a bad file; only crashes, hangs, leaks and sanitizer
// reports are failures. Built and run by tests/fuzz/run_fuzz.sh (see tests/fuzz/fuzz.cmake).
#include <foldopt/error.hpp>
#include <foldopt/io.hpp>

#include <petscsys.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

std::string g_dir;

void finalize() {
  PetscFinalize();
  if (!g_dir.empty()) {
    std::remove((g_dir + "/in.mtx").c_str());
    std::remove((g_dir + "/in.bin").c_str());
    rmdir(g_dir.c_str());
  }
}

void write_file(const std::string& path, const std::string& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0)
    std::abort();
}

// Every reader once, on a good and a bad file, before fuzzing: what Open MPI and PETSc allocate
// once on first use (plug-ins loaded by the first collective, registered classes) is then not
// taken for a leak of the first inputs.
void warm_up() {
  const std::string mm = g_dir + "/in.mtx", bin = g_dir + "/in.bin";
  const std::string be_vec("\x00\x12\x7b\x4e\x00\x00\x00\x01\x3f\xf0\x00\x00\x00\x00\x00\x00", 16);
  const std::string be_mat("\x00\x12\x7b\x50\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01"
                           "\x00\x00\x00\x01\x00\x00\x00\x00\x3f\xf0\x00\x00\x00\x00\x00\x00",
                           32);
  for (int round = 0; round < 2; ++round) {
    try {
      write_file(mm, "%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 1\n");
      foldopt::io::read_mat(PETSC_COMM_WORLD, mm);
      write_file(mm, "%%MatrixMarket matrix array real general\n2 1\n1\n2\n");
      foldopt::io::read_vec(PETSC_COMM_WORLD, mm);
      write_file(bin, be_vec);
      foldopt::io::read_vec(PETSC_COMM_WORLD, bin);
      write_file(bin, be_mat);
      foldopt::io::read_mat(PETSC_COMM_WORLD, bin);
    } catch (const foldopt::Error& e) {
      std::fprintf(stderr, "fuzz_readers: warm-up: a valid file was refused: %s\n", e.what());
      std::abort();
    }
    try {
      write_file(bin, "x");
      foldopt::io::read_vec(PETSC_COMM_WORLD, bin);
    } catch (const foldopt::Error&) {
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // PETSc's own signal handler would hide a crash from the sanitizers.
  static char arg0[] = "fuzz_readers", arg1[] = "-no_signal_handler";
  static char* args[] = {arg0, arg1, nullptr};
  int argc = 2;
  char** argv = args;
  if (PetscInitialize(&argc, &argv, nullptr, nullptr)) return 1;
  char templ[] = "/tmp/foldopt_fuzz.XXXXXX";
  const char* dir = mkdtemp(templ);
  if (!dir) return 1;
  g_dir = dir;
  std::atexit(finalize);
  warm_up();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const bool matrix = data[0] & 1, binary = data[0] & 2;
  const std::string path = g_dir + (binary ? "/in.bin" : "/in.mtx");
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size > 1 && std::fwrite(data + 1, 1, size - 1, f) != size - 1) std::abort();
  if (std::fclose(f) != 0) std::abort();
  try {
    if (matrix)
      foldopt::io::read_mat(PETSC_COMM_WORLD, path);
    else
      foldopt::io::read_vec(PETSC_COMM_WORLD, path);
  } catch (const foldopt::Error& e) {
    const std::string m = e.what();
    // Every I/O error is one line that names the file.
    if (m.find('\n') != std::string::npos || m.find(path) == std::string::npos) {
      std::fprintf(stderr, "bad error message: %s\n", m.c_str());
      std::abort();
    }
  }
  return 0;
}
