// Tests of the `ipopt` forward solver (src/forward/ipopt_forward.cpp and its plugin).
//
// - a generated qp_box (n = 400): x* from IPOPT equals the instance's known solution (≤ 1e-7);
// - the isolation proof: in one process, IPOPT (sequential MUMPS inside the plugin), then the
//   Jacobian backward factored by PETSc's MUMPS (parallel MUMPS at np=2, asked for explicitly at
//   np=1), then IPOPT again, then a GMRES backward, then IPOPT and MUMPS once more: every step
//   works, and the MUMPS gradients equal the GMRES one (relative ≤ 1e-9 per block);
// - problems with nonlinear constraints defined here: min ½‖x − c‖² s.t. ‖x‖² ≤ r² (solution
//   r c/‖c‖; also without assembled Hessians, by IPOPT's L-BFGS, to 1e-6) and s.t. Σx = 1
//   (solution c + (1 − Σc)/n): IPOPT matches the analytic solutions (1e-7);
// - an infeasible problem (x ≥ 2, ‖x‖² ≤ 1) raises foldopt::Error naming IPOPT's status on every
//   rank (no rank left waiting); so does an exception thrown by the problem in mid-solve (its own
//   message and code), after which the solver works again;
// - with FOLDOPT_PLUGIN_DIR naming an empty directory the solver is refused with "not found", and
//   with a file that is not a shared object there, with "cannot be loaded".
// Built without IPOPT (FOLDOPT_WITH_IPOPT off) only the "not built in" error is checked and the
// other tests skip; under AddressSanitizer (no RTLD_DEEPBIND) every test that loads the plugin skips.
// A skip makes the program exit with 77: CTest shows it as skipped, CI fails on unexpected skips.
// Runs at np=1 and np=2.
#include "test_util.hpp"

#include <foldopt/error.hpp>
#include <foldopt/layer.hpp>
#include <foldopt/problem.hpp>
#include <foldopt/problems/qp_box.hpp>

#include "ipopt_skip.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using foldopt_test::comm_size;

using foldopt::BoxQP;
using foldopt::BoxQPGenerator;
using foldopt::Error;
using foldopt::FoldedLayer;
using foldopt::OwnedMat;
using foldopt::OwnedVec;
using foldopt::ParamSet;
using foldopt_test::gather;
using foldopt_test::ScopedOptions;
using Options = std::vector<std::pair<std::string, std::string>>;


/// A vector with entries f(i) by global index.
void fill(Vec v, const std::function<double(PetscInt)>& f) {
  PetscInt lo, hi;
  VecGetOwnershipRange(v, &lo, &hi);
  for (PetscInt i = lo; i < hi; ++i) VecSetValue(v, i, f(i), INSERT_VALUES);
  VecAssemblyBegin(v);
  VecAssemblyEnd(v);
}

