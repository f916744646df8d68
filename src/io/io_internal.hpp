// foldopt: private helpers of the I/O module (src/io), shared by the MatrixMarket and PETSc binary
// readers and writers.
//
// Rank-local steps never throw: they record their outcome in a Status, and a collective step
// (agree / raise_if_any) makes every rank of the communicator see the error of the lowest failing
// rank, so that no rank throws while another waits in MPI.
#ifndef FOLDOPT_IO_INTERNAL_HPP
#define FOLDOPT_IO_INTERNAL_HPP

#include <foldopt/error.hpp>
#include <foldopt/handle.hpp>
#include <foldopt/io.hpp>
#include <cstddef>
#include <string>
#include <vector>

namespace foldopt {
namespace io {
namespace detail {

/// Outcome of a rank-local step: ok, or an error code and a one-line message. The first failure
/// recorded wins.
struct Status {
  bool ok = true;
  PetscErrorCode code = 0;
  std::string message;

  void fail(PetscErrorCode c, const std::string& m) {
    if (!ok) return;
    ok = false;
    code = c;
    message = m;
  }
};

/// Collective: true if every rank's `st` is ok; otherwise every rank's `st` becomes the failure of
/// the lowest failing rank and false is returned on every rank.
bool agree(MPI_Comm comm, Status& st);

/// Collective: if any rank failed, every rank throws (through foldopt::check_collective) the same
/// foldopt::Error, carrying the code and message of the lowest failing rank.
void raise_if_any(MPI_Comm comm, const Status& st);

/// A contiguous block of the rows (or columns) owned by this rank.
struct Range {
  PetscInt local = 0;  ///< number owned here
  PetscInt start = 0;  ///< first global index owned
  PetscInt end = 0;    ///< one past the last
  PetscInt global = 0;
};

/// Collective: the block of `global` indices this rank owns when it asks for `local` of them
/// (PETSC_DECIDE: PETSc's split, PetscSplitOwnership). Local sizes that do not add up to `global`
/// raise an error on every rank naming `path` and `what` ("rows", "entries").
Range split(MPI_Comm comm, const std::string& path, PetscInt local, PetscInt global,
            const char* what);

/// The columns of a rows x `cols` matrix whose rows are split as `rows`: a square matrix has its
/// columns split like its rows (so it multiplies vectors with the rows' layout); otherwise PETSc's
/// split of `cols`. Collective.
Range column_split(MPI_Comm comm, const std::string& path, const Range& rows, PetscInt cols);

/// strerror(err) as a std::string.
std::string errno_text(int err);

/// Text taken from a file, made safe to put in a one-line message: in single quotes, printable
/// ASCII kept, every other byte (and the quote and backslash) as \xNN, at most `max` bytes shown
/// (then "...").
std::string quote(const char* begin, const char* end, std::size_t max = 40);
inline std::string quote(const std::string& s, std::size_t max = 40) {
  return quote(s.data(), s.data() + s.size(), max);
}

/// `message` on one line: control bytes (newlines included) become \xNN. Every I/O error goes
/// through this before it is raised.
std::string one_line(const std::string& message);

/// Rank-local: opens `path` for reading only if it is a regular file. It is looked at first
/// (stat) and then opened with O_NONBLOCK, so a FIFO, socket or device is refused without
/// blocking; `fd` is then switched back to blocking mode. On failure `fd` is -1 and `st` holds
/// "<path>: cannot open: <reason>" (PETSC_ERR_FILE_OPEN). `size` is the file's length in bytes.
Status open_regular(const std::string& path, int& fd, long long& size);

/// Rank-local: the file `path` has been read in this process (it is remembered by device and
/// inode; an output that is the same file is then refused by OutputSet). A path that cannot be
/// looked at on this rank is not remembered.
void remember_input(const std::string& path);

/// Rank-local: if `path` exists and is a file read by remember_input (the same device and inode,
/// whatever the name: symbolic links, `./a` and `a`, hard links), the name it was read under;
/// otherwise an empty string. An input whose name no longer leads to that file (deleted or
/// replaced, so that the inode may have been reused) is not counted.
std::string input_behind(const std::string& path);

/// Rank-local, for the writers: the global size of `A`, its rows on this rank, the number of
/// entries of each (appended to `lengths` when given) and their sum. Fails with "<dest>: cannot
/// read ..." for a matrix that cannot be read row by row.
Status local_rows(Mat A, const std::string& dest, PetscInt& M, PetscInt& N, PetscInt& rstart, PetscInt& rend,
                  std::vector<PetscInt>* lengths, long long& nz_local);

/// The storage of a rows x cols matrix by `rule` (rank-local, the same on every rank given the
/// same arguments): `dense_format` names a format that is dense by itself ("MatrixMarket array",
/// "PETSc binary dense"; nullptr for a coordinate or AIJ file), `stored` is the number of
/// entries the file stores (after a symmetric file's expansion).
StorageChoice choose_storage(const StorageRule& rule, PetscInt rows, PetscInt cols, long long stored,
                             const char* dense_format);

/// Collective: an empty assembled-to-be matrix of the given sizes as MATDENSE (zeros).
OwnedMat create_dense(MPI_Comm comm, const Range& rows, const Range& cols);

// ---- MatrixMarket (matrix_market.cpp) ----
OwnedVec mm_read_vec(MPI_Comm comm, const std::string& path, PetscInt local,
                     PetscInt expected_global);
OwnedMat mm_read_mat(MPI_Comm comm, const std::string& path, PetscInt local_rows, const StorageRule& rule,
                     StorageChoice* choice);
/// Collective; writes `tmp`, messages name `dest`. Never throws.
Status mm_write_vec(MPI_Comm comm, Vec v, const std::string& tmp, const std::string& dest);
Status mm_write_mat(MPI_Comm comm, Mat A, const std::string& tmp, const std::string& dest);
/// Collective: the rows x cols values of a batch file (an array, column b = instance b) in
/// column-major order, split by `local`; *batch = cols. A column or a row (unless n = 1) is one
/// vector (*batch = 1). `n` (if not PETSC_DETERMINE) must be the instance length.
OwnedVec mm_read_batch(MPI_Comm comm, const std::string& path, PetscInt n, PetscInt* batch,
                       PetscInt local);
/// Collective, never throws: `v` (N entries) as a `rows` x N/rows array (rows = 0: N x 1).
Status mm_write_array(MPI_Comm comm, Vec v, PetscInt rows, const std::string& tmp,
                      const std::string& dest);

// ---- PETSc binary (binary.cpp) ----
OwnedVec binary_read_vec(MPI_Comm comm, const std::string& path, PetscInt local,
                         PetscInt expected_global);
/// An AIJ file is loaded as AIJ (MatLoad) and converted when the rule makes it dense; a dense
/// file (nz = -1) is loaded as MATDENSE unless the rule forces AIJ.
OwnedMat binary_read_mat(MPI_Comm comm, const std::string& path, PetscInt local_rows, const StorageRule& rule,
                         StorageChoice* choice);
/// Collective; writes `tmp`, messages name `dest`. Never throws.
Status binary_write_vec(MPI_Comm comm, Vec v, const std::string& tmp, const std::string& dest);
Status binary_write_mat(MPI_Comm comm, Mat A, const std::string& tmp, const std::string& dest);
/// Collective: a vector file (*batch = 1) or a matrix file read as a batch: an M x N matrix, dense
/// (MatView with PETSC_VIEWER_NATIVE) or AIJ (MatView's default, also for MATDENSE), is N instances
/// of M entries, returned column-major and split by `local`.
OwnedVec binary_read_batch(MPI_Comm comm, const std::string& path, PetscInt n, PetscInt* batch,
                           PetscInt local);
/// Collective, never throws: `v` (N entries, instance after instance) as a dense `rows` x N/rows
/// PETSc binary matrix (the format MatLoad reads into MATDENSE).
Status binary_write_dense(MPI_Comm comm, Vec v, PetscInt rows, const std::string& tmp,
                          const std::string& dest);

}  // namespace detail
}  // namespace io
}  // namespace foldopt

#endif  // FOLDOPT_IO_INTERNAL_HPP
