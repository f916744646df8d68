// foldopt: PETSc binary reading and writing.
//
// Format facts (big-endian, integers are PetscInt: 4 bytes in this build, scalars 8 bytes):
//   Vec: class id 1211214, n, then n scalars                       -> 2*I + n*S bytes
//   Mat: class id 1211216, M, N, nz, M row lengths, nz column indices, nz scalars
//                                                                  -> 4*I + M*I + nz*(I+S) bytes
//   Dense Mat (MatView with PETSC_VIEWER_NATIVE): class id, M, N, nz = -1, then M*N scalars row
//   by row                                                          -> 4*I + M*N*S bytes
//   (read_mat loads it as MATDENSE, read_batch as a batch). One object per file: bytes
//   after it are refused. Each row lists its column indices strictly increasing (PETSc writes them so;
//   a duplicate or an unsorted row has no single meaning, so it is refused), each in 0..N-1, and
//   the row lengths add up to nz.
// PETSc reads a binary file on rank 0 only, so a missing, truncated or foreign file makes it fail
// on rank 0 while the other ranks wait. We therefore check the file on rank 0 first (a regular
// file; class id, sizes, exact length, before anything is allocated from the header; for a matrix
// also the row lengths and column indices) and broadcast the verdict, and only then call VecLoad /
// MatLoad. No .info file is read or written.
// read_mat: an AIJ file is loaded as AIJ and converted to MATDENSE when the storage rule says so
// (its density above the threshold, or forced); a dense file is loaded as MATDENSE (MatLoad reads
// the dense format) and converted to AIJ only when forced.
// A batch (n x B, column b = instance b) is held instance after instance, i.e. column-major, and
// a dense file is row-major: the entries a rank holds, [start, end) in column-major order, are in
// each row i the columns b with start <= b*n + i < end, one contiguous run of the file per row.
// When those runs are long (4 KiB on average, e.g. at one rank, or a few instances of many
// entries each), every rank reads exactly its runs with pread(2) (runs that touch are read
// together, up to 1 MiB) or writes them at their offsets. When they are short (a rank holding a
// few instances of a long batch has one run of a few values in every row), each rank instead
// reads or writes one block of whole rows, of about the size of its share, and one VecScatter
// transposes between that row-major block and the column-major batch: no rank ever holds more
// than its share. An AIJ-format batch file (MatView's default, also for a
// MATDENSE matrix) is loaded as an AIJ matrix by rows (MatLoad, as read_mat does) and its values
// are moved to the column-major split by one VecScatter; entries it does not store are zero.
// Writing does not use PETSc's viewer (whose rank 0 waits in a broadcast of its own when a write
// fails there): rank 0 creates the file and writes the header, then every rank writes its own rows
// with pwrite(2) at offsets known from the global sizes and prefix sums, and the outcome of every
// rank (a full disk, EFBIG, an I/O error, close) is agreed on collectively.
#include "io/io_internal.hpp"

