// foldopt: reading and writing vectors and matrices (see include/foldopt/io.hpp).
//
// This file holds the parts shared by both formats: the choice of format by file name and of a
// matrix's storage (StorageRule, choose_storage: -mat_storage, -mat_dense_threshold), block file
// names, the collective error helpers, the row split, and OutputSet, which writes each queued
// object to `<dir>/.<name>.tmp.<pid of rank 0>` and renames the temporaries into place (rank 0,
// rename(2) within one directory) only once every object has been written on every rank.
// The readers and writers themselves are in matrix_market.cpp and binary.cpp.
//
// Batches (read_batch, add_batch, add_block): B instances of n entries are held instance after
// instance, which is the column-major order of an n x B array, so a file's column b is instance b:
// a MatrixMarket array, or a dense PETSc binary matrix (a MatrixMarket coordinate file and an
// AIJ-format binary matrix are read too: the entries they do not store are zero). One instance
// (B = 1) is written as a plain vector, and a vector file reads as B = 1; a 1 x c file is one
// vector of c entries unless instances of n = 1 entry are asked for (then B = c). add_block
// writes a parameter block as what it is; a matrix-values block becomes a matrix with its pattern
// when it is added (so its values are those of that moment, not of the commit).
//
// Before anything is written, commit refuses (collectively, naming both paths) a destination that
// is a file this process has read (remember_input: device and inode, so links and other spellings
// of the name are caught), that exists and is not a regular file, or that two items of the set
// share. While the temporaries exist, SIGINT, SIGTERM and SIGHUP (unless ignored) go first to an
// async-signal-safe handler that unlinks them and re-raises the signal with the disposition it had
// before (so a killed run leaves no `.x.mtx.tmp.PID`); a SIGKILL cannot be caught.
#include <foldopt/io.hpp>

#include <foldopt/matrix_values.hpp>

#include "core/options.hpp"
#include "io/io_internal.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <vector>

namespace foldopt {
namespace io {
namespace detail {

bool agree(MPI_Comm comm, Status& st) {
  int size = 1, rank = 0;
  MPI_Comm_size(comm, &size);
  MPI_Comm_rank(comm, &rank);
  int mine = st.ok ? size : rank, first = size;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
  if (first == size) return true;
  int code = st.code;
  MPI_Bcast(&code, 1, MPI_INT, first, comm);
  int len = rank == first ? static_cast<int>(st.message.size()) : 0;
  MPI_Bcast(&len, 1, MPI_INT, first, comm);
  std::vector<char> buf(static_cast<std::size_t>(len) + 1, '\0');
  if (rank == first) st.message.copy(buf.data(), st.message.size());
  MPI_Bcast(buf.data(), len, MPI_CHAR, first, comm);
  st.ok = false;
  st.code = code;
  st.message = one_line(std::string(buf.data(), static_cast<std::size_t>(len)));
  return false;
}

void raise_if_any(MPI_Comm comm, const Status& st) {
  check_collective(comm, st.ok, st.code, st.ok ? std::string() : one_line(st.message));
}

Range split(MPI_Comm comm, const std::string& path, PetscInt local, PetscInt global,
            const char* what) {
  Status st;
  Range r;
  r.global = global;
  r.local = local;
  if (local == PETSC_DECIDE) {
    FOLDOPT_CALL(PetscSplitOwnership(comm, &r.local, &r.global));
  } else if (local < 0 || local > global) {
    st.fail(PETSC_ERR_ARG_SIZ,
            ::foldopt::detail::format("%s: local size %" PetscInt_FMT " is not between 0 and the "
                                      "%" PetscInt_FMT " %s of the file",
                                      path.c_str(), local, global, what));
    r.local = 0;
  }
  raise_if_any(comm, st);
  PetscInt sum = 0, incl = 0;
  MPI_Allreduce(&r.local, &sum, 1, MPIU_INT, MPI_SUM, comm);
  if (sum != global)
    st.fail(PETSC_ERR_ARG_SIZ,
            ::foldopt::detail::format("%s: local sizes add up to %" PetscInt_FMT ", but the file "
                                      "has %" PetscInt_FMT " %s",
                                      path.c_str(), sum, global, what));
  raise_if_any(comm, st);
  MPI_Scan(&r.local, &incl, 1, MPIU_INT, MPI_SUM, comm);
  r.start = incl - r.local;
  r.end = incl;
  return r;
}

Range column_split(MPI_Comm comm, const std::string& path, const Range& rows, PetscInt cols) {
  if (cols == rows.global) return rows;
  return split(comm, path, PETSC_DECIDE, cols, "columns");
}

std::string errno_text(int err) { return std::strerror(err); }

std::string quote(const char* begin, const char* end, std::size_t max) {
  std::string out = "'";
  std::size_t shown = 0;
  for (const char* p = begin; p < end; ++p, ++shown) {
    if (shown == max) {
      out += "...";
      break;
    }
    const unsigned char c = static_cast<unsigned char>(*p);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out += static_cast<char>(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", static_cast<unsigned>(c));
      out += hex;
    }
  }
  return out + "'";
}

std::string one_line(const std::string& message) {
  std::string out;
  out.reserve(message.size());
  for (const char ch : message) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", static_cast<unsigned>(c));
      out += hex;
    } else {
      out += ch;
    }
  }
  return out;
}

namespace {

// What a path that is not a regular file is, for messages.
std::string file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return errno_text(EISDIR);
  if (S_ISFIFO(mode)) return "not a regular file (a FIFO)";
  if (S_ISSOCK(mode)) return "not a regular file (a socket)";
  if (S_ISCHR(mode)) return "not a regular file (a character device)";
  if (S_ISBLK(mode)) return "not a regular file (a block device)";
  return "not a regular file";
}

}  // namespace

