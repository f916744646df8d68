// The `tao` forward solver.
//
// On a generated qp_box (n = 900): each of bqnls, bnls, blmvm, gpcg, bqpip, tron, bqnkls, bqnktr,
// bqnktl, bncg, bntr and bntl returns the generator's known solution x* (‖x − x*‖∞ ≤ 1e-7) and
// converges by TAO's own test, and the layer's gradient of L = ⟨g, x*⟩ with -fold_fwd_type tao
// equals the one with the `snes` forward (relative difference ≤ 1e-8 per block q, lb, ub), with a
// fixed-point residual ≤ 1e-8. The default type is tron without general constraints (bounded or
// not) and almm with them. The unconstrained types (lmvm, cg, nls, ntr, ntl) and bounded ones
// without bounds solve the qp_box objective with its bounds dropped. Types that cannot handle the
// bounds (lmvm, nls, cg), types for other problems (owlqn, pounders) and unknown names are refused
// at set-up with an error naming the type, what is missing and the usable types; gpcg and bqpip
// are refused for a problem that does not say its objective is quadratic; almm and pdipm are
// refused without general constraints, bqnls with them; pdipm is refused (at the solve) on
// variables bounded only above, which PETSc 3.18 mishandles. Without an assembled Hessian, bnls
// and tron run on a MatShell over hessian_mult. A problem with general constraints,
// min ½‖x − θ‖² s.t. ‖x‖² ≤ r² (and Σx = s, and inactive box bounds), solved by almm (the
// default) and pdipm, matches the analytic projection to 1e-7, also on a second solve from there;
// when θ moves the upper bounds between solves (inactive, active, infinite, active) both follow
// them. With -fold_fwd_tao_max_it 1 the forward throws PETSC_ERR_NOT_CONVERGED naming TAO's
// reason. Warm starts from the previous x* on θ_k = θ + k·1e-3·d (k = 1..3, in q) take fewer TAO
// iterations than cold starts from zero, for tron (the default), gpcg, bnls, bncg and bqnkls.
// Runs at np=1 and np=2.
#include "test_util.hpp"

#include <foldopt/checks.hpp>
#include <foldopt/error.hpp>
#include <foldopt/forward.hpp>
#include <foldopt/layer.hpp>
#include <foldopt/problems/qp_box.hpp>

#include <petsctime.h>

#include <cmath>
#include <algorithm>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using foldopt_test::rel_diff;

using foldopt::BoxQP;
using foldopt::BoxQPGenerator;
using foldopt::FoldedLayer;
using foldopt::ForwardContext;
using foldopt::ForwardSolver;
using foldopt::OwnedMat;
using foldopt::OwnedVec;
using foldopt::ParamSet;
using foldopt_test::ScopedOptions;
using Options = std::vector<std::pair<std::string, std::string>>;

constexpr double kSolutionTol = 1e-7;  // ‖x − x*‖∞
constexpr double kGradTol = 1e-8;      // relative, per block, against the snes forward

BoxQPGenerator instance(PetscInt n, unsigned long seed, PetscReal unbounded = 0.1) {
  BoxQPGenerator gen;
  gen.n = n;
  gen.seed = seed;
  gen.unbounded = unbounded;
  return gen;
}

double max_abs_diff(Vec a, Vec b) {
  OwnedVec d;
  VecDuplicate(a, d.out());
  VecWAXPY(d, -1.0, b, a);
  PetscReal e;
  VecNorm(d, NORM_INFINITY, &e);
  return e;
}