#include <petscviewer.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
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
    int fd = -1;
    st_ = open_regular(path, fd, size_);
    if (!st_.ok) return;
    file_ = fdopen(fd, "rb");
    if (!file_) {
      st_.fail(PETSC_ERR_FILE_OPEN, format("%s: cannot open: %s", path.c_str(), errno_text(errno).c_str()));
      close(fd);
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

  // Row lengths (kept: the file holds them, so their memory is bounded by the file's length,
  // which has been checked), then column indices in chunks, row by row.
  std::vector<PetscInt> len(static_cast<std::size_t>(M));
  const std::size_t chunk = 1 << 16;
  long long sum = 0;
  for (long long done = 0; done < M;) {
    const std::size_t k = static_cast<std::size_t>(std::min<long long>(chunk, M - done));
    if (!in.read_ints(len.data() + done, k)) return in.status();
    for (std::size_t q = 0; q < k; ++q) {
      const PetscInt l = len[static_cast<std::size_t>(done) + q];
      if (l < 0 || l > N) {
        in.status().fail(PETSC_ERR_FILE_UNEXPECTED,
                         format("%s: row %lld has length %" PetscInt_FMT
                                ", not between 0 and the %" PetscInt_FMT " columns",
                                in.name(), done + static_cast<long long>(q), l, N));
        return in.status();
      }
      sum += l;
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
  std::vector<PetscInt> buf(chunk);
  long long row = 0, left_in_row = M > 0 ? len[0] : 0;
  PetscInt prev = -1;
  for (long long done = 0; done < nz;) {
    const std::size_t k = static_cast<std::size_t>(std::min<long long>(chunk, nz - done));
    if (!in.read_ints(buf.data(), k)) return in.status();
    for (std::size_t q = 0; q < k; ++q) {
      while (left_in_row == 0) {  // skip empty rows; nz = sum of lengths, so a row follows
        ++row;
        left_in_row = len[static_cast<std::size_t>(row)];
        prev = -1;
      }
      const PetscInt c = buf[q];
      const long long entry = done + static_cast<long long>(q);
      if (c < 0 || c >= N) {
        in.status().fail(PETSC_ERR_FILE_UNEXPECTED,
                         format("%s: nonzero %lld (row %lld) has column index %" PetscInt_FMT
                                ", outside the %" PetscInt_FMT " columns",
                                in.name(), entry, row, c, N));
        return in.status();
      }
      if (c <= prev) {
        in.status().fail(PETSC_ERR_FILE_UNEXPECTED,
                         format("%s: nonzero %lld (row %lld) has column index %" PetscInt_FMT
                                " after %" PetscInt_FMT
                                ": the column indices of a row must be strictly increasing (%s)",
                                in.name(), entry, row, c, prev,
                                c == prev ? "a duplicate entry" : "unsorted"));
        return in.status();
      }
      prev = c;
      --left_in_row;
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
    throw Error(e.code(), one_line(path + ": " + e.what()), e.collective());
  }
}

OwnedViewer open_viewer(MPI_Comm comm, const std::string& path, PetscFileMode mode) {
  OwnedViewer viewer;
  FOLDOPT_CALL(PetscViewerBinaryOpen(comm, path.c_str(), mode, viewer.out()));
  // The file is opened lazily (PetscViewerSetUp), so this still applies: no .info file.
  FOLDOPT_CALL(PetscViewerBinarySetSkipInfo(viewer, PETSC_TRUE));
  return viewer;
}

// Buffered big-endian writes at an offset of an open file (pwrite); rank-local, never throws. The
// first failure is kept in the Status and stops further writes.
class OffsetWriter {
 public:
  OffsetWriter(int fd, long long offset, const std::string& dest, Status& st)
      : fd_(fd), offset_(offset), dest_(dest), st_(st) {
    buf_.reserve(kBuffer);
  }
  void put_int(PetscInt x) { put(static_cast<std::uint64_t>(static_cast<std::int64_t>(x)), sizeof(PetscInt)); }
  void put_scalar(PetscScalar x) {
    const double d = static_cast<double>(PetscRealPart(x));
    std::uint64_t u = 0;
    std::memcpy(&u, &d, sizeof u);
    put(u, sizeof u);
  }
  /// Continue at `offset` (flushing first unless it is where the next byte would go).
  void seek(long long offset) {
    if (offset == offset_ + static_cast<long long>(buf_.size())) return;
    flush();
    offset_ = offset;
  }
  /// Writes what is buffered; false on failure.
  bool flush() {
    const unsigned char* p = buf_.data();
    std::size_t left = buf_.size();
    while (left > 0 && st_.ok) {
      const ssize_t n = pwrite(fd_, p, left, static_cast<off_t>(offset_));
      if (n < 0) {
        if (errno == EINTR) continue;
        st_.fail(PETSC_ERR_FILE_WRITE, dest_ + ": cannot write: " + errno_text(errno));
        break;
      }
      if (n == 0) {
        st_.fail(PETSC_ERR_FILE_WRITE, dest_ + ": cannot write: " + errno_text(EIO));
        break;
      }
      p += n;
      left -= static_cast<std::size_t>(n);
      offset_ += n;
    }
    buf_.clear();
    return st_.ok;
  }

 private:
  static constexpr std::size_t kBuffer = 1 << 20;
  void put(std::uint64_t u, std::size_t bytes) {
    if (!st_.ok) return;
    for (std::size_t b = bytes; b-- > 0;) buf_.push_back(static_cast<unsigned char>(u >> (8 * b)));
    if (buf_.size() >= kBuffer) flush();
  }
  int fd_;
  long long offset_;
  const std::string& dest_;
  Status& st_;
  std::vector<unsigned char> buf_;
};

// Collective, never throws: rank 0 creates `tmp` and calls header(writer at 0); after every rank
// knows the file exists, each rank opens it and calls body(fd) to write its own parts; the
// outcome (including close) is agreed on by every rank.
template <class Header, class Body>
Status write_at_offsets(MPI_Comm comm, const std::string& tmp, const std::string& dest, Header header,
                        Body body) {
  Status st;
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  int fd = -1;
  if (rank == 0) {
    fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
      st.fail(PETSC_ERR_FILE_OPEN, dest + ": cannot write: " + errno_text(errno));
    } else {
      OffsetWriter w(fd, 0, dest, st);
      header(w);
      w.flush();
    }
  }
  if (!agree(comm, st)) {
    if (fd >= 0) close(fd);
    return st;
  }
  if (rank != 0) {
    fd = open(tmp.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) st.fail(PETSC_ERR_FILE_WRITE, dest + ": cannot write: " + errno_text(errno));
  }
  if (fd >= 0) {
    try {
      body(fd, st);
    } catch (const std::exception& e) {
      st.fail(PETSC_ERR_FILE_WRITE, dest + ": cannot write: " + e.what());
    }
    if (close(fd) != 0) st.fail(PETSC_ERR_FILE_WRITE, dest + ": cannot write: " + errno_text(errno));
  }
  agree(comm, st);
  return st;
}

// For the column-major range [start, end) of an M x N matrix: f(i, lo, hi) for each row i holding
// some of it, columns lo..hi (entry (i, b) is at b*M + i).
template <class F>
void for_each_row_run(PetscInt M, PetscInt N, PetscInt start, PetscInt end, F f) {
  if (start >= end || M <= 0) return;
  for (PetscInt i = 0; i < M; ++i) {
    const long long li = i, ls = start, le = end, lm = M;
    if (le - 1 < li) break;  // rows beyond end - 1 hold nothing of the range
    const long long lo = li >= ls ? 0 : (ls - li + lm - 1) / lm;
    const long long hi = std::min<long long>(N - 1, (le - 1 - li) / lm);
    if (lo <= hi) f(i, static_cast<PetscInt>(lo), static_cast<PetscInt>(hi));
  }
}

// Rank-local: reads runs of big-endian scalars from a dense batch file into the column-major
// local array `a` (entries from `start`), merging runs that touch into one pread.
class DenseRunReader {
 public:
  /// Column-major destination: entry (i, b) goes to a[b*M + i - start]. With `row_major`, to
  /// a[(i - start)*N + b] (`start` is then the first row).
  DenseRunReader(int fd, PetscInt M, PetscInt N, PetscInt start, PetscScalar* a,
                 const std::string& path, Status& st, bool row_major = false)
      : fd_(fd), M_(M), N_(N), start_(start), a_(a), path_(path), st_(st), row_major_(row_major) {}
  void add(PetscInt i, PetscInt lo, PetscInt hi) {
    const long long off = kHead + (static_cast<long long>(i) * N_ + lo) * kScalar;
    if (off != end_ || end_ - begin_ >= kRun) {
      flush();
      begin_ = off;
    }
    end_ = off + static_cast<long long>(hi - lo + 1) * kScalar;
    runs_.push_back(Run{i, lo, hi});
  }
  void flush() {
    if (!runs_.empty() && st_.ok) {
      buf_.resize(static_cast<std::size_t>(end_ - begin_));
      std::size_t got = 0;
      while (got < buf_.size()) {
        const ssize_t n = pread(fd_, buf_.data() + got, buf_.size() - got,
                                static_cast<off_t>(begin_ + static_cast<long long>(got)));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          st_.fail(PETSC_ERR_FILE_READ, path_ + ": read error: " + errno_text(errno));
          break;
        }
        if (n == 0) {
          st_.fail(PETSC_ERR_FILE_READ, path_ + ": truncated while reading (the file changed?)");
          break;
        }
        got += static_cast<std::size_t>(n);
      }
      std::size_t pos = 0;
      for (const Run& r : runs_)
        for (PetscInt b = r.lo; b <= r.hi && st_.ok; ++b, pos += sizeof(double)) {
          std::uint64_t u = 0;
          for (std::size_t k = 0; k < sizeof u; ++k) u = (u << 8) | buf_[pos + k];
          double d = 0;
          std::memcpy(&d, &u, sizeof d);
          a_[row_major_ ? static_cast<long long>(r.i - start_) * N_ + b
                        : static_cast<long long>(b) * M_ + r.i - start_] = d;
        }
    }
    runs_.clear();
  }

 private:
  static constexpr long long kHead = 4 * kInt;
  static constexpr long long kRun = 1 << 20;
  struct Run {
    PetscInt i, lo, hi;
  };
  int fd_;
  PetscInt M_, N_, start_;
  PetscScalar* a_;
  const std::string& path_;
  Status& st_;
  bool row_major_;
  long long begin_ = -1, end_ = -1;
  std::vector<Run> runs_;
  std::vector<unsigned char> buf_;
};

// Collective: true if every rank's part [start, end) of an M x N dense batch lies in the file in
// runs of 4 KiB on average at least (after merging runs that touch), so that reading or writing
// the runs in place is efficient. Otherwise (a rank holding a few instances of a long batch has
// one short run per row) the rows go through a row-major Vec and a transposing scatter.
bool long_runs(MPI_Comm comm, PetscInt M, PetscInt N, PetscInt start, PetscInt end) {
  long long runs = 0, last = -1;
  for_each_row_run(M, N, start, end, [&](PetscInt i, PetscInt lo, PetscInt hi) {
    const long long off = (static_cast<long long>(i) * N + lo) * kScalar;
    if (off != last) ++runs;
    last = off + static_cast<long long>(hi - lo + 1) * kScalar;
  });
  const long long bytes = static_cast<long long>(end - start) * kScalar;
  int mine = runs == 0 || bytes / runs >= 4096 ? 1 : 0, all = 0;
  MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, comm);
  return all == 1;
}

