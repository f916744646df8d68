// bench/methods: every backward method on every problem of the catalogue, side by side.
//
// Method: for each problem (box-QP on a 2-D Laplacian, smooth top-k, sparsemax, lasso, TV 1-D and
//   2-D, the sparse QP through the ADMM map, batched top-k) and each size, the instance is built
//   through the problem registry from the same options the executable takes (-n, -seed, ...),
//   solved forward once by the problem's default forward solver (timed: the "forward" phase),
//   and linearized at x*. Then every method solves (I − Φᵀ) w = r, r = (∂R/∂s)ᵀ g for one random
//   g = ∂L/∂x*, and returns ∂L/∂θ = Ψᵀ w (+ the readout's term), each in its own phase (PETSc
//   log stage, wall time, own peak memory): LFPI (richardson, no PC), GMRES(30) and BiCGStab
//   (the problem's default PC), CG on the symmetric form, GMRES preconditioned by ILU (bjacobi +
//   ILU in parallel), GAMG and BoomerAMG on the assembled I − Φᵀ, Jacobian extraction with a
//   sparse direct solve, the unrolled baseline (K steps from x*, back-propagated through its tape)
//   and, for small N, a dense LU of I − Φᵀ gathered to rank 0 (Eigen).
// Algorithm: the reference gradient is the dense solve where it ran, else the Jacobian
//   extraction's, else a tight Krylov solve (GMRES(100), BoomerAMG where Φ assembles, rtol 1e-12);
//   the CSV says which. A method that cannot run at a size is skipped with its reason (the tape
//   of K·N doubles, the sparse LU's fill, O(N²) dense storage, LFPI's predicted iterations
//   log(rtol)/log ρ over a limit or ρ ≥ 1, a map that cannot assemble Φ). The backward is quoted
//   as a multiple of the forward and of its bandwidth floor: the bytes it must read and write at
//   least once — one pass over the problem's data matrices (12 bytes a stored entry: value and
//   column index) and over three state vectors (r read, w written, the linearization's diagonal
//   read: 24 bytes an entry) — at the triad bandwidth measured in the same run.
// References: J. Kotary, M. H. Dinh, F. Fioretto, "Folded Optimization for End-to-End
//   Model-Based Learning", IJCAI (2023) (LFPI, unrolling); Y. Saad, "Iterative Methods for Sparse
//   Linear Systems", SIAM (2003) (the Krylov methods and ILU).
//
// Writes <output_dir>/methods<tag>_np<P>.csv; prints a Markdown table.
// Run:   mpiexec -n 2 build/bench/methods [-quick] [-problems a,b] [-methods a,b] [-sizes 2000,100000]
#include "bench_util.hpp"

#include <foldopt/foldopt.hpp>

#include <Eigen/Dense>

#include <malloc.h>

#include <cmath>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace foldopt;
using Options = std::vector<std::pair<std::string, std::string>>;

const char help[] =
    "Backward methods x problems: products, time, memory and gradient error of every method on every problem.\n"
    "  -problems LIST        box_qp,topk,sparsemax,lasso,tv1d,tv2d,qp,topk_batch (default all)\n"
    "  -methods LIST         lfpi,gmres,bcgs,cg_sym,gmres_ilu,gmres_gamg,gmres_hypre,jacobian,unrolled,dense (default all)\n"
    "  -sizes LIST           problem sizes n (primal unknowns; default 2000,100000; -quick: 1000)\n"
    "  -tag NAME             CSV name methods<NAME>_np<P>.csv (default empty)\n"
    "  -rtol R               adjoint relative tolerance (default 1e-10)\n"
    "  -max_it K             Krylov iteration limit (default 5000; -quick: 3000)\n"
    "  -lfpi_max_it K        LFPI is skipped when log(rtol)/log(rho) exceeds K (default 20000)\n"
    "  -unrolled_steps K     steps of the unrolled baseline (default 100; -quick: 30)\n"
    "  -unrolled_max_memory B  its tape limit in bytes (default 512 MiB)\n"
    "  -dense_max N          dense reference up to N state entries (default 2000)\n"
    "  -jacobian_max_n N     Jacobian extraction up to N state entries (sparse LU fill; default 200000)\n"
    "  -probe_max_seconds S  a map that cannot assemble Phi is probed by N products only when N times the\n"
    "                        measured product time is below S (default 5)\n"
    "  -method_max_seconds S LFPI (unrolled) is skipped when its predicted iterations times the product time\n"
    "                        (K times the time of one unrolled step) exceed S\n"
    "                        (default 120; -quick: 3)\n"
    "  -reps R               an iterative backward is repeated up to R times (while under 0.5 s in all) and\n"
    "                        its best time kept (default 3; products, iterations and memory are the first run's)\n"
    "  -triad_n N            entries of the triad bandwidth measurement (default 1e7; -quick: 2e6)\n";

