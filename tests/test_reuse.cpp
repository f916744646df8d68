// Tests of reuse across backward calls: -fold_pc_reuse (a kept preconditioner and when it is
// rebuilt) and -fold_ksp_initial_guess previous.
//
// Method: a box-QP (n = 400, 2-D Laplacian + shift, generated with a known solution) through
//   FoldedLayer in a loop of backwards where θ (q) moves a little; every gradient is compared
//   with a dense Eigen reference computed from gathered data only (reduced KKT solve:
//   ∂L/∂q_F = H_FF⁻¹ g_F, tests/reference.hpp). A step that moves many bounds is built from the
//   KKT conditions (x_new with chosen entries at lb, q = H x_new − μ), so its solution is known.
// References: tests/reference.hpp (the dense reference of the box-QP gradient).
#include "reference.hpp"
#include "test_util.hpp"

#include <foldopt/foldopt.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using foldopt::AdjointReport;
using foldopt::BoxQP;
using foldopt::BoxQPGenerator;
using foldopt::FoldedLayer;
using foldopt::OwnedVec;
using foldopt::ParamSet;
using foldopt_ref::MatrixXd;
using foldopt_ref::VectorXd;
using foldopt_test::ScopedOptions;
using Options = std::vector<std::pair<std::string, std::string>>;

constexpr double kGradTol = 1e-8;

std::unique_ptr<BoxQP> make_problem(unsigned long seed = 7) {
  BoxQPGenerator gen;
  gen.n = 400;
  gen.seed = seed;
  return BoxQP::generate(PETSC_COMM_WORLD, gen);
}

/// θ with q moved by `eps` times a random vector in [-1, 1] (the same at any number of ranks).
void nudge_q(ParamSet& theta, double eps, unsigned long seed) {
  OwnedVec r;
  VecDuplicate(theta.get("q"), r.out());
  foldopt::fill_random(r, seed);
  VecAXPY(theta.get("q"), eps, r);
}

/// The dense reference gradient of L = ⟨g, x*⟩ at x with the q of θ (H and the bounds the problem's).
foldopt_ref::QpGradient reference(BoxQP& p, const ParamSet& theta, Vec x, Vec g, foldopt_ref::ActiveSet* set = nullptr) {
  const MatrixXd H = foldopt_ref::gather_dense(p.H());
  const VectorXd lb = foldopt_ref::to_eigen(theta.get("lb")), ub = foldopt_ref::to_eigen(theta.get("ub"));
  const foldopt_ref::ActiveSet s = foldopt_ref::classify(foldopt_ref::to_eigen(x), lb, ub);
  EXPECT_TRUE(s.ok) << "x* is not strictly complementary: the reference would not be meaningful";
  if (set) *set = s;
  return foldopt_ref::box_qp_gradient(H, s, foldopt_ref::to_eigen(g));
}

void expect_gradient(const ParamSet& grad, const foldopt_ref::QpGradient& ref, const std::string& what) {
  const std::pair<const char*, const VectorXd*> blocks[] = {{"q", &ref.q}, {"lb", &ref.lb}, {"ub", &ref.ub}};
  for (const auto& b : blocks) {
    const VectorXd got = foldopt_ref::to_eigen(grad.get(b.first));
    ASSERT_GT(b.second->norm(), 0) << what << ": reference block " << b.first << " is zero";
    EXPECT_LE(foldopt_ref::rel_err(got, *b.second), kGradTol) << what << ": block " << b.first;
  }
}

