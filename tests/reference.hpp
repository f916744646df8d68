// Dense references for the gradient tests, computed independently of the engine: PETSc objects
// are gathered to every rank (small sizes only) and everything else is plain Eigen.
//
//   gather_dense(A)       the whole matrix on every rank (MatGetRow triplets + MPI_Allgatherv)
//   to_eigen(v)           the whole vector on every rank
//   from_eigen(a[, local]) a distributed vector (PETSc's split, or `local` entries here) holding a (every rank holds all of a)
//   classify(x, lb, ub)   free / at-lower / at-upper from x* (by a margin; strict complementarity
//                         of the generated instances keeps free entries ≥ 0.5 away from bounds)
//   box_qp_gradient(...)  ∂L/∂q, ∂L/∂lb, ∂L/∂ub of L = ⟨g, x*⟩ from the KKT conditions:
//                         ∂L/∂q_F = H_FF⁻¹ g_F, ∂L/∂q_A = 0, ∂L/∂(bound)_A = (g − H_AF H_FF⁻¹ g_F)_A
//   NoAssembleMap         a PgdMap behind an UpdateMap that hides can_assemble/has_diagonal (to
//                         reach the engine's product-probing and "cannot assemble" paths)
#ifndef FOLDOPT_TESTS_REFERENCE_HPP
#define FOLDOPT_TESTS_REFERENCE_HPP

#include "test_util.hpp"

#include <foldopt/maps/pgd.hpp>
#include <foldopt/update_map.hpp>

#include <Eigen/Dense>
#include <petscmat.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace foldopt_ref {

using Eigen::MatrixXd;
using Eigen::VectorXd;

/// A vector of the values in `a` with PETSc's split (every rank holds all of `a`).
inline foldopt::OwnedVec from_eigen(const VectorXd& a, PetscInt local = PETSC_DECIDE) {
  foldopt::OwnedVec v;
  VecCreateMPI(PETSC_COMM_WORLD, local, static_cast<PetscInt>(a.size()), v.out());
  PetscInt s, e;
  VecGetOwnershipRange(v, &s, &e);
  for (PetscInt i = s; i < e; ++i) VecSetValue(v, i, a[i], INSERT_VALUES);
  VecAssemblyBegin(v);
  VecAssemblyEnd(v);
  return v;
}

inline VectorXd to_eigen(Vec v) {
  std::vector<PetscScalar> a = foldopt_test::gather(v);
  VectorXd out(static_cast<Eigen::Index>(a.size()));
  for (std::size_t i = 0; i < a.size(); ++i) out[static_cast<Eigen::Index>(i)] = PetscRealPart(a[i]);
  return out;
}

/// The whole (small) matrix on every rank of its communicator, read row by row with MatGetRow.
inline MatrixXd gather_dense(Mat A) {
  MPI_Comm comm;
  PetscObjectGetComm((PetscObject)A, &comm);
  PetscInt M, N, rstart, rend;
  MatGetSize(A, &M, &N);
  MatGetOwnershipRange(A, &rstart, &rend);
  std::vector<PetscInt> rows, cols;
  std::vector<PetscScalar> vals;
  for (PetscInt i = rstart; i < rend; ++i) {
    PetscInt nc;
    const PetscInt* c;
    const PetscScalar* v;
    MatGetRow(A, i, &nc, &c, &v);
    for (PetscInt k = 0; k < nc; ++k) {
      rows.push_back(i);
      cols.push_back(c[k]);
      vals.push_back(v[k]);
    }
    MatRestoreRow(A, i, &nc, &c, &v);
  }
  int size = 1;
  MPI_Comm_size(comm, &size);
  int mine = static_cast<int>(vals.size());
  std::vector<int> counts(size), displs(size, 0);
  MPI_Allgather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, comm);
  for (int r = 1; r < size; ++r) displs[r] = displs[r - 1] + counts[r - 1];
  const int total = displs[size - 1] + counts[size - 1];
  std::vector<PetscInt> all_rows(total), all_cols(total);
  std::vector<PetscScalar> all_vals(total);
  MPI_Allgatherv(rows.data(), mine, MPIU_INT, all_rows.data(), counts.data(), displs.data(), MPIU_INT, comm);
  MPI_Allgatherv(cols.data(), mine, MPIU_INT, all_cols.data(), counts.data(), displs.data(), MPIU_INT, comm);
  MPI_Allgatherv(vals.data(), mine, MPIU_SCALAR, all_vals.data(), counts.data(), displs.data(), MPIU_SCALAR, comm);
  MatrixXd D = MatrixXd::Zero(M, N);
  for (int k = 0; k < total; ++k) D(all_rows[k], all_cols[k]) += PetscRealPart(all_vals[k]);
  return D;
}

