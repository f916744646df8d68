// The `closed` forward solver and BoxQP::closed_form.
//
// A qp_box with diagonal H built by hand (n = 60; entries free, at lb, at ub, some bounds
// infinite): -fold_fwd_type closed gives x = clamp(q ./ diag H, lb, ub) exactly (bitwise, against
// the same formula evaluated on gathered data), reports 0 iterations, and the layer's gradient of
// L = ⟨g, x*⟩ equals the one with the `snes` forward (relative difference ≤ 1e-8 per block q, lb,
// ub). H = I gives the box projection of q. On the generated qp_box (a Laplacian), closed_form
// declines with the reason and the layer's set-up with -fold_fwd_type closed throws an error
// naming 'closed' and the missing closed form; so does a problem without any closed form.
// Runs at np=1 and np=2.
#include "test_util.hpp"

#include <foldopt/checks.hpp>
#include <foldopt/error.hpp>
#include <foldopt/layer.hpp>
#include <foldopt/problems/qp_box.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using foldopt_test::rel_diff;

using foldopt::BoxQP;
using foldopt::FoldedLayer;
using foldopt::OwnedMat;
using foldopt::OwnedVec;
using foldopt::ParamSet;
using foldopt_test::ScopedOptions;
using Options = std::vector<std::pair<std::string, std::string>>;

constexpr PetscInt kN = 60;
const double kInf = std::numeric_limits<double>::infinity();

double hdiag(PetscInt i) { return 0.5 + 0.25 * static_cast<double>(i % 7); }

/// min ½ xᵀ H x − qᵀx on [lb, ub] with H = diag(h) (h = 1 when `identity`); q spread over
/// [−3, 3] so that about a third of the entries end below lb = −1, a third above ub = 1; every
/// fifth lower and every seventh upper bound infinite.
std::unique_ptr<BoxQP> diagonal_qp(bool identity) {
  OwnedMat H;
  MatCreateAIJ(PETSC_COMM_WORLD, PETSC_DECIDE, PETSC_DECIDE, kN, kN, 1, nullptr, 0, nullptr, H.out());
  PetscInt lo, hi;
  MatGetOwnershipRange(H, &lo, &hi);
  for (PetscInt i = lo; i < hi; ++i) MatSetValue(H, i, i, identity ? 1.0 : hdiag(i), INSERT_VALUES);
  MatAssemblyBegin(H, MAT_FINAL_ASSEMBLY);
  MatAssemblyEnd(H, MAT_FINAL_ASSEMBLY);
  OwnedVec q, lb, ub;
  MatCreateVecs(H, q.out(), nullptr);
  VecDuplicate(q, lb.out());
  VecDuplicate(q, ub.out());
  for (PetscInt i = lo; i < hi; ++i) {
    VecSetValue(q, i, 3.0 * std::sin(1.0 + 2.3 * i), INSERT_VALUES);
    VecSetValue(lb, i, i % 5 == 0 ? -kInf : -1.0, INSERT_VALUES);
    VecSetValue(ub, i, i % 7 == 0 ? kInf : 1.0, INSERT_VALUES);
  }
  for (Vec v : {q.get(), lb.get(), ub.get()}) {
    VecAssemblyBegin(v);
    VecAssemblyEnd(v);
  }
  return std::unique_ptr<BoxQP>(new BoxQP(H, q, lb, ub));
}


