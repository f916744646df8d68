// foldopt: per-instance adjoint solves for a batch (the `blocks` path of -fold_batch_solve).
//
// Method: a batch (Layout: B instances of n entries) has a block-diagonal I − Φᵀ, one n×n block
//   per instance. One Krylov solve over the whole batch couples the instances through its inner
//   products (its iteration count grows with B); here every block is extracted and factored, and
//   the outer KSP (Richardson, scale 1, left-preconditioned by the block solves as a PCSHELL)
//   converges per instance in one iteration; further iterations are iterative refinement.
// Algorithm: the blocks come from the map's assembled Φᵀ where it can assemble one
//   (UpdateMap::assemble_phi_transpose, plus the low-rank part Φ = Φ_s + U Vᵀ, i.e.
//   Φᵀ = Φ_sᵀ + V Uᵀ) and that matrix is block diagonal over the instances; otherwise column j of
//   every block at once is Φᵀ applied to the vector with a 1 at entry j of every instance (n
//   products of the batch vector in all). An instance whose block is diagonal plus rank r ≤ 16,
//   D − V_b U_bᵀ (the simplex-type proxes over a diagonal Hessian: top-k, sparsemax), is solved by
//   the Sherman–Morrison–Woodbury formula in O(n r) (its r×r capacitance I − U_bᵀ D⁻¹ V_b LU-
//   factored), unless forming the capacitance cancels more than 10 digits; every other block is
//   row-equilibrated (its rows divided by their largest entry: the entropy's Φ has rows up to 1/x)
//   and LU-factored with partial pivoting on the rank that owns the instance. Needs instances
//   that do not span ranks; otherwise, and where it is not asked for, the batch is solved coupled
//   (the fold_ KSP). -fold_batch_block_source products forces the extraction by products.
// References: Golub, Van Loan, "Matrix Computations" (4th ed.), Algorithm 3.4.1 (outer-product LU
//   with partial pivoting), §3.5.2 (row equilibration) and §2.1.4 (Sherman–Morrison–Woodbury).
#ifndef FOLDOPT_SRC_CORE_BATCH_SOLVE_HPP
#define FOLDOPT_SRC_CORE_BATCH_SOLVE_HPP

#include <foldopt/handle.hpp>
#include <foldopt/params.hpp>

#include <petscksp.h>

#include <functional>
#include <string>
#include <vector>

namespace foldopt {

class UpdateMap;

/// -fold_batch_solve: auto picks `blocks` for B > 1 and n ≤ -fold_batch_block_max_size when the
/// instances do not span ranks, I − Φᵀ is not declared singular, the form is general, neither
/// -fold_ksp_type nor -fold_pc_type was given and the map asks for no Krylov method of its own
/// (UpdateMap::default_ksp_type); `coupled` is the one KSP over the whole batch.
enum class BatchSolveMode { automatic, coupled, blocks };
const char* to_string(BatchSolveMode m);
/// -fold_batch_block_source: where the blocks come from. auto: the assembled Φᵀ where the map
/// can assemble it and it is block diagonal over the instances, else n products; products: always
/// n products.
enum class BlockSource { automatic, products };

/// Per-instance convergence of a batch: relative residuals ‖r_b‖/‖g_b‖ (‖r_b‖ where g_b = 0).
struct InstanceStats {
  PetscReal worst = 0, median = 0;
  PetscInt below = 0;  ///< instances with a relative residual ≤ rtol
  PetscInt count = 0;
};
/// From the per-instance ratios (the same on every rank).
InstanceStats instance_stats(const std::vector<PetscReal>& ratios, PetscReal rtol);

class BatchBlocks {
 public:
  BatchBlocks(MPI_Comm comm, const std::string& prefix);
  BatchBlocks(const BatchBlocks&) = delete;
  BatchBlocks& operator=(const BatchBlocks&) = delete;

  /// Reads (after checking) -<prefix>batch_solve, -<prefix>batch_block_max_size and
  /// -<prefix>batch_block_source.
  void set_from_options();
  void set_mode(BatchSolveMode m) { mode_ = m; }
  BatchSolveMode mode() const { return mode_; }
  void set_block_max_size(PetscInt n) { max_size_ = n; }

  /// Whether this solve takes the blocks path (collective); decision() then says what was
  /// chosen and why (also the reason for falling back to coupled). Asks the map for
  /// UpdateMap::singular_reason() last, only when the blocks path would be taken (a singular
  /// I − Φᵀ is left to the coupled Krylov solve).
  bool choose(UpdateMap& map, bool general_form);
  bool active() const { return active_; }
  const std::string& decision() const { return decision_; }

  /// Extract and factor the blocks at the map's current linearization with n products
  /// `phi_t(x, y)`: y = Φᵀ x; set up the outer KSP on `a` (I − Φᵀ) with the tolerances of `like`.
  /// Returns false (collectively; decision() says which instance) when a block is singular: the
  /// batch is then solved coupled.
  bool setup(Mat a, const Layout& layout, const std::function<void(Vec, Vec)>& phi_t, KSP like);
  KSP ksp() const { return ksp_; }
  /// The blocks path was given up for this solve (`reason`): the batch is solved coupled.
  void fall_back(const std::string& reason);
  /// The block solves as a preconditioner (exact: P = I − Φᵀ up to rounding).
  PC pc() const;
  std::string method() const;
  /// Bytes held by the factors on this rank.
  double factor_bytes() const {
    return 8.0 * static_cast<double>(lu_.size() + dinv_.size() + lr_u_.size() + lr_w_.size() + cap_.size());
  }

 private:
  static PetscErrorCode apply(PC pc, Vec x, Vec y);
  void solve_blocks(const PetscScalar* x, PetscScalar* y) const;
  /// The blocks from the map's assembled Φᵀ (and its low-rank part): false (collectively) when
  /// the map cannot assemble or the matrix couples instances; the caller then uses products.
  bool blocks_from_assembled(const Layout& l, std::string* how);
  /// Row equilibration and LU of the dense blocks (lu_offset_ ≥ 0); false (collectively, with
  /// decision_ set) when one is singular.
  bool factor_dense(PetscInt rstart, PetscInt products);

  MPI_Comm comm_;
  std::string prefix_;
  BatchSolveMode mode_ = BatchSolveMode::automatic;
  PetscInt max_size_ = 32;
  bool active_ = false;
  std::string decision_;
  PetscInt n_ = 0, nblocks_ = 0;            ///< instance size, instances on this rank
  std::vector<PetscScalar> lu_;             ///< nblocks_ column-major n×n LU factors
  std::vector<PetscInt> pivots_;
  std::vector<PetscReal> row_scale_;        ///< 1 / (largest entry of each row)
  // Per local instance: its dense factor's offset in lu_ (−1: a Woodbury block), or its
  // Woodbury data: rank r, offsets into lr_u_ / lr_w_ (n×r, column-major) and cap_ (r×r LU).
  std::vector<std::ptrdiff_t> lu_offset_, lr_offset_, cap_offset_, cap_piv_offset_;
  std::vector<PetscInt> lr_rank_, cap_pivots_;
  std::vector<PetscScalar> dinv_, lr_u_, lr_w_, cap_;  ///< D⁻¹ (local), U_b, W_b = D⁻¹V_b, LU(I − U_bᵀW_b)
  BlockSource source_ = BlockSource::automatic;
  UpdateMap* map_ = nullptr;  ///< the map of the last choose()
  OwnedKSP ksp_;
};

}  // namespace foldopt

#endif  // FOLDOPT_SRC_CORE_BATCH_SOLVE_HPP