// Collective: the scatter from `rows` (the M x N matrix row-major, split by rows: entry (i, b) at
// i*N + b) to the column-major batch `v` (entry (i, b) at b*M + i); SCATTER_REVERSE goes back.
OwnedVecScatter transpose_scatter(Vec rows, Vec v, PetscInt M, PetscInt N) {
  PetscInt rs = 0, re = 0;
  FOLDOPT_CALL(VecGetOwnershipRange(rows, &rs, &re));
  std::vector<PetscInt> to(static_cast<std::size_t>(re - rs));
  for (PetscInt k = rs; k < re; ++k) to[static_cast<std::size_t>(k - rs)] = (k % N) * M + k / N;
  OwnedIS from_is, to_is;
  FOLDOPT_CALL(ISCreateStride(PETSC_COMM_SELF, re - rs, rs, 1, from_is.out()));
  FOLDOPT_CALL(ISCreateGeneral(PETSC_COMM_SELF, re - rs, to.data(), PETSC_COPY_VALUES, to_is.out()));
  OwnedVecScatter sc;
  FOLDOPT_CALL(VecScatterCreate(rows, from_is, v, to_is, sc.out()));
  return sc;
}

// What a batch file holds, found by rank 0: a vector (then binary_read_vec checks it), a dense
// matrix (checked here: sizes and exact length) or an AIJ matrix (check_mat_file).
enum BatchKind : PetscInt { kBatchVec = 0, kBatchDense = 1, kBatchAij = 2 };

