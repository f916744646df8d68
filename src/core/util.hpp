// foldopt: small private helpers shared by the engine.
#ifndef FOLDOPT_SRC_CORE_UTIL_HPP
#define FOLDOPT_SRC_CORE_UTIL_HPP

#include <foldopt/params.hpp>

#include <string>
#include <vector>

namespace foldopt {

/// Wall-clock seconds (PetscTime).
double wall_time();

/// max over instances b of ‖r_b‖₂ / ‖g_b‖₂ (‖r_b‖₂ where g_b = 0), for a batch layout.
PetscReal worst_instance_ratio(Vec r, Vec g, const Layout& layout);
/// ‖r_b‖₂ / ‖g_b‖₂ of every instance b (the same on every rank; one reduction of 2B numbers).
std::vector<PetscReal> instance_ratios(Vec r, Vec g, const Layout& layout);

/// Every entry of a (short) vector on every rank (collective: VecScatterCreateToAll).
std::vector<PetscScalar> all_values(Vec v);
/// Every entry of a (small) matrix on every rank, dense row-major rows × cols (collective: each
/// rank's rows as triplets by MPI_Allgatherv; duplicates summed).
std::vector<PetscReal> all_entries(Mat A);
class Problem;
/// A forward solver on the problem's unknowns refuses a vector of another size (a map whose
/// state is not the problem's unknowns, e.g. ADMM's (x, z, y)), naming itself. Collective.
void check_problem_layout(Vec x, const Problem& p, const char* solver);

/// The scatter between a state of instances of `stride` entries each and one part of it, `len`
/// entries per instance at `offset` within each (split as `part` is): part index J ↔ state index
/// (J / len)·stride + offset + J % len. SCATTER_FORWARD gathers the part from the state.
OwnedVecScatter part_scatter(Vec state, Vec part, PetscInt len, PetscInt stride, PetscInt offset);

/// MatIsSymmetric(A, tol), also for MATMPIDENSE (which PETSc 3.18 cannot check): there the
/// largest |a_ij − a_ji| of Aᵀ against A, local block by local block (rows and columns of A split
/// alike). Collective.
bool is_symmetric(Mat A, PetscReal tol);

/// Peak resident memory of this process in bytes (getrusage).
double peak_rss_bytes();

/// A message as one line: PETSc's messages may hold newlines (and tabs); each run of white
/// space becomes one blank (the executable's and the Python module's error lines).
std::string one_line(const std::string& m);

}  // namespace foldopt

#endif
