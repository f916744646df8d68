// Helpers shared by the tests: scoped PETSc options, temporary directories, vector access.
#ifndef FOLDOPT_TEST_UTIL_HPP
#define FOLDOPT_TEST_UTIL_HPP

#include <gtest/gtest.h>
#include <petscvec.h>

#include <string>
#include <utility>
#include <vector>

namespace foldopt_test {

/// Exit code of a test program in which a test was skipped and none failed (tests/mpi_main.cpp);
/// CTest shows it as skipped (SKIP_RETURN_CODE in tests/CMakeLists.txt).
constexpr int kSkippedExitCode = 77;

/// True when this program is built with AddressSanitizer (-DFOLDOPT_SANITIZE=address,...).
constexpr bool address_sanitizer_on() {
#if defined(__SANITIZE_ADDRESS__)
  return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return true;
#else
  return false;
#endif
#else
  return false;
#endif
}

/// Sets options in the global PETSc options database for one scope and clears them after, so
/// tests do not leak options into each other.
class ScopedOptions {
 public:
  explicit ScopedOptions(std::vector<std::pair<std::string, std::string>> opts)
      : opts_(std::move(opts)) {
    for (const auto& o : opts_)
      PetscOptionsSetValue(nullptr, o.first.c_str(), o.second.empty() ? nullptr : o.second.c_str());
  }
  ~ScopedOptions() {
    for (const auto& o : opts_) PetscOptionsClearValue(nullptr, o.first.c_str());
  }

 private:
  std::vector<std::pair<std::string, std::string>> opts_;
};

/// The whole vector on every rank (tests only; small sizes).
inline std::vector<PetscScalar> gather(Vec v) {
  VecScatter sc;
  Vec all;
  VecScatterCreateToAll(v, &sc, &all);
  VecScatterBegin(sc, v, all, INSERT_VALUES, SCATTER_FORWARD);
  VecScatterEnd(sc, v, all, INSERT_VALUES, SCATTER_FORWARD);
  PetscInt n;
  VecGetSize(all, &n);
  const PetscScalar* a;
  VecGetArrayRead(all, &a);
  std::vector<PetscScalar> out(a, a + n);
  VecRestoreArrayRead(all, &a);
  VecScatterDestroy(&sc);
  VecDestroy(&all);
  return out;
}

/// A fresh directory name shared by all ranks (created by rank 0).
std::string temp_dir(const std::string& tag);

inline int rank() {
  int r = 0;
  MPI_Comm_rank(PETSC_COMM_WORLD, &r);
  return r;
}

inline int comm_size() {
  int s = 1;
  MPI_Comm_size(PETSC_COMM_WORLD, &s);
  return s;
}

/// ‖a − ref‖₂ / ‖ref‖₂ (‖a − ref‖₂ when ref = 0), collective.
inline double rel_diff(Vec a, Vec ref) {
  Vec d;
  VecDuplicate(a, &d);
  VecWAXPY(d, -1.0, ref, a);
  PetscReal nd, nr;
  VecNorm(d, NORM_2, &nd);
  VecNorm(ref, NORM_2, &nr);
  VecDestroy(&d);
  return nr > 0 ? nd / nr : nd;
}

/// How often PETSc logged the event `name` under `stage` so far (PetscLogDefaultBegin must have run).
inline int event_count(const char* name, PetscLogStage stage) {
  PetscLogEvent ev;
  PetscLogEventGetId(name, &ev);
  PetscEventPerfInfo info{};
  PetscLogEventGetPerfInfo(stage, ev, &info);
  return info.count;
}

}  // namespace foldopt_test

#endif
