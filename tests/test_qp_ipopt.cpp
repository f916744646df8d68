// IPOPT solves the `qp` problem through the constraints it exposes (equalities A_E x = l_E, finite
// sides as inequalities) to the planted solution x* of the generated instance. A program of its
// own: it skips (exit 77) without IPOPT and under AddressSanitizer, which cannot load the plugin.
// Runs at np=1 and np=2.
#include "reference.hpp"
#include "test_util.hpp"

#include <foldopt/error.hpp>
#include <foldopt/forward.hpp>
#include <foldopt/problems/qp.hpp>

#include "forward/ipopt/ipopt_forward.hpp"

#include <memory>
#include <string>

namespace {

TEST(QpIpopt, FindsThePlantedSolution) {
  if (!foldopt::ipopt_built_in()) GTEST_SKIP() << "built without IPOPT";
  if (foldopt_test::address_sanitizer_on())
    GTEST_SKIP() << "AddressSanitizer cannot load the IPOPT plugin (dlopen with RTLD_DEEPBIND)";
  foldopt::QPGenerator gen;
  gen.n = 25;
  gen.m = 25;
  gen.seed = 21;
  std::unique_ptr<foldopt::QP> p = foldopt::QP::generate(PETSC_COMM_WORLD, gen);
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

}  // namespace