Status local_rows(Mat A, const std::string& dest, PetscInt& M, PetscInt& N, PetscInt& rstart, PetscInt& rend,
                  std::vector<PetscInt>* lengths, long long& nz_local) {
  Status st;
  nz_local = 0;
  if (MatGetSize(A, &M, &N) || MatGetOwnershipRange(A, &rstart, &rend)) {
    st.fail(PETSC_ERR_ARG_WRONG, dest + ": cannot read the matrix to write");
    return st;
  }
  for (PetscInt i = rstart; i < rend; ++i) {
    PetscInt ncols = 0;
    if (MatGetRow(A, i, &ncols, nullptr, nullptr)) {
      st.fail(PETSC_ERR_ARG_WRONG,
              dest + ": cannot read the rows of the matrix to write (not assembled, or a type without MatGetRow)");
      break;
    }
    if (lengths) lengths->push_back(ncols);
    nz_local += ncols;  // before MatRestoreRow, which zeroes ncols
    MatRestoreRow(A, i, &ncols, nullptr, nullptr);
  }
  return st;
}

Status open_regular(const std::string& path, int& fd, long long& size) {
  Status st;
  fd = -1;
  size = 0;
  struct stat sb;
  if (stat(path.c_str(), &sb) != 0) {
    st.fail(PETSC_ERR_FILE_OPEN, path + ": cannot open: " + errno_text(errno));
    return st;
  }
  if (!S_ISREG(sb.st_mode)) {
    st.fail(PETSC_ERR_FILE_OPEN, path + ": cannot open: " + file_kind(sb.st_mode));
    return st;
  }
  // Non-blocking, in case the name was replaced by a FIFO since the stat.
  fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    st.fail(PETSC_ERR_FILE_OPEN, path + ": cannot open: " + errno_text(errno));
    return st;
  }
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    const std::string why = S_ISREG(sb.st_mode) ? errno_text(errno) : file_kind(sb.st_mode);
    close(fd);
    fd = -1;
    st.fail(PETSC_ERR_FILE_OPEN, path + ": cannot open: " + why);
    return st;
  }
  const int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  size = static_cast<long long>(sb.st_size);
  return st;
}

