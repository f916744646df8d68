// foldopt: MatrixMarket (.mtx) reading and writing.
//
// Format facts: line 1 is the banner `%%MatrixMarket matrix <format> <field> <symmetry>` (words
// case-insensitive); then comment lines starting with `%` and blank lines may appear anywhere; the
// size line is `rows cols entries` (coordinate) or `rows cols` (array); then the data:
//   coordinate: one `i j value` per line, 1-based indices, in any order;
//   array:      one value per line, column-major; a symmetric array lists only the lower triangle
//               column by column (n(n+1)/2 values), a skew-symmetric one the strictly lower
//               triangle (n(n-1)/2 values).
// Accepted: the fields real and integer; the symmetries general, symmetric (one triangle is
// stored, expanded to both) and skew-symmetric (the strictly lower triangle is stored; the upper
// one is its negative, the diagonal is zero). Refused, each with the line and the rule:
//   - complex and pattern fields, the hermitian symmetry (complex only);
//   - in a symmetric or skew-symmetric file, an entry above the diagonal (only the lower triangle
//     may be stored: with both, which one holds would be a guess), and in a skew-symmetric one an
//     entry on the diagonal;
//   - a coordinate given twice (summing, keeping the first and keeping the last are all in use
//     elsewhere, so it has no single meaning);
//   - indices outside 1..rows, 1..cols (so zero-based files too), non-integer indices;
//   - in an integer file, a value that is not an integer or is beyond ±2^53 (not exact in a
//     double); in a real file, a finite decimal that overflows a double (inf, -inf, nan and
//     Infinity are values, read as such);
//   - fewer or more data lines than the header declares, a line with the wrong number of words, a
//     NUL byte;
//   - a declared size that the file cannot hold: the data lines need at least 6 bytes per
//     coordinate entry and 2 per array value, and a coordinate file may declare at most
//     max(2^20, 1024 x entries) rows and columns (the reader allocates per row). Both are checked
//     before anything is allocated.
// The checks are made on every entry by every rank, so a file reads identically, or fails with the
// same message, at every rank count (a duplicate is reported by its first repeated line).
//
// Reading: every rank reads the whole file and keeps only the rows it owns, so no rank holds more
// than its share (the file must be visible to every rank). The storage (AIJ or dense) is chosen
// by the rule of io.hpp: an array is dense (its values go straight into the local block of the
// MATDENSE), a coordinate file is dense when its stored entries (counted over the ranks after a
// symmetric file's expansion) exceed the threshold's fraction of rows x cols. AIJ matrices are
// preallocated exactly from the kept (sorted) triplets; an array read as AIJ keeps its nonzeros.
// A batch (read_batch) is the file's values in column-major order, a file's column being one
// instance: an array is read as it is stored; a coordinate batch (entries it omits are zero) may
// declare at most max(2^20, 1024 x entries) values in all, checked before allocating. A batch
// is written as an `array real general` n x B (the vector's own order).
// Writing: rank 0 writes the header from global sizes (nonzero count by reduction), then the ranks
// append their own rows in rank order, passing a token; values use %.17g (bit-exact round trip)
// and non-finite values are written as inf, -inf, nan.
#include "io/io_internal.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

namespace foldopt {
namespace io {
namespace detail {
namespace {

using ::foldopt::detail::format;

// ---------------------------------------------------------------------------------------------
// Reading

// Lines of a regular text file, with their numbers.
class LineReader {
 public:
  explicit LineReader(const std::string& path) {
    int fd = -1;
    open_ = open_regular(path, fd, size_);
    if (!open_.ok) return;
    file_ = fdopen(fd, "r");
    if (!file_) {
      open_.fail(PETSC_ERR_FILE_OPEN, path + ": cannot open: " + errno_text(errno));
      close(fd);
    }
  }
  ~LineReader() {
    std::free(buf_);
    if (file_) std::fclose(file_);
  }
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  /// ok, or why the file could not be opened.
  const Status& open_status() const { return open_; }
  /// Next line (false at end of file, on a read error: read_errno(), or on a line holding a NUL
  /// byte: nul_line()).
  bool next() {
    if (nul_line_) return false;
    errno = 0;
    const ssize_t n = getline(&buf_, &cap_, file_);
    if (n < 0) {
      if (std::ferror(file_)) read_errno_ = errno ? errno : EIO;
      return false;
    }
    ++line_;
    consumed_ += n;
    if (std::strlen(buf_) != static_cast<std::size_t>(n)) {
      nul_line_ = line_;
      return false;
    }
    return true;
  }
  /// Next line that is neither blank nor a comment.
  bool next_data() {
    while (next()) {
      const char* p = buf_;
      while (*p && std::isspace(static_cast<unsigned char>(*p))) ++p;
      if (*p && *p != '%') return true;
    }
    return false;
  }
  const char* text() const { return buf_; }
  long line() const { return line_; }
  int read_errno() const { return read_errno_; }
  long nul_line() const { return nul_line_; }
  long long size() const { return size_; }
  long long consumed() const { return consumed_; }