/// A problem of the matrix: its registry name and the options that generate an instance of size n.
struct ProblemCase {
  std::string label, problem;
  Options (*options)(PetscInt n);
};

std::string str(PetscInt v) { return std::to_string(static_cast<long long>(v)); }

const ProblemCase kProblems[] = {
    {"box_qp", "qp_box", [](PetscInt n) { return Options{{"-n", str(n)}}; }},
    {"topk", "topk", [](PetscInt n) { return Options{{"-n", str(n)}}; }},
    {"sparsemax", "sparsemax", [](PetscInt n) { return Options{{"-n", str(n)}}; }},
    // X with about 5 stored entries a column (m = 2n rows), so that XᵀX stays sparse at large n.
    {"lasso", "lasso",
     [](PetscInt n) { return Options{{"-n", str(n)}, {"-density", bench::num(std::min(0.05, 2.5 / (double)n))}}; }},
    {"tv1d", "tv", [](PetscInt n) { return Options{{"-n", str(n)}}; }},
    // An m×m image with m = √(n/2): the dual state (2m(m−1) differences) has about n entries.
    {"tv2d", "tv",
     [](PetscInt n) {
       const PetscInt m = std::max<PetscInt>(2, (PetscInt)std::lround(std::sqrt((double)n / 2)));
       return Options{{"-tv_grid", str(m) + "," + str(m)}, {"-tv_fixed_D", ""}};
     }},
    // The sparse QP of issue 10: m = n/2 constraint rows.
    {"qp", "qp", [](PetscInt n) { return Options{{"-n", str(n)}, {"-m", str(std::max<PetscInt>(1, n / 2))}}; }},
    // n/100 instances of 100 entries.
    {"topk_batch", "topk",
     [](PetscInt n) { return Options{{"-n", "100"}, {"-batch", str(std::max<PetscInt>(1, n / 100))}}; }},
};

enum class Kind { krylov, lfpi, symmetric, preconditioned, jacobian, unrolled, dense };

struct MethodCase {
  std::string name;
  Kind kind;
  std::string options;  ///< -fold_ options of the adjoint solve
};

std::vector<MethodCase> all_methods(int ranks) {
  const std::string ilu = ranks > 1 ? "-fold_pc_type bjacobi -fold_sub_pc_type ilu" : "-fold_pc_type ilu";
  return {
      {"lfpi", Kind::lfpi, "-fold_ksp_type richardson -fold_pc_type none"},
      {"gmres", Kind::krylov, "-fold_ksp_type gmres -fold_ksp_gmres_restart 30"},
      {"bcgs", Kind::krylov, "-fold_ksp_type bcgs"},
      {"cg_sym", Kind::symmetric, "-fold_adjoint_form symmetric"},
      {"gmres_ilu", Kind::preconditioned, "-fold_ksp_type gmres -fold_ksp_gmres_restart 30 " + ilu},
      {"gmres_gamg", Kind::preconditioned, "-fold_ksp_type gmres -fold_ksp_gmres_restart 30 -fold_pc_type gamg"},
      {"gmres_hypre", Kind::preconditioned, "-fold_ksp_type gmres -fold_ksp_gmres_restart 30 -fold_pc_type hypre"},
      {"jacobian", Kind::jacobian, "-fold_backward jacobian"},
      {"unrolled", Kind::unrolled, ""},
      {"dense", Kind::dense, ""},
  };
}