namespace {

struct InputFile {
  dev_t dev;
  ino_t ino;
  std::string path;
};

std::mutex& inputs_mutex() {
  static std::mutex m;
  return m;
}

std::vector<InputFile>& inputs() {
  static std::vector<InputFile> v;
  return v;
}

}  // namespace

void remember_input(const std::string& path) {
  struct stat sb;
  if (stat(path.c_str(), &sb) != 0 || !S_ISREG(sb.st_mode)) return;
  std::lock_guard<std::mutex> lock(inputs_mutex());
  for (InputFile& in : inputs())
    if (in.dev == sb.st_dev && in.ino == sb.st_ino) {
      in.path = path;  // the latest name it was read under
      return;
    }
  inputs().push_back(InputFile{sb.st_dev, sb.st_ino, path});
}

std::string input_behind(const std::string& path) {
  struct stat sb;
  if (stat(path.c_str(), &sb) != 0) return std::string();
  std::lock_guard<std::mutex> lock(inputs_mutex());
  for (const InputFile& in : inputs()) {
    if (in.dev != sb.st_dev || in.ino != sb.st_ino) continue;
    struct stat now;
    if (stat(in.path.c_str(), &now) == 0 && now.st_dev == in.dev && now.st_ino == in.ino)
      return in.path;
  }
  return std::string();
}

