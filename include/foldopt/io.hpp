// foldopt: reading and writing vectors and matrices.
//
// The format is chosen by the file name: `.mtx` is MatrixMarket (coordinate or array; real or
// integer; general, symmetric or skew-symmetric), any other extension is PETSc binary (AIJ or
// dense matrices and vectors). Matrices are stored as AIJ or dense (read_mat, StorageRule).
// Every function is collective on the communicator; a bad file raises the same foldopt::Error
// on every rank, with one line naming the file and the cause (text from the file quoted,
// non-printable bytes as \xNN). What a format forbids or leaves ambiguous (a duplicate
// coordinate, both triangles of a symmetric file, unsorted binary rows, data after the declared
// end, ...) is refused, never guessed, so a file reads alike at every rank count; sizes
// a file cannot hold are refused before anything is allocated; an input that is not a regular
// file (a directory, FIFO, socket or device) is refused without blocking. No rank gathers the
// whole object: each rank keeps its own rows.
// Writes go to a temporary name in the same directory and are renamed into place once every
// file of an OutputSet has been written, so outputs appear complete or not at all: a write error
// on any rank (a full disk) fails the set on every rank, and SIGINT / SIGTERM / SIGHUP during the
// writes remove the temporaries before the signal takes its course. A file that this process has
// read is never overwritten by an OutputSet.
#ifndef FOLDOPT_IO_HPP
#define FOLDOPT_IO_HPP

#include <foldopt/handle.hpp>
#include <foldopt/params.hpp>

#include <string>
#include <vector>