struct Settings {
  std::vector<std::string> problems, methods;
  std::vector<PetscInt> sizes;
  std::string tag;
  PetscReal rtol = 1e-10;
  PetscInt max_it = 5000, lfpi_max_it = 20000, unrolled_steps = 100, dense_max = 2000, jacobian_max_n = 200000;
  PetscInt triad_n = 10000000;
  PetscReal unrolled_max_memory = 512.0 * 1024 * 1024, probe_max_seconds = 5, method_max_seconds = 120;
  PetscInt reps = 3;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

Settings read_settings(const bench::Args& args) {
  Settings s;
  if (args.quick) {
    s.max_it = 3000;
    s.triad_n = 2000000;
    s.method_max_seconds = 3;
    s.unrolled_steps = 30;
  }
  char problems[512] = "", methods[512] = "", sizes[256] = "", tag[64] = "";
  FOLDOPT_CALL(PetscOptionsGetString(nullptr, nullptr, "-problems", problems, sizeof problems, nullptr));
  FOLDOPT_CALL(PetscOptionsGetString(nullptr, nullptr, "-methods", methods, sizeof methods, nullptr));
  FOLDOPT_CALL(PetscOptionsGetString(nullptr, nullptr, "-sizes", sizes, sizeof sizes, nullptr));
  FOLDOPT_CALL(PetscOptionsGetString(nullptr, nullptr, "-tag", tag, sizeof tag, nullptr));
  FOLDOPT_CALL(PetscOptionsGetReal(nullptr, nullptr, "-rtol", &s.rtol, nullptr));
  FOLDOPT_CALL(PetscOptionsGetInt(nullptr, nullptr, "-max_it", &s.max_it, nullptr));
  FOLDOPT_CALL(PetscOptionsGetInt(nullptr, nullptr, "-lfpi_max_it", &s.lfpi_max_it, nullptr));
  FOLDOPT_CALL(PetscOptionsGetInt(nullptr, nullptr, "-unrolled_steps", &s.unrolled_steps, nullptr));
  FOLDOPT_CALL(PetscOptionsGetReal(nullptr, nullptr, "-unrolled_max_memory", &s.unrolled_max_memory, nullptr));
  FOLDOPT_CALL(PetscOptionsGetInt(nullptr, nullptr, "-dense_max", &s.dense_max, nullptr));
  FOLDOPT_CALL(PetscOptionsGetInt(nullptr, nullptr, "-jacobian_max_n", &s.jacobian_max_n, nullptr));
  FOLDOPT_CALL(PetscOptionsGetReal(nullptr, nullptr, "-probe_max_seconds", &s.probe_max_seconds, nullptr));
  FOLDOPT_CALL(PetscOptionsGetInt(nullptr, nullptr, "-triad_n", &s.triad_n, nullptr));
  FOLDOPT_CALL(PetscOptionsGetReal(nullptr, nullptr, "-method_max_seconds", &s.method_max_seconds, nullptr));
  FOLDOPT_CALL(PetscOptionsGetInt(nullptr, nullptr, "-reps", &s.reps, nullptr));
  s.tag = tag;
  for (const ProblemCase& p : kProblems) s.problems.push_back(p.label);
  if (problems[0]) s.problems = split(problems);
  for (const MethodCase& m : all_methods(1)) s.methods.push_back(m.name);
  if (methods[0]) s.methods = split(methods);
  for (const std::string& v : split(sizes[0] ? sizes : (args.quick ? "1000" : "2000,100000"))) {
    char* end = nullptr;
    const long long n = std::strtoll(v.c_str(), &end, 10);
    if (!end || *end || n < 2) throw std::invalid_argument("-sizes: '" + v + "' is not a size (an integer >= 2)");
    s.sizes.push_back((PetscInt)n);
  }
  for (const std::string& p : s.problems) {
    bool known = false;
    for (const ProblemCase& c : kProblems) known = known || c.label == p;
    if (!known) throw std::invalid_argument("-problems: unknown problem '" + p + "'");
  }
  for (const std::string& m : s.methods) {
    bool known = false;
    for (const MethodCase& c : all_methods(1)) known = known || c.name == m;
    if (!known) throw std::invalid_argument("-methods: unknown method '" + m + "'");
  }
  if (!(s.rtol > 0 && s.rtol < 1)) throw std::invalid_argument("-rtol must be in (0, 1)");
  if (s.max_it < 1 || s.lfpi_max_it < 1 || s.unrolled_steps < 1 || s.dense_max < 0 || s.jacobian_max_n < 0 ||
      s.triad_n < 1000 || s.reps < 1)
    throw std::invalid_argument("-max_it, -lfpi_max_it, -unrolled_steps must be >= 1, -triad_n >= 1000, limits >= 0");
  return s;
}

/// "-a 1 -b" into option pairs.
Options parse_options(const std::string& text) {
  Options out;
  std::stringstream ss(text);
  for (std::string w; ss >> w;) {
    if (w[0] == '-' && !(w.size() > 1 && (std::isdigit((unsigned char)w[1]) || w[1] == '.')))
      out.emplace_back(w, "");
    else if (!out.empty())
      out.back().second = w;
  }
  return out;
}

/// One (problem, size, method) result.
struct Row {
  std::string method, status = "ok", reason, ksp;
  PetscInt iterations = 0, products = 0;
  double seconds = 0, setup_seconds = 0, peak = 0, growth = 0;
  double error = std::numeric_limits<double>::quiet_NaN();
  ParamSet grad;
};

/// Relative difference of two gradients over all their blocks.
double rel_diff(const ParamSet& a, const ParamSet& ref) {
  ParamSet d = a.copy();
  d.axpy(-1.0, ref);
  const double den = PetscRealPart(ref.dot(ref));
  return std::sqrt(PetscRealPart(d.dot(d)) / (den > 0 ? den : 1.0));
}

/// The rows of `m` (distributed, AIJ or dense) as an Eigen matrix on rank 0 (empty elsewhere).
Eigen::MatrixXd gather_to_zero(Mat m) {
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)m, &comm));
  OwnedMat dense;
  FOLDOPT_CALL(MatConvert(m, MATDENSE, MAT_INITIAL_MATRIX, dense.out()));
  PetscInt M, N, lo, hi, lda;
  FOLDOPT_CALL(MatGetSize(dense, &M, &N));
  FOLDOPT_CALL(MatGetOwnershipRange(dense, &lo, &hi));
  FOLDOPT_CALL(MatDenseGetLDA(dense, &lda));
  const PetscScalar* a;
  FOLDOPT_CALL(MatDenseGetArrayRead(dense, &a));
  std::vector<double> mine(static_cast<std::size_t>((hi - lo) * N));  // row-major local rows
  for (PetscInt i = 0; i < hi - lo; ++i)
    for (PetscInt j = 0; j < N; ++j) mine[i * N + j] = PetscRealPart(a[i + j * lda]);
  FOLDOPT_CALL(MatDenseRestoreArrayRead(dense, &a));
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const PetscInt* ranges;
  FOLDOPT_CALL(MatGetOwnershipRanges(dense, &ranges));
  std::vector<int> counts(size), displs(size);
  for (int r = 0; r < size; ++r) {
    counts[r] = (int)((ranges[r + 1] - ranges[r]) * N);
    displs[r] = (int)(ranges[r] * N);
  }
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> all;
  if (rank == 0) all.resize(M, N);
  MPI_Gatherv(mine.data(), (int)mine.size(), MPI_DOUBLE, rank == 0 ? all.data() : nullptr, counts.data(), displs.data(),
              MPI_DOUBLE, 0, comm);
  return Eigen::MatrixXd(all);
}