TEST(ClosedForward, DiagonalQpExactAndSnesGradient) {
  for (bool identity : {false, true}) {
    std::unique_ptr<BoxQP> p = diagonal_qp(identity);
    OwnedVec g = p->create_vec();
    foldopt::fill_random(g, 42);
    ParamSet grad_closed, grad_snes;
    std::vector<PetscScalar> x_closed;
    {
      ScopedOptions so(Options{{"-fold_fwd_type", "closed"}});
      FoldedLayer layer(*p);
      layer.set_from_options();
      x_closed = foldopt_test::gather(layer.forward(p->params()));
      EXPECT_EQ(layer.forward_report().solver, "closed qp_box");
      EXPECT_EQ(layer.forward_report().iterations, 0);
      EXPECT_TRUE(layer.forward_report().converged);
      grad_closed = layer.backward(g).copy();
      EXPECT_LE(layer.fixed_point_residual(), 1e-14) << "x* is a fixed point of the PGD map up to rounding";
    }
    {
      ScopedOptions so(Options{{"-fold_fwd_type", "snes"}});
      FoldedLayer layer(*p);
      layer.set_from_options();
      layer.forward(p->params());
      grad_snes = layer.backward(g).copy();
    }
    // x = clamp(q / h, lb, ub), from gathered data.
    const std::vector<PetscScalar> q = foldopt_test::gather(p->params().get("q"));
    const std::vector<PetscScalar> lb = foldopt_test::gather(p->params().get("lb"));
    const std::vector<PetscScalar> ub = foldopt_test::gather(p->params().get("ub"));
    ASSERT_EQ(x_closed.size(), static_cast<std::size_t>(kN));
    int free = 0, at_lb = 0, at_ub = 0;
    for (PetscInt i = 0; i < kN; ++i) {
      const double h = identity ? 1.0 : hdiag(i);
      const double want = std::min(std::max(PetscRealPart(q[i]) / h, PetscRealPart(lb[i])), PetscRealPart(ub[i]));
      EXPECT_EQ(PetscRealPart(x_closed[i]), want) << "entry " << i;
      if (want == PetscRealPart(lb[i])) ++at_lb;
      else if (want == PetscRealPart(ub[i])) ++at_ub;
      else ++free;
    }
    EXPECT_GT(free, 0);
    EXPECT_GT(at_lb, 0);
    EXPECT_GT(at_ub, 0);
    for (const char* b : {"q", "lb", "ub"})
      EXPECT_LE(rel_diff(grad_closed.get(b), grad_snes.get(b)), 1e-8) << (identity ? "H = I" : "H diagonal") << ", block " << b;
  }
}

TEST(ClosedForward, LaplacianQpHasNoClosedForm) {
  foldopt::BoxQPGenerator gen;
  gen.n = 400;
  gen.seed = 3;
  std::unique_ptr<BoxQP> p = BoxQP::generate(PETSC_COMM_WORLD, gen);
  OwnedVec x = p->create_vec();
  std::string why;
  EXPECT_FALSE(p->closed_form(p->params(), x, &why));
  EXPECT_EQ(why, "qp_box has a closed form only when H is diagonal");
  ScopedOptions so(Options{{"-fold_fwd_type", "closed"}});
  FoldedLayer layer(*p);
  try {
    layer.set_from_options();
    FAIL() << "set-up accepted -fold_fwd_type closed on a Laplacian qp_box";
  } catch (const foldopt::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("forward solver 'closed'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("closed form only when H is diagonal"), std::string::npos) << msg;
    EXPECT_TRUE(e.collective());
  }
}

/// A problem that keeps Problem's default closed_form (none).
class NoClosedForm : public foldopt::Problem {
 public:
  explicit NoClosedForm(BoxQP& qp) : qp_(qp) {}
  std::string type() const override { return "no_closed_form"; }
  const foldopt::Layout& layout() const override { return qp_.layout(); }
  const ParamSet& params() const override { return qp_.params(); }
  std::string default_map() const override { return "pgd"; }
  PetscReal objective_gradient(Vec x, const ParamSet& t, Vec g) override { return qp_.objective_gradient(x, t, g); }
  void hessian_mult(Vec x, const ParamSet& t, Vec v, Vec y) override { qp_.hessian_mult(x, t, v, y); }
  void gradient_param_t(Vec x, const ParamSet& t, Vec v, ParamSet& out) override { qp_.gradient_param_t(x, t, v, out); }
  void gradient_param(Vec x, const ParamSet& t, const ParamSet& d, Vec y) override { qp_.gradient_param(x, t, d, y); }
  bool has_bounds() const override { return true; }
  void bounds(const ParamSet& t, Vec lb, Vec ub) override { qp_.bounds(t, lb, ub); }

 private:
  BoxQP& qp_;
};

TEST(ClosedForward, ProblemWithoutClosedFormRefused) {
  std::unique_ptr<BoxQP> qp = diagonal_qp(false);
  NoClosedForm p(*qp);
  ScopedOptions so(Options{{"-fold_fwd_type", "closed"}});
  FoldedLayer layer(p);
  try {
    layer.set_from_options();
    FAIL() << "set-up accepted -fold_fwd_type closed without a closed form";
  } catch (const foldopt::Error& e) {
    EXPECT_NE(std::string(e.what()).find("forward solver 'closed': problem 'no_closed_form' has no closed-form solution"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
