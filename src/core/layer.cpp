// foldopt: the folded layer (see include/foldopt/layer.hpp).
//
// Method: forward by any registered ForwardSolver; backward by the adjoint of the differential
//   fixed-point conditions of the map, (I − Φᵀ) w = g, ∂L/∂θ = Ψᵀ w, after checking that the
//   forward solution is a fixed point of the map.
// References: Kotary, Dinh, Fioretto (2023), fixed-point folding (Section 5).
#include <foldopt/layer.hpp>

#include <foldopt/error.hpp>
#include <foldopt/problem.hpp>

#include "core/log.hpp"
#include "core/options.hpp"
#include "core/util.hpp"

#include <cmath>

namespace foldopt {

namespace {
struct LayerOptions {
  char map_type[256] = "";
  char fwd_type[256] = "";
  PetscBool rho = PETSC_FALSE, check_fd = PETSC_FALSE, view = PETSC_FALSE;
  PetscViewer viewer = nullptr;  // -view [viewer spec], e.g. ascii:report.txt
  PetscViewerFormat format = PETSC_VIEWER_DEFAULT;
  PetscReal fp_tol = 1e-6;
  PetscBool check_minimum = PETSC_TRUE, accept_nonminimum = PETSC_FALSE;
  PetscInt minimum_steps = 20;
  PetscInt rho_type = 0;  // index in rho_types
  PetscInt rho_steps = 40;
  PetscBool release_forward = PETSC_FALSE;
};
const char* const rho_types[] = {"lanczos", "eps"};

PetscErrorCode read_layer_options(MPI_Comm comm, const char* prefix, LayerOptions* o) {
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, prefix, "Folded layer", "FoldedLayer");
  const std::string maps = "Update map (" + map_registry().list() + "; default: the problem's own)";
  const std::string fwds = "Forward solver (" + forward_registry().list() +
                           "; default: the problem's own, snes for a bare map)";
  PetscCall(PetscOptionsString("-map_type", maps.c_str(), "FoldedLayer::set_map", o->map_type, o->map_type,
                               sizeof o->map_type, nullptr));
  PetscCall(PetscOptionsString("-fwd_type", fwds.c_str(), "FoldedLayer::set_forward", o->fwd_type, o->fwd_type,
                               sizeof o->fwd_type, nullptr));
  PetscCall(PetscOptionsBool("-rho", "Estimate rho(Phi) before each backward (-fold_rho_type)",
                             "FoldedLayer::set_estimate_rho", o->rho, &o->rho, nullptr));
  PetscCall(PetscOptionsEList("-rho_type", "How: Lanczos on the map's stepsize operator (where it has one, else eps), or SLEPc on Phi^T (-fold_rho_eps_*)",
                              "FoldedLayer::estimate_rho", rho_types, 2, rho_types[o->rho_type], &o->rho_type, nullptr));
  PetscCall(PetscOptionsInt("-rho_lanczos_steps", "Lanczos steps (products with the stepsize operator) of -fold_rho_type lanczos",
                            "FoldedLayer::estimate_rho", o->rho_steps, &o->rho_steps, nullptr));
  PetscCall(PetscOptionsReal("-check_fixed_point", "Largest ||U(s*) - s*||_inf / (scale max(1, ||s*||_inf)) accepted before a backward (scale: the stepsize of a prox-gradient map)",
                             "FoldedLayer::set_fixed_point_tolerance", o->fp_tol, &o->fp_tol, nullptr));
  PetscCall(PetscOptionsBool("-check_fd", "Check each gradient against central finite differences (one pair of forward solves per block)",
                             "check_fd", o->check_fd, &o->check_fd, nullptr));
  PetscCall(PetscOptionsBool("-check_minimum", "Refuse a fixed point where Phi has a real eigenvalue above 1 (a saddle point or a maximum)",
                             "FoldedLayer::set_check_minimum", o->check_minimum, &o->check_minimum, nullptr));
  PetscCall(PetscOptionsInt("-check_minimum_steps", "Products spent by the minimum check (Lanczos steps or Arnoldi vectors)",
                            "FoldedLayer::set_check_minimum", o->minimum_steps, &o->minimum_steps, nullptr));
  PetscCall(PetscOptionsBool("-accept_nonminimum", "Accept a fixed point that is not a minimum, with a warning on stderr",
                             "FoldedLayer::set_accept_nonminimum", o->accept_nonminimum, &o->accept_nonminimum, nullptr));
  PetscCall(PetscOptionsBool("-release_forward", "Free the forward solver's work objects after each forward (TAO: its Hessian copy, subproblem matrices, KSP, PC) for the backward to reuse; the next forward rebuilds them",
                             "FoldedLayer::set_release_forward", o->release_forward, &o->release_forward, nullptr));
  PetscCall(PetscOptionsViewer("-view", "Report after each backward (optionally to a viewer, e.g. ascii:report.txt)",
                               "FoldedLayer::view", &o->viewer, &o->format, &o->view));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}
}  // namespace

