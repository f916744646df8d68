// IPOPT solves the `qp` problem through the constraints it exposes (equalities A_E x = l_E, finite
// sides as inequalities) to the planted solution x* of the generated instance. A program of its
// own: it skips (exit 77) without IPOPT and under AddressSanitizer, which cannot load the plugin.
// As the admm map's forward, IPOPT's x* and multipliers give the map's state and the admm
// forward's gradient. Runs at np=1 and np=2.
#include "reference.hpp"
#include "test_util.hpp"

#include <foldopt/error.hpp>
#include <foldopt/checks.hpp>
#include <foldopt/forward.hpp>
#include <foldopt/layer.hpp>
#include <foldopt/problems/qp.hpp>

#include "ipopt_skip.hpp"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

/// The generated instance of n = m = 25 (seed 21) with `batch` instances.
std::unique_ptr<foldopt::QP> planted(PetscInt batch) {
  foldopt::QPGenerator gen;
  gen.n = 25;
  gen.m = 25;
  gen.seed = 21;
  gen.batch = batch;
  return foldopt::QP::generate(PETSC_COMM_WORLD, gen);
}

TEST(QpIpopt, FindsThePlantedSolution) {
  SKIP_WITHOUT_IPOPT();
  std::unique_ptr<foldopt::QP> p = planted(1);
  ASSERT_GT(p->num_equality(), 0);
  ASSERT_GT(p->num_inequality(), 0);
  foldopt::ForwardContext ctx{PETSC_COMM_WORLD, p.get(), nullptr, "qpfwd_"};
  std::unique_ptr<foldopt::ForwardSolver> f = foldopt::forward_registry().create("forward solver", "ipopt", ctx);
  f->set_from_options();
  foldopt::OwnedVec x = p->create_vec();
  VecZeroEntries(x);
  foldopt::ForwardReport rep;
  ASSERT_NO_THROW(rep = f->solve(p->params(), x));
  EXPECT_TRUE(rep.converged) << rep.reason;
  const double err = (foldopt_ref::to_eigen(x) - foldopt_ref::to_eigen(p->known_solution())).lpNorm<Eigen::Infinity>();
  EXPECT_LE(err, 1e-6);
  EXPECT_GT(foldopt_ref::to_eigen(x).norm(), 0.1) << "a nonzero solution";
}

// IPOPT as the admm map's forward: x* and its multipliers make the map's state, and the gradient
// equals the one through the admm forward (checked against a dense KKT reference in test_admm).
TEST(QpIpopt, ForwardOfTheAdmmMap) {
  SKIP_WITHOUT_IPOPT();
  std::unique_ptr<foldopt::QP> p = planted(2);
  foldopt::OwnedVec g = p->create_vec();
  foldopt::fill_random(g, 5);
  std::vector<foldopt::ParamSet> grads;
  for (const char* fwd : {"admm", "ipopt"}) {
    foldopt_test::ScopedOptions so(std::vector<std::pair<std::string, std::string>>{{"-fold_fwd_type", fwd}});
    foldopt::FoldedLayer layer(*p);
    layer.set_check_minimum(false);
    layer.set_from_options();
    layer.forward(p->params());
    EXPECT_EQ(layer.forward_report().solver.rfind(fwd, 0), 0u) << layer.forward_report().solver;
    grads.push_back(layer.backward(g).copy());
  }
  for (const char* b : {"q", "l", "u", "P.values", "A.values"}) {
    ASSERT_GT(foldopt_ref::to_eigen(grads[0].get(b)).norm(), 1e-3) << b << ": a zero reference";
    EXPECT_LE(foldopt_ref::rel_err(foldopt_ref::to_eigen(grads[1].get(b)), foldopt_ref::to_eigen(grads[0].get(b))), 1e-8) << b;
  }
}

}  // namespace