namespace {

// Writes one queued object to `tmp`; collective, never throws. A vector with `rows` > 0 is a batch
// (rows x B array).
Status write_item(MPI_Comm comm, const std::string& dest, Vec v, Mat A, PetscInt rows,
                  const std::string& tmp) {
  const bool mm = format_of(dest) == Format::matrix_market;
  if (v && rows > 0)
    return mm ? mm_write_array(comm, v, rows, tmp, dest) : binary_write_dense(comm, v, rows, tmp, dest);
  if (v) return mm ? mm_write_vec(comm, v, tmp, dest) : binary_write_vec(comm, v, tmp, dest);
  return mm ? mm_write_mat(comm, A, tmp, dest) : binary_write_mat(comm, A, tmp, dest);
}

// `<dir>/.<name>.tmp.<pid>` beside `path`.
std::string temp_name(const std::string& path, long pid) {
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  return dir + "." + name + ".tmp." + std::to_string(pid);
}

// ---- removal of the temporaries on SIGINT / SIGTERM / SIGHUP ----

const int kSignals[] = {SIGINT, SIGTERM, SIGHUP};
constexpr int kNumSignals = static_cast<int>(sizeof kSignals / sizeof kSignals[0]);
struct sigaction g_previous[kNumSignals];
volatile sig_atomic_t g_installed[kNumSignals];
const char* const* volatile g_temps = nullptr;
volatile sig_atomic_t g_temp_count = 0;
volatile sig_atomic_t g_interrupted = 0;  // the signal that removed the temporaries, if any
std::mutex g_guard_mutex;                 // one OutputSet commit holds the handler at a time

// Async-signal-safe: unlink, sigaction, raise only.
void remove_temps_on_signal(int sig) {
  const int saved_errno = errno;
  const sig_atomic_t n = g_temp_count;
  const char* const* temps = g_temps;
  for (sig_atomic_t k = 0; k < n && temps; ++k) unlink(temps[k]);
  g_interrupted = sig;
  for (int s = 0; s < kNumSignals; ++s)
    if (kSignals[s] == sig && g_installed[s]) {
      sigaction(sig, &g_previous[s], nullptr);
      g_installed[s] = 0;
    }
  errno = saved_errno;
  raise(sig);  // delivered with the previous disposition once this handler returns
}

// While alive, the signals above remove `temps` (names kept by the caller) before the process
// acts on them as it did before. A signal whose disposition was SIG_IGN stays ignored.
class SignalCleanup {
 public:
  explicit SignalCleanup(const std::vector<std::string>& temps) : lock_(g_guard_mutex, std::try_to_lock) {
    if (!lock_.owns_lock()) return;  // another thread's commit holds the handler
    for (const std::string& t : temps) names_.push_back(t.c_str());
    sigset_t block, old;
    mask(block);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    g_temps = names_.data();
    g_temp_count = static_cast<sig_atomic_t>(names_.size());
    g_interrupted = 0;
    for (int s = 0; s < kNumSignals; ++s) {
      g_installed[s] = 0;
      if (sigaction(kSignals[s], nullptr, &g_previous[s]) != 0) continue;
      if (!(g_previous[s].sa_flags & SA_SIGINFO) && g_previous[s].sa_handler == SIG_IGN) continue;
      struct sigaction sa;
      std::memset(&sa, 0, sizeof sa);
      sa.sa_handler = remove_temps_on_signal;
      sigemptyset(&sa.sa_mask);
      sa.sa_flags = SA_RESTART;
      if (sigaction(kSignals[s], &sa, nullptr) == 0) g_installed[s] = 1;
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
  ~SignalCleanup() {
    if (!lock_.owns_lock()) return;
    sigset_t block, old;
    mask(block);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    for (int s = 0; s < kNumSignals; ++s)
      if (g_installed[s]) {
        sigaction(kSignals[s], &g_previous[s], nullptr);
        g_installed[s] = 0;
      }
    g_temp_count = 0;
    g_temps = nullptr;
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
  SignalCleanup(const SignalCleanup&) = delete;
  SignalCleanup& operator=(const SignalCleanup&) = delete;

  /// The signal that removed the temporaries (its previous disposition let the process go on).
  int interrupted() const { return lock_.owns_lock() ? static_cast<int>(g_interrupted) : 0; }

 private:
  static void mask(sigset_t& set) {
    sigemptyset(&set);
    for (int s : kSignals) sigaddset(&set, s);
  }
  std::unique_lock<std::mutex> lock_;
  std::vector<const char*> names_;
};

// Rank 0, before anything is written: the destinations that must not be written. Rank-local.
Status check_destinations(const std::vector<std::string>& paths) {
  Status st;
  struct Where {
    dev_t dev;
    ino_t ino;
    std::string name, path;
  };
  std::vector<Where> seen;
  for (std::size_t k = 0; k < paths.size() && st.ok; ++k) {
    const std::string& p = paths[k];
    struct stat sb;
    if (stat(p.c_str(), &sb) == 0) {
      const std::string input = input_behind(p);
      if (!input.empty()) {
        st.fail(PETSC_ERR_ARG_WRONG,
                p + ": refusing to overwrite an input of this run (read as " + input + ")");
        break;
      }
      // A directory would fail only at its own rename, after the files before it were moved.
      if (S_ISDIR(sb.st_mode)) {
        st.fail(PETSC_ERR_FILE_WRITE, p + ": cannot write: " + errno_text(EISDIR));
        break;
      }
      if (!S_ISREG(sb.st_mode)) {
        st.fail(PETSC_ERR_FILE_WRITE,
                p + ": cannot write: exists and is " + file_kind(sb.st_mode) +
                    " (only a regular file is replaced)");
        break;
      }
    }
    // Two items naming one file (`a` and `./a`): same directory (by device and inode), same name.
    const std::size_t slash = p.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : p.substr(0, slash));
    const std::string name = slash == std::string::npos ? p : p.substr(slash + 1);
    struct stat db;
    if (stat(dir.c_str(), &db) != 0) continue;  // the write reports a missing directory
    for (const Where& w : seen)
      if (w.dev == db.st_dev && w.ino == db.st_ino && w.name == name) {
        st.fail(PETSC_ERR_ARG_WRONG, p + ": the same file as " + w.path + ", both outputs of one set");
        break;
      }
    seen.push_back(Where{db.st_dev, db.st_ino, name, p});
  }
  return st;
}

// The communicator of a PETSc object must be the OutputSet's (same processes, same order).
void check_same_comm(MPI_Comm comm, PetscObject obj, const std::string& path) {
  int result = MPI_UNEQUAL;
  MPI_Comm_compare(comm, PetscObjectComm(obj), &result);
  FOLDOPT_CHECK(result == MPI_IDENT || result == MPI_CONGRUENT, PETSC_ERR_ARG_NOTSAMECOMM,
                "%s: the object to write does not live on the OutputSet's communicator",
                path.c_str());
}

}  // namespace
}  // namespace detail

Format format_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name.size() < 4) return Format::petsc_binary;
  std::string ext = name.substr(name.size() - 4);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".mtx" ? Format::matrix_market : Format::petsc_binary;
}