FoldedLayer::FoldedLayer(Problem& problem, const std::string& prefix)
    : comm_(problem.layout().comm), prefix_(prefix), problem_(&problem), adjoint_(problem.layout().comm, prefix) {}

FoldedLayer::FoldedLayer(std::unique_ptr<UpdateMap> map, const std::string& prefix)
    : comm_(map->layout().comm), prefix_(prefix), map_(std::move(map)), adjoint_(comm_, prefix) {
  adjoint_.set_map(*map_);
}

FoldedLayer::~FoldedLayer() = default;

void FoldedLayer::set_map(std::unique_ptr<UpdateMap> map) {
  map_ = std::move(map);
  adjoint_.set_map(*map_);
  fwd_.reset();  // built from the map
}

void FoldedLayer::set_forward(std::unique_ptr<ForwardSolver> fwd) { fwd_ = std::move(fwd); }

void FoldedLayer::set_forward_callback(CallbackForward::Function f) {
  fwd_.reset(new CallbackForward(std::move(f)));
}

void FoldedLayer::set_solution_callback(CallbackForward::Function f) {
  fwd_.reset(new CallbackForward(std::move(f), true));
}

UpdateMap& FoldedLayer::map() {
  ensure_parts();
  return *map_;
}

ForwardSolver& FoldedLayer::forward_solver() {
  ensure_parts();
  return *fwd_;
}

void FoldedLayer::ensure_map() {
  if (map_) return;
  FOLDOPT_CHECK(problem_ != nullptr, PETSC_ERR_ORDER, "folded layer: no update map");
  map_ = map_registry().create("update map", problem_->default_map(), MapContext{comm_, problem_, prefix_});
  adjoint_.set_map(*map_);
}

void FoldedLayer::ensure_parts() {
  ensure_map();
  if (!fwd_) {
    // The problem's own choice wherever there is a Problem; the map's own iteration otherwise.
    ForwardContext c{comm_, problem_, map_.get(), prefix_ + "fwd_"};
    fwd_ = forward_registry().create("forward solver", problem_ ? problem_->default_forward() : "snes", c);
  }
}

