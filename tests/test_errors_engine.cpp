// Every error path of the engine ends in a foldopt::Error carrying its code and a message that
// names the object and the cause, raised on every rank with the same message (so a program at
// np=2 neither hangs nor loses the message): non-converged adjoint solves (with the residual
// reached, checked against (Φᵀ)^k g, and ρ(Φ) checked against the SLEPc estimate), failed
// fixed-point checks, invalid box-QP data (non-square or non-symmetric H, sizes, NaN, lb > ub,
// infinite bounds on the wrong side; the bad entry on the last rank only), unknown registry
// names, calls out of order, preconditioners that need an assembled Φ, forward solvers that fail,
// and exceptions raised inside user callbacks called by PETSc. Runs at np=1 and np=2.
#include "reference.hpp"
#include "test_util.hpp"

#include <foldopt/adjoint.hpp>
#include <foldopt/checks.hpp>
#include <foldopt/error.hpp>
#include <foldopt/layer.hpp>
#include <foldopt/maps/pgd.hpp>
#include <foldopt/problems/qp_box.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using foldopt_test::comm_size;

using foldopt::BoxQP;
using foldopt::BoxQPGenerator;
using foldopt::FoldedLayer;
using foldopt::OwnedMat;
using foldopt::OwnedVec;
using foldopt::ParamSet;
using foldopt_test::ScopedOptions;
using Options = std::vector<std::pair<std::string, std::string>>;

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();


/// Run `f`, which must throw foldopt::Error with `code` on every rank of PETSC_COMM_WORLD, with
/// the same one-line message everywhere, containing each of `needles`. Returns the message.
/// A negative `code` accepts any code.
std::string expect_error(const std::function<void()>& f, PetscErrorCode code,
                         const std::vector<std::string>& needles) {
  std::string msg;
  bool thrown = false;
  PetscErrorCode got = 0;
  try {
    f();
  } catch (const foldopt::Error& e) {
    thrown = true;
    got = e.code();
    msg = e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a foldopt::Error: " << e.what();
  }
  int mine = thrown ? 1 : 0, all = 0;
  MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_SUM, PETSC_COMM_WORLD);
  EXPECT_EQ(all, comm_size()) << "thrown on " << all << " of " << comm_size() << " ranks: " << msg;
  if (!thrown) {
    ADD_FAILURE() << "no foldopt::Error thrown (expected one mentioning '" << (needles.empty() ? "" : needles[0]) << "')";
    return msg;
  }
  if (code >= 0) EXPECT_EQ(got, code) << msg;  // code < 0: any code (e.g. one TAO raises)
  for (const std::string& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' not in: " << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "multi-line message: " << msg;
  // The same message on every rank (compare with rank 0's).
  int len = static_cast<int>(msg.size());
  MPI_Bcast(&len, 1, MPI_INT, 0, PETSC_COMM_WORLD);
  std::string root(static_cast<std::size_t>(len), '\0');
  if (foldopt_test::rank() == 0) root = msg;
  MPI_Bcast(&root[0], len, MPI_CHAR, 0, PETSC_COMM_WORLD);
  EXPECT_EQ(msg, root) << "messages differ between ranks";
  return msg;
}

/// The number printed after `key` in `msg` (NaN if absent).
double number_after(const std::string& msg, const std::string& key) {
  const std::size_t p = msg.find(key);
  if (p == std::string::npos) return kNaN;
  return std::strtod(msg.c_str() + p + key.size(), nullptr);
}

std::unique_ptr<BoxQP> make_problem(PetscInt n = 400) {
  BoxQPGenerator gen;
  gen.n = n;
  gen.seed = 7;
  return BoxQP::generate(PETSC_COMM_WORLD, gen);
}

OwnedVec random_g(BoxQP& p, unsigned long seed = 42) {
  OwnedVec g = p.create_vec();
  foldopt::fill_random(g, seed);
  return g;
}

// ---- adjoint solve -------------------------------------------------------------------------------