std::string block_path(const std::string& path, const std::string& block) {
  const std::size_t slash = path.rfind('/');
  const std::size_t name_start = slash == std::string::npos ? 0 : slash + 1;
  const std::size_t dot = path.rfind('.');
  // An extension is a dot inside the file name, not its first character (".hidden").
  if (dot == std::string::npos || dot <= name_start) return path + "." + block;
  return path.substr(0, dot) + "." + block + path.substr(dot);
}

OwnedVec read_vec(MPI_Comm comm, const std::string& path, PetscInt local,
                  PetscInt expected_global) {
  OwnedVec v = format_of(path) == Format::matrix_market
                   ? detail::mm_read_vec(comm, path, local, expected_global)
                   : detail::binary_read_vec(comm, path, local, expected_global);
  detail::remember_input(path);
  return v;
}

OwnedVec read_batch(MPI_Comm comm, const std::string& path, PetscInt n, PetscInt* batch,
                    PetscInt local) {
  FOLDOPT_CHECK(batch != nullptr, PETSC_ERR_ARG_NULL, "%s: read_batch needs a place for the batch size",
                path.c_str());
  FOLDOPT_CHECK(n == PETSC_DETERMINE || n >= 1, PETSC_ERR_ARG_OUTOFRANGE,
                "%s: instance length %" PetscInt_FMT " is not positive", path.c_str(), n);
  PetscInt B = 0;
  OwnedVec v = format_of(path) == Format::matrix_market
                   ? detail::mm_read_batch(comm, path, n, &B, local)
                   : detail::binary_read_batch(comm, path, n, &B, local);
  detail::remember_input(path);
  *batch = B;
  return v;
}

namespace {
PetscErrorCode read_storage_options(MPI_Comm comm, PetscInt* storage, PetscReal* threshold, PetscInt* min_rows) {
  static const char* const choices[] = {"auto", "aij", "dense"};
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, nullptr, "Storage of input matrices", "io::read_mat");
  PetscCall(PetscOptionsEList("-mat_storage",
                              "Input matrices as AIJ or dense: auto (MatrixMarket arrays, dense binary files and "
                              "files denser than -mat_dense_threshold are dense), aij, dense",
                              "io::read_mat", choices, 3, choices[*storage], storage, nullptr));
  PetscCall(PetscOptionsReal("-mat_dense_threshold",
                             "auto: a coordinate or AIJ file storing more than this fraction of rows x cols is dense",
                             "io::read_mat", *threshold, threshold, nullptr));
  PetscCall(PetscOptionsInt("-mat_dense_min_rows",
                            "auto: only a coordinate or AIJ file with at least this many rows and columns is made dense",
                            "io::read_mat", *min_rows, min_rows, nullptr));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}
}  // namespace