void FoldedLayer::set_from_options() {
  LayerOptions o;
  o.rho = estimate_rho_ ? PETSC_TRUE : PETSC_FALSE;
  o.fp_tol = fp_tol_;
  o.check_minimum = check_minimum_ ? PETSC_TRUE : PETSC_FALSE;
  o.minimum_steps = minimum_steps_;
  o.accept_nonminimum = accept_nonminimum_ ? PETSC_TRUE : PETSC_FALSE;
  o.rho_type = rho_lanczos_ ? 0 : 1;
  o.rho_steps = rho_lanczos_steps_;
  o.release_forward = release_forward_ ? PETSC_TRUE : PETSC_FALSE;
  // Values checked before PETSc reads them (src/core/options.hpp), including PETSc's own options
  // under the prefix (types against the registered lists): an error raised inside an options
  // block leaves it open, and a viewer that fails to open on rank 0 alone leaves the others waiting.
  const char* pre = prefix_.c_str();
  options::check_prefixed_options(prefix_);
  options::check_string(pre, "map_type");
  options::check_string(pre, "fwd_type");
  options::check_bool(pre, "rho");
  options::check_choice(pre, "rho_type", {"lanczos", "eps"});
  options::check_int(pre, "rho_lanczos_steps", 1, 100000);
  options::check_bool(pre, "check_fd");
  options::check_bool(pre, "check_minimum");
  options::check_int(pre, "check_minimum_steps", 1, 100000);
  options::check_bool(pre, "accept_nonminimum");
  options::check_bool(pre, "release_forward");
  options::check_real(pre, "check_fixed_point", 0, 1e300, true);
  options::check_viewer(comm_, pre, "view");
  FOLDOPT_CALL(read_layer_options(comm_, prefix_.c_str(), &o));
  if (o.map_type[0]) {
    FOLDOPT_CHECK(problem_ != nullptr, PETSC_ERR_ARG_WRONG,
                  "-%smap_type %s: this layer was built from a map, not a problem", prefix_.c_str(), o.map_type);
    if (!map_ || map_->type() != o.map_type)
      set_map(map_registry().create("update map", o.map_type, MapContext{comm_, problem_, prefix_}));
  }
  // The forward named by the option, without building the problem's default first (the
  // default may refuse the map the option chose: admm's forward on the sqp map).
  if (o.fwd_type[0] && (!fwd_ || fwd_->type() != o.fwd_type)) {
    ensure_map();
    ForwardContext c{comm_, problem_, map_.get(), prefix_ + "fwd_"};
    fwd_ = forward_registry().create("forward solver", o.fwd_type, c);
  }
  ensure_parts();
  estimate_rho_ = o.rho;
  rho_lanczos_ = o.rho_type == 0;
  rho_lanczos_steps_ = o.rho_steps;
  check_fd_ = o.check_fd;
  view_ = o.view;
  if (o.viewer) view_viewer_ = Owned<PetscViewer, PetscViewerDestroy>(o.viewer);
  fp_tol_ = o.fp_tol;
  check_minimum_ = o.check_minimum;
  minimum_steps_ = o.minimum_steps;
  accept_nonminimum_ = o.accept_nonminimum;
  release_forward_ = o.release_forward;
  // The stepsize rule is the map's (UpdateMap::set_from_options reads -<prefix>stepsize for a
  // map with a free stepsize); a map without one is told here what it was asked.
  if (map_->stepsize_is_free()) map_->set_stepsize_rule(stepsize_rule_);
  {
    std::string v;
    bool has = false;
    if (!map_->stepsize_is_free() && options::raw_value(pre, "stepsize", &v, &has)) {
      if (has) options::check_choice(pre, "stepsize", {"fixed", "auto", "optimal", "lmax"});
      FOLDOPT_CHECK(!has || v == "fixed", PETSC_ERR_ARG_INCOMP, "-%sstepsize %s: update map '%s' has no free stepsize", pre,
                    v.c_str(), map_->type().c_str());
    }
  }
  map_->set_from_options();
  fwd_->set_from_options();
  adjoint_.set_from_options();
  if (adjoint_.backward() == BackwardMethod::unrolled) {
    if (!unrolled_) unrolled_.reset(new UnrolledBaseline(comm_, prefix_));
    unrolled_->set_from_options();
  }
  options_set_ = true;
}