TEST(EngineErrors, AdjointNotConvergedNamesMethodResidualAndRho) {
  std::unique_ptr<BoxQP> p = make_problem();
  ScopedOptions so(Options{{"-fold_ksp_type", "richardson"}, {"-fold_ksp_max_it", "3"}});
  FoldedLayer layer(*p);
  layer.set_estimate_rho(true);
  layer.set_from_options();
  layer.forward(p->params());
  OwnedVec g = random_g(*p);
  const std::string msg = expect_error([&] { layer.backward(g); }, PETSC_ERR_NOT_CONVERGED,
                                       {"adjoint solve did not converge", "richardson", "3 iterations",
                                        "DIVERGED_ITS", "residual", "ρ(Φ) ≈"});
  EXPECT_FALSE(layer.adjoint().report().converged);

  // ρ quoted is the SLEPc estimate (printed with 6 digits).
  ASSERT_TRUE(layer.rho_estimate().converged);
  const double rho = layer.rho_estimate().rho;
  EXPECT_NEAR(number_after(msg, "ρ(Φ) ≈ "), rho, 1e-5 * rho) << msg;

  // After 3 LFPI steps from 0 the residual is g − (I − Φᵀ)(g + Φᵀg + Φᵀ²g) = Φᵀ³ g.
  foldopt::UpdateMap& map = layer.map();
  OwnedVec a = p->create_vec(), b = p->create_vec();
  VecCopy(g, a);
  for (int k = 0; k < 3; ++k) {
    map.phi_t(a, b);
    VecCopy(b, a);
  }
  PetscReal rn, gn;
  VecNorm(a, NORM_2, &rn);
  VecNorm(g, NORM_2, &gn);
  const double quoted = number_after(msg, "‖r‖/‖g‖ = ");
  EXPECT_NEAR(quoted, rn / gn, 1e-3 * rn / gn) << msg;
  EXPECT_GT(quoted, 1e-3);
  EXPECT_NEAR(layer.adjoint().report().residual, rn, 1e-10 * rn);
}

TEST(EngineErrors, AdjointNotConvergedWithoutRho) {
  std::unique_ptr<BoxQP> p = make_problem();
  ScopedOptions so(Options{{"-fold_ksp_type", "bcgs"}, {"-fold_ksp_max_it", "2"}});
  FoldedLayer layer(*p);
  layer.set_from_options();
  layer.forward(p->params());
  OwnedVec g = random_g(*p);
  expect_error([&] { layer.backward(g); }, PETSC_ERR_NOT_CONVERGED,
               {"adjoint solve did not converge", "bcgs", "2 iterations", "not estimated", "-fold_rho"});
}

TEST(EngineErrors, AdjointNotConvergedThroughOptionRho) {
  std::unique_ptr<BoxQP> p = make_problem();
  ScopedOptions so(Options{{"-fold_ksp_type", "richardson"}, {"-fold_ksp_max_it", "5"}, {"-fold_rho", ""}});
  FoldedLayer layer(*p);
  layer.set_from_options();
  layer.forward(p->params());
  OwnedVec g = random_g(*p);
  const std::string msg =
      expect_error([&] { layer.backward(g); }, PETSC_ERR_NOT_CONVERGED, {"richardson", "5 iterations", "ρ(Φ) ≈"});
  EXPECT_NEAR(number_after(msg, "ρ(Φ) ≈ "), layer.rho_estimate().rho, 1e-5);
}

TEST(EngineErrors, AdjointWithoutMap) {
  foldopt::AdjointSolver s(PETSC_COMM_WORLD);
  std::unique_ptr<BoxQP> p = make_problem(16);
  OwnedVec g = random_g(*p), w = p->create_vec();
  expect_error([&] { s.solve(g, w); }, PETSC_ERR_ORDER, {"set_map() first"});
}

// ---- fixed-point check ---------------------------------------------------------------------------

