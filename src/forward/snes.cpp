// foldopt: the `snes` forward solver.
//
// Method: the map's own fixed-point iteration x_{k+1} = U(x_k; θ) as PETSc SNES on the residual
//   F(x) = x − U(x; θ). SNESNRICHARDSON with the `basic` line search (step 1) is exactly the plain
//   iteration (PETSc 3.18 defaults that line search to `l2`, so it is set here); -fold_fwd_snes_type
//   anderson or ngmres accelerate it (an accelerated forward is fine: only the fixed point is used).
// Algorithm: defaults atol 1e-10 on ‖F‖₂, rtol 1e-14, up to 10⁶ iterations; a diverged SNES is an
//   error carrying SNES's reason.
// References: PETSc manual, SNESNRICHARDSON, SNESANDERSON, SNESNGMRES.
#include "forward/snes.hpp"

#include <foldopt/error.hpp>
#include <foldopt/update_map.hpp>

#include "core/compat.hpp"
#include "core/util.hpp"

namespace foldopt {

SnesForward::SnesForward(const ForwardContext& ctx) : ctx_(ctx) {
  FOLDOPT_CHECK(ctx.map != nullptr, PETSC_ERR_ARG_WRONG, "forward solver 'snes' needs an update map");
}

void SnesForward::create() {
  if (snes_) return;
  FOLDOPT_CALL(SNESCreate(ctx_.comm, snes_.out()));
  FOLDOPT_CALL(SNESSetOptionsPrefix(snes_, ctx_.prefix.c_str()));
  FOLDOPT_CALL(SNESSetType(snes_, SNESNRICHARDSON));
  SNESLineSearch ls;
  FOLDOPT_CALL(SNESGetLineSearch(snes_, &ls));
  FOLDOPT_CALL(SNESLineSearchSetType(ls, SNESLINESEARCHBASIC));
  FOLDOPT_CALL(SNESSetTolerances(snes_, 1e-10, 1e-14, 0.0, 1000000, -1));
  r_ = ctx_.map->create_vec();
  FOLDOPT_CALL(SNESSetFunction(snes_, r_, residual, this));
}

void SnesForward::set_from_options() {
  create();
  with_context("-" + ctx_.prefix + "snes_* options", [&] { FOLDOPT_CALL(SNESSetFromOptions(snes_)); });
}

PetscErrorCode SnesForward::residual(SNES, Vec x, Vec f, void* ctx) {
  auto* self = static_cast<SnesForward*>(ctx);
  PetscCheck(self && self->theta_, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONGSTATE, "snes forward: no parameters");
  PetscErrorCode ierr = detail::guarded(self->pending_, [&] { self->ctx_.map->apply(x, *self->theta_, f); });
  if (ierr) SETERRQ(PETSC_COMM_SELF, ierr, "update map '%s' failed in apply", self->ctx_.map->type().c_str());
  PetscCall(VecAYPX(f, -1.0, x));  // F = x − U(x)
  return compat::success;
}

ForwardReport SnesForward::solve(const ParamSet& theta, Vec x) {
  create();
  ForwardReport rep;
  const double t0 = wall_time();
  theta_ = &theta;
  const PetscErrorCode ierr = SNESSolve(snes_, nullptr, x);
  theta_ = nullptr;
  if (pending_) {
    std::exception_ptr e = pending_;
    pending_ = nullptr;
    std::rethrow_exception(e);
  }
  FOLDOPT_CALL(ierr);
  SNESConvergedReason reason;
  SNESType type;
  FOLDOPT_CALL(SNESGetConvergedReason(snes_, &reason));
  FOLDOPT_CALL(SNESGetIterationNumber(snes_, &rep.iterations));
  FOLDOPT_CALL(SNESGetFunctionNorm(snes_, &rep.residual));
  FOLDOPT_CALL(SNESGetType(snes_, &type));
  rep.solver = std::string("snes ") + type;
  rep.reason = SNESConvergedReasons[reason];
  rep.converged = reason > 0;
  rep.seconds = wall_time() - t0;
  FOLDOPT_CHECK(rep.converged, PETSC_ERR_NOT_CONVERGED,
                "forward solver %s did not converge: %s after %" PetscInt_FMT " iterations, ‖x − U(x)‖₂ = %.3e",
                rep.solver.c_str(), rep.reason.c_str(), rep.iterations, (double)rep.residual);
  return rep;
}

void SnesForward::view(PetscViewer viewer) const {
  if (snes_) SNESView(snes_, viewer);
}

}  // namespace foldopt