/// Columns 0..k−1 of Φᵀ on rank 0 (N×k) from products e_j ↦ Φᵀ e_j, gathered one by one.
Eigen::MatrixXd probe_columns(UpdateMap& map, AdjointSolver& probe, PetscInt k) {
  int rank;
  MPI_Comm_rank(map.layout().comm, &rank);
  const PetscInt N = map.layout().global();
  OwnedVec e = map.create_vec(), col = map.create_vec();
  OwnedVecScatter sc;
  OwnedVec seq;
  FOLDOPT_CALL(VecScatterCreateToZero(col, sc.out(), seq.out()));
  Eigen::MatrixXd P;
  if (rank == 0) P.resize(N, k);
  for (PetscInt j = 0; j < k; ++j) {
    FOLDOPT_CALL(VecZeroEntries(e));
    FOLDOPT_CALL(VecSetValue(e, j, 1.0, INSERT_VALUES));  // every rank sets it; the owner keeps it
    FOLDOPT_CALL(VecAssemblyBegin(e));
    FOLDOPT_CALL(VecAssemblyEnd(e));
    FOLDOPT_CALL(MatMult(probe.phi_t_shell(), e, col));
    FOLDOPT_CALL(VecScatterBegin(sc, col, seq, INSERT_VALUES, SCATTER_FORWARD));
    FOLDOPT_CALL(VecScatterEnd(sc, col, seq, INSERT_VALUES, SCATTER_FORWARD));
    if (rank == 0) {
      const PetscScalar* c;
      FOLDOPT_CALL(VecGetArrayRead(seq, &c));
      for (PetscInt i = 0; i < N; ++i) P(i, j) = PetscRealPart(c[i]);
      FOLDOPT_CALL(VecRestoreArrayRead(seq, &c));
    }
  }
  return P;
}

/// Seconds a column of Φᵀ costs by products (the mean of the first `k`), for the probing rule.
double probe_seconds(MPI_Comm comm, UpdateMap& map, AdjointSolver& probe, PetscInt k) {
  k = std::min(k, map.layout().global());
  MPI_Barrier(comm);
  const double t0 = bench::wall();
  probe_columns(map, probe, k);
  return bench::max_over(comm, bench::wall() - t0) / (double)k;
}

/// Φᵀ dense on rank 0: from the assembled sparse part plus the low-rank part (Φ = Φ_s + U Vᵀ),
/// or column by column from products e_j ↦ Φᵀ e_j.
Eigen::MatrixXd dense_phi_t(UpdateMap& map, AdjointSolver& probe, PetscInt* products) {
  int rank;
  MPI_Comm_rank(map.layout().comm, &rank);
  *products = 0;
  if (map.can_assemble()) {
    OwnedMat phi = map.assemble_phi();
    Eigen::MatrixXd P = gather_to_zero(phi);
    if (map.has_low_rank()) {
      OwnedMat U, V;
      map.low_rank(&U, &V);
      const Eigen::MatrixXd u = gather_to_zero(U), v = gather_to_zero(V);
      if (rank == 0) P += u * v.transpose();
    }
    if (rank == 0) P.transposeInPlace();
    return P;
  }
  *products = map.layout().global();
  return probe_columns(map, probe, map.layout().global());
}