/// A θ step that moves many bounds, with a known solution: from the solution x (free set F,
/// multipliers μ = Hx − q), every `stride`-th free entry with a finite lower bound goes to lb
/// with multiplier 1, and q = H x_new − μ_new. The entries moved are returned.
PetscInt move_bounds(BoxQP& p, ParamSet& theta, Vec x, int stride) {
  const MatrixXd H = foldopt_ref::gather_dense(p.H());
  VectorXd xv = foldopt_ref::to_eigen(x);
  const VectorXd q = foldopt_ref::to_eigen(theta.get("q")), lb = foldopt_ref::to_eigen(theta.get("lb"));
  const foldopt_ref::ActiveSet s = foldopt_ref::classify(xv, lb, foldopt_ref::to_eigen(theta.get("ub")));
  VectorXd mu = H * xv - q;
  for (int i : s.free) mu[i] = 0;  // exactly stationary there
  PetscInt moved = 0, k = 0;
  for (int i : s.free) {
    if (!std::isfinite(lb[i]) || k++ % stride) continue;
    xv[i] = lb[i];
    mu[i] = 1;
    ++moved;
  }
  const VectorXd qn = H * xv - mu;
  OwnedVec v = foldopt_ref::from_eigen(qn);
  VecCopy(v, theta.get("q"));
  return moved;
}

ParamSet staged_backward(FoldedLayer& layer, Vec g, PetscLogStage stage);

struct Loop {
  std::vector<AdjointReport> reports;
};

/// Forward and backward at θ; the gradient checked against the reference; the report kept.
void step(FoldedLayer& layer, BoxQP& p, ParamSet& theta, Vec g, Loop& loop, const std::string& what,
          PetscLogStage stage = -1) {
  Vec x = layer.forward(theta);
  ParamSet grad = stage >= 0 ? staged_backward(layer, g, stage) : layer.backward(g);
  const AdjointReport& r = layer.adjoint().report();
  EXPECT_TRUE(r.converged) << what;
  loop.reports.push_back(r);
  expect_gradient(grad, reference(p, theta, x, g), what + " (" + r.method + ")");
}

/// What every test starts from: a box-QP, a layer over it with the options, θ, and a loss gradient g.
struct Case {
  std::unique_ptr<BoxQP> p;
  ScopedOptions so;  // before the layer: its set_from_options reads them
  std::unique_ptr<FoldedLayer> layer;
  ParamSet theta;
  OwnedVec g;
  Loop loop;
  explicit Case(const Options& opts, unsigned long seed = 7, unsigned long g_seed = 42)
      : p(make_problem(seed)), so(opts), layer(new FoldedLayer(*p)) {
    layer->set_from_options();
    theta = p->params().copy();
    g = p->create_vec();
    foldopt::fill_random(g, g_seed);
  }
  void step(const std::string& what, PetscLogStage stage = -1) { ::step(*layer, *p, theta, g, loop, what, stage); }
};

/// PCSetUp events PETSc logged inside the backwards run under `stage` so far (PETSc's own count,
/// beside the report's; the forward's and the minimum check's solvers are outside the stage or off).
int pc_setup_events(PetscLogStage stage) { return foldopt_test::event_count("PCSetUp", stage); }

/// backward(g) inside the log stage.
ParamSet staged_backward(FoldedLayer& layer, Vec g, PetscLogStage stage) {
  PetscLogStagePush(stage);
  ParamSet grad = layer.backward(g);
  PetscLogStagePop();
  return grad;
}

PetscLogStage backward_stage() {
  static PetscLogStage stage = -1;
  if (stage < 0) {
    PetscLogDefaultBegin();
    PetscLogStageRegister("reuse test backward", &stage);
  }
  return stage;
}

struct Config {
  const char* name;
  Options opts;
};

class ReuseLoop : public ::testing::TestWithParam<int> {};

const std::vector<Config>& configs() {
  static const std::vector<Config> c = {
      {"gamg", {{"-fold_pc_type", "gamg"}}},
      {"bjacobi_ilu", {{"-fold_pc_type", "bjacobi"}, {"-fold_sub_pc_type", "ilu"}}},
      {"hypre", {{"-fold_pc_type", "hypre"}}},
      {"asm", {{"-fold_pc_type", "asm"}}},
      {"symmetric_gamg", {{"-fold_adjoint_form", "symmetric"}, {"-fold_pc_type", "gamg"}}},
  };
  return c;
}

