// foldopt: PETSc binary reading and writing.
//
// Format facts (big-endian, integers are PetscInt: 4 bytes in this build, scalars 8 bytes):
//   Vec: class id 1211214, n, then n scalars                       -> 2*I + n*S bytes
//   Mat: class id 1211216, M, N, nz, M row lengths, nz column indices, nz scalars
//                                                                  -> 4*I + M*I + nz*(I+S) bytes
//   (nz = -1 marks PETSc's dense format, which we do not read).
// PETSc reads a binary file on rank 0 only, so a missing, truncated or foreign file makes it fail
// on rank 0 while the other ranks wait. We therefore check the file on rank 0 first (class id,
// sizes, exact length; for a matrix also the row lengths and column indices) and broadcast the
// verdict, and only then call VecLoad / MatLoad. Writing likewise lets rank 0 create the file
// before PETSc does, so that an unwritable destination fails on every rank. No .info file is read
// or written.
#include "io/io_internal.hpp"

#include <petscviewer.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

namespace foldopt {
namespace io {
namespace detail {
namespace {

using ::foldopt::detail::format;
using OwnedViewer = Owned<PetscViewer, PetscViewerDestroy>;

constexpr long long kInt = static_cast<long long>(sizeof(PetscInt));
constexpr long long kScalar = static_cast<long long>(sizeof(PetscScalar));
// Sizes in a header are bounded by this many bytes per part, so that sums of parts cannot overflow.
constexpr long long kMaxBytes = (1LL << 60);

// A binary file opened for checking on rank 0.
class BinaryFile {
 public:
  explicit BinaryFile(const std::string& path) : path_(path) {
    file_ = std::fopen(path.c_str(), "rb");
    if (!file_) {
      st_.fail(PETSC_ERR_FILE_OPEN,
               format("%s: cannot open: %s", path.c_str(), errno_text(errno).c_str()));
      return;
    }
    struct stat sb;
    if (fstat(fileno(file_), &sb) != 0) {
      st_.fail(PETSC_ERR_FILE_READ,
               format("%s: cannot stat: %s", path.c_str(), errno_text(errno).c_str()));
    } else if (S_ISDIR(sb.st_mode)) {
      st_.fail(PETSC_ERR_FILE_OPEN,
               format("%s: cannot open: %s", path.c_str(), errno_text(EISDIR).c_str()));
    } else {
      size_ = static_cast<long long>(sb.st_size);
    }
  }
  ~BinaryFile() {
    if (file_) std::fclose(file_);
  }
  BinaryFile(const BinaryFile&) = delete;
  BinaryFile& operator=(const BinaryFile&) = delete;

  Status& status() { return st_; }
  long long size() const { return size_; }
  const char* name() const { return path_.c_str(); }

  /// Reads `count` big-endian PetscInts (false and a Status on failure).
  bool read_ints(PetscInt* out, std::size_t count) {
    std::vector<unsigned char> raw(count * sizeof(PetscInt));
    if (std::fread(raw.data(), 1, raw.size(), file_) != raw.size()) {
      if (std::ferror(file_))
        st_.fail(PETSC_ERR_FILE_READ,
                 format("%s: read error: %s", name(), errno_text(errno).c_str()));
      else
        st_.fail(PETSC_ERR_FILE_READ, format("%s: truncated while reading", name()));
      return false;
    }
    for (std::size_t k = 0; k < count; ++k) {
      std::uint64_t u = 0;
      for (std::size_t b = 0; b < sizeof(PetscInt); ++b)
        u = (u << 8) | raw[k * sizeof(PetscInt) + b];
      if (sizeof(PetscInt) == 4)
        out[k] = static_cast<PetscInt>(static_cast<std::int32_t>(static_cast<std::uint32_t>(u)));
      else
        out[k] = static_cast<PetscInt>(static_cast<std::int64_t>(u));
    }
    return true;
  }