/// w = (I − Φᵀ)⁻¹ r by a dense solve on rank 0 (LU; a minimum-norm solution where the map says
/// I − Φᵀ is singular).
void dense_solve(UpdateMap& map, AdjointSolver& probe, Vec r, Vec w, PetscInt* products) {
  const Eigen::MatrixXd phit = dense_phi_t(map, probe, products);
  const bool singular = !map.singular_reason().empty();
  OwnedVecScatter sc;
  OwnedVec seq;
  FOLDOPT_CALL(VecScatterCreateToZero(r, sc.out(), seq.out()));
  FOLDOPT_CALL(VecScatterBegin(sc, r, seq, INSERT_VALUES, SCATTER_FORWARD));
  FOLDOPT_CALL(VecScatterEnd(sc, r, seq, INSERT_VALUES, SCATTER_FORWARD));
  int rank;
  MPI_Comm_rank(map.layout().comm, &rank);
  if (rank == 0) {
    const Eigen::Index N = phit.rows();
    PetscScalar* s;
    FOLDOPT_CALL(VecGetArray(seq, &s));
    Eigen::Map<Eigen::VectorXd> rhs(s, N);
    const Eigen::MatrixXd A = Eigen::MatrixXd::Identity(N, N) - phit;
    const Eigen::VectorXd sol =
        singular ? Eigen::VectorXd(A.completeOrthogonalDecomposition().solve(rhs)) : Eigen::VectorXd(A.partialPivLu().solve(rhs));
    rhs = sol;
    FOLDOPT_CALL(VecRestoreArray(seq, &s));
  }
  FOLDOPT_CALL(VecScatterBegin(sc, seq, w, INSERT_VALUES, SCATTER_REVERSE));
  FOLDOPT_CALL(VecScatterEnd(sc, seq, w, INSERT_VALUES, SCATTER_REVERSE));
}

/// ∂L/∂θ = Ψᵀ w (+ the readout's term for g).
ParamSet gradient_of(UpdateMap& map, AdjointSolver* adj, Vec w, Vec g) {
  ParamSet grad = map.create_params();
  if (adj)
    adj->psi_t(w, grad);
  else
    map.psi_t(w, grad);
  if (map.has_readout()) map.readout_param_t(g, grad);
  return grad;
}

/// Seconds of one Φᵀ product (mean of 3), for the probing and time rules.
double product_seconds(MPI_Comm comm, UpdateMap& map, AdjointSolver& probe) {
  OwnedVec v = map.create_vec(), y = map.create_vec();
  fill_random(v, 3);
  MPI_Barrier(comm);
  const double t0 = bench::wall();
  for (int k = 0; k < 3; ++k) FOLDOPT_CALL(MatMult(probe.phi_t_shell(), v, y));
  return bench::max_over(comm, bench::wall() - t0) / 3;
}

/// Why `m` cannot run on this instance, or "".
/// Measured costs the skip rules extrapolate from.
struct Costs {
  double product = 0;  ///< one Φᵀ product
  double column = 0;   ///< one column of Φᵀ by a product (maps that cannot assemble; else 0)
  double step = 0;     ///< one unrolled step (apply, linearize, product)
};

