// foldopt: errors of the public C++ API (see include/foldopt/error.hpp).
#include <foldopt/error.hpp>

#include <cstdarg>
#include <cstdio>
#include <vector>

namespace foldopt {
namespace detail {

std::string format(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  va_list ap2;
  va_copy(ap2, ap);
  const int len = std::vsnprintf(nullptr, 0, fmt, ap);
  va_end(ap);
  std::string out(len > 0 ? static_cast<std::size_t>(len) : 0, '\0');
  if (len > 0) std::vsnprintf(&out[0], out.size() + 1, fmt, ap2);
  va_end(ap2);
  return out;
}

void throw_error(PetscErrorCode code, const std::string& message) {
  throw Error(code, message, true);
}

void throw_petsc_error(PetscErrorCode code, const char* expr, const char* file, int line) {
  const char* text = nullptr;
  char* specific = nullptr;
  PetscErrorMessage(code, &text, &specific);
  std::string msg = (specific && specific[0]) ? specific : (text ? text : "PETSc error");
  // Trim the trailing newline PETSc messages may carry.
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  (void)expr;
  (void)file;
  (void)line;
  // A PETSc error raised inside a collective PETSc operation is raised on every rank that takes
  // part; one raised by a rank-local call is not, so the flag is conservative.
  throw Error(code, msg, false);
}

}  // namespace detail

void check_collective(MPI_Comm comm, bool local_ok, PetscErrorCode code,
                      const std::string& local_message) {
  int size = 1, rank = 0;
  MPI_Comm_size(comm, &size);
  MPI_Comm_rank(comm, &rank);
  // The lowest failing rank (or size if none) speaks for all.
  int mine = local_ok ? size : rank, first = size;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
  if (first == size) return;
  int hdr[2] = {code, rank == first ? static_cast<int>(local_message.size()) : 0};
  MPI_Bcast(hdr, 2, MPI_INT, first, comm);
  const int len = hdr[1];
  std::vector<char> buf(static_cast<std::size_t>(len) + 1, '\0');
  if (rank == first) local_message.copy(buf.data(), local_message.size());
  MPI_Bcast(buf.data(), len, MPI_CHAR, first, comm);
  throw Error(hdr[0], std::string(buf.data(), static_cast<std::size_t>(len)), true);
}

}  // namespace foldopt