std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const foldopt::Error& e) {
    return e.what();
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// qp_box: known solution and gradients against the snes forward

struct QpShared {
  std::unique_ptr<BoxQP> p;
  OwnedVec g;
  ParamSet grad_snes;
};

class TaoOnQpBox : public ::testing::TestWithParam<const char*> {
 public:
  static void SetUpTestSuite() {
    s_ = new QpShared;
    s_->p = BoxQP::generate(PETSC_COMM_WORLD, instance(900, 11));
    s_->g = s_->p->create_vec();
    foldopt::fill_random(s_->g, 42);
    ScopedOptions so(Options{{"-fold_fwd_type", "snes"}});
    FoldedLayer layer(*s_->p);
    layer.set_from_options();
    layer.forward(s_->p->params());
    s_->grad_snes = layer.backward(s_->g).copy();
  }
  static void TearDownTestSuite() {
    delete s_;
    s_ = nullptr;
  }

 protected:
  static QpShared* s_;
};
QpShared* TaoOnQpBox::s_ = nullptr;

TEST_P(TaoOnQpBox, KnownSolutionAndSnesGradient) {
  const std::string type = GetParam();
  BoxQP& p = *s_->p;
  ScopedOptions so(Options{{"-fold_fwd_type", "tao"}, {"-fold_fwd_tao_type", type}});
  FoldedLayer layer(p);
  layer.set_from_options();
  PetscLogDouble t0, t1;
  PetscTime(&t0);
  Vec x = layer.forward(p.params());
  PetscTime(&t1);
  const foldopt::ForwardReport& rep = layer.forward_report();
  EXPECT_EQ(rep.solver, "tao " + type);
  EXPECT_TRUE(rep.converged) << rep.reason;
  EXPECT_LE(max_abs_diff(x, p.known_solution()), kSolutionTol) << type << ": forward vs known solution";
  ParamSet grad = layer.backward(s_->g);
  EXPECT_LE(layer.fixed_point_residual(), 1e-8) << type;
  for (const char* b : {"q", "lb", "ub"})
    EXPECT_LE(rel_diff(grad.get(b), s_->grad_snes.get(b)), kGradTol) << type << ": gradient block " << b;
  PetscPrintf(PETSC_COMM_WORLD,
              "  [tao %s] %" PetscInt_FMT " iterations, %s, gnorm %.2e, |x - x*|_inf %.2e, fixed-point residual %.2e, %.3f s\n",
              type.c_str(), rep.iterations, rep.reason.c_str(), (double)rep.residual,
              max_abs_diff(x, p.known_solution()), (double)layer.fixed_point_residual(), (double)(t1 - t0));
}

INSTANTIATE_TEST_SUITE_P(Types, TaoOnQpBox,
                         ::testing::Values("bqnls", "bnls", "blmvm", "gpcg", "bqpip", "tron", "bqnkls", "bqnktr", "bqnktl",
                                           "bncg", "bntr", "bntl"),
                         [](const ::testing::TestParamInfo<const char*>& i) { return std::string(i.param); });

TEST(TaoForward, DefaultTypeIsTronOnBoundedProblems) {
  std::unique_ptr<BoxQP> p = BoxQP::generate(PETSC_COMM_WORLD, instance(400, 3));
  ScopedOptions so(Options{{"-fold_fwd_type", "tao"}});
  FoldedLayer layer(*p);
  layer.set_from_options();
  Vec x = layer.forward(p->params());
  EXPECT_EQ(layer.forward_report().solver, "tao tron");
  EXPECT_LE(max_abs_diff(x, p->known_solution()), kSolutionTol);
}

TEST(TaoForward, UnsuitableTypesRefusedAtSetUp) {
  std::unique_ptr<BoxQP> p = BoxQP::generate(PETSC_COMM_WORLD, instance(100, 5));
  const std::pair<const char*, const char*> cases[] = {
      {"lmvm", "does not handle bound constraints"}, {"nls", "does not handle bound constraints"},
      {"cg", "does not handle bound constraints"},   {"owlqn", "lambda ||x||_1"},
      {"pounders", "least-squares"},                 {"nosuchtype", "not a TAO type foldopt knows"}};
  for (const auto& c : cases) {
    ScopedOptions so(Options{{"-fold_fwd_type", "tao"}, {"-fold_fwd_tao_type", c.first}});
    FoldedLayer layer(*p);
    const std::string msg = message_of([&] { layer.set_from_options(); });
    EXPECT_NE(msg.find(std::string("type '") + c.first + "'"), std::string::npos) << c.first << ": " << msg;
    EXPECT_NE(msg.find(c.second), std::string::npos) << c.first << ": " << msg;
    EXPECT_NE(msg.find("bqnls"), std::string::npos) << "suggests usable types: " << msg;
  }
}

TEST(TaoForward, NotConvergedThrowsWithTaoReason) {
  std::unique_ptr<BoxQP> p = BoxQP::generate(PETSC_COMM_WORLD, instance(400, 7));
  ScopedOptions so(Options{{"-fold_fwd_type", "tao"}, {"-fold_fwd_tao_type", "bqnls"}, {"-fold_fwd_tao_max_it", "1"}});
  FoldedLayer layer(*p);
  layer.set_from_options();
  try {
    layer.forward(p->params());
    FAIL() << "a forward limited to 1 iteration converged";
  } catch (const foldopt::Error& e) {
    EXPECT_EQ(e.code(), PETSC_ERR_NOT_CONVERGED);
    EXPECT_NE(std::string(e.what()).find("DIVERGED_MAXITS"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("tao bqnls"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("-fold_fwd_tao_gatol"), std::string::npos) << "hint: " << e.what();
  }
}

class TaoWarmStart : public ::testing::TestWithParam<const char*> {};

TEST_P(TaoWarmStart, FewerIterations) {
  const std::string type = GetParam();
  std::unique_ptr<BoxQP> p = BoxQP::generate(PETSC_COMM_WORLD, instance(900, 13));
  ScopedOptions so(type == "default" ? Options{{"-fold_fwd_type", "tao"}}
                                     : Options{{"-fold_fwd_type", "tao"}, {"-fold_fwd_tao_type", type}});
  FoldedLayer layer(*p);
  layer.set_from_options();
  OwnedVec x0 = p->create_vec(), zero = p->create_vec(), d = p->create_vec();
  VecCopy(layer.forward(p->params()), x0);
  VecZeroEntries(zero);
  foldopt::fill_random(d, 5);
  std::vector<ParamSet> thetas;
  for (int k = 1; k <= 3; ++k) {
    thetas.push_back(p->params().copy());
    VecAXPY(thetas.back().get("q"), k * 1e-3, d);
  }
  std::vector<PetscInt> cold, warm;
  for (const ParamSet& t : thetas) {
    layer.set_solution(t, zero);
    layer.forward(t);
    cold.push_back(layer.forward_report().iterations);
  }
  layer.set_solution(p->params(), x0);
  for (const ParamSet& t : thetas) {
    layer.forward(t);  // from the previous x*
    warm.push_back(layer.forward_report().iterations);
  }
  for (std::size_t k = 0; k < thetas.size(); ++k) {
    EXPECT_LT(warm[k], cold[k]) << "step " << k + 1;
    PetscPrintf(PETSC_COMM_WORLD, "  [warm start, %s] step %zu: cold %" PetscInt_FMT ", warm %" PetscInt_FMT " iterations\n",
                layer.forward_report().solver.c_str(), k + 1, cold[k], warm[k]);
  }
}

// Not bqnls, blmvm (as many iterations warm as cold on this instance) nor bqpip (an interior point
// method starts from the interior whatever it is given).
INSTANTIATE_TEST_SUITE_P(Types, TaoWarmStart, ::testing::Values("default", "bnls", "gpcg", "bncg", "bqnkls"),
                         [](const ::testing::TestParamInfo<const char*>& i) { return std::string(i.param); });

// ---------------------------------------------------------------------------------------------
// A qp_box behind a problem that gives no assembled Hessian and does not say it is quadratic.

class MatrixFreeQp : public foldopt::Problem {
 public:
  explicit MatrixFreeQp(BoxQP& qp) : qp_(qp) {}
  ~MatrixFreeQp() override = default;
  std::string type() const override { return "matrix_free_qp"; }
  const foldopt::Layout& layout() const override { return qp_.layout(); }
  const ParamSet& params() const override { return qp_.params(); }
  std::string default_map() const override { return "pgd"; }
  PetscReal objective_gradient(Vec x, const ParamSet& t, Vec g) override { return qp_.objective_gradient(x, t, g); }
  void hessian_mult(Vec x, const ParamSet& t, Vec v, Vec y) override {
    ++products;
    qp_.hessian_mult(x, t, v, y);
  }
  void gradient_param_t(Vec x, const ParamSet& t, Vec v, ParamSet& out) override { qp_.gradient_param_t(x, t, v, out); }
  void gradient_param(Vec x, const ParamSet& t, const ParamSet& d, Vec y) override { qp_.gradient_param(x, t, d, y); }
  bool has_bounds() const override { return true; }
  void bounds(const ParamSet& t, Vec lb, Vec ub) override { qp_.bounds(t, lb, ub); }
  long products = 0;

 private:
  BoxQP& qp_;
};

std::unique_ptr<ForwardSolver> make_tao(foldopt::Problem& p) {
  ForwardContext c{PETSC_COMM_WORLD, &p, nullptr, "fold_fwd_"};
  return foldopt::forward_registry().create("forward solver", "tao", c);
}

TEST(TaoForward, MatrixFreeHessianAndQuadraticOnlyTypes) {
  std::unique_ptr<BoxQP> qp = BoxQP::generate(PETSC_COMM_WORLD, instance(400, 17));
  MatrixFreeQp p(*qp);
  for (const char* type : {"gpcg", "bqpip"}) {
    ScopedOptions so(Options{{"-fold_fwd_tao_type", type}});
    auto fwd = make_tao(p);
    const std::string msg = message_of([&] { fwd->set_from_options(); });
    EXPECT_NE(msg.find(std::string("type '") + type + "' handles only quadratic objectives"), std::string::npos) << msg;
  }
  for (const char* type : {"bnls", "tron"}) {
    ScopedOptions so(Options{{"-fold_fwd_tao_type", type}});
    auto fwd = make_tao(p);
    fwd->set_from_options();
    OwnedVec x = p.create_vec();
    VecZeroEntries(x);
    p.products = 0;
    foldopt::ForwardReport rep = fwd->solve(p.params(), x);
    EXPECT_GT(p.products, 0) << type << ": the Hessian is applied through hessian_mult";
    EXPECT_LE(max_abs_diff(x, qp->known_solution()), kSolutionTol) << type;
    PetscPrintf(PETSC_COMM_WORLD, "  [tao %s matrix-free] %" PetscInt_FMT " iterations, %s, %ld Hessian products\n", type,
                rep.iterations, rep.reason.c_str(), p.products);
  }
}

/// The qp_box objective without its bounds, θ = {q = H x₀} so that x* = x₀ (the generator's x*).
class UnboundedQp : public MatrixFreeQp {
 public:
  explicit UnboundedQp(BoxQP& qp) : MatrixFreeQp(qp), qp_(qp) {
    OwnedVec q = qp.create_vec();
    MatMult(qp.H(), qp.known_solution(), q);
    theta_.add("q", q);
    theta_.add("lb", qp.params().get("lb"));
    theta_.add("ub", qp.params().get("ub"));
  }
  std::string type() const override { return "unbounded_qp"; }
  const ParamSet& params() const override { return theta_; }
  bool has_bounds() const override { return false; }
  OwnedMat hessian(Vec x, const ParamSet& t) override { return qp_.hessian(x, t); }

 private:
  BoxQP& qp_;
  ParamSet theta_;
};

class TaoUnconstrained : public ::testing::TestWithParam<const char*> {};

TEST_P(TaoUnconstrained, KnownSolution) {
  const std::string type = GetParam();
  std::unique_ptr<BoxQP> qp = BoxQP::generate(PETSC_COMM_WORLD, instance(400, 23));
  UnboundedQp p(*qp);
  // lmvm's line search stalls near ‖g‖ ≈ 5e-8 here (f ≈ −283): give it a reachable gatol.
  const double tol = type == "lmvm" ? 1e-6 : kSolutionTol;
  ScopedOptions so(type == "default" ? Options{}
                   : type == "lmvm" ? Options{{"-fold_fwd_tao_type", type}, {"-fold_fwd_tao_gatol", "2e-7"}}
                                    : Options{{"-fold_fwd_tao_type", type}});
  auto fwd = make_tao(p);
  fwd->set_from_options();
  OwnedVec x = p.create_vec();
  VecZeroEntries(x);
  foldopt::ForwardReport rep = fwd->solve(p.params(), x);
  if (type == "default") EXPECT_EQ(rep.solver, "tao tron");
  EXPECT_LE(max_abs_diff(x, qp->known_solution()), tol) << type;
  PetscPrintf(PETSC_COMM_WORLD, "  [%s unconstrained] %" PetscInt_FMT " iterations, %s, |x - x*|_inf %.2e\n",
              rep.solver.c_str(), rep.iterations, rep.reason.c_str(), max_abs_diff(x, qp->known_solution()));
}

INSTANTIATE_TEST_SUITE_P(Types, TaoUnconstrained,
                         ::testing::Values("default", "lmvm", "cg", "nls", "ntr", "ntl", "bqnls", "bnls", "blmvm"),
                         [](const ::testing::TestParamInfo<const char*>& i) { return std::string(i.param); });

TEST(TaoForward, ConstrainedTypesNeedConstraints) {
  std::unique_ptr<BoxQP> qp = BoxQP::generate(PETSC_COMM_WORLD, instance(100, 19));
  for (const char* type : {"almm", "pdipm"}) {
    ScopedOptions so(Options{{"-fold_fwd_tao_type", type}});
    auto fwd = make_tao(*qp);
    const std::string msg = message_of([&] { fwd->set_from_options(); });
    EXPECT_NE(msg.find(std::string("type '") + type + "' needs general constraints"), std::string::npos) << msg;
  }
}

// ---------------------------------------------------------------------------------------------
// General constraints: min ½‖x − θ‖²  s.t.  ‖x‖² ≤ r²  (and Σx = s).
//
// Solution: with p the projection of θ onto {Σx = s} (p = θ) and c the point of that set nearest
// the origin (c = s/n·1, c = 0 without the equality), the feasible set is the ball of centre c and
// radius ρ = √(r² − ‖c‖²) in the affine set, so x* = c + ρ (p − c)/‖p − c‖ when ‖p − c‖ > ρ.

class BallProblem : public foldopt::Problem {
 public:
  enum class Bounds { none, upper_only, box };  ///< inactive at the solution (|x_i| ≤ r < 10)

  BallProblem(MPI_Comm comm, PetscInt n, PetscReal r, bool with_sum, Bounds bounds = Bounds::none, PetscReal s = 1.0)
      : r_(r), s_(s), with_sum_(with_sum), bounds_(bounds) {
    layout_.comm = comm;
    layout_.n = n;
    OwnedVec t;
    VecCreateMPI(comm, PETSC_DECIDE, n, t.out());
    VecGetLocalSize(t, &layout_.local);
    PetscInt lo, hi;
    VecGetOwnershipRange(t, &lo, &hi);
    for (PetscInt i = lo; i < hi; ++i) VecSetValue(t, i, 1.0 + 0.5 * std::sin(1.0 + i), INSERT_VALUES);
    VecAssemblyBegin(t);
    VecAssemblyEnd(t);
    theta_.add("theta", t);
  }
  std::string type() const override { return "ball"; }
  const foldopt::Layout& layout() const override { return layout_; }
  const ParamSet& params() const override { return theta_; }
  std::string default_map() const override { return "none"; }

  PetscReal objective_gradient(Vec x, const ParamSet& t, Vec g) override {
    OwnedVec d;
    VecDuplicate(x, d.out());
    VecWAXPY(d, -1.0, t.get("theta"), x);
    PetscReal nd;
    VecNorm(d, NORM_2, &nd);
    if (g) VecCopy(d, g);
    return 0.5 * nd * nd;
  }
  void hessian_mult(Vec, const ParamSet&, Vec v, Vec y) override { VecCopy(v, y); }
  OwnedMat hessian(Vec, const ParamSet&) override { return scaled_identity(1.0); }
  void gradient_param_t(Vec, const ParamSet&, Vec v, ParamSet& out) override {
    VecCopy(v, out[0].vec);
    VecScale(out[0].vec, -1.0);
  }
  void gradient_param(Vec, const ParamSet&, const ParamSet& d, Vec y) override {
    VecCopy(d.get("theta"), y);
    VecScale(y, -1.0);
  }

  bool has_bounds() const override { return bounds_ != Bounds::none; }
  /// lb = −10 (box) or −inf; ub = 10, or θ's block "ub" when it has one.
  void bounds(const ParamSet& t, Vec lb, Vec ub) override {
    VecSet(lb, bounds_ == Bounds::box ? -10.0 : -std::numeric_limits<PetscReal>::infinity());
    if (t.has("ub")) VecCopy(t.get("ub"), ub);
    else VecSet(ub, 10.0);
  }

  PetscInt num_equality() const override { return with_sum_ ? 1 : 0; }
  PetscInt num_inequality() const override { return 1; }
  void equality(Vec x, const ParamSet&, Vec c) override {
    PetscScalar sum;
    VecSum(x, &sum);
    set_scalar(c, sum - s_);
  }
  void inequality(Vec x, const ParamSet&, Vec c) override {
    PetscReal nx;
    VecNorm(x, NORM_2, &nx);
    set_scalar(c, nx * nx - r_ * r_);
  }
  OwnedMat equality_jacobian(Vec x, const ParamSet&) override { return row(x, 0.0, 1.0); }
  OwnedMat inequality_jacobian(Vec x, const ParamSet&) override { return row(x, 2.0, 0.0); }
  OwnedMat lagrangian_hessian(Vec, const ParamSet&, Vec, Vec y_ineq) override {
    PetscScalar y = 0;
    if (y_ineq) VecSum(y_ineq, &y);  // one constraint
    return scaled_identity(1.0 + 2.0 * PetscRealPart(y));
  }

  /// The analytic solution for the problem's own θ.
  OwnedVec solution() const {
    OwnedVec x;
    VecDuplicate(theta_.get("theta"), x.out());
    const PetscReal n = static_cast<PetscReal>(layout_.n);
    PetscReal c = 0, rho = r_;
    VecCopy(theta_.get("theta"), x);
    if (with_sum_) {
      PetscScalar sum;
      VecSum(x, &sum);
      VecShift(x, -(PetscRealPart(sum) - s_) / n);  // p
      c = s_ / n;
      rho = std::sqrt(r_ * r_ - n * c * c);
    }
    VecShift(x, -c);  // p − c
    PetscReal nd;
    VecNorm(x, NORM_2, &nd);
    EXPECT_GT(nd, rho) << "θ must lie outside the ball for the constraint to be active";
    VecScale(x, rho / nd);
    VecShift(x, c);
    return x;
  }

 private:
  OwnedMat scaled_identity(PetscReal a) const {
    OwnedMat m;
    MatCreateAIJ(layout_.comm, layout_.local, layout_.local, layout_.n, layout_.n, 1, nullptr, 0, nullptr, m.out());
    PetscInt lo, hi;
    MatGetOwnershipRange(m, &lo, &hi);
    for (PetscInt i = lo; i < hi; ++i) MatSetValue(m, i, i, a, INSERT_VALUES);
    MatAssemblyBegin(m, MAT_FINAL_ASSEMBLY);
    MatAssemblyEnd(m, MAT_FINAL_ASSEMBLY);
    return m;
  }
  /// The 1 × n matrix a·xᵀ + b·1ᵀ, its row split like create_constraint_vec(1).
  OwnedMat row(Vec x, PetscReal a, PetscReal b) const {
    OwnedVec c = create_constraint_vec(1);
    PetscInt mloc;
    VecGetLocalSize(c, &mloc);
    OwnedMat m;
    MatCreateAIJ(layout_.comm, mloc, layout_.local, 1, layout_.n, layout_.n, nullptr, layout_.n, nullptr, m.out());
    PetscInt lo, hi;
    VecGetOwnershipRange(x, &lo, &hi);
    const PetscScalar* xa;
    VecGetArrayRead(x, &xa);
    const PetscInt zero = 0;
    for (PetscInt i = lo; i < hi; ++i) MatSetValue(m, zero, i, a * xa[i - lo] + b, INSERT_VALUES);
    VecRestoreArrayRead(x, &xa);
    MatAssemblyBegin(m, MAT_FINAL_ASSEMBLY);
    MatAssemblyEnd(m, MAT_FINAL_ASSEMBLY);
    return m;
  }
  static void set_scalar(Vec c, PetscScalar v) {
    PetscInt lo, hi;
    VecGetOwnershipRange(c, &lo, &hi);
    if (lo == 0 && hi > 0) VecSetValue(c, 0, v, INSERT_VALUES);
    VecAssemblyBegin(c);
    VecAssemblyEnd(c);
  }

  foldopt::Layout layout_;
  ParamSet theta_;
  PetscReal r_, s_;
  bool with_sum_;
  Bounds bounds_;
};

class TaoConstrained : public ::testing::TestWithParam<std::tuple<const char*, bool, bool>> {};

TEST_P(TaoConstrained, MatchesAnalyticProjection) {
  const std::string type = std::get<0>(GetParam());
  const bool with_sum = std::get<1>(GetParam());
  const bool boxed = std::get<2>(GetParam());
  BallProblem p(PETSC_COMM_WORLD, 20, 1.0, with_sum, boxed ? BallProblem::Bounds::box : BallProblem::Bounds::none);
  ScopedOptions so(type == "default" ? Options{} : Options{{"-fold_fwd_tao_type", type}});
  auto fwd = make_tao(p);
  fwd->set_from_options();
  OwnedVec x = p.create_vec();
  VecZeroEntries(x);
  foldopt::ForwardReport rep = fwd->solve(p.params(), x);
  EXPECT_EQ(rep.solver, type == "default" ? std::string("tao almm") : "tao " + type);
  OwnedVec xs = p.solution();
  EXPECT_LE(max_abs_diff(x, xs), kSolutionTol) << type << (with_sum ? " ball+sum" : " ball");
  PetscPrintf(PETSC_COMM_WORLD, "  [%s %s] %" PetscInt_FMT " iterations, %s, |x - x*|_inf %.2e\n", rep.solver.c_str(),
              with_sum ? "ball+sum" : "ball", rep.iterations, rep.reason.c_str(), max_abs_diff(x, xs));
  // again from the solution (a second TaoSolve on the same object)
  rep = fwd->solve(p.params(), x);
  EXPECT_LE(max_abs_diff(x, xs), kSolutionTol) << type << " second solve";
}

INSTANTIATE_TEST_SUITE_P(Types, TaoConstrained,
                         ::testing::Combine(::testing::Values("default", "almm", "pdipm"), ::testing::Bool(),
                                            ::testing::Bool()),
                         [](const ::testing::TestParamInfo<std::tuple<const char*, bool, bool>>& i) {
                           return std::string(std::get<0>(i.param)) + (std::get<1>(i.param) ? "_ball_sum" : "_ball") +
                                  (std::get<2>(i.param) ? "_box" : "");
                         });

/// min ½‖x − θ‖² s.t. ‖x‖ ≤ r, x ≤ u (no equality): x = min(θ/(1 + 2μ), u) with μ ≥ 0 the root of
/// ‖x(μ)‖ = r (μ = 0 if ‖min(θ, u)‖ ≤ r), by bisection; every rank computes the whole vector.
std::vector<double> ball_below(const std::vector<PetscScalar>& theta, double u, double r) {
  auto x_of = [&](double mu) {
    std::vector<double> x(theta.size());
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::min(PetscRealPart(theta[i]) / (1 + 2 * mu), u);
    return x;
  };
  auto norm = [](const std::vector<double>& x) {
    double s = 0;
    for (double v : x) s += v * v;
    return std::sqrt(s);
  };
  if (norm(x_of(0)) <= r) return x_of(0);
  double lo = 0, hi = 1;
  while (norm(x_of(hi)) > r) hi *= 2;
  for (int it = 0; it < 200; ++it) {
    const double mid = 0.5 * (lo + hi);
    (norm(x_of(mid)) > r ? lo : hi) = mid;
  }
  return x_of(hi);
}

class TaoBoundsChange : public ::testing::TestWithParam<const char*> {};

// θ moves the upper bounds between solves on the same solver: almm keeps a copy of the bounds in
// its subsolver and pdipm sorts variables by which bounds are finite at set-up.
TEST_P(TaoBoundsChange, NewBoundsAreUsed) {
  const std::string type = GetParam();
  BallProblem p(PETSC_COMM_WORLD, 20, 1.0, false, BallProblem::Bounds::box);
  ScopedOptions so(Options{{"-fold_fwd_tao_type", type}});
  auto fwd = make_tao(p);
  fwd->set_from_options();
  OwnedVec x = p.create_vec(), u = p.create_vec();
  VecZeroEntries(x);
  const std::vector<PetscScalar> theta = foldopt_test::gather(p.params().get("theta"));
  const double inf = std::numeric_limits<double>::infinity();
  for (double ub : {10.0, 0.25, inf, 0.25}) {  // inactive, active, none (a new pattern), active
    ParamSet t = p.params().copy();
    VecSet(u, ub);
    t.add("ub", u);
    foldopt::ForwardReport rep = fwd->solve(t, x);
    const std::vector<double> want = ball_below(theta, ub, 1.0);
    const std::vector<PetscScalar> got = foldopt_test::gather(x);
    double err = 0;
    for (std::size_t i = 0; i < want.size(); ++i) err = std::max(err, std::abs(PetscRealPart(got[i]) - want[i]));
    EXPECT_LE(err, kSolutionTol) << type << " with ub = " << ub;
    PetscPrintf(PETSC_COMM_WORLD, "  [%s, ub = %g] %" PetscInt_FMT " iterations, %s, |x - x*|_inf %.2e\n", rep.solver.c_str(),
                ub, rep.iterations, rep.reason.c_str(), err);
  }
}

INSTANTIATE_TEST_SUITE_P(Types, TaoBoundsChange, ::testing::Values("almm", "pdipm"),
                         [](const ::testing::TestParamInfo<const char*>& i) { return std::string(i.param); });

TEST(TaoForward, PdipmRefusesUpperOnlyBounds) {
  BallProblem p(PETSC_COMM_WORLD, 10, 1.0, false, BallProblem::Bounds::upper_only);
  ScopedOptions so(Options{{"-fold_fwd_tao_type", "pdipm"}});
  auto fwd = make_tao(p);
  fwd->set_from_options();
  OwnedVec x = p.create_vec();
  VecZeroEntries(x);
  const std::string msg = message_of([&] { fwd->solve(p.params(), x); });
  EXPECT_NE(msg.find("type 'pdipm'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("upper bound and no lower bound"), std::string::npos) << msg;
  // almm takes them
  ScopedOptions so2(Options{{"-fold_fwd_tao_type", "almm"}});
  auto almm = make_tao(p);
  almm->set_from_options();
  almm->solve(p.params(), x);
  OwnedVec xs = p.solution();
  EXPECT_LE(max_abs_diff(x, xs), kSolutionTol);
}

TEST(TaoForward, ConstrainedProblemRefusesBoundOnlyTypes) {
  BallProblem p(PETSC_COMM_WORLD, 10, 1.0, true);
  ScopedOptions so(Options{{"-fold_fwd_tao_type", "bqnls"}});
  auto fwd = make_tao(p);
  const std::string msg = message_of([&] { fwd->set_from_options(); });
  EXPECT_NE(msg.find("type 'bqnls' does not handle equality constraints"), std::string::npos) << msg;
  EXPECT_NE(msg.find("almm, pdipm"), std::string::npos) << msg;
}

}  // namespace