Status check_batch_file(const std::string& path, PetscInt& kind, PetscInt& M, PetscInt& N) {
  kind = kBatchVec;
  {
    BinaryFile in(path);
    if (!in.status().ok) return in.status();
    PetscInt h[4] = {0, 0, 0, 0};
    if (in.size() < kInt || !in.read_ints(h, 1)) return check_vec_file(path, M);
    if (h[0] == VEC_FILE_CLASSID) return in.status();
    if (h[0] != MAT_FILE_CLASSID) {
      in.status().fail(PETSC_ERR_FILE_UNEXPECTED,
                       format("%s: not a PETSc binary vector or matrix (class id %" PetscInt_FMT ")",
                              in.name(), h[0]));
      return in.status();
    }
    kind = kBatchAij;
    if (in.size() >= 4 * kInt && in.read_ints(h + 1, 3) && h[3] == -1) {
      kind = kBatchDense;
      M = h[1];
      N = h[2];
      const std::string what = format("%" PetscInt_FMT "x%" PetscInt_FMT " dense", M, N);
      if (M < 0 || N < 0 || static_cast<long long>(M) * N > kMaxBytes / kScalar) {
        in.status().fail(PETSC_ERR_FILE_UNEXPECTED,
                         format("%s: bad matrix header (%s)", in.name(), what.c_str()));
        return in.status();
      }
      in.check_length(4 * kInt + static_cast<long long>(M) * N * kScalar, what);
      return in.status();
    }
  }
  return check_mat_file(path, M, N);  // its own messages for a short or bad AIJ file
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

OwnedMat binary_read_mat(MPI_Comm comm, const std::string& path, PetscInt local_rows, const StorageRule& rule,
                         StorageChoice* choice) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  Status st;
  PetscInt info[3] = {kBatchVec, 0, 0};  // kind, M, N
  if (rank == 0) {
    bool dense = false;  // a matrix header with nz = -1 (a file that cannot be read fails below)
    {
      BinaryFile in(path);
      PetscInt h[4] = {0, 0, 0, 0};
      dense = in.status().ok && in.size() >= 4 * kInt && in.read_ints(h, 4) && h[0] == MAT_FILE_CLASSID && h[3] == -1;
    }
    if (dense)
      st = check_batch_file(path, info[0], info[1], info[2]);
    else
      st = check_mat_file(path, info[1], info[2]);  // AIJ (and its messages for anything else)
    if (st.ok && !dense) info[0] = kBatchAij;
  }
  raise_if_any(comm, st);
  MPI_Bcast(info, 3, MPIU_INT, 0, comm);
  const bool dense_file = info[0] == kBatchDense;
  const Range rows = split(comm, path, local_rows, info[1], "rows");
  const Range cols = column_split(comm, path, rows, info[2]);

  OwnedMat A;
  with_file_name(path, [&] {
    FOLDOPT_CALL(MatCreate(comm, A.out()));
    FOLDOPT_CALL(MatSetSizes(A, rows.local, cols.local, info[1], info[2]));
    FOLDOPT_CALL(MatSetType(A, dense_file ? MATDENSE : MATAIJ));
    OwnedViewer viewer = open_viewer(comm, path, FILE_MODE_READ);
    FOLDOPT_CALL(MatLoad(A, viewer));
  });
  MatInfo mi;
  FOLDOPT_CALL(MatGetInfo(A, MAT_GLOBAL_SUM, &mi));
  const StorageChoice c = choose_storage(rule, info[1], info[2], static_cast<long long>(mi.nz_used),
                                         dense_file ? "PETSc binary dense" : nullptr);
  if (c.dense != dense_file) {
    Mat raw = A.get();  // converted in place: the handle stays
    FOLDOPT_CALL(MatConvert(raw, c.dense ? MATDENSE : MATAIJ, MAT_INPLACE_MATRIX, &raw));
  }
  if (choice) *choice = c;
  return A;
}

