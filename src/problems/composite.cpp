// foldopt: problems in composite form (see include/foldopt/problems/composite.hpp).
//
// Method: the parts are owned and their prefixes set once; the box and sum constraints of the
//   simplex problems come from batch::sums (values) and a B×(B·n) matrix of ones (Jacobian).
// References: Kotary, Dinh, Fioretto (2023), the composite form of the folded PGD map.
#include <foldopt/problems/composite.hpp>

#include <foldopt/error.hpp>

#include "problems/common.hpp"

namespace foldopt {

void CompositeProblem::set_parts(std::unique_ptr<Objective> f, std::unique_ptr<Prox> h) {
  FOLDOPT_CHECK(f && h, PETSC_ERR_ARG_NULL, "problem '%s': a composite problem needs an objective and a prox", type_.c_str());
  f_ = std::move(f);
  h_ = std::move(h);
  f_->set_options_prefix("fold_objective_");
  h_->set_options_prefix("fold_prox_");
}

void SumConstrainedProblem::bounds(const ParamSet&, Vec lb, Vec ub) {
  FOLDOPT_CALL(VecSet(lb, lo_));
  FOLDOPT_CALL(VecSet(ub, hi_));
}

void SumConstrainedProblem::equality(Vec x, const ParamSet&, Vec c) { detail::sum_constraint(x, layout_, sum_, c); }

OwnedMat SumConstrainedProblem::equality_jacobian(Vec, const ParamSet&) { return detail::sum_constraint_jacobian(layout_); }

Layout batch_layout(MPI_Comm comm, PetscInt n, PetscInt batch) {
  FOLDOPT_CHECK(n >= 1 && batch >= 1, PETSC_ERR_ARG_OUTOFRANGE, "a batch of %" PetscInt_FMT " instances of %" PetscInt_FMT
                " unknowns: both must be positive", batch, n);
  FOLDOPT_CHECK((long long)n * (long long)batch <= (long long)PETSC_MAX_INT, PETSC_ERR_ARG_OUTOFRANGE,
                "n*B = %lld unknowns exceeds the largest index %lld", (long long)n * (long long)batch,
                (long long)PETSC_MAX_INT);
  Layout l;
  l.comm = comm;
  l.n = n;
  l.batch = batch;
  l.local = PETSC_DECIDE;
  PetscInt N = n * batch;
  FOLDOPT_CALL(PetscSplitOwnership(comm, &l.local, &N));
  return l;
}

}  // namespace foldopt
