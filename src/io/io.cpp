// foldopt: reading and writing vectors and matrices (see include/foldopt/io.hpp).
//
// This file holds the parts shared by both formats: the choice of format by file name, block file
// names, the collective error helpers, the row split, and OutputSet, which writes each queued
// object to `<dir>/.<name>.tmp.<pid of rank 0>` and renames the temporaries into place (rank 0,
// rename(2) within one directory) only once every object has been written on every rank.
// The readers and writers themselves are in matrix_market.cpp and binary.cpp.
#include <foldopt/io.hpp>

#include "io/io_internal.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
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
  st.message.assign(buf.data(), static_cast<std::size_t>(len));
  return false;
}

void raise_if_any(MPI_Comm comm, const Status& st) { check_collective(comm, st.ok, st.code, st.message); }

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

namespace {

// Writes one queued object to `tmp`; collective, never throws.
Status write_item(MPI_Comm comm, const std::string& dest, Vec v, Mat A, const std::string& tmp) {
  const bool mm = format_of(dest) == Format::matrix_market;
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
  if (format_of(path) == Format::matrix_market)
    return detail::mm_read_vec(comm, path, local, expected_global);
  return detail::binary_read_vec(comm, path, local, expected_global);
}

OwnedMat read_mat(MPI_Comm comm, const std::string& path, PetscInt local_rows) {
  if (format_of(path) == Format::matrix_market) return detail::mm_read_mat(comm, path, local_rows);
  return detail::binary_read_mat(comm, path, local_rows);
}

void OutputSet::add(const std::string& path, Vec v) {
  FOLDOPT_CHECK(v != nullptr, PETSC_ERR_ARG_NULL, "%s: null vector", path.c_str());
  detail::check_same_comm(comm_, reinterpret_cast<PetscObject>(v), path);
  for (const Item& it : items_)
    FOLDOPT_CHECK(it.path != path, PETSC_ERR_ARG_WRONG, "%s: added twice to one OutputSet",
                  path.c_str());
  items_.push_back(Item{path, OwnedVec::share(v), OwnedMat()});
}

void OutputSet::add(const std::string& path, Mat A) {
  FOLDOPT_CHECK(A != nullptr, PETSC_ERR_ARG_NULL, "%s: null matrix", path.c_str());
  detail::check_same_comm(comm_, reinterpret_cast<PetscObject>(A), path);
  for (const Item& it : items_)
    FOLDOPT_CHECK(it.path != path, PETSC_ERR_ARG_WRONG, "%s: added twice to one OutputSet",
                  path.c_str());
  items_.push_back(Item{path, OwnedVec(), OwnedMat::share(A)});
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

  std::vector<std::string> temps;
  // Rank 0 removes the temporaries from index `from` on (a failed one may not exist).
  auto remove_temps = [&](std::size_t from) {
    if (rank != 0) return;
    for (std::size_t k = from; k < temps.size(); ++k) std::remove(temps[k].c_str());
  };

  for (const Item& it : items) {
    temps.push_back(detail::temp_name(it.path, pid));
    detail::Status st;
    try {
      st = detail::write_item(comm_, it.path, it.vec, it.mat, temps.back());
    } catch (const std::exception& e) {  // the writers report through Status; this is a backstop
      st.fail(PETSC_ERR_FILE_WRITE, it.path + ": cannot write: " + e.what());
    }
    if (!detail::agree(comm_, st)) {
      remove_temps(0);
      detail::raise_if_any(comm_, st);  // collective: no rank returns before the cleanup is done
    }
  }

  // Every file is complete: move them into place. The final collective check also makes every
  // rank return only once the files are in place.
  detail::Status st;
  if (rank == 0) {
    // A destination that is a directory fails only at its own rename, after the files before it
    // have been moved into place: refuse it before moving any.
    for (std::size_t k = 0; k < items.size() && st.ok; ++k) {
      struct stat sb;
      if (stat(items[k].path.c_str(), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        st.fail(PETSC_ERR_FILE_WRITE, items[k].path + ": cannot write: " + detail::errno_text(EISDIR));
        remove_temps(0);
      }
    }
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