Vec FoldedLayer::forward(const ParamSet& theta) {
  LogScope log(log_events().forward);
  memory::PhaseMeter meter(comm_);
  ensure_parts();
  if (!x_) {
    x_ = map_->create_vec();
    FOLDOPT_CALL(VecZeroEntries(x_));
  }
  theta_ = theta.share();  // theta may be theta_ itself
  have_solution_ = false;
  map_->prepare(theta_);  // e.g. α = 1/B(θ) for a learned operator
  if (map_->has_primal_dual_state() && !fwd_->solves_map_state()) {
    // A primal-dual state (SQP): x* and the Lagrange multipliers from a solver of the problem.
    FOLDOPT_CHECK(fwd_->has_multipliers(), PETSC_ERR_ARG_INCOMP,
                  "update map '%s' folds a primal-dual state, but forward solver '%s' gives no Lagrange multipliers "
                  "(ipopt and tao almm, pdipm do)",
                  map_->type().c_str(), fwd_->type().c_str());
    if (!xsol_) {
      xsol_ = map_->create_solution_vec();
      FOLDOPT_CALL(VecZeroEntries(xsol_));
    }
    fwd_report_ = fwd_->solve(theta_, xsol_);  // warm start from the previous x*
    const Multipliers y = fwd_->multipliers();
    map_->state_from_primal_dual(xsol_, y, theta_, x_);
  } else if (fwd_->returns_solution() && map_->has_readout()) {
    // A primal forward: x from the solver, the state recovered by the problem.
    FOLDOPT_CHECK(problem_ != nullptr, PETSC_ERR_ARG_WRONG,
                  "forward solver '%s' returns the solution, but a layer over a bare map cannot recover the state",
                  fwd_->type().c_str());
    if (!xsol_) xsol_ = map_->create_solution_vec();
    fwd_report_ = fwd_->solve(theta_, xsol_);
    std::string why;
    FOLDOPT_CHECK(problem_->recover_state(xsol_, theta_, x_, &why), PETSC_ERR_SUP, "forward solver '%s': %s",
                  fwd_->type().c_str(), why.c_str());
  } else {
    fwd_report_ = fwd_->solve(theta_, x_);  // warm start from the previous state
  }
  have_solution_ = true;
  update_solution();
  if (release_forward_) fwd_->release_work();
  fwd_report_.memory = meter.finish();
  return solution();
}

void FoldedLayer::update_solution() {
  if (!map_->has_readout()) return;
  if (!xsol_) xsol_ = map_->create_solution_vec();
  map_->readout(x_, theta_, xsol_);
}

void FoldedLayer::set_solution(const ParamSet& theta, Vec x) {
  ensure_parts();
  if (!x_) x_ = map_->create_vec();
  FOLDOPT_CALL(VecCopy(x, x_));
  theta_ = theta.share();  // theta may be theta_ itself
  have_solution_ = true;
  update_solution();
}

void FoldedLayer::linearize() {
  map_->linearize(x_, theta_);
  if (map_->adapt_stepsize()) map_->linearize(x_, theta_);  // the map's rule chose a new α
}

const ExtremeEigenvalues& FoldedLayer::stepsize_estimate() const {
  static const ExtremeEigenvalues none;
  return map_ ? map_->stepsize_eigenvalues() : none;
}

const RhoEstimate& FoldedLayer::estimate_rho() {
  FOLDOPT_CHECK(have_solution_, PETSC_ERR_ORDER, "folded layer: estimate_rho needs a linearization (forward, backward)");
  LogScope log(log_events().rho);
  // Lanczos on the stepsize operator S where the map has one (Φ = I − αS on the free set).
  OwnedMat S;
  const double t0 = wall_time();
  if (rho_lanczos_) S = map_->stepsize_operator();
  if (S) {
    rho_ = estimate_rho_symmetric(S, map_->stepsize(), rho_lanczos_steps_);
    rho_.seconds = wall_time() - t0;  // with the extraction of S
  } else {
    const PetscInt p0 = adjoint_.products();
    adjoint_.run_eigensolver([&] { rho_ = foldopt::estimate_rho(adjoint_.phi_t_shell(), prefix_ + "rho_"); });
    rho_.products = adjoint_.products() - p0;
    rho_.seconds = wall_time() - t0;
  }
  if (rho_.converged) adjoint_.set_rho(rho_.rho);
  return rho_;
}