TEST(EngineErrors, FixedPointCheckFails) {
  std::unique_ptr<BoxQP> p = make_problem();
  FoldedLayer layer(*p);
  Vec known = p->known_solution();
  // A "solver" that returns x* moved by 1e-3 in every entry.
  layer.set_forward_callback([known](const ParamSet&, Vec x, foldopt::ForwardReport&) {
    VecCopy(known, x);
    VecShift(x, 1e-3);
  });
  layer.set_from_options();
  Vec x = layer.forward(p->params());
  OwnedVec g = random_g(*p);
  const std::string msg = expect_error([&] { layer.backward(g); }, PETSC_ERR_NOT_CONVERGED,
                                       {"fixed-point", "callback", "'pgd'", "-fold_check_fixed_point"});
  const double quoted = number_after(msg, "max(1, ||s*||_inf)) = ");
  // The residual by its definition, in dense Eigen: ‖P(x − α(Hx − q)) − x‖∞ / (α max(1, ‖x‖∞)),
  // the gradient mapping of the prox-gradient map pgd.
  const foldopt_ref::VectorXd xv = foldopt_ref::to_eigen(x), qv = foldopt_ref::to_eigen(p->params().get("q"));
  const foldopt_ref::VectorXd u = (xv - layer.map().stepsize() * (foldopt_ref::gather_dense(p->H()) * xv - qv))
                                      .cwiseMax(foldopt_ref::to_eigen(p->params().get("lb")))
                                      .cwiseMin(foldopt_ref::to_eigen(p->params().get("ub")));
  const double direct = (u - xv).lpNorm<Eigen::Infinity>() /
                        (layer.map().stepsize() * std::max(1.0, xv.lpNorm<Eigen::Infinity>()));
  EXPECT_GT(direct, 1e-6);
  EXPECT_NEAR(quoted, direct, 1e-3 * direct) << msg;
  EXPECT_NEAR(layer.fixed_point_residual(), direct, 1e-12 * direct);

  // A looser tolerance accepts the same point.
  layer.set_fixed_point_tolerance(1.0);
  EXPECT_NO_THROW(layer.backward(g));
}

// ---- box-QP data ---------------------------------------------------------------------------------

// Tridiagonal N×M matrix (2 on the diagonal, −1 off it); `skew` breaks the symmetry of one pair.
OwnedMat tridiag(PetscInt N, PetscInt M, double skew = 0, double diag_last = 2) {
  OwnedMat H;
  MatCreateAIJ(PETSC_COMM_WORLD, PETSC_DECIDE, PETSC_DECIDE, N, M, 3, nullptr, 2, nullptr, H.out());
  PetscInt rstart, rend;
  MatGetOwnershipRange(H, &rstart, &rend);
  for (PetscInt i = rstart; i < rend; ++i) {
    if (i < M) MatSetValue(H, i, i, i == N - 1 ? diag_last : 2.0, INSERT_VALUES);
    if (i > 0 && i - 1 < M) MatSetValue(H, i, i - 1, -1.0, INSERT_VALUES);
    if (i + 1 < M) MatSetValue(H, i, i + 1, i == N - 2 ? -1.0 + skew : -1.0, INSERT_VALUES);
  }
  MatAssemblyBegin(H, MAT_FINAL_ASSEMBLY);
  MatAssemblyEnd(H, MAT_FINAL_ASSEMBLY);
  return H;
}

// A vector of global size n with every entry `v`, then entry `at` (if ≥ 0) set to `special`.
OwnedVec vec_of(PetscInt n, double v, PetscInt at = -1, double special = 0) {
  OwnedVec x;
  VecCreateMPI(PETSC_COMM_WORLD, PETSC_DECIDE, n, x.out());
  VecSet(x, v);
  PetscInt rstart, rend;
  VecGetOwnershipRange(x, &rstart, &rend);
  if (at >= rstart && at < rend) VecSetValue(x, at, special, INSERT_VALUES);
  VecAssemblyBegin(x);
  VecAssemblyEnd(x);
  return x;
}

constexpr PetscInt kN = 8;
constexpr PetscInt kLast = kN - 1;  // owned by the last rank

TEST(EngineErrors, BoxQPValidData) {
  OwnedMat H = tridiag(kN, kN);
  OwnedVec q = vec_of(kN, 1), lb = vec_of(kN, -1, 0, -kInf), ub = vec_of(kN, 1, kLast, kInf);
  std::unique_ptr<BoxQP> p;
  EXPECT_NO_THROW(p.reset(new BoxQP(H, q, lb, ub)));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->layout().n, kN);
}

TEST(EngineErrors, BoxQPNonSquareH) {
  OwnedMat H = tridiag(kN, kN + 1);
  OwnedVec q = vec_of(kN, 1), lb = vec_of(kN, -1), ub = vec_of(kN, 1);
  expect_error([&] { BoxQP p(H, q, lb, ub); }, PETSC_ERR_ARG_SIZ, {"H is not square", "8 x 9"});
}

TEST(EngineErrors, BoxQPNonSymmetricH) {
  OwnedMat H = tridiag(kN, kN, 0.5);
  OwnedVec q = vec_of(kN, 1), lb = vec_of(kN, -1), ub = vec_of(kN, 1);
  expect_error([&] { BoxQP p(H, q, lb, ub); }, PETSC_ERR_ARG_WRONG, {"H", "not symmetric"});
}