  /// The file's length must be exactly `expected` bytes; `what` says what the header promises.
  bool check_length(long long expected, const std::string& what) {
    if (size_ < expected) {
      st_.fail(PETSC_ERR_FILE_READ,
               format("%s: truncated: header promises %s (%lld bytes), file has %lld bytes", name(),
                      what.c_str(), expected, size_));
      return false;
    }
    if (size_ > expected) {
      st_.fail(PETSC_ERR_FILE_UNEXPECTED,
               format("%s: file has %lld bytes, but the header implies %lld (%s): trailing data",
                      name(), size_, expected, what.c_str()));
      return false;
    }
    return true;
  }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  long long size_ = 0;
  Status st_;
};

// Rank 0: checks a vector file; `n` is its length.
Status check_vec_file(const std::string& path, PetscInt& n) {
  BinaryFile in(path);
  if (!in.status().ok) return in.status();
  if (in.size() < 2 * kInt) {
    in.status().fail(
        PETSC_ERR_FILE_READ,
        format("%s: truncated: file has %lld bytes, too short for a PETSc binary header", in.name(),
               in.size()));
    return in.status();
  }
  PetscInt h[2];
  if (!in.read_ints(h, 2)) return in.status();
  if (h[0] != VEC_FILE_CLASSID) {
    in.status().fail(
        PETSC_ERR_FILE_UNEXPECTED,
        format("%s: not a PETSc binary vector (class id %" PetscInt_FMT "%s)", in.name(), h[0],
               h[0] == MAT_FILE_CLASSID ? ": it holds a matrix" : ""));
    return in.status();
  }
  n = h[1];
  if (n < 0 || static_cast<long long>(n) > kMaxBytes / kScalar) {  // the bound: 64-bit PetscInt
    in.status().fail(PETSC_ERR_FILE_UNEXPECTED,
                     format("%s: bad vector length %" PetscInt_FMT " in the header", in.name(), n));
    return in.status();
  }
  in.check_length(2 * kInt + static_cast<long long>(n) * kScalar,
                  format("%" PetscInt_FMT " entries", n));
  return in.status();
}

// Rank 0: checks a matrix file (header, length, row lengths, column indices).
Status check_mat_file(const std::string& path, PetscInt& M, PetscInt& N) {
  BinaryFile in(path);
  if (!in.status().ok) return in.status();
  if (in.size() < 4 * kInt) {
    in.status().fail(
        PETSC_ERR_FILE_READ,
        format("%s: truncated: file has %lld bytes, too short for a PETSc binary header", in.name(),
               in.size()));
    return in.status();
  }
  PetscInt h[4];
  if (!in.read_ints(h, 4)) return in.status();
  if (h[0] != MAT_FILE_CLASSID) {
    in.status().fail(
        PETSC_ERR_FILE_UNEXPECTED,
        format("%s: not a PETSc binary matrix (class id %" PetscInt_FMT "%s)", in.name(), h[0],
               h[0] == VEC_FILE_CLASSID ? ": it holds a vector" : ""));
    return in.status();
  }
  M = h[1];
  N = h[2];
  const PetscInt nz = h[3];
  if (nz == -1) {
    in.status().fail(
        PETSC_ERR_FILE_UNEXPECTED,
        format("%s: a dense-format PETSc binary matrix, only sparse (AIJ) files are read",
               in.name()));
    return in.status();
  }
  if (M < 0 || N < 0 || nz < 0) {
    in.status().fail(PETSC_ERR_FILE_UNEXPECTED,
                     format("%s: bad matrix header (%" PetscInt_FMT "x%" PetscInt_FMT
                            ", %" PetscInt_FMT " nonzeros)",
                            in.name(), M, N, nz));
    return in.status();
  }
  const std::string what =
      format("%" PetscInt_FMT "x%" PetscInt_FMT " with %" PetscInt_FMT " nonzeros", M, N, nz);
  if (static_cast<long long>(M) > kMaxBytes / kInt ||
      static_cast<long long>(nz) > kMaxBytes / (kInt + kScalar)) {  // only with 64-bit PetscInt
    in.status().fail(PETSC_ERR_FILE_UNEXPECTED,
                     format("%s: bad matrix header (%s)", in.name(), what.c_str()));
    return in.status();
  }
  if (!in.check_length(4 * kInt + static_cast<long long>(M) * kInt +
                           static_cast<long long>(nz) * (kInt + kScalar),
                       what))
    return in.status();

  // Row lengths, then column indices, in chunks.
  const std::size_t chunk = 1 << 16;
  std::vector<PetscInt> buf(chunk);
  long long sum = 0;
  for (long long done = 0; done < M;) {
    const std::size_t k = static_cast<std::size_t>(std::min<long long>(chunk, M - done));
    if (!in.read_ints(buf.data(), k)) return in.status();
    for (std::size_t q = 0; q < k; ++q) {
      if (buf[q] < 0 || buf[q] > N) {
        in.status().fail(PETSC_ERR_FILE_UNEXPECTED,
                         format("%s: row %lld has length %" PetscInt_FMT
                                ", not between 0 and the %" PetscInt_FMT " columns",
                                in.name(), done + static_cast<long long>(q), buf[q], N));
        return in.status();
      }
      sum += buf[q];
    }
    done += static_cast<long long>(k);
  }
  if (sum != static_cast<long long>(nz)) {
    in.status().fail(
        PETSC_ERR_FILE_UNEXPECTED,
        format("%s: row lengths add up to %lld, but the header says %" PetscInt_FMT " nonzeros",
               in.name(), sum, nz));
    return in.status();
  }
  for (long long done = 0; done < nz;) {
    const std::size_t k = static_cast<std::size_t>(std::min<long long>(chunk, nz - done));
    if (!in.read_ints(buf.data(), k)) return in.status();
    for (std::size_t q = 0; q < k; ++q) {
      if (buf[q] < 0 || buf[q] >= N) {
        in.status().fail(PETSC_ERR_FILE_UNEXPECTED,
                         format("%s: nonzero %lld has column index %" PetscInt_FMT
                                ", outside the %" PetscInt_FMT " columns",
                                in.name(), done + static_cast<long long>(q), buf[q], N));
        return in.status();
      }
    }
    done += static_cast<long long>(k);
  }
  return in.status();
}

// Runs a PETSc load; a PETSc error is rethrown naming the file.
template <class F>
void with_file_name(const std::string& path, F f) {
  try {
    f();
  } catch (const Error& e) {
    throw Error(e.code(), path + ": " + e.what(), e.collective());
  }
}

OwnedViewer open_viewer(MPI_Comm comm, const std::string& path, PetscFileMode mode) {
  OwnedViewer viewer;
  FOLDOPT_CALL(PetscViewerBinaryOpen(comm, path.c_str(), mode, viewer.out()));
  // The file is opened lazily (PetscViewerSetUp), so this still applies: no .info file.
  FOLDOPT_CALL(PetscViewerBinarySetSkipInfo(viewer, PETSC_TRUE));
  return viewer;
}

// Collective: write `obj` with VecView / MatView to `tmp`. Never throws.
template <class View>
Status binary_write(MPI_Comm comm, const std::string& tmp, const std::string& dest, View view) {
  Status st;
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) {
    std::FILE* probe = std::fopen(tmp.c_str(), "wb");
    if (!probe)
      st.fail(PETSC_ERR_FILE_OPEN, dest + ": cannot write: " + errno_text(errno));
    else
      std::fclose(probe);
  }
  if (!agree(comm, st)) return st;
  try {
    OwnedViewer viewer = open_viewer(comm, tmp, FILE_MODE_WRITE);
    view(viewer.get());
    PetscViewer raw = viewer.release();
    FOLDOPT_CALL(PetscViewerDestroy(&raw));  // closes (and flushes) the file
  } catch (const std::exception& e) {
    st.fail(PETSC_ERR_FILE_WRITE, dest + ": cannot write: " + e.what());
  }
  return st;
}

}  // namespace

OwnedVec binary_read_vec(MPI_Comm comm, const std::string& path, PetscInt local,
                         PetscInt expected_global) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  Status st;
  PetscInt n = 0;
  if (rank == 0) st = check_vec_file(path, n);
  raise_if_any(comm, st);
  MPI_Bcast(&n, 1, MPIU_INT, 0, comm);
  if (expected_global != PETSC_DETERMINE && n != expected_global)
    st.fail(PETSC_ERR_ARG_SIZ, format("%s: has %" PetscInt_FMT " entries, expected %" PetscInt_FMT,
                                      path.c_str(), n, expected_global));
  raise_if_any(comm, st);
  const Range r = split(comm, path, local, n, "entries");