namespace foldopt {
namespace io {

enum class Format { matrix_market, petsc_binary };

/// `.mtx` (case-insensitive) is MatrixMarket, anything else PETSc binary.
Format format_of(const std::string& path);

/// Read a vector (and remember the file as an input, see OutputSet). `local` is the number of entries this rank keeps (PETSC_DECIDE for PETSc's
/// split); `expected_global` (if not PETSC_DETERMINE) is checked against the file's length and a
/// mismatch is an error naming the file and both sizes. ±inf and nan are read as values (the
/// caller decides whether they are allowed).
OwnedVec read_vec(MPI_Comm comm, const std::string& path, PetscInt local = PETSC_DECIDE,
                  PetscInt expected_global = PETSC_DETERMINE);

/// Read a vector input that may hold a batch: a MatrixMarket array of n rows and B columns, or
/// a dense PETSc binary matrix (column b = instance b), or a vector (B = 1). Returns the B·n
/// entries instance after instance (column-major order: a file's column is an instance), split
/// by `local` (PETSC_DECIDE: PETSc's split of B·n). `n` is the instance length required
/// (PETSC_DETERMINE: the file's rows); a mismatch names the file and both sizes. *batch gets B.
OwnedVec read_batch(MPI_Comm comm, const std::string& path, PetscInt n, PetscInt* batch,
                    PetscInt local = PETSC_DECIDE);

/// How read_mat stores a matrix: by the file (`automatic`), or forced.
enum class Storage { automatic, aij, dense };

/// The storage rule of read_mat: the options -mat_storage auto|aij|dense, -mat_dense_threshold t
/// (0 ≤ t ≤ 1, default 0.25) and -mat_dense_min_rows r (default 100), checked and read here
/// (collective).
struct StorageRule {
  Storage storage = Storage::automatic;
  PetscReal dense_threshold = 0.25;  ///< automatic: a coordinate or AIJ file denser than this is dense,
  PetscInt dense_min_rows = 100;     ///< if it has at least this many rows and columns (below, a
                                     ///< small matrix keeps its pattern: dense storage gains nothing)
  static StorageRule from_options(MPI_Comm comm);
};

/// What read_mat chose, and why (for a problem's view and the executable's report).
struct StorageChoice {
  bool dense = false;
  PetscInt rows = 0, cols = 0;
  double density = 0;  ///< stored entries / (rows·cols), after a symmetric file's expansion
  std::string reason;  ///< "MatrixMarket array", "density 40.0% > 25%", "-mat_storage aij", ...
  /// "dense 2000x2000 (MatrixMarket array)", "aij 2000x2000, density 0.4% <= 25%".
  std::string describe() const;
};

/// Read a matrix with rows split by `local_rows` (PETSC_DECIDE for PETSc's split), as MATAIJ or
/// as MATDENSE (MATSEQDENSE / MATMPIDENSE; a square matrix has its columns split like its rows).
/// A MatrixMarket `array` file is dense; a coordinate file or an AIJ PETSc binary file is dense
/// when its density (stored entries / rows·cols) exceeds rule.dense_threshold and it has at least
/// rule.dense_min_rows rows and columns; rule.storage other than automatic forces either. A
/// dense matrix stores every entry, so its matrix-values block (matrix_values.hpp) is all of them. A dense PETSc binary file (MatView with
/// PETSC_VIEWER_NATIVE) is dense. A symmetric MatrixMarket file is expanded to both triangles.
/// An array file read as AIJ keeps its nonzeros only. `choice` (if given) gets the storage chosen.
OwnedMat read_mat(MPI_Comm comm, const std::string& path, const StorageRule& rule,
                  PetscInt local_rows = PETSC_DECIDE, StorageChoice* choice = nullptr);
/// The same with the options' rule (StorageRule::from_options).
OwnedMat read_mat(MPI_Comm comm, const std::string& path, PetscInt local_rows = PETSC_DECIDE,
                  StorageChoice* choice = nullptr);

/// "dense" for MATSEQDENSE / MATMPIDENSE, "aij" for MATSEQAIJ / MATMPIAIJ, else the type name.
std::string storage_name(Mat A);

/// `DIR/g.mtx` with block `q` → `DIR/g.q.mtx` (the block name goes before the extension; a path
/// without extension gets `.<block>` appended).
std::string block_path(const std::string& path, const std::string& block);

/// A set of output files written all-or-nothing (collective).
class OutputSet {
 public:
  explicit OutputSet(MPI_Comm comm) : comm_(comm) {}
  /// Queue a vector (a new reference is kept until commit).
  void add(const std::string& path, Vec v);
  /// Queue a matrix (written as MatrixMarket coordinate general, or PETSc binary).
  void add(const std::string& path, Mat A);
  /// Queue a batch vector of B instances of n entries (B = global size / n): written as an
  /// n×B array (MatrixMarket array, or a dense PETSc binary matrix); B = 1 is written as a vector.
  void add_batch(const std::string& path, Vec v, PetscInt n);
  /// Queue a parameter block (or its gradient) as what it is: a matrix with its pattern for
  /// matrix values, a 1×1 array for a scalar, an n×B array for a per-instance block of a batch of
  /// `batch` instances (n = the block's size / B: its own instance length, e.g. lasso's y has m
  /// rows), a vector otherwise.
  void add_block(const std::string& path, const ParamBlock& block, PetscInt batch);
  /// Collective: throw now what commit would refuse before writing anything: a destination that is
  /// a file read by read_vec / read_mat in this process (same device and inode: symbolic and hard
  /// links, `./a` and `a` are caught; the message names both paths), that exists and is not a
  /// regular file, or that two items share.
  void check() const;
  /// check(), then write every queued object to a temporary file beside its destination, then,
  /// only if all succeeded on all ranks, rename them into place; otherwise remove the temporaries
  /// and throw (the same error on every rank).
  void commit();

 private:
  struct Item {
    std::string path;
    OwnedVec vec;
    OwnedMat mat;
    PetscInt rows = 0;  ///< a batch vector written as a rows x B array (0: a plain vector)
  };
  MPI_Comm comm_;
  std::vector<Item> items_;
};

/// Convenience: write one vector / one matrix atomically.
void write_vec(const std::string& path, Vec v);
void write_mat(const std::string& path, Mat A);

}  // namespace io
}  // namespace foldopt

#endif  // FOLDOPT_IO_HPP