ParamSet FoldedLayer::backward(Vec g) {
  LogScope log(log_events().backward);
  memory::PhaseMeter meter(comm_);
  FOLDOPT_CHECK(have_solution_, PETSC_ERR_ORDER, "folded layer: backward() needs a forward() first");
  if (!options_set_) set_from_options();
  fp_residual_ = foldopt::fixed_point_residual(*map_, x_, theta_);
  FOLDOPT_CHECK(fp_residual_ <= fp_tol_, PETSC_ERR_NOT_CONVERGED,
                "fixed-point check failed: ||U(s*) - s*||_inf / (%s max(1, ||s*||_inf)) = %.3e > %.1e (-%scheck_fixed_point): "
                "the state from forward solver '%s' is not a fixed point of update map '%s', so its gradient would be wrong",
                map_->fixed_point_scale() != 1 ? "alpha" : "1", (double)fp_residual_, (double)fp_tol_, prefix_.c_str(),
                fwd_->type().c_str(), map_->type().c_str());
  linearize();
  if (estimate_rho_) estimate_rho();
  check_minimum();
  // (I − Φᵀ) w = (∂R/∂s)ᵀ g; ∂L/∂θ = Ψᵀ w + (∂R/∂θ)ᵀ g.
  OwnedVec h;
  if (map_->has_readout()) {
    h = map_->create_vec();
    map_->readout_t(g, h);
  }
  Vec rhs = h ? h.get() : g;
  if (adjoint_.backward() == BackwardMethod::unrolled) return backward_unrolled(rhs, g, meter);
  OwnedVec w = map_->create_vec();
  FOLDOPT_CALL(VecZeroEntries(w));
  adjoint_.solve(rhs, w);
  ParamSet grad = map_->create_params();
  adjoint_.psi_t(w, grad);
  if (map_->has_readout()) map_->readout_param_t(g, grad);
  bwd_memory_ = meter.finish();
  // check_fd calls forward(), which rebinds theta_: give it the current blocks, not the member.
  if (check_fd_) fd_ = check_fd(*this, theta_.share(), g, grad);
  if (view_) view(view_viewer_ ? view_viewer_.get() : PETSC_VIEWER_STDOUT_(comm_));
  return grad;
}

// A fixed point where Φ has a real eigenvalue above 1 is not a minimum: negative curvature of the
// reduced Hessian (λ(Φ) = 1 − αλ(S) on the free set), a saddle point or a maximum where a forward
// solver merely stopped. Evidence at hand first (the stepsize eigenvalues of an automatic rule,
// whose Lanczos run also serves as the check's own when it is as long;
// the ρ estimate's eigenvalue), then a bounded Lanczos run on the map's stepsize operator S, else
// a bounded Arnoldi run on Φᵀ. All figures come from collective operations: every rank decides
// alike. An eigenvalue below −1 (α too large for LFPI) is no sign of a non-minimum.
void FoldedLayer::check_minimum() {
  minimum_ = MinimumCheck();
  if (!check_minimum_) return;
  const PetscReal alpha = map_->stepsize(), margin = 1e-8;
  const ExtremeEigenvalues& se = map_->stepsize_eigenvalues();
  const PetscReal slo = se.lmin, shi = se.lmax;
  const bool estimated = map_->stepsize_rule_is_automatic() && !se.method.empty();
  const std::string by = std::string(" (") + (se.method == "eps" ? "SLEPc" : "Lanczos") + ", -" + prefix_ + "stepsize " +
                         map_->stepsize_rule_name() + ")";
  if (estimated && slo < -margin * std::max(std::abs(slo), std::abs(shi))) {
    minimum_.ran = minimum_.nonminimum = true;
    minimum_.method = "the stepsize estimate" + by;
    minimum_.curvature = slo;
    minimum_.curvature_max = shi;
    minimum_.lambda = 1 - alpha * slo;
    minimum_.error = alpha * se.err_min;
  } else if (estimated && se.method == "lanczos" && se.steps >= minimum_steps_) {
    // The stepsize rule's Lanczos run is the check's own (same start vector, steps or more, and the
    // same operator: at a fixed point the free set does not depend on α).
    minimum_.ran = true;
    minimum_.method = "lanczos on the stepsize operator, the stepsize estimate's" + by;
    minimum_.curvature = slo;
    minimum_.curvature_max = shi;
    minimum_.lambda = 1 - alpha * slo;
    minimum_.margin = margin;
    minimum_.size = se.size;
  } else if (estimate_rho_ && rho_shows_nonminimum(rho_, margin)) {
    minimum_.ran = minimum_.nonminimum = true;
    minimum_.method = "the rho(Phi) estimate";
    minimum_.lambda = rho_.re;
    minimum_.error = rho_.error;
  } else {
    const double t0 = wall_time();
    // The operator of the last check, unchanged, at the same α and steps: the same result.
    const PetscObjectState version = map_->stepsize_operator_version();
    OwnedMat S;
    if (version != 0 && version == kept_minimum_version_ && alpha == kept_minimum_alpha_ &&
        minimum_steps_ == kept_minimum_steps_) {
      minimum_ = kept_minimum_;
      minimum_.method += " (kept: the stepsize operator is unchanged since the last check)";
      minimum_.products = 0;
      minimum_.seconds = wall_time() - t0;
    } else if ((S = map_->stepsize_operator())) {
      minimum_ = check_minimum_symmetric(S, alpha, minimum_steps_, margin);
      minimum_.seconds = wall_time() - t0;  // with the extraction of S
      kept_minimum_ = minimum_;
      kept_minimum_version_ = version;
      kept_minimum_alpha_ = alpha;
      kept_minimum_steps_ = minimum_steps_;
    } else {
      const PetscInt p0 = adjoint_.products();
      adjoint_.run_eigensolver([&] {
        minimum_ = check_minimum_general(adjoint_.phi_t_shell(), minimum_steps_, prefix_ + "check_minimum_", margin);
      });
      minimum_.products = adjoint_.products() - p0;
    }
  }
  if (!minimum_.nonminimum) return;
  std::string curvature;
  if (alpha > 0)
    curvature = detail::format(", i.e. curvature %.3g of the reduced Hessian", (double)((1 - minimum_.lambda) / alpha));
  const std::string msg = detail::format(
      "fixed point is not a minimum: a saddle point or a maximum (Phi has the real eigenvalue %.6g > 1%s, found by %s "
      "at x* from forward solver '%s', update map '%s'): its gradient would be that of an unstable point "
      "(-%saccept_nonminimum accepts it with a warning)",
      (double)minimum_.lambda, curvature.c_str(), minimum_.method.c_str(), fwd_->type().c_str(), map_->type().c_str(),
      prefix_.c_str());
  if (!accept_nonminimum_) detail::throw_error(PETSC_ERR_NOT_CONVERGED, msg);
  // Accepted: the same finding, loudly, and the gradient of that point is returned.
  const std::string found = msg.substr(0, msg.find("): its gradient") + 1);
  FOLDOPT_CALL(PetscFPrintf(comm_, PETSC_STDERR,
                            "foldopt: warning: %s; accepted under -%saccept_nonminimum: the gradient returned is that of "
                            "this unstable point\n",
                            found.c_str(), prefix_.c_str()));
}