// Six backwards with slightly moving q: the active set stays, one set-up serves all, and every
// gradient matches the reference.
TEST_P(ReuseLoop, OneSetupWhileTheActiveSetStays) {
  const Config& c = configs()[GetParam()];
  Options opts = c.opts;
  opts.emplace_back("-fold_pc_reuse", "");
  opts.emplace_back("-fold_check_minimum", "0");  // its eigensolver's PCs stay out of the count
  Case s(opts);
  const PetscLogStage stage = backward_stage();
  int after_first = 0;
  const int before = pc_setup_events(stage);
  for (int k = 0; k < 6; ++k) {
    if (k) nudge_q(s.theta, 1e-3, 100 + k);
    s.step(std::string(c.name) + " step " + std::to_string(k), stage);
    if (k == 0) after_first = pc_setup_events(stage);
  }
  EXPECT_GT(after_first, before);
  EXPECT_EQ(pc_setup_events(stage), after_first) << "PETSc set a preconditioner up again";
  ASSERT_EQ(s.loop.reports.size(), 6u);
  EXPECT_FALSE(s.loop.reports[0].pc_reused);
  EXPECT_EQ(s.loop.reports[0].pc_rebuild_reason, "first solve");
  for (int k = 1; k < 6; ++k) {
    const AdjointReport& r = s.loop.reports[k];
    EXPECT_TRUE(r.pc_reuse) << k;
    EXPECT_TRUE(r.pc_reused) << k << ": " << r.pc_rebuild_reason;
    EXPECT_EQ(r.pc_age, k);
    EXPECT_EQ(r.structure_change, 0) << k;
    EXPECT_EQ(r.pc_setups, 1) << k;
    EXPECT_LT(r.setup_seconds, s.loop.reports[0].setup_seconds + 1) << k;  // (no assembly: not asserted tightly)
  }
}

INSTANTIATE_TEST_SUITE_P(Pcs, ReuseLoop, ::testing::Range(0, (int)configs().size()),
                         [](const ::testing::TestParamInfo<int>& info) { return std::string(configs()[info.param].name); });

// Without -fold_pc_reuse every backward sets its preconditioner up again.
TEST(Reuse, OffRebuildsEveryTime) {
  Case s(Options{{"-fold_pc_type", "gamg"}, {"-fold_check_minimum", "0"}});
  const PetscLogStage stage = backward_stage();
  int after_first = 0;
  for (int k = 0; k < 3; ++k) {
    if (k) nudge_q(s.theta, 1e-3, 200 + k);
    s.step("reuse off, step " + std::to_string(k), stage);
    if (k == 0) after_first = pc_setup_events(stage);
  }
  EXPECT_GT(pc_setup_events(stage), after_first) << "PETSc did not set the preconditioner up again";
  for (int k = 0; k < 3; ++k) {
    EXPECT_FALSE(s.loop.reports[k].pc_reuse);
    EXPECT_FALSE(s.loop.reports[k].pc_reused);
    EXPECT_EQ(s.loop.reports[k].pc_setups, k + 1);
  }
}