Status binary_write_vec(MPI_Comm comm, Vec v, const std::string& tmp, const std::string& dest) {
  Status st;
  PetscInt n = 0, rstart = 0, nlocal = 0;
  const PetscScalar* a = nullptr;
  if (VecGetSize(v, &n) || VecGetLocalSize(v, &nlocal) || VecGetOwnershipRange(v, &rstart, nullptr) ||
      VecGetArrayRead(v, &a)) {
    st.fail(PETSC_ERR_ARG_WRONG, dest + ": cannot read the vector to write");
    a = nullptr;
  }
  if (agree(comm, st)) {
    st = write_at_offsets(
        comm, tmp, dest,
        [&](OffsetWriter& w) {
          w.put_int(VEC_FILE_CLASSID);
          w.put_int(n);
        },
        [&](int fd, Status& s) {
          OffsetWriter w(fd, 2 * kInt + static_cast<long long>(rstart) * kScalar, dest, s);
          for (PetscInt i = 0; i < nlocal && s.ok; ++i) w.put_scalar(a[i]);
          w.flush();
        });
  }
  if (a) VecRestoreArrayRead(v, &a);
  return st;
}

Status binary_write_mat(MPI_Comm comm, Mat A, const std::string& tmp, const std::string& dest) {
  PetscInt M = 0, N = 0, rstart = 0, rend = 0;
  std::vector<PetscInt> lengths;
  long long nz_local = 0;
  Status st = local_rows(A, dest, M, N, rstart, rend, &lengths, nz_local);
  if (!agree(comm, st)) return st;
  long long nz = 0, before = 0;
  MPI_Allreduce(&nz_local, &nz, 1, MPI_LONG_LONG, MPI_SUM, comm);
  MPI_Exscan(&nz_local, &before, 1, MPI_LONG_LONG, MPI_SUM, comm);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) before = 0;  // MPI_Exscan leaves rank 0's result undefined
  if (nz > static_cast<long long>(PETSC_MAX_INT)) {
    st.fail(PETSC_ERR_ARG_OUTOFRANGE,
            format("%s: cannot write: %lld nonzeros do not fit the %d-byte integers of a PETSc binary file",
                   dest.c_str(), nz, static_cast<int>(kInt)));
    return st;  // every rank sees the same nz
  }
  const long long head = 4 * kInt, col_start = head + static_cast<long long>(M) * kInt,
                  val_start = col_start + nz * kInt;
  return write_at_offsets(
      comm, tmp, dest,
      [&](OffsetWriter& w) {
        w.put_int(MAT_FILE_CLASSID);
        w.put_int(M);
        w.put_int(N);
        w.put_int(static_cast<PetscInt>(nz));
      },
      [&](int fd, Status& s) {
        {
          OffsetWriter w(fd, head + static_cast<long long>(rstart) * kInt, dest, s);
          for (PetscInt l : lengths) w.put_int(l);
          w.flush();
        }
        OffsetWriter wc(fd, col_start + before * kInt, dest, s);
        OffsetWriter wv(fd, val_start + before * kScalar, dest, s);
        for (PetscInt i = rstart; i < rend && s.ok; ++i) {
          PetscInt ncols = 0;
          const PetscInt* cols = nullptr;
          const PetscScalar* vals = nullptr;
          if (MatGetRow(A, i, &ncols, &cols, &vals)) {
            s.fail(PETSC_ERR_ARG_WRONG, dest + ": cannot read the rows of the matrix to write");
            return;
          }
          if (ncols != lengths[static_cast<std::size_t>(i - rstart)])
            s.fail(PETSC_ERR_ARG_WRONG, dest + ": the matrix changed while it was written");
          for (PetscInt k = 0; k < ncols && s.ok; ++k) {
            wc.put_int(cols[k]);
            wv.put_scalar(vals[k]);
          }
          MatRestoreRow(A, i, &ncols, &cols, &vals);
        }
        wc.flush();
        wv.flush();
      });
}