double max_abs_diff(Vec a, Vec b) {
  const std::vector<PetscScalar> x = gather(a), y = gather(b);
  double m = x.size() == y.size() ? 0.0 : INFINITY;
  for (std::size_t i = 0; i < x.size() && i < y.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

/// Relative difference of two gradients, block by block (the largest).
double max_block_rel_diff(const ParamSet& a, const ParamSet& b) {
  double worst = 0;
  for (std::size_t k = 0; k < b.size(); ++k) {
    Vec va = a.get(b[k].name), vb = b[k].vec;
    OwnedVec d;
    VecDuplicate(vb, d.out());
    VecWAXPY(d, -1.0, va, vb);
    PetscReal nd, nb;
    VecNorm(d, NORM_2, &nd);
    VecNorm(vb, NORM_2, &nb);
    worst = std::max(worst, static_cast<double>(nb > 0 ? nd / nb : nd));
  }
  return worst;
}

/// min ½‖x − c‖² (c the parameter block "c") with one constraint:
///   ball:       ‖x‖² − r² ≤ 0
///   sum_one:    Σx − 1 = 0
///   infeasible: ‖x‖² − r² ≤ 0 and x ≥ 2 (empty for r < 2√n)
class SmallNlp : public foldopt::Problem {
 public:
  enum Kind { ball, sum_one, infeasible };
  SmallNlp(MPI_Comm comm, PetscInt n, Kind kind, double r, const std::function<double(PetscInt)>& c)
      : kind_(kind), r_(r) {
    layout_.comm = comm;
    layout_.n = n;
    layout_.batch = 1;
    PetscInt local = PETSC_DECIDE, N = n;
    PetscSplitOwnership(comm, &local, &N);
    layout_.local = local;
    OwnedVec cv = create_vec();
    fill(cv, c);
    theta_.add("c", cv);
  }
  std::string type() const override { return "small_nlp"; }
  const foldopt::Layout& layout() const override { return layout_; }
  const ParamSet& params() const override { return theta_; }
  std::string default_map() const override { return "pgd"; }

  PetscReal objective_gradient(Vec x, const ParamSet& theta, Vec g) override {
    if (fail_after_ >= 0 && calls_++ >= fail_after_)  // every rank alike: a collective error
      throw Error(PETSC_ERR_USER, "small_nlp: objective failed on purpose");
    OwnedVec d;
    VecDuplicate(x, d.out());
    VecWAXPY(d, -1.0, theta.get("c"), x);
    PetscReal nrm;
    VecNorm(d, NORM_2, &nrm);
    if (g) VecCopy(d, g);
    return 0.5 * nrm * nrm;
  }
  void hessian_mult(Vec, const ParamSet&, Vec v, Vec y) override { VecCopy(v, y); }
  OwnedMat hessian(Vec, const ParamSet&) override { return with_hessian_ ? diagonal(1.0) : OwnedMat(); }
  /// Without assembled Hessians IPOPT falls back to its limited-memory quasi-Newton approximation.
  void set_assembled_hessian(bool on) { with_hessian_ = on; }
  /// objective_gradient throws after `calls` successful calls (−1: never).
  void fail_after(int calls) {
    fail_after_ = calls;
    calls_ = 0;
  }
  void gradient_param_t(Vec, const ParamSet&, Vec v, ParamSet& out) override {
    VecCopy(v, out.get("c"));
    VecScale(out.get("c"), -1.0);
  }
  void gradient_param(Vec, const ParamSet&, const ParamSet& dtheta, Vec y) override {
    VecCopy(dtheta.get("c"), y);
    VecScale(y, -1.0);
  }

  bool has_bounds() const override { return kind_ == infeasible; }
  void bounds(const ParamSet&, Vec lb, Vec ub) override {
    VecSet(lb, 2.0);
    VecSet(ub, PETSC_INFINITY);
  }
  PetscInt num_equality() const override { return kind_ == sum_one ? 1 : 0; }
  PetscInt num_inequality() const override { return kind_ == sum_one ? 0 : 1; }
  void equality(Vec x, const ParamSet&, Vec c) override {
    PetscScalar s;
    VecSum(x, &s);
    set_scalar(c, s - 1.0);
  }
  void inequality(Vec x, const ParamSet&, Vec c) override {
    PetscReal nrm;
    VecNorm(x, NORM_2, &nrm);
    set_scalar(c, nrm * nrm - r_ * r_);
  }
  OwnedMat equality_jacobian(Vec x, const ParamSet&) override {
    return row(x, [](PetscScalar) { return 1.0; });
  }
  OwnedMat inequality_jacobian(Vec x, const ParamSet&) override {
    return row(x, [](PetscScalar xi) { return 2.0 * xi; });
  }
  OwnedMat lagrangian_hessian(Vec, const ParamSet&, Vec, Vec y_ineq) override {
    if (!with_hessian_) return OwnedMat();
    PetscScalar y = 0;
    if (y_ineq) VecSum(y_ineq, &y);  // one constraint: its multiplier on every rank
    return diagonal(1.0 + 2.0 * y);
  }

 private:
  void set_scalar(Vec c, PetscScalar v) {
    PetscInt lo, hi;
    VecGetOwnershipRange(c, &lo, &hi);
    if (lo == 0 && hi > 0) VecSetValue(c, 0, v, INSERT_VALUES);
    VecAssemblyBegin(c);
    VecAssemblyEnd(c);
  }
  OwnedMat diagonal(PetscScalar d) const {
    OwnedMat A;
    MatCreateAIJ(layout_.comm, layout_.local, layout_.local, layout_.n, layout_.n, 1, nullptr, 0, nullptr, A.out());
    PetscInt lo, hi;
    MatGetOwnershipRange(A, &lo, &hi);
    for (PetscInt i = lo; i < hi; ++i) MatSetValue(A, i, i, d, INSERT_VALUES);
    MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY);
    MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY);
    return A;
  }
  /// The 1 × n Jacobian row f(x_j), rows split as create_constraint_vec(1), every entry stored.
  OwnedMat row(Vec x, const std::function<PetscScalar(PetscScalar)>& f) const {
    OwnedVec c = create_constraint_vec(1);
    PetscInt mloc;
    VecGetLocalSize(c, &mloc);
    OwnedMat J;
    MatCreate(layout_.comm, J.out());
    MatSetSizes(J, mloc, layout_.local, 1, layout_.n);
    MatSetType(J, MATAIJ);
    MatSeqAIJSetPreallocation(J, layout_.n, nullptr);
    MatMPIAIJSetPreallocation(J, layout_.n, nullptr, layout_.n, nullptr);
    PetscInt lo, hi;
    VecGetOwnershipRange(x, &lo, &hi);
    const PetscScalar* a;
    VecGetArrayRead(x, &a);
    std::vector<PetscInt> cols;
    std::vector<PetscScalar> vals;
    for (PetscInt j = lo; j < hi; ++j) {
      cols.push_back(j);
      vals.push_back(f(a[j - lo]));
    }
    VecRestoreArrayRead(x, &a);
    const PetscInt r0 = 0;
    if (!cols.empty())
      MatSetValues(J, 1, &r0, static_cast<PetscInt>(cols.size()), cols.data(), vals.data(), INSERT_VALUES);
    MatAssemblyBegin(J, MAT_FINAL_ASSEMBLY);
    MatAssemblyEnd(J, MAT_FINAL_ASSEMBLY);
    return J;
  }

  Kind kind_;
  double r_;
  bool with_hessian_ = true;
  int fail_after_ = -1, calls_ = 0;
  foldopt::Layout layout_;
  ParamSet theta_;
};