// -fold_backward unrolled: K unrolled steps of the map (linearized at s* by backward()) on the
// right-hand side g = (∂R/∂s)ᵀ ∂L/∂x* (`g_solution`), with s* as the reference of the forward errors. The folded gradient is solved for (by Krylov) only as the
// reference of the backward errors, under -fold_view or -fold_unrolled_history.
ParamSet FoldedLayer::backward_unrolled(Vec g, Vec g_solution, memory::PhaseMeter& meter) {
  if (!unrolled_) {
    unrolled_.reset(new UnrolledBaseline(comm_, prefix_));
    unrolled_->set_from_options();
  }
  ParamSet folded;
  const bool reference = view_ || unrolled_->history();
  if (reference) {
    OwnedVec w = map_->create_vec();
    FOLDOPT_CALL(VecZeroEntries(w));
    adjoint_.set_backward(BackwardMethod::krylov);
    try {
      adjoint_.solve(g, w);
    } catch (...) {
      adjoint_.set_backward(BackwardMethod::unrolled);
      throw;
    }
    adjoint_.set_backward(BackwardMethod::unrolled);
    folded = map_->create_params();
    adjoint_.psi_t(w, folded);
  }
  // The unrolled and folded Ψᵀ parts compare alike; the readout's term is the same for both.
  ParamSet grad = unrolled_->run(*map_, theta_, g, x_, reference ? &folded : nullptr).gradient.copy();
  if (map_->has_readout()) map_->readout_param_t(g_solution, grad);
  bwd_memory_ = meter.finish();
  if (view_) view(view_viewer_ ? view_viewer_.get() : PETSC_VIEWER_STDOUT_(comm_));
  return grad;
}