/// Entries of x* by role. `ok` is false if some entry is neither at a bound (within `at_tol`) nor
/// clearly away from both (by more than `margin`): then the instance is not strictly
/// complementary and the reference would not be meaningful.
struct ActiveSet {
  std::vector<int> free, at_lb, at_ub;
  std::vector<int> role;  // 0 free, 1 at lb, 2 at ub
  bool ok = true;
};

inline ActiveSet classify(const VectorXd& x, const VectorXd& lb, const VectorXd& ub, double margin = 0.25,
                          double at_tol = 1e-6) {
  ActiveSet s;
  s.role.assign(static_cast<std::size_t>(x.size()), 0);
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    const double dl = x[i] - lb[i], du = ub[i] - x[i];  // +inf where unbounded
    int r = 0;
    if (dl < margin) {
      r = 1;
      if (std::abs(dl) > at_tol) s.ok = false;
    } else if (du < margin) {
      r = 2;
      if (std::abs(du) > at_tol) s.ok = false;
    }
    s.role[static_cast<std::size_t>(i)] = r;
    (r == 0 ? s.free : r == 1 ? s.at_lb : s.at_ub).push_back(static_cast<int>(i));
  }
  return s;
}

inline MatrixXd submatrix(const MatrixXd& A, const std::vector<int>& r, const std::vector<int>& c) {
  MatrixXd S(r.size(), c.size());
  for (std::size_t i = 0; i < r.size(); ++i)
    for (std::size_t j = 0; j < c.size(); ++j) S(i, j) = A(r[i], c[j]);
  return S;
}

inline VectorXd subvector(const VectorXd& v, const std::vector<int>& idx) {
  VectorXd s(idx.size());
  for (std::size_t i = 0; i < idx.size(); ++i) s[i] = v[idx[i]];
  return s;
}

struct QpGradient {
  VectorXd q, lb, ub;
};

/// ∂L/∂θ of L = ⟨g, x*(θ)⟩ for min ½xᵀHx − qᵀx, lb ≤ x ≤ ub, at a strictly complementary x*.
inline QpGradient box_qp_gradient(const MatrixXd& H, const ActiveSet& s, const VectorXd& g) {
  const Eigen::Index n = g.size();
  QpGradient out{VectorXd::Zero(n), VectorXd::Zero(n), VectorXd::Zero(n)};
  VectorXd y = VectorXd::Zero(static_cast<Eigen::Index>(s.free.size()));
  if (!s.free.empty()) {
    const MatrixXd Hff = submatrix(H, s.free, s.free);
    y = Eigen::LLT<MatrixXd>(Hff).solve(subvector(g, s.free));  // H_FF⁻¹ g_F (H_FF is SPD)
  }
  for (std::size_t k = 0; k < s.free.size(); ++k) out.q[s.free[k]] = y[k];
  // t = g − H_·F y on the active entries
  for (int i : s.at_lb) {
    double t = g[i];
    for (std::size_t k = 0; k < s.free.size(); ++k) t -= H(i, s.free[k]) * y[k];
    out.lb[i] = t;
  }
  for (int i : s.at_ub) {
    double t = g[i];
    for (std::size_t k = 0; k < s.free.size(); ++k) t -= H(i, s.free[k]) * y[k];
    out.ub[i] = t;
  }
  return out;
}