std::string skip_reason(const MethodCase& m, const Settings& s, UpdateMap& map, PetscInt N, const RhoEstimate& rho,
                        const Costs& cost) {
  using detail::format;
  const bool assemble = map.can_assemble();
  const long long NN = N, K = s.unrolled_steps;
  // A map that cannot assemble Φ gives its columns by N products.
  const double probe_s = (double)N * cost.column;
  const bool probe_too_slow = !assemble && probe_s > s.probe_max_seconds;
  const std::string probe_why =
      format("map cannot assemble Phi; Phi^T by N = %lld products ~ %.0f s > -probe_max_seconds %g", NN, probe_s,
             (double)s.probe_max_seconds);
  switch (m.kind) {
    case Kind::lfpi: {
      PetscReal lo, hi;
      rho.predicted_lfpi(s.rtol, &lo, &hi);
      if (rho.rho >= 1) return format("rho(Phi) = %.4g >= 1: LFPI diverges", (double)rho.rho);
      if (lo > s.lfpi_max_it)
        return format("LFPI needs log(rtol)/log(rho) >= %.0f iterations (rho = %.6f) > -lfpi_max_it %lld", (double)lo,
                      (double)rho.rho, (long long)s.lfpi_max_it);
      if (lo * cost.product > s.method_max_seconds)
        return format("LFPI needs >= %.0f iterations (rho = %.6f) ~ %.0f s > -method_max_seconds %g", (double)lo,
                      (double)rho.rho, lo * cost.product, (double)s.method_max_seconds);
      return "";
    }
    case Kind::symmetric:
      return map.has_symmetric_form() ? "" : "map '" + map.type() + "' has no symmetric form (no factor J = K K^T)";
    case Kind::preconditioned:
      return assemble ? "" : "map '" + map.type() + "' cannot assemble Phi: no matrix for the preconditioner";
    case Kind::jacobian:
      if (!map.singular_reason().empty()) return "I - Phi^T singular (" + map.singular_reason() + ")";
      if (assemble && N > s.jacobian_max_n)
        return format("sparse LU fill of I - Phi^T: N = %lld > -jacobian_max_n %lld", NN, (long long)s.jacobian_max_n);
      if (!assemble && N > 4096) return format("map cannot assemble Phi; probing by N = %lld products is limited to N <= 4096", NN);
      return probe_too_slow ? probe_why : "";
    case Kind::unrolled: {
      const double tape = (double)K * (double)N * sizeof(PetscScalar);
      if (tape > s.unrolled_max_memory)
        return format("tape of K*N = %lld*%lld doubles = %.0f MiB > -unrolled_max_memory %.0f MiB", K, NN, bench::mib(tape),
                      bench::mib(s.unrolled_max_memory));
      if ((double)K * cost.step > s.method_max_seconds)
        return format("K = %lld steps (each a linearization) ~ %.0f s > -method_max_seconds %g", K, (double)K * cost.step,
                      (double)s.method_max_seconds);
      return "";
    }
    case Kind::dense:
      if (N > s.dense_max)
        return format("O(N^2) dense: N = %lld > -dense_max %lld (%.0f MiB, %.1g flops)", NN, (long long)s.dense_max,
                      bench::mib(8.0 * N * N), 2.0 / 3 * (double)N * N * N);
      return probe_too_slow ? probe_why : "";
    case Kind::krylov: return "";
  }
  return "";
}

/// Run `m` (not skipped) on the linearized map: fills the row's figures and gradient.
void run_method(MPI_Comm comm, const MethodCase& m, const Settings& s, UpdateMap& map, FoldedLayer& base,
                const RhoEstimate& rho, Vec r, Vec g, Row& row) {
  OwnedVec w = map.create_vec();
  FOLDOPT_CALL(VecZeroEntries(w));
  if (m.kind == Kind::unrolled) {
    UnrolledBaseline ub(comm);
    ub.set_steps(s.unrolled_steps);
    ub.set_max_memory(s.unrolled_max_memory);
    malloc_trim(0);  // freed heap pages back to the system: the phase's growth is its own
    bench::Phase ph(comm, "backward unrolled");
    const UnrolledResult& res = ub.run(map, base.theta(), r, base.state());
    row.grad = res.gradient.copy();
    if (map.has_readout()) map.readout_param_t(g, row.grad);
    row.seconds = ph.seconds();
    row.peak = ph.memory().peak;
    row.growth = ph.memory().peak - ph.memory().start;
    row.products = res.phi_t_products;
    row.iterations = res.steps;
    row.ksp = "unrolled K = " + str(res.steps) + " from x*";
    return;
  }
  if (m.kind == Kind::dense) {
    AdjointSolver probe(comm);
    probe.set_map(map);
    malloc_trim(0);
    bench::Phase ph(comm, "backward dense");
    PetscInt products = 0;
    dense_solve(map, probe, r, w, &products);
    row.grad = gradient_of(map, nullptr, w, g);
    row.seconds = ph.seconds();
    row.peak = ph.memory().peak;
    row.growth = ph.memory().peak - ph.memory().start;
    row.products = products;
    row.iterations = 1;
    row.ksp = std::string("dense Eigen ") + (map.singular_reason().empty() ? "LU" : "min-norm (COD)") + " on rank 0" +
              (map.can_assemble() ? ", Phi assembled" : ", Phi by products");
    return;
  }
  Options opts = parse_options(m.options);
  opts.emplace_back("-fold_ksp_rtol", bench::num(s.rtol));
  opts.emplace_back("-fold_ksp_max_it", str(m.kind == Kind::lfpi ? s.lfpi_max_it : s.max_it));
  bench::OptionsScope scope(opts);
  // Under load a short solve's wall time is mostly noise: the best of a few fresh solves.
  double spent = 0;
  for (PetscInt rep = 0; rep < s.reps && (rep == 0 || spent < 0.5); ++rep) {
    AdjointSolver adj(comm);
    adj.set_map(map);
    adj.set_rho(rho.rho);
    adj.set_from_options();
    FOLDOPT_CALL(VecZeroEntries(w));
    malloc_trim(0);
    bench::Phase ph(comm, "backward " + m.name);
    adj.solve(r, w);
    ParamSet grad = gradient_of(map, &adj, w, g);
    const double t = ph.seconds();
    spent += t;
    if (rep > 0) {
      row.seconds = std::min(row.seconds, t);
      continue;
    }
    row.grad = std::move(grad);
    row.seconds = t;
    row.peak = ph.memory().peak;
    row.growth = ph.memory().peak - ph.memory().start;
    const AdjointReport& rep0 = adj.report();
    row.products = rep0.products;
    row.iterations = rep0.iterations;
    row.setup_seconds = rep0.setup_seconds;
    row.ksp = rep0.method;
  }
}

