// Tests: a problem built on the caller's matrix uses that matrix itself (no copy) while θ's
// values block holds its values, and a private copy with θ's values once they differ.
//
// Method: a box-QP on a 2-D Laplacian H (what a simulation code hands over, examples/
//   obstacle_inverse): the Hessian the problem gives for its own θ is H's handle; for θ with the
//   values doubled it is another matrix equal to 2H (dense Eigen reference), H unchanged; after
//   the caller scales H in place, θ's values (H's original ones) still define the operator, and
//   the gradient H x − q follows them.
// References: src/objectives/matrix_parameter.cpp (when a private copy is taken).
#include "reference.hpp"
#include "test_util.hpp"

#include <foldopt/problems/qp_box.hpp>

#include <gtest/gtest.h>

#include <Eigen/Dense>

namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;
using foldopt::OwnedMat;
using foldopt::OwnedVec;
using foldopt::ParamSet;
using foldopt_ref::from_eigen;
using foldopt_ref::gather_dense;
using foldopt_ref::to_eigen;

/// The 5-point Laplacian (4, −1) on an m × m grid, PETSc's default split.
OwnedMat laplacian(PetscInt m) {
  const PetscInt n = m * m;
  OwnedMat H;
  MatCreateAIJ(PETSC_COMM_WORLD, PETSC_DECIDE, PETSC_DECIDE, n, n, 5, nullptr, 2, nullptr, H.out());
  PetscInt rs, re;
  MatGetOwnershipRange(H, &rs, &re);
  for (PetscInt I = rs; I < re; ++I) {
    const PetscInt i = I % m, j = I / m;
    MatSetValue(H, I, I, 4.0, INSERT_VALUES);
    if (i > 0) MatSetValue(H, I, I - 1, -1.0, INSERT_VALUES);
    if (i < m - 1) MatSetValue(H, I, I + 1, -1.0, INSERT_VALUES);
    if (j > 0) MatSetValue(H, I, I - m, -1.0, INSERT_VALUES);
    if (j < m - 1) MatSetValue(H, I, I + m, -1.0, INSERT_VALUES);
  }
  MatAssemblyBegin(H, MAT_FINAL_ASSEMBLY);
  MatAssemblyEnd(H, MAT_FINAL_ASSEMBLY);
  return H;
}

struct Qp {
  OwnedMat H;
  OwnedVec q, lb, ub, x;
  MatrixXd Hd;
  VectorXd qd, xd;
  std::unique_ptr<foldopt::BoxQP> qp;
};

Qp make_qp() {
  Qp c;
  c.H = laplacian(6);
  c.Hd = gather_dense(c.H);
  const PetscInt n = c.Hd.rows();
  c.qd = VectorXd::LinSpaced(n, -1.0, 2.0);
  c.xd = VectorXd::LinSpaced(n, 0.5, -0.25);
  c.q = from_eigen(c.qd);
  c.x = from_eigen(c.xd);
  VecDuplicate(c.q, c.lb.out());
  VecDuplicate(c.q, c.ub.out());
  VecSet(c.lb, -10.0);
  VecSet(c.ub, PETSC_INFINITY);
  c.qp.reset(new foldopt::BoxQP(c.H, c.q, c.lb, c.ub));
  return c;
}

VectorXd gradient(foldopt::BoxQP& qp, Vec x, const ParamSet& theta) {
  OwnedVec g;
  VecDuplicate(x, g.out());
  qp.objective_gradient(x, theta, g);
  return to_eigen(g);
}

TEST(SharedMatrix, OwnValuesUseTheCallersMatrixOthersACopy) {
  Qp c = make_qp();
  // θ's values are H's own: the operator is H itself, and the gradient is H x − q
  OwnedMat A = c.qp->hessian(c.x, c.qp->params());
  EXPECT_EQ(A.get(), c.H.get());
  EXPECT_LT((gradient(*c.qp, c.x, c.qp->params()) - (c.Hd * c.xd - c.qd)).norm(), 1e-13 * c.qd.norm());
  // θ's values doubled: another matrix, equal to 2H; the caller's H is unchanged
  ParamSet doubled = c.qp->params().copy();
  VecScale(doubled.get("H.values"), 2.0);
  OwnedMat A2 = c.qp->hessian(c.x, doubled);
  EXPECT_NE(A2.get(), c.H.get());
  EXPECT_EQ((gather_dense(A2) - 2 * c.Hd).norm(), 0.0);
  EXPECT_EQ((gather_dense(c.H) - c.Hd).norm(), 0.0);
  EXPECT_LT((gradient(*c.qp, c.x, doubled) - (2 * c.Hd * c.xd - c.qd)).norm(), 1e-13 * c.qd.norm());
}

TEST(SharedMatrix, ACallerChangingItsMatrixDoesNotOverrideTheValuesOfTheta) {
  Qp c = make_qp();
  OwnedMat A = c.qp->hessian(c.x, c.qp->params());
  EXPECT_EQ(A.get(), c.H.get());
  // the caller scales its matrix in place; θ still holds H's original values, which still rule
  MatScale(c.H, 3.0);
  OwnedMat A1 = c.qp->hessian(c.x, c.qp->params());
  EXPECT_NE(A1.get(), c.H.get());
  EXPECT_EQ((gather_dense(A1) - c.Hd).norm(), 0.0);
  EXPECT_LT((gradient(*c.qp, c.x, c.qp->params()) - (c.Hd * c.xd - c.qd)).norm(), 1e-13 * c.qd.norm());
}

}  // namespace