StorageRule StorageRule::from_options(MPI_Comm comm) {
  options::check_choice(nullptr, "mat_storage", {"auto", "aij", "dense"});
  options::check_real(nullptr, "mat_dense_threshold", 0, 1);
  options::check_int(nullptr, "mat_dense_min_rows", 0, PETSC_MAX_INT);
  StorageRule r;
  PetscInt storage = 0;
  PetscReal threshold = r.dense_threshold;
  FOLDOPT_CALL(read_storage_options(comm, &storage, &threshold, &r.dense_min_rows));
  r.storage = storage == 1 ? Storage::aij : (storage == 2 ? Storage::dense : Storage::automatic);
  r.dense_threshold = threshold;
  return r;
}

std::string StorageChoice::describe() const {
  return ::foldopt::detail::format("%s %" PetscInt_FMT "x%" PetscInt_FMT " (%s)", dense ? "dense" : "aij", rows, cols,
                        reason.c_str());
}

std::string storage_name(Mat A) {
  PetscBool dense = PETSC_FALSE, aij = PETSC_FALSE;
  FOLDOPT_CALL(PetscObjectTypeCompareAny(reinterpret_cast<PetscObject>(A), &dense, MATSEQDENSE, MATMPIDENSE, ""));
  FOLDOPT_CALL(PetscObjectTypeCompareAny(reinterpret_cast<PetscObject>(A), &aij, MATSEQAIJ, MATMPIAIJ, ""));
  if (dense) return "dense";
  if (aij) return "aij";
  MatType type = nullptr;
  FOLDOPT_CALL(MatGetType(A, &type));
  return type ? type : "(no type)";
}

namespace detail {

StorageChoice choose_storage(const StorageRule& rule, PetscInt rows, PetscInt cols, long long stored,
                             const char* dense_format) {
  StorageChoice c;
  c.rows = rows;
  c.cols = cols;
  const double size = static_cast<double>(rows) * static_cast<double>(cols);
  c.density = size > 0 ? static_cast<double>(stored) / size : 0;
  if (rule.storage != Storage::automatic) {
    c.dense = rule.storage == Storage::dense;
    c.reason = c.dense ? "-mat_storage dense" : "-mat_storage aij";
  } else if (dense_format) {
    c.dense = true;
    c.reason = dense_format;
  } else if (std::min(rows, cols) < rule.dense_min_rows) {
    c.reason = ::foldopt::detail::format("density %.3g%%, fewer than %" PetscInt_FMT " rows or columns", 100 * c.density,
                                         rule.dense_min_rows);
  } else {
    c.dense = size > 0 && c.density > rule.dense_threshold;
    c.reason = ::foldopt::detail::format("density %.3g%% %s %.3g%%", 100 * c.density, c.dense ? ">" : "<=",
                                         100 * static_cast<double>(rule.dense_threshold));
  }
  return c;
}

OwnedMat create_dense(MPI_Comm comm, const Range& rows, const Range& cols) {
  OwnedMat A;
  FOLDOPT_CALL(MatCreateDense(comm, rows.local, cols.local, rows.global, cols.global, nullptr, A.out()));
  return A;
}

}  // namespace detail

OwnedMat read_mat(MPI_Comm comm, const std::string& path, const StorageRule& rule, PetscInt local_rows,
                  StorageChoice* choice) {
  FOLDOPT_CHECK(rule.dense_threshold >= 0 && rule.dense_threshold <= 1, PETSC_ERR_ARG_OUTOFRANGE,
                "%s: dense threshold %g is not in [0, 1]", path.c_str(), static_cast<double>(rule.dense_threshold));
  OwnedMat A = format_of(path) == Format::matrix_market
                   ? detail::mm_read_mat(comm, path, local_rows, rule, choice)
                   : detail::binary_read_mat(comm, path, local_rows, rule, choice);
  detail::remember_input(path);
  return A;
}

OwnedMat read_mat(MPI_Comm comm, const std::string& path, PetscInt local_rows, StorageChoice* choice) {
  return read_mat(comm, path, StorageRule::from_options(comm), local_rows, choice);
}