 private:
  std::FILE* file_ = nullptr;
  char* buf_ = nullptr;
  std::size_t cap_ = 0;
  long line_ = 0;
  long nul_line_ = 0;
  long long size_ = 0, consumed_ = 0;
  Status open_;
  int read_errno_ = 0;
};

// Why next() / next_data() returned false, if not the end of the file.
bool stopped_by_error(const LineReader& in, const std::string& path, Status& st) {
  if (in.nul_line()) {
    st.fail(PETSC_ERR_FILE_UNEXPECTED,
            format("%s: line %ld: holds a NUL byte (not a text file?)", path.c_str(), in.nul_line()));
    return true;
  }
  if (in.read_errno()) {
    st.fail(PETSC_ERR_FILE_READ,
            format("%s: read error: %s", path.c_str(), errno_text(in.read_errno()).c_str()));
    return true;
  }
  return false;
}

// Whitespace-separated words of a line: the first kMax are kept, all are counted.
struct Words {
  static constexpr int kMax = 5;
  const char* begin[kMax];
  const char* end[kMax];
  int count = 0;

  explicit Words(const char* p) {
    for (;;) {
      while (*p && std::isspace(static_cast<unsigned char>(*p))) ++p;
      if (!*p) break;
      const char* b = p;
      while (*p && !std::isspace(static_cast<unsigned char>(*p))) ++p;
      if (count < kMax) {
        begin[count] = b;
        end[count] = p;
      }
      ++count;
    }
  }
  std::string str(int k) const { return std::string(begin[k], end[k]); }
  std::string quoted(int k) const { return quote(begin[k], end[k]); }
  std::string lower(int k) const {
    std::string s = str(k);
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
};

bool parse_integer(const char* b, const char* e, long long& out) {
  if (b == e) return false;
  char* stop = nullptr;
  errno = 0;
  out = std::strtoll(b, &stop, 10);
  return stop == e && errno == 0;
}

enum class Symmetry { general, symmetric, skew };

struct Header {
  bool coordinate = true;
  bool integer = false;
  Symmetry symmetry = Symmetry::general;
  PetscInt rows = 0, cols = 0;
  long long entries = 0;  // data items the file must hold
};

// A value of the file's field; false with `why` set if it is not one.
bool parse_value(const Header& h, const char* b, const char* e, double& out, const char*& why) {
  why = "not a number";
  if (b == e) return false;
  if (h.integer) {
    long long i = 0;
    if (!parse_integer(b, e, i)) {
      why = "not an integer (the field is integer)";
      return false;
    }
    const long long exact = 1LL << 53;
    if (i > exact || i < -exact) {
      why = "an integer beyond 2^53, not exact in a double";
      return false;
    }
    out = static_cast<double>(i);
    return true;
  }
  char* stop = nullptr;
  errno = 0;
  out = std::strtod(b, &stop);
  if (stop != e) return false;
  if (errno == ERANGE && std::isinf(out)) {  // a finite decimal too large; "inf" sets no ERANGE
    why = "beyond the range of a double";
    return false;
  }
  return true;  // an underflow is rounded to the nearest double (possibly 0 or subnormal)
}

// Banner and size line. Leaves `in` just after the size line.
Status parse_header(LineReader& in, const std::string& path, Header& h) {
  Status st = in.open_status();
  const char* f = path.c_str();
  if (!st.ok) return st;
  if (!in.next()) {
    if (!stopped_by_error(in, path, st))
      st.fail(PETSC_ERR_FILE_UNEXPECTED,
              format("%s: empty file, expected a MatrixMarket banner", f));
    return st;
  }
  const Words w(in.text());
  if (w.count < 1 || w.lower(0) != "%%matrixmarket") {
    st.fail(PETSC_ERR_FILE_UNEXPECTED,
            format("%s: line 1: not a MatrixMarket file (no %%%%MatrixMarket banner)", f));
    return st;
  }
  if (w.count != 5) {
    st.fail(PETSC_ERR_FILE_UNEXPECTED,
            format("%s: line 1: the banner needs 5 words (%%%%MatrixMarket matrix <format> <field> "
                   "<symmetry>), got %d",
                   f, w.count));
    return st;
  }
  const std::string object = w.lower(1), fmt = w.lower(2), field = w.lower(3), sym = w.lower(4);
  if (object != "matrix") {
    st.fail(PETSC_ERR_FILE_UNEXPECTED,
            format("%s: line 1: MatrixMarket object %s is not supported (only 'matrix')", f,
                   w.quoted(1).c_str()));
    return st;
  }
  if (fmt != "coordinate" && fmt != "array") {
    st.fail(PETSC_ERR_FILE_UNEXPECTED,
            format("%s: line 1: unknown MatrixMarket format %s (expected coordinate or array)", f,
                   w.quoted(2).c_str()));
    return st;
  }
  if (field == "complex" || field == "pattern") {
    st.fail(PETSC_ERR_FILE_UNEXPECTED,
            format("%s: line 1: %s MatrixMarket files are not supported (only real or integer)", f,
                   field.c_str()));
    return st;
  }
  if (field != "real" && field != "integer") {
    st.fail(PETSC_ERR_FILE_UNEXPECTED,
            format("%s: line 1: unknown MatrixMarket field %s (expected real or integer)", f,
                   w.quoted(3).c_str()));
    return st;
  }
  if (sym == "hermitian") {
    st.fail(PETSC_ERR_FILE_UNEXPECTED,
            format("%s: line 1: hermitian MatrixMarket files are not supported (hermitian is for "
                   "complex fields; only general, symmetric or skew-symmetric)",
                   f));
    return st;
  }
  if (sym != "general" && sym != "symmetric" && sym != "skew-symmetric") {
    st.fail(PETSC_ERR_FILE_UNEXPECTED,
            format("%s: line 1: unknown MatrixMarket symmetry %s (expected general, symmetric or "
                   "skew-symmetric)",
                   f, w.quoted(4).c_str()));
    return st;
  }
  h.coordinate = fmt == "coordinate";
  h.integer = field == "integer";
  h.symmetry = sym == "general" ? Symmetry::general
                                : (sym == "symmetric" ? Symmetry::symmetric : Symmetry::skew);

  if (!in.next_data()) {
    if (!stopped_by_error(in, path, st))
      st.fail(PETSC_ERR_FILE_READ, format("%s: truncated: no size line after the banner", f));
    return st;
  }
  const Words s(in.text());
  const int want = h.coordinate ? 3 : 2;
  if (s.count != want) {
    st.fail(PETSC_ERR_FILE_UNEXPECTED,
            format("%s: line %ld: expected %d numbers (%s), got %d", f, in.line(), want,
                   h.coordinate ? "rows columns entries" : "rows columns", s.count));
    return st;
  }
  long long v[3] = {0, 0, 0};
  const char* names[3] = {"row count", "column count", "entry count"};
  for (int k = 0; k < want; ++k) {
    if (!parse_integer(s.begin[k], s.end[k], v[k]) || v[k] < 0) {
      st.fail(PETSC_ERR_FILE_UNEXPECTED,
              format("%s: line %ld: bad %s %s", f, in.line(), names[k], s.quoted(k).c_str()));
      return st;
    }
    if (k < 2 && v[k] > static_cast<long long>(PETSC_MAX_INT)) {
      st.fail(PETSC_ERR_FILE_UNEXPECTED,
              format("%s: line %ld: %s %lld is beyond the largest PetscInt (%lld)", f, in.line(),
                     names[k], v[k], static_cast<long long>(PETSC_MAX_INT)));
      return st;
    }
  }
  h.rows = static_cast<PetscInt>(v[0]);
  h.cols = static_cast<PetscInt>(v[1]);
  if (h.symmetry != Symmetry::general && h.rows != h.cols) {
    st.fail(PETSC_ERR_FILE_UNEXPECTED,
            format("%s: line %ld: a %s matrix must be square, this one is %" PetscInt_FMT
                   "x%" PetscInt_FMT,
                   f, in.line(), sym.c_str(), h.rows, h.cols));
    return st;
  }
  const long long r = h.rows, c = h.cols;
  const long long stored = h.symmetry == Symmetry::general
                               ? r * c
                               : (h.symmetry == Symmetry::symmetric ? r * (r + 1) / 2 : r * (r - 1) / 2);
  if (h.coordinate) {
    h.entries = v[2];
    if (h.entries > stored) {
      st.fail(PETSC_ERR_FILE_UNEXPECTED,
              format("%s: line %ld: %lld entries cannot fit in a %" PetscInt_FMT "x%" PetscInt_FMT
                     " %smatrix",
                     f, in.line(), h.entries, h.rows, h.cols,
                     h.symmetry == Symmetry::general ? "" : (sym + " ").c_str()));
      return st;
    }
  } else {
    h.entries = stored;
  }
  // What the rest of the file can hold, before anything is allocated from these numbers.
  const long long left = std::max(0LL, in.size() - in.consumed());
  const long long per = h.coordinate ? 6 : 2;  // "1 1 1\n", "1\n" (the last newline may be missing)
  const long long can_hold = (left + 1) / per;
  if (h.entries > can_hold) {
    st.fail(PETSC_ERR_FILE_READ,
            format("%s: truncated: header promises %lld %s (line %ld), but the %lld bytes after "
                   "it can hold at most %lld (%lld bytes each at least)",
                   f, h.entries, h.coordinate ? "entries" : "values", in.line(), left, can_hold,
                   per));
    return st;
  }
  if (h.entries > static_cast<long long>(PETSC_MAX_INT) / 2) {
    st.fail(PETSC_ERR_FILE_UNEXPECTED,
            format("%s: line %ld: %lld entries are more than PetscInt can count here", f, in.line(),
                   h.entries));
    return st;
  }
  if (h.coordinate) {
    const long long limit = std::max(1LL << 20, 1024 * h.entries);
    if (std::max(r, c) > limit) {
      st.fail(PETSC_ERR_FILE_UNEXPECTED,
              format("%s: line %ld: declares a %" PetscInt_FMT "x%" PetscInt_FMT
                     " matrix with %lld entries; a coordinate file may declare at most "
                     "max(2^20, 1024 x entries) = %lld rows and columns",
                     f, in.line(), h.rows, h.cols, h.entries, limit));
      return st;
    }
  }
  return st;
}

// Reads every data item after the header and calls `on_entry(row, col, value, line, mirrored)`
// (0-based, in range) for each; an entry of a symmetric or skew-symmetric file off the diagonal
// is also passed mirrored (negated for skew-symmetric). Identical on every rank: every entry is
// checked, not only the kept ones.
template <class OnEntry>
Status parse_body(LineReader& in, const std::string& path, const Header& h, OnEntry on_entry) {
  Status st;
  const char* f = path.c_str();
  long long seen = 0;
  const bool skew = h.symmetry == Symmetry::skew, general = h.symmetry == Symmetry::general;
  // Position of the next array value: column-major, from the diagonal (symmetric) or below it
  // (skew-symmetric).
  PetscInt arow = skew ? 1 : 0, acol = 0;
  while (in.next_data()) {
    if (seen == h.entries) {
      st.fail(PETSC_ERR_FILE_UNEXPECTED,
              format("%s: line %ld: more entries than the %lld the header promises", f, in.line(),
                     h.entries));
      return st;
    }
    const Words w(in.text());
    const char* why = nullptr;
    double v = 0;
    PetscInt r = 0, c = 0;
    if (h.coordinate) {
      if (w.count != 3) {
        st.fail(PETSC_ERR_FILE_UNEXPECTED,
                format("%s: line %ld: expected 3 numbers, got %d", f, in.line(), w.count));
        return st;
      }
      long long i = 0, j = 0;
      if (!parse_integer(w.begin[0], w.end[0], i)) {
        st.fail(PETSC_ERR_FILE_UNEXPECTED,
                format("%s: line %ld: bad row index %s", f, in.line(), w.quoted(0).c_str()));
        return st;
      }
      if (!parse_integer(w.begin[1], w.end[1], j)) {
        st.fail(PETSC_ERR_FILE_UNEXPECTED,
                format("%s: line %ld: bad column index %s", f, in.line(), w.quoted(1).c_str()));
        return st;
      }
      if (!parse_value(h, w.begin[2], w.end[2], v, why)) {
        st.fail(PETSC_ERR_FILE_UNEXPECTED,
                format("%s: line %ld: bad value %s: %s", f, in.line(), w.quoted(2).c_str(), why));
        return st;
      }
      if (i < 1 || i > h.rows || j < 1 || j > h.cols) {
        st.fail(PETSC_ERR_FILE_UNEXPECTED,
                format("%s: line %ld: index (%lld,%lld) outside the %" PetscInt_FMT
                       "x%" PetscInt_FMT " matrix (indices start at 1)",
                       f, in.line(), i, j, h.rows, h.cols));
        return st;
      }
      if (!general && j > i) {
        st.fail(PETSC_ERR_FILE_UNEXPECTED,
                format("%s: line %ld: entry (%lld,%lld) is above the diagonal: a %s file stores "
                       "only the lower triangle",
                       f, in.line(), i, j, skew ? "skew-symmetric" : "symmetric"));
        return st;
      }
      if (skew && i == j) {
        st.fail(PETSC_ERR_FILE_UNEXPECTED,
                format("%s: line %ld: entry (%lld,%lld) is on the diagonal: a skew-symmetric file "
                       "stores only the strictly lower triangle (its diagonal is zero)",
                       f, in.line(), i, j));
        return st;
      }
      r = static_cast<PetscInt>(i - 1);
      c = static_cast<PetscInt>(j - 1);
    } else {
      if (w.count != 1) {
        st.fail(PETSC_ERR_FILE_UNEXPECTED,
                format("%s: line %ld: expected 1 number, got %d", f, in.line(), w.count));
        return st;
      }
      if (!parse_value(h, w.begin[0], w.end[0], v, why)) {
        st.fail(PETSC_ERR_FILE_UNEXPECTED,
                format("%s: line %ld: bad value %s: %s", f, in.line(), w.quoted(0).c_str(), why));
        return st;
      }
      r = arow;
      c = acol;
      if (++arow == h.rows) {
        ++acol;
        arow = general ? 0 : (skew ? acol + 1 : acol);
      }
    }
    const PetscScalar x = static_cast<PetscScalar>(v);
    on_entry(r, c, x, in.line(), false);
    if (!general && r != c) on_entry(c, r, skew ? -x : x, in.line(), true);
    ++seen;
  }
  if (stopped_by_error(in, path, st)) return st;
  if (seen < h.entries)
    st.fail(PETSC_ERR_FILE_READ,
            format("%s: truncated: header promises %lld entries, file has %lld (it ends at line %ld)", f,
                   h.entries, seen, in.line()));
  return st;
}

// Collective: among the ranks whose `st` failed at a line (`line`, LONG_MAX when ok), only those
// with the smallest line keep their failure, so that the message does not depend on the split.
void keep_first_line(MPI_Comm comm, Status& st, long line) {
  long first = LONG_MAX;
  MPI_Allreduce(&line, &first, 1, MPI_LONG, MPI_MIN, comm);
  if (!st.ok && line != first) st = Status();
}

struct Triplet {
  PetscInt row, col;
  PetscScalar value;
  long line;
  bool mirrored;
};

// ---------------------------------------------------------------------------------------------
// Writing

// Text of a value that strtod reads back to the same double.
void format_value(char* buf, std::size_t n, PetscScalar x) {
  const double v = static_cast<double>(PetscRealPart(x));
  if (std::isnan(v))
    std::snprintf(buf, n, "nan");
  else if (std::isinf(v))
    std::snprintf(buf, n, v > 0 ? "inf" : "-inf");
  else
    std::snprintf(buf, n, "%.17g", v);
}

// Collective: rank 0 creates `tmp` and writes `header`, then each rank in rank order appends its
// part with `rows` (which returns false and fills the Status on failure). A rank that fails stops
// the ranks after it from writing. Returns this rank's outcome.
template <class Header_, class Rows>
Status write_in_rank_order(MPI_Comm comm, const std::string& tmp, const std::string& dest,
                           Header_ header, Rows rows) {
  Status st;
  MPI_Comm c;
  MPI_Comm_dup(comm, &c);
  int rank = 0, size = 1;
  MPI_Comm_rank(c, &rank);
  MPI_Comm_size(c, &size);
  int go = 1;
  if (rank > 0) MPI_Recv(&go, 1, MPI_INT, rank - 1, 0, c, MPI_STATUS_IGNORE);
  if (go) {
    std::FILE* file = std::fopen(tmp.c_str(), rank == 0 ? "w" : "a");
    if (!file) {
      st.fail(rank == 0 ? PETSC_ERR_FILE_OPEN : PETSC_ERR_FILE_WRITE,
              dest + ": cannot write: " + errno_text(errno));
    } else {
      std::vector<char> buffer(1 << 20);
      std::setvbuf(file, buffer.data(), _IOFBF, buffer.size());
      try {
        if (rank == 0) header(file);
        rows(file, st);
      } catch (const std::exception& e) {
        st.fail(PETSC_ERR_FILE_WRITE, dest + ": cannot write: " + e.what());
      }
      const bool bad = std::ferror(file) != 0;
      int err = bad ? errno : 0;
      if (std::fclose(file) != 0 && !err) err = errno ? errno : EIO;
      if (bad || err)
        st.fail(PETSC_ERR_FILE_WRITE, dest + ": cannot write: " + errno_text(err ? err : EIO));
    }
    go = st.ok ? 1 : 0;
  }
  if (rank + 1 < size) MPI_Send(&go, 1, MPI_INT, rank + 1, 0, c);
  MPI_Comm_free(&c);
  return st;
}

}  // namespace

namespace {

// Collective: the rows x cols values of the file whose header `h` has been read, in column-major
// order (entry (i, j) at j·rows + i: for a vector file, its entries in order), split by `local`;
// absent coordinate entries are zero, a coordinate given twice is refused.
OwnedVec read_column_major(MPI_Comm comm, const std::string& path, LineReader& in, const Header& h,
                           PetscInt local) {
  const char* f = path.c_str();
  Status st;
  const PetscInt total = h.rows * h.cols;  // the callers checked that it is a PetscInt
  const Range r = split(comm, path, local, total, "entries");

  OwnedVec v;
  FOLDOPT_CALL(VecCreate(comm, v.out()));
  FOLDOPT_CALL(VecSetSizes(v, r.local, total));
  FOLDOPT_CALL(VecSetType(v, VECSTANDARD));
  FOLDOPT_CALL(VecSet(v, 0.0));
  PetscScalar* a = nullptr;
  FOLDOPT_CALL(VecGetArray(v, &a));
  long dup_line = LONG_MAX;
  Status dup;
  try {
    // The line each kept coordinate entry came from (0: none yet), to refuse a repeated one.
    std::vector<long> from(h.coordinate ? static_cast<std::size_t>(r.local) : 0, 0);
    st = parse_body(in, path, h, [&](PetscInt i, PetscInt j, PetscScalar x, long line, bool) {
      const PetscInt k = j * h.rows + i;
      if (k < r.start || k >= r.end) return;
      const PetscInt l = k - r.start;
      if (h.coordinate) {
        if (from[l]) {
          if (line < dup_line) {
            dup_line = line;
            dup = Status();
            dup.fail(PETSC_ERR_FILE_UNEXPECTED,
                     format("%s: line %ld: entry (%" PetscInt_FMT ",%" PetscInt_FMT
                            ") given twice (first on line %ld): a coordinate may appear once",
                            f, line, i + 1, j + 1, from[l]));
          }
          return;
        }
        from[l] = line;
      }
      a[l] = x;
    });
  } catch (const std::exception& e) {
    st.fail(PETSC_ERR_MEM, format("%s: %s", f, e.what()));
  }
  FOLDOPT_CALL(VecRestoreArray(v, &a));
  raise_if_any(comm, st);  // the parse: every rank saw every line
  keep_first_line(comm, dup, dup.ok ? LONG_MAX : dup_line);
  raise_if_any(comm, dup);
  return v;
}

}  // namespace

OwnedVec mm_read_vec(MPI_Comm comm, const std::string& path, PetscInt local,
                     PetscInt expected_global) {
  const char* f = path.c_str();
  LineReader in(path);
  Header h;
  Status st = parse_header(in, path, h);
  raise_if_any(comm, st);

  if (h.rows != 1 && h.cols != 1)
    st.fail(PETSC_ERR_FILE_UNEXPECTED, format("%s: is a %" PetscInt_FMT "x%" PetscInt_FMT
                                              " matrix, not a vector (n x 1 or 1 x n)",
                                              f, h.rows, h.cols));
  const PetscInt n = h.cols == 1 ? h.rows : h.cols;
  if (st.ok && expected_global != PETSC_DETERMINE && n != expected_global)
    st.fail(PETSC_ERR_ARG_SIZ, format("%s: has %" PetscInt_FMT " entries, expected %" PetscInt_FMT,
                                      f, n, expected_global));
  raise_if_any(comm, st);
  return read_column_major(comm, path, in, h, local);
}

OwnedVec mm_read_batch(MPI_Comm comm, const std::string& path, PetscInt n, PetscInt* batch,
                       PetscInt local) {
  const char* f = path.c_str();
  LineReader in(path);
  Header h;
  Status st = parse_header(in, path, h);
  raise_if_any(comm, st);
  // A column (n x 1) or a row (1 x n, unless instances of 1 entry are asked for) is one vector.
  const bool vector = h.cols == 1 || (h.rows == 1 && n != 1);
  const PetscInt len = vector ? (h.cols == 1 ? h.rows : h.cols) : h.rows;
  if (n != PETSC_DETERMINE && len != n) {
    if (vector)
      st.fail(PETSC_ERR_ARG_SIZ, format("%s: has %" PetscInt_FMT " entries, expected %" PetscInt_FMT,
                                        f, len, n));
    else
      st.fail(PETSC_ERR_ARG_SIZ,
              format("%s: has instances of %" PetscInt_FMT " entries (a %" PetscInt_FMT
                     "x%" PetscInt_FMT " array, one instance per column), expected %" PetscInt_FMT,
                     f, len, h.rows, h.cols, n));
  }
  const long long total = static_cast<long long>(h.rows) * h.cols;
  if (st.ok && total > static_cast<long long>(PETSC_MAX_INT))
    st.fail(PETSC_ERR_FILE_UNEXPECTED,
            format("%s: a %" PetscInt_FMT "x%" PetscInt_FMT " batch has %lld entries, more than "
                   "a PetscInt counts",
                   f, h.rows, h.cols, total));
  // A coordinate file allocates per declared entry of the dense batch: the rule on its declared
  // sizes (parse_header) applies to their product.
  const long long limit = std::max(1LL << 20, 1024 * h.entries);
  if (st.ok && h.coordinate && total > limit)
    st.fail(PETSC_ERR_FILE_UNEXPECTED,
            format("%s: declares a %" PetscInt_FMT "x%" PetscInt_FMT " coordinate batch with "
                   "%lld entries; a coordinate batch may declare at most max(2^20, 1024 x "
                   "entries) = %lld values",
                   f, h.rows, h.cols, h.entries, limit));
  raise_if_any(comm, st);
  *batch = vector ? 1 : h.cols;
  return read_column_major(comm, path, in, h, local);
}

namespace {

// Collective: an array file stored dense, its values written straight into the local block of a
// MATDENSE (column-major, leading dimension from MatDenseGetLDA): no triplets.
OwnedMat read_array_dense(MPI_Comm comm, const std::string& path, LineReader& in, const Header& h,
                          const Range& rows, const Range& cols) {
  OwnedMat A = create_dense(comm, rows, cols);
  PetscScalar* a = nullptr;
  PetscInt lda = 0;
  FOLDOPT_CALL(MatDenseGetLDA(A, &lda));
  FOLDOPT_CALL(MatDenseGetArray(A, &a));
  Status st;
  try {
    st = parse_body(in, path, h, [&](PetscInt i, PetscInt j, PetscScalar x, long, bool) {
      if (i >= rows.start && i < rows.end) a[static_cast<std::size_t>(j) * lda + (i - rows.start)] = x;
    });
  } catch (const std::exception& e) {
    st.fail(PETSC_ERR_MEM, format("%s: %s", path.c_str(), e.what()));
  }
  FOLDOPT_CALL(MatDenseRestoreArray(A, &a));
  raise_if_any(comm, st);  // the parse: every rank saw every line
  FOLDOPT_CALL(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
  FOLDOPT_CALL(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
  return A;
}

}  // namespace

OwnedMat mm_read_mat(MPI_Comm comm, const std::string& path, PetscInt local_rows, const StorageRule& rule,
                     StorageChoice* choice) {
  const char* f = path.c_str();
  LineReader in(path);
  Header h;
  Status st = parse_header(in, path, h);
  raise_if_any(comm, st);
  const Range rows = split(comm, path, local_rows, h.rows, "rows");
  const Range cols = column_split(comm, path, rows, h.cols);
  if (!h.coordinate) {
    const StorageChoice c = choose_storage(rule, h.rows, h.cols, static_cast<long long>(h.rows) * h.cols,
                                           "MatrixMarket array");
    if (choice) *choice = c;
    if (c.dense) return read_array_dense(comm, path, in, h, rows, cols);
  }

  // Keep the triplets of our rows, then sort them; a coordinate given twice is refused.
  std::vector<Triplet> t;
  long dup_line = LONG_MAX;
  try {
    st = parse_body(in, path, h, [&](PetscInt i, PetscInt j, PetscScalar x, long line, bool mirrored) {
      if (i < rows.start || i >= rows.end) return;
      if (!h.coordinate && x == 0.0) return;  // a dense array: keep the nonzeros
      t.push_back(Triplet{i, j, x, line, mirrored});
    });
    if (st.ok) {
      std::stable_sort(t.begin(), t.end(), [](const Triplet& a, const Triplet& b) {
        return a.row != b.row ? a.row < b.row : a.col < b.col;
      });
      for (std::size_t k = 1; k < t.size(); ++k) {
        const Triplet &a = t[k - 1], &b = t[k];
        if (a.row != b.row || a.col != b.col || b.line >= dup_line) continue;
        dup_line = b.line;
        // As written in the file (a mirrored entry names its stored position).
        const PetscInt fi = (b.mirrored ? b.col : b.row) + 1, fj = (b.mirrored ? b.row : b.col) + 1;
        st = Status();
        st.fail(PETSC_ERR_FILE_UNEXPECTED,
                format("%s: line %ld: entry (%" PetscInt_FMT ",%" PetscInt_FMT
                       ") given twice (first on line %ld): a coordinate may appear once",
                       f, b.line, fi, fj, a.line));
      }
    }
  } catch (const std::exception& e) {
    st.fail(PETSC_ERR_MEM, format("%s: %s", f, e.what()));
    dup_line = 0;
  }
  keep_first_line(comm, st, st.ok ? LONG_MAX : dup_line);
  raise_if_any(comm, st);

  if (h.coordinate) {
    long long mine = static_cast<long long>(t.size()), stored = 0;
    MPI_Allreduce(&mine, &stored, 1, MPI_LONG_LONG, MPI_SUM, comm);
    const StorageChoice c = choose_storage(rule, h.rows, h.cols, stored, nullptr);
    if (choice) *choice = c;
    if (c.dense) {
      OwnedMat D = create_dense(comm, rows, cols);
      for (const Triplet& e : t) FOLDOPT_CALL(MatSetValue(D, e.row, e.col, e.value, INSERT_VALUES));
      FOLDOPT_CALL(MatAssemblyBegin(D, MAT_FINAL_ASSEMBLY));
      FOLDOPT_CALL(MatAssemblyEnd(D, MAT_FINAL_ASSEMBLY));
      return D;
    }
  }

  // Exact preallocation: nonzeros of each owned row in the diagonal and off-diagonal blocks.
  std::vector<PetscInt> d_nnz(static_cast<std::size_t>(rows.local), 0);
  std::vector<PetscInt> o_nnz(static_cast<std::size_t>(rows.local), 0);
  for (const Triplet& e : t) {
    const std::size_t l = static_cast<std::size_t>(e.row - rows.start);
    if (e.col >= cols.start && e.col < cols.end)
      ++d_nnz[l];
    else
      ++o_nnz[l];
  }
  OwnedMat A;
  FOLDOPT_CALL(MatCreate(comm, A.out()));
  FOLDOPT_CALL(MatSetSizes(A, rows.local, cols.local, h.rows, h.cols));
  FOLDOPT_CALL(MatSetType(A, MATAIJ));
  FOLDOPT_CALL(MatSeqAIJSetPreallocation(A, 0, d_nnz.data()));
  FOLDOPT_CALL(MatMPIAIJSetPreallocation(A, 0, d_nnz.data(), 0, o_nnz.data()));
  FOLDOPT_CALL(MatSetOption(A, MAT_NEW_NONZERO_ALLOCATION_ERR, PETSC_TRUE));
  FOLDOPT_CALL(MatSetOption(A, MAT_NO_OFF_PROC_ENTRIES, PETSC_TRUE));
  std::vector<PetscInt> cidx;
  std::vector<PetscScalar> vals;
  for (std::size_t k = 0; k < t.size();) {
    const PetscInt row = t[k].row;
    cidx.clear();
    vals.clear();
    for (; k < t.size() && t[k].row == row; ++k) {
      cidx.push_back(t[k].col);
      vals.push_back(t[k].value);
    }
    FOLDOPT_CALL(MatSetValues(A, 1, &row, static_cast<PetscInt>(cidx.size()), cidx.data(),
                              vals.data(), INSERT_VALUES));
  }
  FOLDOPT_CALL(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
  FOLDOPT_CALL(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
  return A;
}

Status mm_write_vec(MPI_Comm comm, Vec v, const std::string& tmp, const std::string& dest) {
  return mm_write_array(comm, v, 0, tmp, dest);
}

Status mm_write_array(MPI_Comm comm, Vec v, PetscInt rows, const std::string& tmp,
                      const std::string& dest) {
  Status st;
  PetscInt n = 0;
  const PetscScalar* a = nullptr;
  PetscInt nlocal = 0;
  if (VecGetSize(v, &n) || VecGetLocalSize(v, &nlocal) || VecGetArrayRead(v, &a)) {
    st.fail(PETSC_ERR_ARG_WRONG, dest + ": cannot read the vector to write");
    a = nullptr;
  }
  if (!agree(comm, st)) {
    if (a) VecRestoreArrayRead(v, &a);
    return st;
  }
  st = write_in_rank_order(
      comm, tmp, dest,
      [&](std::FILE* file) {
        // n entries as rows x (n / rows), column-major: the vector's own order.
        const PetscInt r = rows > 0 ? rows : n, c = rows > 0 ? n / rows : 1;
        std::fprintf(file, "%%%%MatrixMarket matrix array real general\n%" PetscInt_FMT " %" PetscInt_FMT "\n", r, c);
      },
      [&](std::FILE* file, Status&) {
        char buf[40];
        for (PetscInt i = 0; i < nlocal; ++i) {
          format_value(buf, sizeof buf, a[i]);
          std::fputs(buf, file);
          std::fputc('\n', file);
        }
      });
  VecRestoreArrayRead(v, &a);
  return st;
}

Status mm_write_mat(MPI_Comm comm, Mat A, const std::string& tmp, const std::string& dest) {
  PetscInt M = 0, N = 0, rstart = 0, rend = 0;
  long long nnz_local = 0, nnz = 0;
  Status st = local_rows(A, dest, M, N, rstart, rend, nullptr, nnz_local);
  if (!agree(comm, st)) return st;
  MPI_Allreduce(&nnz_local, &nnz, 1, MPI_LONG_LONG, MPI_SUM, comm);
  return write_in_rank_order(
      comm, tmp, dest,
      [&](std::FILE* file) {
        std::fprintf(file,
                     "%%%%MatrixMarket matrix coordinate real general\n%" PetscInt_FMT
                     " %" PetscInt_FMT " %lld\n",
                     M, N, nnz);
      },
      [&](std::FILE* file, Status& s) {
        char buf[40];
        for (PetscInt i = rstart; i < rend; ++i) {
          PetscInt ncols = 0;
          const PetscInt* cols = nullptr;
          const PetscScalar* vals = nullptr;
          if (MatGetRow(A, i, &ncols, &cols, &vals)) {
            s.fail(PETSC_ERR_ARG_WRONG, dest + ": cannot read the rows of the matrix to write");
            return;
          }
          for (PetscInt k = 0; k < ncols; ++k) {
            format_value(buf, sizeof buf, vals[k]);
            std::fprintf(file, "%" PetscInt_FMT " %" PetscInt_FMT " %s\n", i + 1, cols[k] + 1, buf);
          }
          MatRestoreRow(A, i, &ncols, &cols, &vals);
        }
      });
}

}  // namespace detail
}  // namespace io
}  // namespace foldopt