TEST(EngineErrors, BoxQPNaNInH) {
  OwnedMat H = tridiag(kN, kN, 0, kNaN);
  OwnedVec q = vec_of(kN, 1), lb = vec_of(kN, -1), ub = vec_of(kN, 1);
  expect_error([&] { BoxQP p(H, q, lb, ub); }, PETSC_ERR_ARG_OUTOFRANGE, {"H", "NaN"});
}

TEST(EngineErrors, BoxQPSizeMismatch) {
  OwnedMat H = tridiag(kN, kN);
  OwnedVec q = vec_of(kN - 1, 1), lb = vec_of(kN, -1), ub = vec_of(kN, 1);
  expect_error([&] { BoxQP p(H, q, lb, ub); }, PETSC_ERR_ARG_SIZ, {"q has 7 entries", "H has 8 rows"});
  OwnedVec q2 = vec_of(kN, 1), ub2 = vec_of(kN + 2, 1);
  expect_error([&] { BoxQP p(H, q2, lb, ub2); }, PETSC_ERR_ARG_SIZ, {"ub has 10 entries", "H has 8 rows"});
}

TEST(EngineErrors, BoxQPNaNInQ) {
  OwnedMat H = tridiag(kN, kN);
  OwnedVec q = vec_of(kN, 1, kLast, kNaN), lb = vec_of(kN, -1), ub = vec_of(kN, 1);
  expect_error([&] { BoxQP p(H, q, lb, ub); }, PETSC_ERR_ARG_OUTOFRANGE, {"q: entry 7 is NaN"});
  OwnedVec q2 = vec_of(kN, 1, 3, kInf);
  expect_error([&] { BoxQP p(H, q2, lb, ub); }, PETSC_ERR_ARG_OUTOFRANGE, {"q: entry 3 is +inf"});
}

TEST(EngineErrors, BoxQPLowerAboveUpper) {
  OwnedMat H = tridiag(kN, kN);
  OwnedVec q = vec_of(kN, 1), lb = vec_of(kN, -1, kLast, 2.0), ub = vec_of(kN, 1);
  expect_error([&] { BoxQP p(H, q, lb, ub); }, PETSC_ERR_ARG_OUTOFRANGE, {"lb > ub", "entry 7"});
}

TEST(EngineErrors, BoxQPInfiniteBoundsOnTheWrongSide) {
  OwnedMat H = tridiag(kN, kN);
  OwnedVec q = vec_of(kN, 1), ub = vec_of(kN, kInf);
  OwnedVec lb = vec_of(kN, -1, kLast, kInf);
  expect_error([&] { BoxQP p(H, q, lb, ub); }, PETSC_ERR_ARG_OUTOFRANGE, {"lb: entry 7 is +inf"});
  OwnedVec lb2 = vec_of(kN, -kInf), ub2 = vec_of(kN, 1, 0, -kInf);
  expect_error([&] { BoxQP p(H, q, lb2, ub2); }, PETSC_ERR_ARG_OUTOFRANGE, {"ub: entry 0 is -inf"});
  OwnedVec lb3 = vec_of(kN, -1, 2, kNaN);
  expect_error([&] { BoxQP p(H, q, lb3, ub); }, PETSC_ERR_ARG_OUTOFRANGE, {"lb: entry 2 is NaN"});
}

// Finite entries of any size are data, not "NaN or infinite" (a norm of 1e200 overflows); a NaN
// is named with its position.
TEST(EngineErrors, BoxQPHugeFiniteEntriesAccepted) {
  OwnedMat H = tridiag(kN, kN, 0, 1e200);
  OwnedVec q = vec_of(kN, 1, 2, 1e200), lb = vec_of(kN, -1, 3, -1e200), ub = vec_of(kN, 1, kLast, 1e200);
  EXPECT_NO_THROW(BoxQP p(H, q, lb, ub));
  OwnedMat Hn = tridiag(kN, kN, 0, kNaN);
  OwnedVec q1 = vec_of(kN, 1), lb1 = vec_of(kN, -1), ub1 = vec_of(kN, 1);
  expect_error([&] { BoxQP p(Hn, q1, lb1, ub1); }, PETSC_ERR_ARG_OUTOFRANGE, {"H: entry (7, 7) is NaN"});
  // The symmetry test still works at that scale (its tolerance no longer overflows to inf).
  OwnedMat Hs = tridiag(kN, kN, 1e199, 1e200);  // H_67 = 1e199 − 1, H_76 = −1
  expect_error([&] { BoxQP p(Hs, q1, lb1, ub1); }, PETSC_ERR_ARG_WRONG, {"not symmetric"});
}