inline double rel_err(const VectorXd& a, const VectorXd& ref) {
  const double d = (a - ref).norm(), r = ref.norm();
  return r > 0 ? d / r : d;
}

/// Eigenvalues (ascending) of H restricted to the free set.
inline VectorXd free_eigenvalues(const MatrixXd& H, const ActiveSet& s) {
  Eigen::SelfAdjointEigenSolver<MatrixXd> es(submatrix(H, s.free, s.free), Eigen::EigenvaluesOnly);
  return es.eigenvalues();
}

/// A PGD map that does not advertise an assembled Φ (nor, unless `diagonal`, its diagonal):
/// everything else forwards.
class NoAssembleMap : public foldopt::UpdateMap {
 public:
  explicit NoAssembleMap(foldopt::Problem& p, bool diagonal = false)
      : inner_(new foldopt::PgdMap(p)), diagonal_(diagonal) {}
  std::string type() const override { return "pgd_noassemble"; }
  const foldopt::Layout& layout() const override { return inner_->layout(); }
  foldopt::ParamSet create_params() const override { return inner_->create_params(); }
  void apply(Vec x, const foldopt::ParamSet& theta, Vec y) override { inner_->apply(x, theta, y); }
  void linearize(Vec x, const foldopt::ParamSet& theta) override { inner_->linearize(x, theta); }
  void phi_t(Vec v, Vec y) override { inner_->phi_t(v, y); }
  void psi_t(Vec v, foldopt::ParamSet& out) override { inner_->psi_t(v, out); }
  bool has_phi() const override { return true; }
  void phi(Vec u, Vec y) override { inner_->phi(u, y); }
  bool has_psi() const override { return true; }
  void psi(const foldopt::ParamSet& d, Vec y) override { inner_->psi(d, y); }
  bool has_diagonal() const override { return diagonal_; }
  void get_diagonal(Vec d) override {
    if (!diagonal_) foldopt::UpdateMap::get_diagonal(d);  // throws "does not provide"
    inner_->get_diagonal(d);
  }
  bool can_assemble() const override { return false; }
  PetscReal stepsize() const override { return inner_->stepsize(); }

 private:
  std::unique_ptr<foldopt::PgdMap> inner_;
  bool diagonal_;
};

/// The stored nonzeros (i, j) of A in global CSR order, on every rank.
inline std::vector<std::pair<int, int>> pattern_of(Mat A) {
  PetscInt rstart, rend;
  MatGetOwnershipRange(A, &rstart, &rend);
  std::vector<int> ij;
  for (PetscInt i = rstart; i < rend; ++i) {
    PetscInt nc;
    const PetscInt* c;
    MatGetRow(A, i, &nc, &c, nullptr);
    for (PetscInt k = 0; k < nc; ++k) {
      ij.push_back(static_cast<int>(i));
      ij.push_back(static_cast<int>(c[k]));
    }
    MatRestoreRow(A, i, &nc, &c, nullptr);
  }
  const int size = foldopt_test::comm_size();
  int mine = static_cast<int>(ij.size());
  std::vector<int> counts(size), displs(size, 0);
  MPI_Allgather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, PETSC_COMM_WORLD);
  for (int r = 1; r < size; ++r) displs[r] = displs[r - 1] + counts[r - 1];
  std::vector<int> all(displs[size - 1] + counts[size - 1]);
  MPI_Allgatherv(ij.data(), mine, MPI_INT, all.data(), counts.data(), displs.data(), MPI_INT, PETSC_COMM_WORLD);
  std::vector<std::pair<int, int>> out;
  for (std::size_t k = 0; k + 1 < all.size(); k += 2) out.emplace_back(all[k], all[k + 1]);
  return out;
}

}  // namespace foldopt_ref

#endif  // FOLDOPT_TESTS_REFERENCE_HPP