// A θ step that moves many bounds (well above 1 % of the entries) rebuilds, and says why; a step
// that moves fewer than the fraction keeps the PC.
TEST(Reuse, ManyBoundsMovedRebuilds) {
  Case s(Options{{"-fold_pc_type", "gamg"}, {"-fold_pc_reuse", ""}, {"-fold_pc_reuse_fraction", "0.05"}});
  Vec x = s.layer->forward(s.theta);
  s.layer->backward(s.g);
  s.loop.reports.push_back(s.layer->adjoint().report());
  // Few: every 40th free entry (about 1 % of n) -> below 5 %: reused.
  const PetscInt few = move_bounds(*s.p, s.theta, x, 40);
  ASSERT_GT(few, 0);
  ASSERT_LT(few, 0.05 * 400);
  s.step("few bounds moved");
  EXPECT_TRUE(s.loop.reports[1].pc_reused) << s.loop.reports[1].pc_rebuild_reason;
  EXPECT_NEAR(s.loop.reports[1].structure_change, few / 400.0, 1e-12);
  // Many: every 4th free entry (> 5 % of n, counted since the build) -> rebuilt.
  const PetscInt many = move_bounds(*s.p, s.theta, s.layer->solution(), 4);
  ASSERT_GT(few + many, 0.05 * 400);
  s.step("many bounds moved");
  const AdjointReport& r = s.loop.reports[2];
  EXPECT_FALSE(r.pc_reused);
  EXPECT_NE(r.pc_rebuild_reason.find("structure change"), std::string::npos) << r.pc_rebuild_reason;
  EXPECT_NE(r.pc_rebuild_reason.find("> 5%"), std::string::npos) << r.pc_rebuild_reason;
  EXPECT_NEAR(r.structure_change, (few + many) / 400.0, 1e-12);
  EXPECT_EQ(r.pc_setups, 2);
  // The next small step is measured against the new build.
  nudge_q(s.theta, 1e-4, 301);
  s.step("after the rebuild");
  EXPECT_TRUE(s.loop.reports[3].pc_reused);
  EXPECT_EQ(s.loop.reports[3].structure_change, 0);
  EXPECT_EQ(s.loop.reports[3].pc_setups, 2);
}

// A tiny -fold_pc_reuse_max_growth: the first reused solve counts as grown; its result stands
// (converged, right gradient) and the next backward rebuilds, saying why.
TEST(Reuse, GrowthBoundRebuildsAtTheNextBackward) {
  Case s(Options{{"-fold_pc_type", "bjacobi"}, {"-fold_pc_reuse", ""}, {"-fold_pc_reuse_max_growth", "0.01"}});
  for (int k = 0; k < 4; ++k) {
    if (k) nudge_q(s.theta, 1e-3, 400 + k);
    s.step("growth step " + std::to_string(k));
  }
  EXPECT_EQ(s.loop.reports[0].pc_rebuild_reason, "first solve");
  EXPECT_TRUE(s.loop.reports[0].pc_next.empty());
  EXPECT_TRUE(s.loop.reports[1].pc_reused);
  EXPECT_NE(s.loop.reports[1].pc_next.find("iterations"), std::string::npos) << s.loop.reports[1].pc_next;
  EXPECT_FALSE(s.loop.reports[2].pc_reused);
  EXPECT_NE(s.loop.reports[2].pc_rebuild_reason.find("> 0.01 x"), std::string::npos) << s.loop.reports[2].pc_rebuild_reason;
  EXPECT_EQ(s.loop.reports[2].pc_setups, 2);
  EXPECT_TRUE(s.loop.reports[3].pc_reused);
  // The default bound (2) would have kept it: the same operator needs the same iterations.
  EXPECT_EQ(s.loop.reports[1].iterations, s.loop.reports[0].iterations);
}

