// foldopt: small private helpers shared by the engine.
#include "core/util.hpp"

#include <foldopt/error.hpp>

#include <petsctime.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace foldopt {

double wall_time() {
  PetscLogDouble t = 0;
  PetscTime(&t);
  return t;
}

PetscReal worst_instance_ratio(Vec r, Vec g, const Layout& layout) {
  const PetscInt B = std::max<PetscInt>(layout.batch, 1), n = layout.n;
  PetscInt rstart, rend;
  FOLDOPT_CALL(VecGetOwnershipRange(r, &rstart, &rend));
  std::vector<PetscReal> sums(2 * B, 0.0), all(2 * B, 0.0);
  const PetscScalar *ra, *ga;
  FOLDOPT_CALL(VecGetArrayRead(r, &ra));
  FOLDOPT_CALL(VecGetArrayRead(g, &ga));
  for (PetscInt i = rstart; i < rend; ++i) {
    const PetscInt b = n > 0 ? std::min(i / n, B - 1) : 0;
    sums[2 * b] += PetscRealPart(ra[i - rstart] * ra[i - rstart]);
    sums[2 * b + 1] += PetscRealPart(ga[i - rstart] * ga[i - rstart]);
  }
  FOLDOPT_CALL(VecRestoreArrayRead(r, &ra));
  FOLDOPT_CALL(VecRestoreArrayRead(g, &ga));
  MPI_Allreduce(sums.data(), all.data(), static_cast<int>(2 * B), MPIU_REAL, MPIU_SUM, layout.comm);
  PetscReal worst = 0;
  for (PetscInt b = 0; b < B; ++b) {
    const PetscReal rn = std::sqrt(all[2 * b]), gn = std::sqrt(all[2 * b + 1]);
    worst = std::max(worst, gn > 0 ? rn / gn : rn);
  }
  return worst;
}

double peak_rss_bytes() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) * 1024.0;
}

std::string one_line(const std::string& m) {
  std::string out;
  for (char c : m) {
    const bool space = c == '\n' || c == '\r' || c == '\t' || c == ' ';
    if (space && (out.empty() || out.back() == ' ')) continue;
    out += space ? ' ' : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace foldopt