// An empty H (no nonzero entry, or 0 × 0) is refused before any solver sees it, naming the file.
TEST(EngineErrors, BoxQPEmptyMatrix) {
  OwnedMat Z;
  MatCreateAIJ(PETSC_COMM_WORLD, PETSC_DECIDE, PETSC_DECIDE, kN, kN, 1, nullptr, 0, nullptr, Z.out());
  MatAssemblyBegin(Z, MAT_FINAL_ASSEMBLY);
  MatAssemblyEnd(Z, MAT_FINAL_ASSEMBLY);
  OwnedVec q = vec_of(kN, 1), lb = vec_of(kN, -1), ub = vec_of(kN, 1);
  expect_error([&] { BoxQP p(Z, q, lb, ub); }, PETSC_ERR_ARG_WRONG, {"H: has no nonzero entry", "8 x 8"});
  const std::string dir = foldopt_test::temp_dir("empty_h");
  const std::string h0 = dir + "/H0.mtx", hz = dir + "/Hz.mtx", qf = dir + "/q.mtx", q0 = dir + "/q0.mtx";
  if (foldopt_test::rank() == 0) {
    std::FILE* f = std::fopen(h0.c_str(), "w");
    std::fprintf(f, "%%%%MatrixMarket matrix coordinate real general\n0 0 0\n");
    std::fclose(f);
    f = std::fopen(hz.c_str(), "w");
    std::fprintf(f, "%%%%MatrixMarket matrix coordinate real general\n3 3 1\n2 2 0\n");
    std::fclose(f);
    f = std::fopen(qf.c_str(), "w");
    std::fprintf(f, "%%%%MatrixMarket matrix array real general\n3 1\n1\n2\n3\n");
    std::fclose(f);
    f = std::fopen(q0.c_str(), "w");
    std::fprintf(f, "%%%%MatrixMarket matrix array real general\n0 1\n");
    std::fclose(f);
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  expect_error([&] { BoxQP::load(PETSC_COMM_WORLD, hz, qf, "", ""); }, PETSC_ERR_ARG_WRONG,
               {hz + ": has no nonzero entry"});
  const std::string msg = [&] {
    try {
      BoxQP::load(PETSC_COMM_WORLD, h0, q0, "", "");
    } catch (const foldopt::Error& e) {
      return std::string(e.what());
    }
    return std::string();
  }();
  // A 0 × 0 file is refused by the reader or by the problem, naming the file either way.
  EXPECT_NE(msg.find(h0), std::string::npos) << msg;
  EXPECT_EQ(msg.find("Initial vector"), std::string::npos) << msg;
}

// A missing diagonal entry of H is stored as an explicit zero in the problem's own copy (the
// caller's matrix is left alone), so the forward's preconditioner does not fail on it, on any rank.
// Convex with that variable linear (row 4 empty) and bounded: the closed form x_i = clamp(q_i/2),
// x_4 = ub_4 (min −x_4 on [−1, 1]).
TEST(EngineErrors, BoxQPMissingDiagonalEntry) {
  OwnedMat H;
  MatCreateAIJ(PETSC_COMM_WORLD, PETSC_DECIDE, PETSC_DECIDE, kN, kN, 1, nullptr, 0, nullptr, H.out());
  PetscInt rstart, rend;
  MatGetOwnershipRange(H, &rstart, &rend);
  for (PetscInt i = rstart; i < rend; ++i)
    if (i != 4) MatSetValue(H, i, i, 2.0, INSERT_VALUES);
  MatAssemblyBegin(H, MAT_FINAL_ASSEMBLY);
  MatAssemblyEnd(H, MAT_FINAL_ASSEMBLY);
  OwnedVec q = vec_of(kN, 1), lb = vec_of(kN, -1), ub = vec_of(kN, 1);
  BoxQP p(H, q, lb, ub);
  EXPECT_NE(p.H(), H.get());
  auto has_diagonal = [](Mat A, PetscInt row) {
    PetscInt r0, r1;
    MatGetOwnershipRange(A, &r0, &r1);
    int local = 1, all = 1;
    if (row >= r0 && row < r1) {
      PetscInt nc;
      const PetscInt* cols;
      MatGetRow(A, row, &nc, &cols, nullptr);
      local = std::find(cols, cols + nc, row) != cols + nc;
      MatRestoreRow(A, row, &nc, &cols, nullptr);
    }
    MPI_Allreduce(&local, &all, 1, MPI_INT, MPI_MIN, PETSC_COMM_WORLD);
    return all == 1;
  };
  EXPECT_TRUE(has_diagonal(p.H(), 4));
  EXPECT_FALSE(has_diagonal(H, 4));
  FoldedLayer layer(p);
  layer.set_from_options();
  Vec x = layer.forward(p.params());
  const foldopt_ref::VectorXd xv = foldopt_ref::to_eigen(x);
  for (PetscInt i = 0; i < kN; ++i) EXPECT_NEAR(xv[i], i == 4 ? 1.0 : 0.5, 1e-8) << "entry " << i;
}

// An indefinite H without bounds (here with a missing diagonal entry too, which used to fail in
// the preconditioner on one rank): TAO's line-search error becomes one message naming the solver
// and the cause, the same on every rank.
TEST(EngineErrors, IndefiniteUnboundedQPSaysSo) {
  OwnedMat H;
  MatCreateAIJ(PETSC_COMM_WORLD, PETSC_DECIDE, PETSC_DECIDE, 10, 10, 3, nullptr, 2, nullptr, H.out());
  PetscInt rstart, rend;
  MatGetOwnershipRange(H, &rstart, &rend);
  for (PetscInt i = rstart; i < rend; ++i) {
    if (i != 4) MatSetValue(H, i, i, 4.0, INSERT_VALUES);
    if (i > 0) MatSetValue(H, i, i - 1, -1.0, INSERT_VALUES);
    if (i < 9) MatSetValue(H, i, i + 1, -1.0, INSERT_VALUES);
  }
  MatAssemblyBegin(H, MAT_FINAL_ASSEMBLY);
  MatAssemblyEnd(H, MAT_FINAL_ASSEMBLY);
  OwnedVec q = vec_of(10, 1), lb = vec_of(10, -kInf), ub = vec_of(10, kInf);
  BoxQP p(H, q, lb, ub);
  FoldedLayer layer(p);
  layer.set_from_options();
  const std::string msg = expect_error([&] { layer.forward(p.params()); }, -1,
                                       {"forward solver tao tron", "not convex", "negative curvature", "unbounded below"});
  EXPECT_EQ(msg.find("missing diagonal"), std::string::npos) << msg;
  // The Ritz value quoted is a Rayleigh quotient: between λmin(H) (dense) and 0.
  const double ritz = number_after(msg, "a Ritz value ");
  const foldopt_ref::MatrixXd D = foldopt_ref::gather_dense(H);
  const double lmin = Eigen::SelfAdjointEigenSolver<foldopt_ref::MatrixXd>(D).eigenvalues()[0];
  EXPECT_LT(ritz, 0) << msg;
  EXPECT_GE(ritz, lmin - 1e-3) << msg;
}

TEST(EngineErrors, BoxQPGeneratorArguments) {
  BoxQPGenerator gen;
  gen.n = 0;
  expect_error([&] { BoxQP::generate(PETSC_COMM_WORLD, gen); }, PETSC_ERR_ARG_OUTOFRANGE, {"-n 0"});
  // n·B = 2^32 + 2^17 does not fit a 32-bit PetscInt: refused before anything is allocated.
  gen.n = 65536;
  gen.batch = 65538;
  expect_error([&] { BoxQP::generate(PETSC_COMM_WORLD, gen); }, PETSC_ERR_ARG_OUTOFRANGE,
               {"-n 65536 -batch 65538", "4295098368 unknowns"});
  gen.batch = 1;
  gen.n = 16;
  gen.pattern = "diagonal";
  expect_error([&] { BoxQP::generate(PETSC_COMM_WORLD, gen); }, PETSC_ERR_ARG_UNKNOWN_TYPE,
               {"-active_pattern", "diagonal"});
}

TEST(EngineErrors, LossGradientValidation) {
  std::unique_ptr<BoxQP> p = make_problem(16);
  OwnedVec g = vec_of(16, 0.5, 15, kNaN);
  expect_error([&] { foldopt::validate_loss_gradient(*p, g, "dL/dx"); }, PETSC_ERR_ARG_OUTOFRANGE,
               {"dL/dx: entry 15 is NaN"});
  OwnedVec g2 = vec_of(15, 0.5);
  expect_error([&] { foldopt::validate_loss_gradient(*p, g2, "dL/dx"); }, PETSC_ERR_ARG_SIZ,
               {"dL/dx has 15 entries"});
}

// ---- registries and options ----------------------------------------------------------------------

TEST(EngineErrors, UnknownMapName) {
  std::unique_ptr<BoxQP> p = make_problem(16);
  ScopedOptions so(Options{{"-fold_map_type", "nosuch"}});
  FoldedLayer layer(*p);
  expect_error([&] { layer.set_from_options(); }, PETSC_ERR_ARG_UNKNOWN_TYPE,
               {"unknown update map 'nosuch'", "pgd"});
}

TEST(EngineErrors, UnknownForwardName) {
  std::unique_ptr<BoxQP> p = make_problem(16);
  ScopedOptions so(Options{{"-fold_fwd_type", "nosuch"}});
  FoldedLayer layer(*p);
  expect_error([&] { layer.set_from_options(); }, PETSC_ERR_ARG_UNKNOWN_TYPE,
               {"unknown forward solver 'nosuch'", "snes", "callback"});
}

TEST(EngineErrors, MapTypeOnLayerBuiltFromMap) {
  std::unique_ptr<BoxQP> p = make_problem(16);
  ScopedOptions so(Options{{"-fold_map_type", "pgd"}});
  FoldedLayer layer(std::unique_ptr<foldopt::UpdateMap>(new foldopt_ref::NoAssembleMap(*p)));
  expect_error([&] { layer.set_from_options(); }, PETSC_ERR_ARG_WRONG, {"-fold_map_type pgd", "built from a map"});
}

TEST(EngineErrors, AutomaticStepsizeNeedsFreeStepsize) {
  std::unique_ptr<BoxQP> p = make_problem(16);
  ScopedOptions so(Options{{"-fold_stepsize", "auto"}});
  FoldedLayer layer(std::unique_ptr<foldopt::UpdateMap>(new foldopt_ref::NoAssembleMap(*p)));
  expect_error([&] { layer.set_from_options(); }, PETSC_ERR_ARG_INCOMP,
               {"-fold_stepsize auto", "'pgd_noassemble'", "no free stepsize"});
}

// ---- order of calls ------------------------------------------------------------------------------

TEST(EngineErrors, BackwardBeforeForward) {
  std::unique_ptr<BoxQP> p = make_problem(16);
  FoldedLayer layer(*p);
  layer.set_from_options();
  OwnedVec g = random_g(*p);
  expect_error([&] { layer.backward(g); }, PETSC_ERR_ORDER, {"backward()", "forward() first"});
  expect_error([&] { layer.estimate_rho(); }, PETSC_ERR_ORDER, {"estimate_rho", "linearization"});
}

TEST(EngineErrors, MapProductsBeforeLinearize) {
  std::unique_ptr<BoxQP> p = make_problem(16);
  foldopt::PgdMap map(*p);
  OwnedVec v = p->create_vec(), y = p->create_vec();
  VecSet(v, 1.0);
  expect_error([&] { map.phi_t(v, y); }, PETSC_ERR_ORDER, {"pgd: phi_t before linearize()"});
  expect_error([&] { map.assemble_phi(); }, PETSC_ERR_ORDER, {"pgd: assemble_phi before linearize()"});
  expect_error([&] { map.set_stepsize(-1); }, PETSC_ERR_ARG_OUTOFRANGE, {"pgd: stepsize -1 must be positive"});
  ParamSet out = map.create_params();
  expect_error([&] { out.get("lambda"); }, PETSC_ERR_ARG_WRONG, {"no parameter block 'lambda'", "q, lb, ub"});
}

// ---- preconditioners and maps that cannot assemble -----------------------------------------------

std::unique_ptr<FoldedLayer> noassemble_layer(BoxQP& p) {
  std::unique_ptr<FoldedLayer> layer(
      new FoldedLayer(std::unique_ptr<foldopt::UpdateMap>(new foldopt_ref::NoAssembleMap(p))));
  Vec known = p.known_solution();
  layer->set_forward_callback([known](const ParamSet&, Vec x, foldopt::ForwardReport&) { VecCopy(known, x); });
  return layer;
}

TEST(EngineErrors, PreconditionerNeedsAssembledPhi) {
  std::unique_ptr<BoxQP> p = make_problem(100);
  OwnedVec g = random_g(*p);
  for (const char* pc : {"ilu", "jacobi"}) {
    ScopedOptions so(Options{{"-fold_pc_type", pc}});
    std::unique_ptr<FoldedLayer> layer = noassemble_layer(*p);
    layer->set_from_options();
    layer->forward(p->params());
    expect_error([&] { layer->backward(g); }, PETSC_ERR_SUP,
                 {std::string("-fold_pc_type ") + pc, "'pgd_noassemble' cannot assemble", "-fold_pc_type none"});
  }
  // Without a preconditioner the same layer works.
  std::unique_ptr<FoldedLayer> layer = noassemble_layer(*p);
  layer->set_from_options();
  layer->forward(p->params());
  EXPECT_NO_THROW(layer->backward(g));
}

// ---- forward solvers -----------------------------------------------------------------------------

TEST(EngineErrors, SnesForwardNotConverged) {
  std::unique_ptr<BoxQP> p = make_problem();
  ScopedOptions so(Options{{"-fold_fwd_type", "snes"}, {"-fold_fwd_snes_max_it", "3"}});
  FoldedLayer layer(*p);
  layer.set_from_options();
  expect_error([&] { layer.forward(p->params()); }, PETSC_ERR_NOT_CONVERGED,
               {"forward solver snes nrichardson did not converge", "DIVERGED_MAX_IT", "3 iterations"});
  OwnedVec g = random_g(*p);
  expect_error([&] { layer.backward(g); }, PETSC_ERR_ORDER, {"forward() first"});
}

TEST(EngineErrors, CallbackFailureOnOneRank) {
  std::unique_ptr<BoxQP> p = make_problem(16);
  FoldedLayer layer(*p);
  const int last = comm_size() - 1;
  layer.set_forward_callback([last](const ParamSet&, Vec, foldopt::ForwardReport& rep) {
    if (foldopt_test::rank() == last) {
      rep.converged = false;
      rep.reason = "inner solver gave up";
    }
  });
  layer.set_from_options();
  expect_error([&] { layer.forward(p->params()); }, PETSC_ERR_NOT_CONVERGED,
               {"forward callback reports failure: inner solver gave up"});
}

TEST(EngineErrors, CallbackWithoutFunction) {
  std::unique_ptr<BoxQP> p = make_problem(16);
  ScopedOptions so(Options{{"-fold_fwd_type", "callback"}});
  FoldedLayer layer(*p);
  layer.set_from_options();
  expect_error([&] { layer.forward(p->params()); }, PETSC_ERR_ORDER, {"'callback' has no function"});
}

// ---- exceptions inside callbacks that PETSc calls ------------------------------------------------

// A map whose Φᵀ product fails (on every rank) after a few products.
class FailingMap : public foldopt_ref::NoAssembleMap {
 public:
  FailingMap(BoxQP& p, int after) : NoAssembleMap(p), after_(after) {}
  void phi_t(Vec v, Vec y) override {
    if (++calls_ > after_) throw foldopt::Error(PETSC_ERR_USER, "my phi_t failed at product " + std::to_string(calls_));
    NoAssembleMap::phi_t(v, y);
  }

 private:
  int after_, calls_ = 0;
};

TEST(EngineErrors, ExceptionInsidePhiTReachesTheCaller) {
  std::unique_ptr<BoxQP> p = make_problem(100);
  for (const char* ksp : {"gmres", "richardson"}) {
    ScopedOptions so(Options{{"-fold_ksp_type", ksp}});
    FoldedLayer layer(std::unique_ptr<foldopt::UpdateMap>(new FailingMap(*p, 4)));
    Vec known = p->known_solution();
    layer.set_forward_callback([known](const ParamSet&, Vec x, foldopt::ForwardReport&) { VecCopy(known, x); });
    layer.set_from_options();
    layer.forward(p->params());
    OwnedVec g = random_g(*p);
    expect_error([&] { layer.backward(g); }, PETSC_ERR_USER, {"my phi_t failed at product 5"});
  }
}

}  // namespace