std::vector<std::string> FoldedLayer::deferred_option_prefixes() {
  ensure_parts();
  std::vector<std::string> out = {prefix_ + "rho_", prefix_ + "stepsize_", prefix_ + "check_minimum_eps_"};
  for (const auto& v : {adjoint_.deferred_option_prefixes(), fwd_->deferred_option_prefixes(),
                        map_->deferred_option_prefixes()})
    out.insert(out.end(), v.begin(), v.end());
  return out;
}

void FoldedLayer::view(PetscViewer viewer) const {
  PetscViewerASCIIPrintf(viewer, "FoldedLayer: map %s", map_ ? map_->describe().c_str() : "(none)");
  PetscViewerASCIIPrintf(viewer, ", forward %s\n", fwd_ ? fwd_->type().c_str() : "(none)");
  if (map_) map_->view(viewer);
  if (have_solution_) {
    const ForwardReport& f = fwd_report_;
    PetscViewerASCIIPrintf(viewer, "forward: %s, %s in %" PetscInt_FMT " iterations, residual %.3e, %.3f s\n", f.solver.c_str(),
                           f.reason.c_str(), f.iterations, (double)f.residual, f.seconds);
  }
  if (fp_residual_ >= 0)
    PetscViewerASCIIPrintf(viewer, "fixed-point residual %.3e (tolerance %.1e)\n", (double)fp_residual_, (double)fp_tol_);
  const ExtremeEigenvalues& se = stepsize_estimate();
  if (map_ && map_->stepsize_rule_is_automatic() && se.lmax > 0) {
    const std::string how =
        se.method == "eps" ? detail::format("EPS tolerance %.1e", (double)se.tol)
                           : detail::format("%" PetscInt_FMT " Lanczos steps, %" PetscInt_FMT " products", se.steps, se.products);
    PetscViewerASCIIPrintf(viewer, "stepsize %s (%s): lambda in [%.6g, %.6g] (+- %.1e, %.1e; %s, %.3f s) -> alpha = %.6g\n",
                           map_->stepsize_rule_name(),
                           map_->stepsize_rule() == StepsizeRule::optimal ? "2/(lmin + lmax)" : "1/lmax",
                           (double)se.lmin, (double)se.lmax, (double)se.err_min, (double)se.err_max, how.c_str(), se.seconds,
                           (double)map_->stepsize());
  }
  if (rho_.converged || rho_.iterations) foldopt::view(rho_, adjoint_.report().rtol, viewer);
  foldopt::view(minimum_, viewer);
  if (unrolled_ && unrolled_->has_result() && adjoint_.backward() == BackwardMethod::unrolled) {
    unrolled_->view(viewer);
    if (unrolled_->result().backward_error >= 0 && !adjoint_.report().method.empty()) {
      PetscViewerASCIIPrintf(viewer, "folded reference gradient for the backward error:\n");
      adjoint_.view(viewer);
    }
  } else if (!adjoint_.report().method.empty()) {
    adjoint_.view(viewer);
  }
  const memory::Phase &fm = fwd_report_.memory, &bm = bwd_memory_;
  if (fm.measured || bm.measured) {
    const double mib = 1.0 / 1048576.0;
    std::string line = release_forward_ ? "memory (resident, all ranks; forward work released):" : "memory (resident, all ranks):";
    if (fm.measured)
      line += detail::format(" forward peak %.1f MiB (from %.1f)", fm.peak * mib, fm.start * mib);
    if (bm.measured)
      line += detail::format("%s backward peak %.1f MiB (from %.1f)", fm.measured ? "," : "", bm.peak * mib, bm.start * mib);
    if (!(fm.own_peak && bm.own_peak)) line += " (running maxima: the kernel refused the peak reset)";
    PetscViewerASCIIPrintf(viewer, "%s\n", line.c_str());
  }
  for (const FdCheck& c : fd_)
    PetscViewerASCIIPrintf(viewer, "finite differences [%s]: folded %.10e, fd %.10e, relative difference %.2e\n",
                           c.block.c_str(), (double)c.folded, (double)c.fd, (double)c.relative);
}

}  // namespace foldopt
