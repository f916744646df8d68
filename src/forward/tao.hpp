// foldopt: the `tao` forward solver (private header).
#ifndef FOLDOPT_SRC_FORWARD_TAO_HPP
#define FOLDOPT_SRC_FORWARD_TAO_HPP

#include <foldopt/forward.hpp>
#include <foldopt/handle.hpp>

#include <petsctao.h>

#include <exception>
#include <string>
#include <vector>

namespace foldopt {

/// What foldopt knows of one TAO type (PETSc cannot be asked which types handle bounds or
/// constraints, so the table in tao.cpp says it).
struct TaoTypeInfo {
  enum class Hessian {
    none,       ///< first-order or quasi-Newton: no Hessian set
    operator_,  ///< Newton: an assembled Hessian if the problem gives one, else a MatShell over hessian_mult
    assembled   ///< needs the Hessian assembled (rows, diagonal or submatrices are taken from it)
  };
  const char* name;
  bool usable;             ///< false: a TAO type for another kind of problem (least squares, ...)
  bool bounds;             ///< handles lb ≤ x ≤ ub
  bool equality;           ///< handles c_E(x) = 0
  bool inequality;         ///< handles c_I(x) ≤ 0
  bool needs_constraints;  ///< refuses problems without general constraints
  Hessian hessian;
  bool quadratic_only;     ///< assumes f quadratic (computes its Hessian once)
  PetscReal gatol;         ///< foldopt's default -tao_gatol for the type (0 for unusable types)
  PetscReal grtol;         ///< foldopt's default -tao_grtol (‖g‖ ≤ grtol·|f|)
  const char* note;        ///< what it is, or why it cannot be used
};

/// The table of TAO types (PETSc 3.18), in the order suggestions are listed.
const std::vector<TaoTypeInfo>& tao_type_table();
/// The entry for `name`, or null if foldopt does not know it.
const TaoTypeInfo* tao_type_info(const std::string& name);

class TaoForward : public ForwardSolver {
 public:
  explicit TaoForward(const ForwardContext& ctx);
  std::string type() const override { return "tao"; }
  /// Choose the TAO type (-fold_fwd_tao_type, default from the problem), apply foldopt's
  /// defaults, read TAO's options, and refuse a type that cannot solve this problem.
  void set_from_options() override;
  ForwardReport solve(const ParamSet& theta, Vec x) override;
  void view(PetscViewer viewer) const override;
  /// almm gives the Lagrange multipliers of its last solve (TaoALMMGetMultipliers, converted to
  /// the convention of struct Multipliers; the bound multipliers from the stationarity residual).
  bool has_multipliers() const override;
  Multipliers multipliers() const override;
  Tao tao() const { return tao_; }
  /// A fresh TAO of the same type and options (its Hessian copy, subproblem matrices, KSP and PC
  /// freed); nothing for a type with multipliers (almm), whose multipliers() reads its solver.
  void release_work() override;
  /// The TAO type in use (the default for the problem before set-up).
  std::string tao_type() const;
  /// The type used when none is given: almm with general constraints, else tron.
  std::string default_tao_type() const;

  /// The inner KSP and PC's options are read at set-up, in the first solve.
  std::vector<std::string> deferred_option_prefixes() const override {
    return {ctx_.prefix + "ksp_", ctx_.prefix + "pc_", ctx_.prefix + "mat_", ctx_.prefix + "sub_", ctx_.prefix + "mg_"};
  }

 private:
  static PetscErrorCode objective_gradient(Tao, Vec x, PetscReal* f, Vec g, void* ctx);
  static PetscErrorCode hessian(Tao, Vec x, Mat H, Mat P, void* ctx);
  static PetscErrorCode equality(Tao, Vec x, Vec c, void* ctx);
  static PetscErrorCode inequality(Tao, Vec x, Vec c, void* ctx);
  static PetscErrorCode equality_jacobian(Tao, Vec x, Mat J, Mat P, void* ctx);
  static PetscErrorCode inequality_jacobian(Tao, Vec x, Mat J, Mat P, void* ctx);
  static PetscErrorCode shell_mult(Mat H, Vec v, Vec y);
  static PetscErrorCode shell_submatrix(Mat H, IS rows, IS cols, MatReuse reuse, Mat* sub);

  /// A copy of an assembled matrix the problem returned, which TAO may modify (bqpip shifts the
  /// diagonal) without touching the problem's own. dst keeps one object and, when the problem's
  /// pattern allows, its pattern (same or subset copies).
  struct MatCopySlot {
    OwnedMat dst, src;
    PetscObjectState src_nonzero = -1;
    int relation = 0;  ///< src's pattern vs dst's: 0 the same, 1 contained
    void assign(Mat m, PetscReal scale);
  };

  void create(const std::string& tao_type);
  /// Throw (collectively) if TAO type `name` cannot solve the problem.
  void validate(const std::string& name) const;
  void configure(Vec x);
  void update_bounds();
  void refresh_almm_bounds();
  void rethrow();

  ForwardContext ctx_;
  Owned<Tao, TaoDestroy> tao_;
  std::string tao_type_;
  bool options_read_ = false, configured_ = false, solved_ = false;
  OwnedVec lb_, ub_, xh_;
  std::vector<char> bound_pattern_;  ///< finite lb/ub per local entry at set-up (pdipm fixes it there)
  OwnedVec ce_, ci_;
  MatCopySlot H_, Je_, Ji_;
  OwnedMat Hshell_;
  const ParamSet* theta_ = nullptr;
  ParamSet last_theta_;  ///< the last solve's θ (shared blocks), for multipliers()
  std::exception_ptr pending_;
};

}  // namespace foldopt

#endif