// Built with IPOPT the solver is accepted; built without, it is refused with a clear error. Runs
// in both builds (a skip here would make the program skipped in the normal build).
TEST(IpoptForward, NotBuiltInIsAClearError) {
  SmallNlp p(PETSC_COMM_WORLD, 8, SmallNlp::ball, 1.0, [](PetscInt i) { return 1.0 + i; });
  FoldedLayer layer(p);
  ScopedOptions o(Options{{"-fold_fwd_type", "ipopt"}});
  if (foldopt::ipopt_built_in()) {
    SKIP_WITHOUT_IPOPT();  // under AddressSanitizer
    EXPECT_NO_THROW(layer.set_from_options());
    EXPECT_EQ(layer.forward_solver().type(), "ipopt");
    return;
  }
  try {
    layer.set_from_options();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not built in (install coinor-libipopt-dev and reconfigure)"),
              std::string::npos)
        << e.what();
  }
}

// The isolation proof: IPOPT's sequential MUMPS (in the plugin) and PETSc's MUMPS, alternately,
// in one process.
TEST(IpoptForward, BoxQpKnownSolutionAndPetscMumpsInOneProcess) {
  SKIP_WITHOUT_IPOPT();
  BoxQPGenerator gen;
  gen.n = 400;
  gen.seed = 7;
  auto qp = BoxQP::generate(PETSC_COMM_WORLD, gen);
  const Vec known = qp->known_solution();
  ASSERT_NE(known, nullptr);

  Options direct = {{"-fold_fwd_type", "ipopt"}, {"-fold_backward", "jacobian"}};
  if (comm_size() == 1) direct.push_back({"-fold_jacobian_pc_factor_mat_solver_type", "mumps"});
  FoldedLayer la(*qp);
  {
    ScopedOptions o(direct);
    la.set_from_options();
  }
  FoldedLayer lb(*qp);
  {
    ScopedOptions o(Options{{"-fold_fwd_type", "ipopt"}, {"-fold_ksp_rtol", "1e-13"}});
    lb.set_from_options();
  }
  ASSERT_EQ(la.forward_solver().type(), "ipopt");
  ASSERT_EQ(lb.forward_solver().type(), "ipopt");

  OwnedVec g = qp->create_vec();
  fill(g, [](PetscInt i) { return std::sin(0.37 * static_cast<double>(i) + 1.0); });

  // 1. IPOPT.
  Vec x = la.forward(qp->params());
  EXPECT_LE(max_abs_diff(x, known), 1e-7);
  EXPECT_EQ(la.forward_report().solver, "ipopt");
  EXPECT_EQ(la.forward_report().reason, "Solve_Succeeded");
  EXPECT_GT(la.forward_report().iterations, 0);
  EXPECT_TRUE(la.forward_report().converged);

  // 2. PETSc's MUMPS factors I − Φᵀ.
  ParamSet g_mumps = la.backward(g);
  EXPECT_NE(la.adjoint().report().method.find("mumps"), std::string::npos) << la.adjoint().report().method;
  EXPECT_TRUE(la.adjoint().report().converged);

  // 3. IPOPT again, from a cold start, after the MUMPS factorization.
  Vec xb = lb.forward(qp->params());
  EXPECT_LE(max_abs_diff(xb, known), 1e-7);
  EXPECT_EQ(lb.forward_report().reason, "Solve_Succeeded");

  // 4. GMRES backward: the reference for the MUMPS gradient.
  ParamSet g_gmres = lb.backward(g);
  EXPECT_NE(lb.adjoint().report().method.find("krylov gmres"), std::string::npos) << lb.adjoint().report().method;
  EXPECT_LE(max_block_rel_diff(g_mumps, g_gmres), 1e-9);

  // 5. IPOPT (warm start) and MUMPS once more on the first layer.
  Vec x2 = la.forward(qp->params());
  EXPECT_LE(max_abs_diff(x2, known), 1e-7);
  ParamSet g_mumps2 = la.backward(g);
  EXPECT_LE(max_block_rel_diff(g_mumps2, g_gmres), 1e-9);
}