// A reused PC that does not converge within -fold_ksp_max_it is rebuilt at once and the solve
// redone: the gradient is right and the report says why.
TEST(Reuse, FailedReuseIsRedoneWithAFreshPreconditioner) {
  // A PC built at one active set, then many bounds moved with the fraction test off (F = 1).
  Case s(Options{{"-fold_pc_type", "bjacobi"}, {"-fold_pc_reuse", ""}, {"-fold_pc_reuse_fraction", "1"},
                  {"-fold_pc_reuse_max_growth", "1e6"}});
  Vec x = s.layer->forward(s.theta);
  s.layer->backward(s.g);
  const PetscInt fresh = s.layer->adjoint().report().iterations;
  move_bounds(*s.p, s.theta, x, 2);
  // The fresh PC at the new active set: its iteration count, from a separate layer.
  PetscInt fresh_new = 0;
  {
    FoldedLayer other(*s.p);
    other.set_from_options();
    other.forward(s.theta);
    other.backward(s.g);
    fresh_new = other.adjoint().report().iterations;
  }
  {
    // max_it just above what a fresh PC needs at the new set; the kept one needs more (checked).
    KSPSetTolerances(s.layer->adjoint().ksp(), PETSC_DEFAULT, PETSC_DEFAULT, PETSC_DEFAULT, fresh_new + 1);
    s.step("stale PC");
  }
  const AdjointReport& r = s.loop.reports[0];
  ASSERT_FALSE(r.pc_reused) << "the kept PC converged within " << fresh_new + 1 << " iterations (fresh " << fresh
                            << "): the instance does not reach the retry";
  EXPECT_NE(r.pc_rebuild_reason.find("did not converge"), std::string::npos) << r.pc_rebuild_reason;
  EXPECT_EQ(r.pc_setups, 2);
  EXPECT_LE(r.iterations, fresh_new + 1);
}

// -fold_ksp_initial_guess previous with the same g twice: the second solve starts at the answer
// (at most one iteration) and the gradient is right; the report shows the guess's residual.
TEST(Reuse, PreviousGuessSameRightHandSide) {
  const Options forms[] = {{{"-fold_pc_type", "gamg"}},
                           {{"-fold_adjoint_form", "symmetric"}, {"-fold_pc_type", "gamg"}},
                           {}};
  for (const Options& form : forms) {
    Options opts = form;
    opts.emplace_back("-fold_ksp_initial_guess", "previous");
    Case s(opts, 11, 43);
    s.step("first");
    s.step("same g again");
    const std::string what = s.loop.reports[0].method;
    EXPECT_EQ(s.loop.reports[0].initial_guess, "zero") << what;
    EXPECT_LT(s.loop.reports[0].initial_residual, 0) << what;
    EXPECT_GT(s.loop.reports[0].iterations, 3) << what;
    EXPECT_EQ(s.loop.reports[1].initial_guess, "previous") << what;
    EXPECT_LE(s.loop.reports[1].iterations, 1) << what;
    EXPECT_GE(s.loop.reports[1].initial_residual, 0) << what;
    EXPECT_LE(s.loop.reports[1].initial_residual, 1e-8) << what;
    // A nearby θ and another g: fewer iterations than from zero, the right gradient.
    nudge_q(s.theta, 1e-3, 500);
    OwnedVec g2 = s.p->create_vec();
    foldopt::fill_random(g2, 44);
    VecAYPX(g2, 0.05, s.g);  // g + 0.05 r
    step(*s.layer, *s.p, s.theta, g2, s.loop, "nearby g");
    EXPECT_EQ(s.loop.reports[2].initial_guess, "previous") << what;
    EXPECT_LT(s.loop.reports[2].initial_residual, 0.2) << what;
    EXPECT_LT(s.loop.reports[2].iterations, s.loop.reports[0].iterations) << what;
  }
}

// A guess worse than zero (g reversed: residual 2) is dropped for the zero guess.
TEST(Reuse, PreviousGuessWorseThanZeroIsDropped) {
  Case s(Options{{"-fold_ksp_initial_guess", "previous"}});
  s.step("first");
  VecScale(s.g, -1.0);
  s.step("reversed g");
  EXPECT_NE(s.loop.reports[1].initial_guess.find("previous dropped"), std::string::npos) << s.loop.reports[1].initial_guess;
  EXPECT_LT(s.loop.reports[1].initial_residual, 0);
}