/// The tight Krylov reference: GMRES(100), BoomerAMG where Φ assembles, rtol 1e-12.
ParamSet tight_reference(MPI_Comm comm, const Settings& s, UpdateMap& map, Vec r, Vec g, std::string* name) {
  Options opts = {{"-fold_ksp_type", "gmres"}, {"-fold_ksp_gmres_restart", "100"}, {"-fold_ksp_rtol", "1e-12"},
                  {"-fold_ksp_max_it", str(4 * s.max_it)}};
  if (map.can_assemble()) opts.emplace_back("-fold_pc_type", "hypre");
  bench::OptionsScope scope(opts);
  AdjointSolver adj(comm);
  adj.set_map(map);
  adj.set_from_options();
  OwnedVec w = map.create_vec();
  FOLDOPT_CALL(VecZeroEntries(w));
  adj.solve(r, w);
  *name = map.can_assemble() ? "gmres(100)+hypre rtol 1e-12" : "gmres(100) rtol 1e-12";
  return gradient_of(map, &adj, w, g);
}

double data_nonzeros(const Problem& p) {
  double nnz = 0;
  for (const auto& m : p.data_matrices()) {
    MatInfo info;
    FOLDOPT_CALL(MatGetInfo(m.second, MAT_GLOBAL_SUM, &info));
    nnz += info.nz_used;
  }
  return nnz;
}

/// A message on one line.
std::string flat(std::string s) {
  for (char& c : s)
    if (c == '\n') c = ' ';
  return s;
}

std::string csv_text(std::string s) {
  for (char& c : s)
    if (c == ',' || c == '\n') c = ';';
  return s;
}