TEST(IpoptForward, NonlinearInequalityBall) {
  SKIP_WITHOUT_IPOPT();
  const PetscInt n = 20;
  const double r = 1.5;
  auto c = [](PetscInt i) { return 1.0 + 0.1 * static_cast<double>(i) * (i % 2 ? -1 : 1); };
  SmallNlp p(PETSC_COMM_WORLD, n, SmallNlp::ball, r, c);
  FoldedLayer layer(p);
  {
    ScopedOptions o(Options{{"-fold_fwd_type", "ipopt"}});
    layer.set_from_options();
  }
  Vec x = layer.forward(p.params());
  double cn = 0;
  for (PetscInt i = 0; i < n; ++i) cn += c(i) * c(i);
  cn = std::sqrt(cn);
  ASSERT_GT(cn, r);
  const std::vector<PetscScalar> xs = gather(x);
  ASSERT_EQ(xs.size(), static_cast<std::size_t>(n));
  double err = 0;
  for (PetscInt i = 0; i < n; ++i) err = std::max(err, std::abs(xs[i] - r * c(i) / cn));
  EXPECT_LE(err, 1e-7);
  EXPECT_EQ(layer.forward_report().reason, "Solve_Succeeded");

  // The same without assembled Hessians: IPOPT's L-BFGS.
  p.set_assembled_hessian(false);
  FoldedLayer lbfgs(p);
  {
    ScopedOptions o(Options{{"-fold_fwd_type", "ipopt"}});
    lbfgs.set_from_options();
  }
  const std::vector<PetscScalar> xq = gather(lbfgs.forward(p.params()));
  err = 0;
  for (PetscInt i = 0; i < n; ++i) err = std::max(err, std::abs(xq[i] - r * c(i) / cn));
  EXPECT_LE(err, 1e-6);
}

TEST(IpoptForward, NonlinearEqualitySum) {
  SKIP_WITHOUT_IPOPT();
  const PetscInt n = 17;
  auto c = [](PetscInt i) { return std::sin(1.0 + static_cast<double>(i)); };
  SmallNlp p(PETSC_COMM_WORLD, n, SmallNlp::sum_one, 0.0, c);
  FoldedLayer layer(p);
  {
    ScopedOptions o(Options{{"-fold_fwd_type", "ipopt"}});
    layer.set_from_options();
  }
  Vec x = layer.forward(p.params());
  double sc = 0;
  for (PetscInt i = 0; i < n; ++i) sc += c(i);
  const std::vector<PetscScalar> xs = gather(x);
  ASSERT_EQ(xs.size(), static_cast<std::size_t>(n));
  double err = 0;
  for (PetscInt i = 0; i < n; ++i) err = std::max(err, std::abs(xs[i] - (c(i) + (1.0 - sc) / n)));
  EXPECT_LE(err, 1e-7);
}

