// The `snes` forward solver: nrichardson with the basic line search is the plain iteration
// x_{k+1} = U(x_k); anderson and ngmres accelerate it to the same fixed point.
#include "test_util.hpp"

#include <foldopt/layer.hpp>
#include <foldopt/maps/pgd.hpp>
#include <foldopt/problems/qp_box.hpp>

#include <memory>
#include <string>

namespace {

using foldopt::BoxQP;
using foldopt::BoxQPGenerator;
using foldopt::FoldedLayer;
using foldopt::OwnedVec;
using foldopt_test::rel_diff;
using foldopt_test::ScopedOptions;

std::unique_ptr<BoxQP> make_problem() {
  BoxQPGenerator gen;
  gen.n = 400;
  gen.seed = 5;
  return BoxQP::generate(PETSC_COMM_WORLD, gen);
}

TEST(SnesForward, NRichardsonIsThePlainIteration) {
  std::unique_ptr<BoxQP> p = make_problem();
  for (int k : {1, 7, 25}) {
    ScopedOptions so({{"-fold_fwd_type", "snes"},
                      {"-fold_fwd_snes_max_it", std::to_string(k)},
                      {"-fold_fwd_snes_convergence_test", "skip"}});
    FoldedLayer layer(*p);
    layer.set_from_options();
    Vec x = layer.forward(p->params());  // from x0 = 0
    EXPECT_EQ(layer.forward_report().iterations, k);
    // The same k steps by hand.
    foldopt::PgdMap map(*p);
    OwnedVec y = p->create_vec(), z = p->create_vec();
    VecZeroEntries(y);
    for (int i = 0; i < k; ++i) {
      map.apply(y, p->params(), z);
      VecCopy(z, y);
    }
    EXPECT_LE(rel_diff(x, y), 1e-14) << "k = " << k;
  }
}

TEST(SnesForward, AcceleratedTypesReachTheKnownSolution) {
  std::unique_ptr<BoxQP> p = make_problem();
  for (const char* type : {"nrichardson", "anderson", "ngmres"}) {
    ScopedOptions so({{"-fold_fwd_type", "snes"}, {"-fold_fwd_snes_type", type}});
    FoldedLayer layer(*p);
    layer.set_from_options();
    Vec x = layer.forward(p->params());
    EXPECT_TRUE(layer.forward_report().converged) << type;
    EXPECT_EQ(layer.forward_report().solver, std::string("snes ") + type);
    EXPECT_LE(rel_diff(x, p->known_solution()), 1e-9) << type;
  }
}

}  // namespace