  OwnedVec v;
  with_file_name(path, [&] {
    FOLDOPT_CALL(VecCreate(comm, v.out()));
    FOLDOPT_CALL(VecSetSizes(v, r.local, n));
    FOLDOPT_CALL(VecSetType(v, VECSTANDARD));
    OwnedViewer viewer = open_viewer(comm, path, FILE_MODE_READ);
    FOLDOPT_CALL(VecLoad(v, viewer));
  });
  return v;
}

OwnedMat binary_read_mat(MPI_Comm comm, const std::string& path, PetscInt local_rows) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  Status st;
  PetscInt size[2] = {0, 0};
  if (rank == 0) st = check_mat_file(path, size[0], size[1]);
  raise_if_any(comm, st);
  MPI_Bcast(size, 2, MPIU_INT, 0, comm);
  const Range rows = split(comm, path, local_rows, size[0], "rows");
  const Range cols = column_split(comm, path, rows, size[1]);

  OwnedMat A;
  with_file_name(path, [&] {
    FOLDOPT_CALL(MatCreate(comm, A.out()));
    FOLDOPT_CALL(MatSetSizes(A, rows.local, cols.local, size[0], size[1]));
    FOLDOPT_CALL(MatSetType(A, MATAIJ));
    OwnedViewer viewer = open_viewer(comm, path, FILE_MODE_READ);
    FOLDOPT_CALL(MatLoad(A, viewer));
  });
  return A;
}

Status binary_write_vec(MPI_Comm comm, Vec v, const std::string& tmp, const std::string& dest) {
  return binary_write(comm, tmp, dest,
                      [&](PetscViewer viewer) { FOLDOPT_CALL(VecView(v, viewer)); });
}

Status binary_write_mat(MPI_Comm comm, Mat A, const std::string& tmp, const std::string& dest) {
  return binary_write(comm, tmp, dest,
                      [&](PetscViewer viewer) { FOLDOPT_CALL(MatView(A, viewer)); });
}

}  // namespace detail
}  // namespace io
}  // namespace foldopt