TEST(IpoptForward, InfeasibleProblemIsAnErrorOnEveryRank) {
  SKIP_WITHOUT_IPOPT();
  SmallNlp p(PETSC_COMM_WORLD, 6, SmallNlp::infeasible, 1.0, [](PetscInt) { return 0.0; });
  FoldedLayer layer(p);
  {
    ScopedOptions o(Options{{"-fold_fwd_type", "ipopt"}});
    layer.set_from_options();
  }
  std::string msg;
  try {
    layer.forward(p.params());
  } catch (const Error& e) {
    msg = e.what();
    EXPECT_TRUE(e.collective());
    EXPECT_EQ(e.code(), PETSC_ERR_NOT_CONVERGED);
  }
  ASSERT_FALSE(msg.empty()) << "no error";
  EXPECT_NE(msg.find("forward solver 'ipopt' did not converge: IPOPT returned Infeasible_Problem_Detected"),
            std::string::npos)
      << msg;
  // Every rank threw the same error, and the communicator is still usable.
  int mine = static_cast<int>(msg.size()), lo = 0, hi = 0;
  MPI_Allreduce(&mine, &lo, 1, MPI_INT, MPI_MIN, PETSC_COMM_WORLD);
  MPI_Allreduce(&mine, &hi, 1, MPI_INT, MPI_MAX, PETSC_COMM_WORLD);
  EXPECT_EQ(lo, hi);
}

TEST(IpoptForward, EvaluationErrorStopsIpoptOnEveryRank) {
  SKIP_WITHOUT_IPOPT();
  SmallNlp p(PETSC_COMM_WORLD, 10, SmallNlp::ball, 1.0, [](PetscInt i) { return 1.0 + i; });
  FoldedLayer layer(p);
  {
    ScopedOptions o(Options{{"-fold_fwd_type", "ipopt"}});
    layer.set_from_options();
  }
  p.fail_after(5);  // in the middle of IPOPT's iterations
  std::string msg;
  try {
    layer.forward(p.params());
  } catch (const Error& e) {
    msg = e.what();
    EXPECT_EQ(e.code(), PETSC_ERR_USER);
  }
  EXPECT_NE(msg.find("small_nlp: objective failed on purpose"), std::string::npos) << msg;
  // The communicator is still in step, and the solver works again.
  p.fail_after(-1);
  MPI_Barrier(PETSC_COMM_WORLD);
  EXPECT_NO_THROW(layer.forward(p.params()));
}

/// FOLDOPT_PLUGIN_DIR for one scope.
class ScopedPluginDir {
 public:
  explicit ScopedPluginDir(const std::string& dir) {
    const char* old = std::getenv("FOLDOPT_PLUGIN_DIR");
    had_ = old != nullptr;
    if (had_) old_ = old;
    setenv("FOLDOPT_PLUGIN_DIR", dir.c_str(), 1);
  }
  ~ScopedPluginDir() {
    if (had_)
      setenv("FOLDOPT_PLUGIN_DIR", old_.c_str(), 1);
    else
      unsetenv("FOLDOPT_PLUGIN_DIR");
  }

 private:
  bool had_ = false;
  std::string old_;
};

std::string setup_error(foldopt::Problem& p) {
  FoldedLayer layer(p);
  ScopedOptions o(Options{{"-fold_fwd_type", "ipopt"}});
  try {
    layer.set_from_options();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(IpoptForward, PluginDirectoryOverride) {
  SKIP_WITHOUT_IPOPT();
  SmallNlp p(PETSC_COMM_WORLD, 8, SmallNlp::ball, 1.0, [](PetscInt i) { return 1.0 + i; });
  const std::string dir = foldopt_test::temp_dir("ipopt_plugin");
  ASSERT_FALSE(dir.empty());
  {
    ScopedPluginDir env(dir);  // empty directory
    const std::string msg = setup_error(p);
    EXPECT_NE(msg.find("forward solver 'ipopt': plugin " + dir + "/foldopt_ipopt.so not found"), std::string::npos)
        << msg;
  }
  if (foldopt_test::rank() == 0) std::ofstream(dir + "/foldopt_ipopt.so") << "not a shared object\n";
  MPI_Barrier(PETSC_COMM_WORLD);
  {
    ScopedPluginDir env(dir);  // a file that dlopen refuses
    const std::string msg = setup_error(p);
    EXPECT_NE(msg.find("forward solver 'ipopt': plugin " + dir + "/foldopt_ipopt.so cannot be loaded: "),
              std::string::npos)
        << msg;
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  if (foldopt_test::rank() == 0) {
    std::remove((dir + "/foldopt_ipopt.so").c_str());
    rmdir(dir.c_str());
  }
  // Without the override the plugin is found again.
  EXPECT_EQ(setup_error(p), "");
}

}  // namespace