void OutputSet::add(const std::string& path, Vec v) {
  FOLDOPT_CHECK(v != nullptr, PETSC_ERR_ARG_NULL, "%s: null vector", path.c_str());
  detail::check_same_comm(comm_, reinterpret_cast<PetscObject>(v), path);
  for (const Item& it : items_)
    FOLDOPT_CHECK(it.path != path, PETSC_ERR_ARG_WRONG, "%s: added twice to one OutputSet",
                  path.c_str());
  items_.push_back(Item{path, OwnedVec::share(v), OwnedMat(), 0});
}

void OutputSet::add_batch(const std::string& path, Vec v, PetscInt n) {
  FOLDOPT_CHECK(v != nullptr, PETSC_ERR_ARG_NULL, "%s: null vector", path.c_str());
  detail::check_same_comm(comm_, reinterpret_cast<PetscObject>(v), path);
  FOLDOPT_CHECK(n >= 1, PETSC_ERR_ARG_OUTOFRANGE, "%s: instance length %" PetscInt_FMT " is not positive",
                path.c_str(), n);
  PetscInt N = 0;
  FOLDOPT_CALL(VecGetSize(v, &N));
  FOLDOPT_CHECK(N % n == 0, PETSC_ERR_ARG_SIZ,
                "%s: a batch of %" PetscInt_FMT " entries is not a whole number of instances of %" PetscInt_FMT
                " entries",
                path.c_str(), N, n);
  if (N == n) {  // one instance: a vector, as add() writes it
    add(path, v);
    return;
  }
  for (const Item& it : items_)
    FOLDOPT_CHECK(it.path != path, PETSC_ERR_ARG_WRONG, "%s: added twice to one OutputSet",
                  path.c_str());
  items_.push_back(Item{path, OwnedVec::share(v), OwnedMat(), n});
}

void OutputSet::add_block(const std::string& path, const ParamBlock& block, PetscInt batch) {
  FOLDOPT_CHECK(block.vec, PETSC_ERR_ARG_NULL, "%s: parameter block '%s' has no vector", path.c_str(),
                block.name.c_str());
  switch (block.kind) {
    case BlockKind::matrix_values:
      // The matrix is built now (a copy of the pattern with the block's values).
      with_context(path, [&] { add(path, matrix_values::as_matrix(block)); });
      return;
    case BlockKind::scalar: {
      PetscInt N = 0;
      FOLDOPT_CALL(VecGetSize(block.vec, &N));
      FOLDOPT_CHECK(N == 1, PETSC_ERR_ARG_SIZ, "%s: the scalar block '%s' has %" PetscInt_FMT " entries, not 1",
                    path.c_str(), block.name.c_str(), N);
      add(path, block.vec);  // a 1 x 1 array in MatrixMarket, a Vec of one entry in PETSc binary
      return;
    }
    case BlockKind::instance: {
      PetscInt N = 0;
      FOLDOPT_CALL(VecGetSize(block.vec, &N));
      FOLDOPT_CHECK(batch >= 1 && N % batch == 0, PETSC_ERR_ARG_SIZ,
                    "%s: the block '%s' has %" PetscInt_FMT " entries, not a whole number of %" PetscInt_FMT " instances",
                    path.c_str(), block.name.c_str(), N, batch);
      add_batch(path, block.vec, N / batch);
      return;
    }
    case BlockKind::shared:
      add(path, block.vec);
      return;
  }
}

void OutputSet::add(const std::string& path, Mat A) {
  FOLDOPT_CHECK(A != nullptr, PETSC_ERR_ARG_NULL, "%s: null matrix", path.c_str());
  detail::check_same_comm(comm_, reinterpret_cast<PetscObject>(A), path);
  for (const Item& it : items_)
    FOLDOPT_CHECK(it.path != path, PETSC_ERR_ARG_WRONG, "%s: added twice to one OutputSet",
                  path.c_str());
  items_.push_back(Item{path, OwnedVec(), OwnedMat::share(A), 0});
}