// The report lines of -fold_view.
TEST(Reuse, ViewReportsReuseAndGuess) {
  Case s(Options{{"-fold_pc_type", "gamg"}, {"-fold_pc_reuse", ""}, {"-fold_ksp_initial_guess", "previous"}});
  const std::string dir = foldopt_test::temp_dir("reuse_view");
  int calls = 0;
  auto text = [&] {
    const std::string path = dir + "/view" + std::to_string(calls++) + ".txt";
    PetscViewer v;
    PetscViewerASCIIOpen(PETSC_COMM_WORLD, path.c_str(), &v);
    s.layer->adjoint().view(v);
    PetscViewerDestroy(&v);
    MPI_Barrier(PETSC_COMM_WORLD);
    std::ifstream f(path);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  };
  s.layer->forward(s.theta);
  s.layer->backward(s.g);
  const std::string first = text();
  EXPECT_NE(first.find("preconditioner rebuilt: first solve; 1 set-ups so far"), std::string::npos) << first;
  nudge_q(s.theta, 1e-3, 600);
  s.layer->forward(s.theta);
  s.layer->backward(s.g);
  const std::string second = text();
  EXPECT_NE(second.find("preconditioner reused (built 1 backwards ago, structure change 0% <= 1%), 1 set-ups so far"),
            std::string::npos)
      << second;
  EXPECT_NE(second.find("initial guess previous (relative residual"), std::string::npos) << second;
}

// Jacobi on the operator's own diagonal (a shell: nothing assembled) has nothing to keep: with
// -fold_pc_reuse or without, each backward takes the diagonal at its own linearization.
TEST(Reuse, ShellJacobiTakesEachLinearizationsDiagonal) {
  Case s(Options{{"-fold_pc_type", "jacobi"}, {"-fold_pc_reuse", ""}, {"-fold_check_minimum", "0"}});
  // A map with diag(Φ) but no assembled Φ: Jacobi acts on the shell's diagonal.
  FoldedLayer shell(std::unique_ptr<foldopt::UpdateMap>(new foldopt_ref::NoAssembleMap(*s.p, true)));
  shell.set_from_options();
  const PetscLogStage stage = backward_stage();
  Vec x = s.layer->forward(s.theta);
  shell.set_solution(s.theta, x);
  staged_backward(shell, s.g, stage);
  const int after_first = pc_setup_events(stage);
  move_bounds(*s.p, s.theta, x, 2);
  x = s.layer->forward(s.theta);
  shell.set_solution(s.theta, x);
  ParamSet grad = staged_backward(shell, s.g, stage);
  EXPECT_GT(pc_setup_events(stage), after_first) << "the Jacobi diagonal of the first linearization was kept";
  const AdjointReport& r = shell.adjoint().report();
  EXPECT_NE(r.method.find("pc jacobi"), std::string::npos) << r.method;
  EXPECT_FALSE(r.pc_reuse);
  EXPECT_FALSE(r.pc_reused);
  // (only Ψᵀw's q block: the wrapper's own Ψᵀ is PgdMap's)
  const VectorXd got = foldopt_ref::to_eigen(grad.get("q"));
  EXPECT_LE(foldopt_ref::rel_err(got, reference(*s.p, s.theta, x, s.g).q), kGradTol);
}

// Bad values are refused with one error naming the option.
TEST(Reuse, BadOptionsRefused) {
  const Options bad[] = {{{"-fold_pc_reuse_fraction", "2"}},  {{"-fold_pc_reuse_fraction", "-0.1"}},
                         {{"-fold_pc_reuse_fraction", "x"}},  {{"-fold_pc_reuse_max_growth", "0"}},
                         {{"-fold_pc_reuse_max_growth", ""}}, {{"-fold_ksp_initial_guess", "last"}},
                         {{"-fold_pc_reuse", "maybe"}}};
  for (const Options& o : bad) {
    std::unique_ptr<BoxQP> p = make_problem();
    ScopedOptions so(o);
    FoldedLayer layer(*p);
    try {
      layer.set_from_options();
      ADD_FAILURE() << o[0].first << " " << o[0].second << " was accepted";
    } catch (const foldopt::Error& e) {
      EXPECT_NE(std::string(e.what()).find(o[0].first), std::string::npos) << e.what();
    }
  }
}

}  // namespace