OwnedVec binary_read_batch(MPI_Comm comm, const std::string& path, PetscInt n, PetscInt* batch,
                           PetscInt local) {
  const char* f = path.c_str();
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  Status st;
  PetscInt info[3] = {kBatchVec, 0, 0};
  if (rank == 0) st = check_batch_file(path, info[0], info[1], info[2]);
  raise_if_any(comm, st);
  MPI_Bcast(info, 3, MPIU_INT, 0, comm);
  if (info[0] == kBatchVec) {
    *batch = 1;
    return binary_read_vec(comm, path, local, n);
  }
  const PetscInt M = info[1], N = info[2];
  if (n != PETSC_DETERMINE && M != n)
    st.fail(PETSC_ERR_ARG_SIZ,
            format("%s: has instances of %" PetscInt_FMT " entries (a %" PetscInt_FMT "x%" PetscInt_FMT
                   " matrix, one instance per column), expected %" PetscInt_FMT,
                   f, M, M, N, n));
  const long long total = static_cast<long long>(M) * N;
  if (st.ok && total > static_cast<long long>(PETSC_MAX_INT))
    st.fail(PETSC_ERR_FILE_UNEXPECTED,
            format("%s: a %" PetscInt_FMT "x%" PetscInt_FMT " batch has %lld entries, more than "
                   "a PetscInt counts",
                   f, M, N, total));
  raise_if_any(comm, st);
  *batch = N;
  const Range r = split(comm, path, local, static_cast<PetscInt>(total), "entries");
  OwnedVec v;
  FOLDOPT_CALL(VecCreate(comm, v.out()));
  FOLDOPT_CALL(VecSetSizes(v, r.local, static_cast<PetscInt>(total)));
  FOLDOPT_CALL(VecSetType(v, VECSTANDARD));
  FOLDOPT_CALL(VecSet(v, 0.0));

  if (info[0] == kBatchDense) {
    // In place: each rank reads its own entries. Otherwise each rank reads a block of whole rows
    // (as many values as it keeps, give or take a row) and a scatter transposes them.
    const bool direct = long_runs(comm, M, N, r.start, r.end);
    OwnedVec rows;
    Range rr;
    if (!direct) {
      rr = split(comm, path, PETSC_DECIDE, M, "rows");
      FOLDOPT_CALL(VecCreateMPI(comm, rr.local * N, PETSC_DETERMINE, rows.out()));
    }
    Vec dest = direct ? v.get() : rows.get();
    PetscInt count = 0;
    FOLDOPT_CALL(VecGetLocalSize(dest, &count));
    PetscScalar* a = nullptr;
    FOLDOPT_CALL(VecGetArray(dest, &a));
    int fd = -1;
    long long size = 0;
    if (count > 0) st = open_regular(path, fd, size);
    if (st.ok && count > 0) {
      try {
        DenseRunReader reader(fd, M, N, direct ? r.start : rr.start, a, path, st, !direct);
        if (direct)
          for_each_row_run(M, N, r.start, r.end,
                           [&](PetscInt i, PetscInt lo, PetscInt hi) { reader.add(i, lo, hi); });
        else
          for (PetscInt i = rr.start; i < rr.end; ++i) reader.add(i, 0, N - 1);
        reader.flush();
      } catch (const std::exception& e) {
        st.fail(PETSC_ERR_MEM, format("%s: %s", f, e.what()));
      }
    }
    if (fd >= 0) close(fd);
    FOLDOPT_CALL(VecRestoreArray(dest, &a));
    raise_if_any(comm, st);
    if (!direct) {
      OwnedVecScatter sc = transpose_scatter(rows, v, M, N);
      FOLDOPT_CALL(VecScatterBegin(sc, rows, v, INSERT_VALUES, SCATTER_FORWARD));
      FOLDOPT_CALL(VecScatterEnd(sc, rows, v, INSERT_VALUES, SCATTER_FORWARD));
    }
    return v;
  }

  // AIJ format: rows loaded by MatLoad, values moved to their column-major places.
  StorageRule aij;
  aij.storage = Storage::aij;
  OwnedMat A = binary_read_mat(comm, path, PETSC_DECIDE, aij, nullptr);
  PetscInt rs = 0, re = 0;
  FOLDOPT_CALL(MatGetOwnershipRange(A, &rs, &re));
  std::vector<PetscInt> target;
  std::vector<PetscScalar> vals;
  for (PetscInt i = rs; i < re; ++i) {
    PetscInt nc = 0;
    const PetscInt* c = nullptr;
    const PetscScalar* x = nullptr;
    FOLDOPT_CALL(MatGetRow(A, i, &nc, &c, &x));
    for (PetscInt k = 0; k < nc; ++k) {
      target.push_back(c[k] * M + i);
      vals.push_back(x[k]);
    }
    FOLDOPT_CALL(MatRestoreRow(A, i, &nc, &c, &x));
  }
  A.reset();
  const PetscInt count = static_cast<PetscInt>(vals.size());
  OwnedVec stored;
  FOLDOPT_CALL(VecCreateMPIWithArray(comm, 1, count, PETSC_DETERMINE, vals.data(), stored.out()));
  PetscInt first = 0;
  FOLDOPT_CALL(VecGetOwnershipRange(stored, &first, nullptr));
  OwnedIS from, to;
  FOLDOPT_CALL(ISCreateStride(PETSC_COMM_SELF, count, first, 1, from.out()));
  FOLDOPT_CALL(ISCreateGeneral(PETSC_COMM_SELF, count, target.data(), PETSC_USE_POINTER, to.out()));
  OwnedVecScatter sc;
  FOLDOPT_CALL(VecScatterCreate(stored, from, v, to, sc.out()));
  FOLDOPT_CALL(VecScatterBegin(sc, stored, v, INSERT_VALUES, SCATTER_FORWARD));
  FOLDOPT_CALL(VecScatterEnd(sc, stored, v, INSERT_VALUES, SCATTER_FORWARD));
  return v;
}