void OutputSet::check() const {
  int rank = 0;
  MPI_Comm_rank(comm_, &rank);
  std::vector<std::string> paths;
  for (const Item& it : items_) paths.push_back(it.path);
  detail::Status st;
  if (rank == 0) st = detail::check_destinations(paths);
  detail::raise_if_any(comm_, st);
}

void OutputSet::commit() {
  // The set is emptied whatever the outcome.
  std::vector<Item> items;
  items.swap(items_);
  if (items.empty()) return;

  int rank = 0;
  MPI_Comm_rank(comm_, &rank);
  long pid = rank == 0 ? static_cast<long>(getpid()) : 0;
  MPI_Bcast(&pid, 1, MPI_LONG, 0, comm_);

  std::vector<std::string> paths, temps;
  for (const Item& it : items) {
    paths.push_back(it.path);
    temps.push_back(detail::temp_name(it.path, pid));
  }
  // Nothing is written to a destination that is an input, not a regular file, or named twice.
  detail::Status st;
  if (rank == 0) st = detail::check_destinations(paths);
  detail::raise_if_any(comm_, st);

  // Every rank knows every temporary's name, so whichever rank a signal reaches removes them all.
  detail::SignalCleanup on_signal(temps);
  // Rank 0 removes the temporaries (a failed one may not exist).
  auto remove_temps = [&](std::size_t from) {
    if (rank != 0) return;
    for (std::size_t k = from; k < temps.size(); ++k) std::remove(temps[k].c_str());
  };
  auto interrupted = [&](detail::Status& s, const std::string& path) {
    if (const int sig = on_signal.interrupted())
      s.fail(PETSC_ERR_SIG, path + ": not written: interrupted by signal " + std::to_string(sig) +
                                " (" + strsignal(sig) + ")");
  };

  for (std::size_t k = 0; k < items.size(); ++k) {
    const Item& it = items[k];
    st = detail::Status();
    try {
      st = detail::write_item(comm_, it.path, it.vec, it.mat, it.rows, temps[k]);
    } catch (const std::exception& e) {  // the writers report through Status; this is a backstop
      st.fail(PETSC_ERR_FILE_WRITE, it.path + ": cannot write: " + e.what());
    }
    interrupted(st, it.path);
    if (!detail::agree(comm_, st)) {
      remove_temps(0);
      detail::raise_if_any(comm_, st);  // collective: no rank returns before the cleanup is done
    }
  }

  // Every file is complete: move them into place. The final collective check also makes every
  // rank return only once the files are in place.
  st = detail::Status();
  if (rank == 0) {
    // Checked again: a directory or an input may have appeared under a destination's name while
    // the files were written; refuse before moving any.
    st = detail::check_destinations(paths);
    interrupted(st, paths.front());
    if (!st.ok) remove_temps(0);
    for (std::size_t k = 0; k < items.size() && st.ok; ++k) {
      if (std::rename(temps[k].c_str(), items[k].path.c_str()) != 0) {
        const int err = errno;
        st.fail(PETSC_ERR_FILE_WRITE,
                items[k].path +
                    ": cannot move the written file into place: " + detail::errno_text(err));
        remove_temps(k);
        break;
      }
    }
  }
  detail::raise_if_any(comm_, st);
}

void write_vec(const std::string& path, Vec v) {
  FOLDOPT_CHECK(v != nullptr, PETSC_ERR_ARG_NULL, "%s: null vector", path.c_str());
  OutputSet out(PetscObjectComm(reinterpret_cast<PetscObject>(v)));
  out.add(path, v);
  out.commit();
}

void write_mat(const std::string& path, Mat A) {
  FOLDOPT_CHECK(A != nullptr, PETSC_ERR_ARG_NULL, "%s: null matrix", path.c_str());
  OutputSet out(PetscObjectComm(reinterpret_cast<PetscObject>(A)));
  out.add(path, A);
  out.commit();
}

}  // namespace io
}  // namespace foldopt
