// foldopt learning examples: the pieces every training program shares.
//
// Method: data-parallel training with libtorch. Every rank builds the same network from the same
//   seed and holds its own rows of the batch (the layer's rows, foldopt::torch::Layer); after each
//   backward the parameter gradients are summed over the ranks (sum_gradients), so every rank
//   takes the same optimizer step. Scalars reported (losses, regrets) are sums or means over all
//   ranks' rows (sum_over_ranks). Rank 0 writes the CSV files (Csv: '#' comment lines with the
//   command and configuration, then a header and one row per call of row()).
// References: PyTorch C++ API (torch::nn, torch::optim); PETSc PetscOptionsGetString.
#ifndef FOLDOPT_EXAMPLES_LEARNING_HPP
#define FOLDOPT_EXAMPLES_LEARNING_HPP

#include <foldopt/error.hpp>

#include <petscsys.h>
#include <torch/torch.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace learning {

/// Σ over the ranks of every parameter's gradient, in place (a parameter without a gradient is
/// left alone).
inline void sum_gradients(const std::vector<at::Tensor>& params, MPI_Comm comm) {
  for (const at::Tensor& p : params) {
    if (!p.grad().defined()) continue;
    at::Tensor g = p.grad();
    FOLDOPT_CHECK(g.is_contiguous() && g.scalar_type() == at::kDouble, PETSC_ERR_ARG_WRONG,
                  "sum_gradients: gradients must be contiguous float64");
    MPI_Allreduce(MPI_IN_PLACE, g.data_ptr<double>(), static_cast<int>(g.numel()), MPI_DOUBLE, MPI_SUM, comm);
  }
}

/// Σ over the ranks of a scalar.
inline double sum_over_ranks(double v, MPI_Comm comm) {
  MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_SUM, comm);
  return v;
}

/// The command line, for the CSV header and the printed summary.
inline std::string command_line(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) s += (i ? " " : "") + std::string(argv[i]);
  return s;
}

/// -output_dir (default `fallback`), created (with its parents) by rank 0; an error names the
/// directory on every rank.
inline std::string output_dir(MPI_Comm comm, const std::string& fallback = ".") {
  char buf[PETSC_MAX_PATH_LEN];
  std::snprintf(buf, sizeof buf, "%s", fallback.c_str());
  PetscBool set = PETSC_FALSE;
  FOLDOPT_CALL(PetscOptionsGetString(nullptr, nullptr, "-output_dir", buf, sizeof buf, &set));
  const std::string dir = buf;
  int rank = 0, ok = 1;
  MPI_Comm_rank(comm, &rank);
  std::string why;
  if (rank == 0) {
    for (std::size_t pos = 0; pos != std::string::npos && ok;) {
      pos = dir.find('/', pos + 1);
      const std::string path = dir.substr(0, pos);
      if (path.empty()) continue;
      struct stat st;
      if (stat(path.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) ok = 0, why = path + " is not a directory";
      } else if (mkdir(path.c_str(), 0777) != 0 && errno != EEXIST) {
        ok = 0, why = path + ": " + std::strerror(errno);
      }
    }
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, comm);
  FOLDOPT_CHECK(ok, PETSC_ERR_FILE_OPEN, "-output_dir %s: cannot create it%s%s", dir.c_str(), rank == 0 ? ": " : "",
                rank == 0 ? why.c_str() : "");
  return dir;
}

/// A CSV file written by rank 0: comment lines, a header, rows. The file is written whole at
/// close() (or destruction), so a failed run leaves no partial curve behind.
class Csv {
 public:
  Csv(MPI_Comm comm, std::string path, const std::vector<std::string>& comments, const std::string& header)
      : comm_(comm), path_(std::move(path)) {
    for (const std::string& c : comments) text_ += "# " + c + "\n";
    text_ += header + "\n";
  }
  ~Csv() {
    try {
      close();
    } catch (...) {
    }
  }
  Csv(const Csv&) = delete;
  Csv& operator=(const Csv&) = delete;
  /// One row, formatted by the caller (comma-separated).
  void row(const std::string& line) { text_ += line + "\n"; }
  /// Write the file (rank 0); every rank learns whether it worked.
  void close() {
    if (closed_) return;
    closed_ = true;
    int rank = 0, ok = 1;
    MPI_Comm_rank(comm_, &rank);
    if (rank == 0) {
      std::FILE* fp = std::fopen(path_.c_str(), "w");
      ok = fp && std::fputs(text_.c_str(), fp) >= 0;
      if (fp && std::fclose(fp) != 0) ok = 0;
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, comm_);
    FOLDOPT_CHECK(ok, PETSC_ERR_FILE_WRITE, "%s: cannot write the file", path_.c_str());
  }

 private:
  MPI_Comm comm_;
  std::string path_, text_;
  bool closed_ = false;
};

/// printf-style formatting into a std::string.
template <typename... A>
std::string format(const char* fmt, A... a) {
  char buf[1024];
  std::snprintf(buf, sizeof buf, fmt, a...);
  return buf;
}

}  // namespace learning

#endif  // FOLDOPT_EXAMPLES_LEARNING_HPP