Status binary_write_dense(MPI_Comm comm, Vec v, PetscInt rows, const std::string& tmp,
                          const std::string& dest) {
  Status st;
  PetscInt n = 0, rstart = 0, nlocal = 0;
  const PetscScalar* a = nullptr;
  if (VecGetSize(v, &n) || VecGetLocalSize(v, &nlocal) || VecGetOwnershipRange(v, &rstart, nullptr) ||
      VecGetArrayRead(v, &a)) {
    st.fail(PETSC_ERR_ARG_WRONG, dest + ": cannot read the vector to write");
    a = nullptr;
  }
  const PetscInt M = rows, N = rows > 0 ? n / rows : 0;
  // Short runs (see long_runs): the values are first transposed into whole rows by a scatter,
  // then each rank writes its block of rows in one piece.
  OwnedVec by_rows;
  PetscInt row0 = 0;
  const PetscScalar* ra = nullptr;
  if (agree(comm, st) && !long_runs(comm, M, N, rstart, rstart + nlocal)) {
    try {
      PetscInt m = PETSC_DECIDE, Mg = M;
      FOLDOPT_CALL(PetscSplitOwnership(comm, &m, &Mg));
      FOLDOPT_CALL(VecCreateMPI(comm, m * N, PETSC_DETERMINE, by_rows.out()));
      OwnedVecScatter sc = transpose_scatter(by_rows, v, M, N);
      FOLDOPT_CALL(VecScatterBegin(sc, v, by_rows, INSERT_VALUES, SCATTER_REVERSE));
      FOLDOPT_CALL(VecScatterEnd(sc, v, by_rows, INSERT_VALUES, SCATTER_REVERSE));
      PetscInt first = 0;
      FOLDOPT_CALL(VecGetOwnershipRange(by_rows, &first, nullptr));
      row0 = N > 0 ? first / N : 0;
      FOLDOPT_CALL(VecGetArrayRead(by_rows, &ra));
    } catch (const std::exception& e) {
      st.fail(PETSC_ERR_LIB, dest + ": cannot write: " + e.what());
    }
  }
  if (agree(comm, st)) {
    const long long head = 4 * kInt;
    st = write_at_offsets(
        comm, tmp, dest,
        [&](OffsetWriter& w) {
          w.put_int(MAT_FILE_CLASSID);
          w.put_int(M);
          w.put_int(N);
          w.put_int(-1);  // PETSc's dense format
        },
        [&](int fd, Status& s) {
          OffsetWriter w(fd, head, dest, s);
          if (by_rows) {
            PetscInt count = 0;
            VecGetLocalSize(by_rows, &count);
            w.seek(head + static_cast<long long>(row0) * N * kScalar);
            for (PetscInt k = 0; k < count && s.ok; ++k) w.put_scalar(ra[k]);
          } else {
            for_each_row_run(M, N, rstart, rstart + nlocal, [&](PetscInt i, PetscInt lo, PetscInt hi) {
              w.seek(head + (static_cast<long long>(i) * N + lo) * kScalar);
              for (PetscInt b = lo; b <= hi && s.ok; ++b)
                w.put_scalar(a[static_cast<long long>(b) * M + i - rstart]);
            });
          }
          w.flush();
        });
  }
  if (ra) VecRestoreArrayRead(by_rows, &ra);
  if (a) VecRestoreArrayRead(v, &a);
  return st;
}

}  // namespace detail
}  // namespace io
}  // namespace foldopt