int body(MPI_Comm comm, const bench::Args& args) {
  const Settings s = read_settings(args);
  int ranks = 1;
  MPI_Comm_size(comm, &ranks);
  const double bw = bench::triad_bandwidth(comm, s.triad_n);
  PetscPrintf(comm, "triad bandwidth %.2f GB/s (%lld entries, %d rank%s)\n", bw / 1e9, (long long)s.triad_n, ranks,
              ranks > 1 ? "s" : "");
  bench::Csv csv(comm, args.output_dir, "methods" + s.tag + "_np" + std::to_string(ranks) + ".csv",
                 {"command: " + args.command, "machine: " + bench::machine(comm),
                  "triad bandwidth GB/s: " + bench::num(bw / 1e9),
                  "instance: generated by the problem registry (seed 1), g = dL/dx* random (seed 7), rtol " +
                      bench::num(s.rtol),
                  "floor bytes: 12 per stored entry of the problem's data matrices + 24 per state entry"},
                 {"problem", "n", "state", "method", "status", "reason", "solver", "iterations", "products", "backward_s",
                  "setup_s", "peak_MiB", "growth_MiB", "grad_rel_err", "reference", "forward_s", "backward_over_forward",
                  "floor_bytes", "floor_s", "backward_over_floor", "rho", "product_s"});
  const std::vector<MethodCase> methods = all_methods(ranks);
  PetscPrintf(comm, "\n| problem | n | N | method | status | iterations | products | backward s | peak MiB | rel. error | bwd/fwd | bwd/floor |\n"
                    "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  std::vector<std::string> notes;
  for (const std::string& label : s.problems) {
    const ProblemCase* pc = nullptr;
    for (const ProblemCase& c : kProblems)
      if (c.label == label) pc = &c;
    for (PetscInt n : s.sizes) {
      const double t_instance = bench::wall();
      std::unique_ptr<Problem> problem;
      {
        bench::OptionsScope scope(pc->options(n));
        problem = problem_registry().create("problem", pc->problem, comm);
      }
      const Layout& sl = problem->solution_layout();
      OwnedVec g;
      FOLDOPT_CALL(VecCreateMPI(comm, sl.local, sl.global(), g.out()));
      fill_random(g, 7);
      // The forward once, then a linearization at x* without an adjoint solve (one unrolled step),
      // the ρ(Φ) estimate, and the minimum check.
      bench::OptionsScope base_scope({{"-fold_backward", "unrolled"}, {"-fold_unrolled_steps", "1"}});
      FoldedLayer base(*problem);
      base.set_check_minimum(false);  // the executable's check; not what is measured here
      base.set_from_options();
      double t_forward = 0;
      {
        bench::Phase ph(comm, "forward");
        base.forward(problem->params());
        t_forward = ph.seconds();
      }
      double t_step = 0;
      {
        bench::Phase ph(comm, "unrolled step");
        base.backward(g);
        t_step = ph.seconds();
      }
      base_scope.clear();
      const RhoEstimate rho = base.estimate_rho();
      UpdateMap& map = base.map();
      const PetscInt N = map.layout().global();
      OwnedVec rhs;
      if (map.has_readout()) {
        rhs = map.create_vec();
        map.readout_t(g, rhs);
      }
      Vec r = rhs ? rhs.get() : g.get();
      AdjointSolver probe(comm);
      probe.set_map(map);
      Costs cost;
      cost.product = product_seconds(comm, map, probe);
      cost.column = map.can_assemble() ? 0 : probe_seconds(comm, map, probe, 10);
      cost.step = t_step;
      const double floor_bytes = 12.0 * data_nonzeros(*problem) + 24.0 * (double)N;
      const double floor_s = floor_bytes / bw;

      std::vector<Row> rows;
      const Row* dense = nullptr;
      const Row* jac = nullptr;
      for (const std::string& name : s.methods) {
        const MethodCase* m = nullptr;
        for (const MethodCase& c : methods)
          if (c.name == name) m = &c;
        Row row;
        row.method = name;
        row.reason = skip_reason(*m, s, map, N, rho, cost);
        if (!row.reason.empty()) {
          row.status = "skipped";
        } else {
          try {
            run_method(comm, *m, s, map, base, rho, r, g, row);
          } catch (const Error& e) {
            row.status = "error";
            row.reason = flat(e.what());
            row.grad = ParamSet();
          }
        }
        rows.push_back(std::move(row));
      }
      for (const Row& row : rows) {
        if (row.status != "ok") continue;
        if (row.method == "dense") dense = &row;
        if (row.method == "jacobian") jac = &row;
      }
      std::string ref_name;
      ParamSet tight;
      const ParamSet* ref = nullptr;
      if (dense) {
        ref = &dense->grad;
        ref_name = "dense";
      } else if (jac) {
        ref = &jac->grad;
        ref_name = "jacobian";
      } else {
        try {
          tight = tight_reference(comm, s, map, r, g, &ref_name);
          ref = &tight;
        } catch (const Error& e) {
          ref_name = "none (" + flat(e.what()) + ")";
        }
      }
      for (Row& row : rows) {
        if (row.status == "ok" && ref) row.error = rel_diff(row.grad, *ref);
        const bool ok = row.status == "ok";
        csv.row({label, str(n), str(N), row.method, row.status, csv_text(row.reason), csv_text(row.ksp),
                 ok ? str(row.iterations) : "", ok ? str(row.products) : "", ok ? bench::num(row.seconds) : "",
                 ok ? bench::num(row.setup_seconds) : "", ok ? bench::num(bench::mib(row.peak)) : "",
                 ok ? bench::num(bench::mib(row.growth)) : "", ok ? bench::num(row.error) : "", csv_text(ref_name),
                 bench::num(t_forward), ok ? bench::num(row.seconds / t_forward) : "", bench::num(floor_bytes),
                 bench::num(floor_s), ok ? bench::num(row.seconds / floor_s) : "", bench::num((double)rho.rho),
                 bench::num(cost.product)});
        if (ok)
          PetscPrintf(comm, "| %s | %lld | %lld | %s | ok | %lld | %lld | %.3g | %.0f | %.1e | %.2f | %.0f |\n", label.c_str(),
                      (long long)n, (long long)N, row.method.c_str(), (long long)row.iterations, (long long)row.products,
                      row.seconds, bench::mib(row.peak), row.error, row.seconds / t_forward, row.seconds / floor_s);
        else
          PetscPrintf(comm, "| %s | %lld | %lld | %s | %s: %s | | | | | | | |\n", label.c_str(), (long long)n, (long long)N,
                      row.method.c_str(), row.status.c_str(), row.reason.c_str());
      }
      notes.push_back(label + " n=" + str(n) + ": N = " + str(N) + ", forward " + bench::num(t_forward) + " s, rho " +
                      bench::num((double)rho.rho) + ", product " + bench::num(cost.product) + " s, unrolled step " + bench::num(cost.step) + " s, floor " +
                      bench::num(floor_s) + " s, reference " + ref_name + "; " +
                      bench::num(bench::max_over(comm, bench::wall() - t_instance)) + " s in all");
    }
  }
  for (const std::string& line : notes) PetscPrintf(comm, "%s\n", line.c_str());
  csv.close();
  PetscPrintf(comm, "PASS\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return foldopt::bench::run_main(argc, argv, help, body); }
