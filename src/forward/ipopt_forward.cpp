// foldopt: the `ipopt` forward solver: a smooth NLP (objective, bounds, nonlinear equality and
// inequality constraints of the Problem) solved by IPOPT.
//
// Method: min f(x; θ) s.t. lb ≤ x ≤ ub, c_E(x; θ) = 0, c_I(x; θ) ≤ 0 is handed to IPOPT as
//   g = (c_E, c_I) with bounds (0, 0) and (−∞, 0); ±inf bounds become IPOPT's ±1e19
//   (nlp_lower_bound_inf / nlp_upper_bound_inf). IPOPT's Lagrangian σ f + λᵀ g is foldopt's
//   f + y_Eᵀ c_E + y_Iᵀ c_I with y = λ, so its Hessian is Problem::lagrangian_hessian(x, θ, λ_E, λ_I)
//   when σ = 1, and L(x, λ) − (1 − σ) L(x, 0) otherwise. Sparse structures are those of the
//   assembled PETSc matrices at the initial point (the Hessian's lower triangle; the Hessian with
//   all multipliers 1, so that every constraint's curvature is in it); later matrices must stay
//   inside them (an entry outside, if nonzero, is an error). The multipliers of the final point
//   (λ, z_L, z_U, ABI version 2) are foldopt's (y_E, y_I) and bound multipliers unchanged
//   (ForwardSolver::multipliers; IPOPT's stationarity ∇f + J_gᵀλ − z_L + z_U = 0). A problem
//   without an assembled Lagrangian Hessian is solved with IPOPT's limited-memory quasi-Newton approximation.
// Isolation: IPOPT lives in a plugin (foldopt_ipopt.so, src/forward/ipopt/plugin.cpp) that this
//   library loads with dlopen(RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND) through the C table of
//   src/forward/ipopt/ipopt_abi.h. libfoldopt never links libipopt: Debian's IPOPT brings the
//   sequential MUMPS (and its stub MPI), whose symbols are those of PETSc's parallel MUMPS; loaded
//   locally with deep binding, each solver keeps its own MUMPS. The plugin is looked for in
//   $FOLDOPT_PLUGIN_DIR, else in the build directory, then in ${CMAKE_INSTALL_LIBDIR}/foldopt, at
//   every creation of the solver (a loaded plugin stays loaded: IPOPT and Fortran MUMPS are not
//   meant to be unloaded).
// Parallel protocol: IPOPT is serial. Rank 0 drives it; each evaluation callback broadcasts an
//   opcode, x is scattered from rank 0 to the distributed Vec (VecScatterCreateToZero, reverse),
//   every rank calls the Problem's collective functions, and the results (gradient, constraint
//   values, matrix triplets) are gathered back to rank 0. Rank 0 therefore holds O(n + nnz) data
//   and moves O(n + nnz) words per evaluation: inherent to a serial solver, which does all of its
//   linear algebra on one rank. The other ranks serve evaluations until rank 0 broadcasts the end.
// Errors: an exception in an evaluation is kept, the callback reports failure and IPOPT is asked
//   to stop; after the solve every rank learns of it (check_collective) and throws. A status other
//   than Solve_Succeeded or Solved_To_Acceptable_Level is a foldopt::Error naming the status.
// Options (prefix fold_fwd_): -ipopt_tol (1e-10, tight so that the fixed-point check of the
//   backward passes), -ipopt_max_iter (3000), -ipopt_print_level (0: silent), -ipopt_linear_solver
//   (mumps).
// References: A. Wächter, L. T. Biegler, Math. Prog. 106 (2006) 25–57; IPOPT 3.11 documentation
//   (TNLP interface, options).
#include "forward/ipopt/ipopt_forward.hpp"

#include <foldopt/error.hpp>
#include <foldopt/problem.hpp>

#include "core/util.hpp"
#include "forward/ipopt/ipopt_abi.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <type_traits>
#include <utility>

namespace foldopt {

static_assert(std::is_same<PetscScalar, double>::value, "the ipopt forward solver needs real double PetscScalar");

bool ipopt_built_in() {
#ifdef FOLDOPT_WITH_IPOPT
  return true;
#else
  return false;
#endif
}

std::vector<std::string> ipopt_plugin_candidates() {
  std::vector<std::string> out;
  const char* env = std::getenv("FOLDOPT_PLUGIN_DIR");
  if (env && env[0]) {
    out.push_back(std::string(env) + "/" FOLDOPT_IPOPT_PLUGIN_FILE);
    return out;
  }
#ifdef FOLDOPT_IPOPT_PLUGIN_BUILD_DIR
  out.push_back(FOLDOPT_IPOPT_PLUGIN_BUILD_DIR "/" FOLDOPT_IPOPT_PLUGIN_FILE);
#endif
#ifdef FOLDOPT_IPOPT_PLUGIN_INSTALL_DIR
  out.push_back(FOLDOPT_IPOPT_PLUGIN_INSTALL_DIR "/" FOLDOPT_IPOPT_PLUGIN_FILE);
#endif
  return out;
}

namespace {

constexpr const char* kName = "forward solver 'ipopt'";

/// Find and load the plugin (rank-local). Returns its table, or null with the reason in *err.
[[maybe_unused]] const foldopt_ipopt_api* load_plugin(std::string* path, std::string* err) {
  // Loaded plugins by path; never unloaded.
  static std::map<std::string, const foldopt_ipopt_api*> loaded;
  const std::vector<std::string> cand = ipopt_plugin_candidates();
  std::string found;
  for (const std::string& c : cand) {
    struct stat st;
    if (::stat(c.c_str(), &st) == 0) {
      found = c;
      break;
    }
  }
  if (found.empty()) {
    std::string where;
    for (const std::string& c : cand) where += (where.empty() ? "" : ", ") + c;
    if (cand.size() == 1)
      *err = std::string(kName) + ": plugin " + where + " not found";
    else
      *err = std::string(kName) + ": plugin " FOLDOPT_IPOPT_PLUGIN_FILE " not found (looked for " +
             (where.empty() ? std::string("nothing") : where) + "; FOLDOPT_PLUGIN_DIR names its directory)";
    return nullptr;
  }
  *path = found;
  auto it = loaded.find(found);
  if (it != loaded.end()) return it->second;
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer ends the process at a dlopen with RTLD_DEEPBIND: refuse instead.
  *err = std::string(kName) + ": plugin " + found +
         " cannot be loaded in a build with AddressSanitizer (FOLDOPT_SANITIZE): it needs dlopen with RTLD_DEEPBIND";
  return nullptr;
#endif
  int flags = RTLD_NOW | RTLD_LOCAL;
#ifdef RTLD_DEEPBIND
  flags |= RTLD_DEEPBIND;  // the plugin's tree first: its sequential MUMPS, not PETSc's parallel one
#endif
  dlerror();
  void* lib = dlopen(found.c_str(), flags);
  if (!lib) {
    const char* e = dlerror();
    *err = std::string(kName) + ": plugin " + found + " cannot be loaded: " + (e ? e : "dlopen failed");
    return nullptr;
  }
  dlerror();
  void* sym = dlsym(lib, FOLDOPT_IPOPT_ENTRY);
  if (!sym) {
    const char* e = dlerror();
    *err = std::string(kName) + ": plugin " + found + " cannot be loaded: " + (e ? e : "no " FOLDOPT_IPOPT_ENTRY);
    dlclose(lib);
    return nullptr;
  }
  foldopt_ipopt_entry_fn entry;
  static_assert(sizeof entry == sizeof sym, "function and object pointers differ in size");
  std::memcpy(&entry, &sym, sizeof entry);
  const foldopt_ipopt_api* api = entry();
  if (!api || api->abi_version != FOLDOPT_IPOPT_ABI_VERSION) {
    *err = detail::format("%s: plugin %s cannot be loaded: its ABI version is %d, this library expects %d "
                          "(rebuild foldopt)",
                          kName, found.c_str(), api ? api->abi_version : -1, FOLDOPT_IPOPT_ABI_VERSION);
    dlclose(lib);
    return nullptr;
  }
  loaded[found] = api;
  return api;
}

std::string exception_text(const std::exception_ptr& e, PetscErrorCode* code) {
  *code = PETSC_ERR_LIB;
  try {
    std::rethrow_exception(e);
  } catch (const Error& err) {
    *code = err.code() ? err.code() : PETSC_ERR_LIB;
    return err.what();
  } catch (const std::exception& err) {
    return err.what();
  } catch (...) {
    return "unknown exception";
  }
}

/// The nonzero pattern of one matrix as IPOPT sees it (rank 0): sorted keys row·ncols + col, and
/// the position of each gathered triplet in it, cached while the gathered pattern does not change.
struct Pattern {
  const char* what = "";
  PetscInt ncols = 0;
  PetscInt row_offset = 0;  ///< row of this matrix's first row in IPOPT's numbering
  int value_offset = 0;     ///< index of its first value in IPOPT's array
  bool lower = false;       ///< keep only the lower triangle (Hessian)
  std::vector<std::int64_t> keys;
  std::vector<PetscInt> last_ij;
  std::vector<int> pos;  ///< −1: outside the pattern, −2: upper triangle (ignored)

  void build(const std::vector<PetscInt>& ij) {
    keys.clear();
    for (std::size_t k = 0; 2 * k < ij.size(); ++k) {
      const PetscInt r = ij[2 * k], c = ij[2 * k + 1];
      if (lower && c > r) continue;
      keys.push_back(static_cast<std::int64_t>(r) * ncols + c);
    }
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    last_ij.clear();
    pos.clear();
  }
  int nnz() const { return static_cast<int>(keys.size()); }
  void fill_structure(int* rows, int* cols) const {
    for (std::size_t k = 0; k < keys.size(); ++k) {
      rows[k] = static_cast<int>(keys[k] / ncols + row_offset);
      cols[k] = static_cast<int>(keys[k] % ncols);
    }
  }
  /// out[value_offset + pos] += scale · v for every gathered triplet.
  void add(const std::vector<PetscInt>& ij, const std::vector<PetscScalar>& v, double scale, double* out) {
    if (ij != last_ij) {
      pos.assign(v.size(), -1);
      for (std::size_t k = 0; k < v.size(); ++k) {
        const PetscInt r = ij[2 * k], c = ij[2 * k + 1];
        if (lower && c > r) {
          pos[k] = -2;
          continue;
        }
        const std::int64_t key = static_cast<std::int64_t>(r) * ncols + c;
        auto it = std::lower_bound(keys.begin(), keys.end(), key);
        if (it != keys.end() && *it == key) pos[k] = static_cast<int>(it - keys.begin());
      }
      last_ij = ij;
    }
    for (std::size_t k = 0; k < v.size(); ++k) {
      if (pos[k] >= 0)
        out[value_offset + pos[k]] += scale * v[k];
      else if (pos[k] == -1 && v[k] != 0.0)
        detail::throw_error(PETSC_ERR_ARG_WRONG,
                            detail::format("%s: the %s has a nonzero at (%" PetscInt_FMT ", %" PetscInt_FMT
                                           ") outside its nonzero pattern at the initial point (IPOPT needs a "
                                           "fixed pattern: assemble it with explicit zeros)",
                                           kName, what, ij[2 * k], ij[2 * k + 1]));
    }
  }
};

/// All triplets of an assembled matrix on rank 0 (ij interleaved); other ranks get nothing.
void gather_triplets(MPI_Comm comm, Mat A, std::vector<PetscInt>& ij, std::vector<PetscScalar>& v) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  PetscInt rs, re;
  FOLDOPT_CALL(MatGetOwnershipRange(A, &rs, &re));
  std::vector<PetscInt> lij;
  std::vector<PetscScalar> lv;
  for (PetscInt r = rs; r < re; ++r) {
    PetscInt nc;
    const PetscInt* cols;
    const PetscScalar* vals;
    FOLDOPT_CALL(MatGetRow(A, r, &nc, &cols, &vals));
    for (PetscInt k = 0; k < nc; ++k) {
      lij.push_back(r);
      lij.push_back(cols[k]);
      lv.push_back(vals[k]);
    }
    FOLDOPT_CALL(MatRestoreRow(A, r, &nc, &cols, &vals));
  }
  FOLDOPT_CHECK(lv.size() < static_cast<std::size_t>(INT_MAX / 2), PETSC_ERR_SUP, "%s: too many nonzeros", kName);
  int cnt = static_cast<int>(lv.size());
  std::vector<int> counts(rank == 0 ? size : 0), displs(rank == 0 ? size : 0);
  MPI_Gather(&cnt, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm);
  long long total = 0;
  if (rank == 0) {
    for (int p = 0; p < size; ++p) {
      displs[p] = static_cast<int>(total);
      total += counts[p];
    }
    FOLDOPT_CHECK(2 * total < INT_MAX, PETSC_ERR_SUP, "%s: too many nonzeros for IPOPT's int indices", kName);
  }
  v.assign(static_cast<std::size_t>(total), 0.0);
  ij.assign(static_cast<std::size_t>(2 * total), 0);
  MPI_Gatherv(lv.data(), cnt, MPIU_SCALAR, v.data(), counts.data(), displs.data(), MPIU_SCALAR, 0, comm);
  if (rank == 0)
    for (int p = 0; p < size; ++p) {
      counts[p] *= 2;
      displs[p] *= 2;
    }
  MPI_Gatherv(lij.data(), 2 * cnt, MPIU_INT, ij.data(), counts.data(), displs.data(), MPIU_INT, 0, comm);
}

/// A distributed vector, its copy on rank 0 and the scatter between them.
struct Gathered {
  OwnedVec dist, seq;
  OwnedVecScatter sc;
  void create(Vec like) {
    FOLDOPT_CALL(VecDuplicate(like, dist.out()));
    FOLDOPT_CALL(VecScatterCreateToZero(dist, sc.out(), seq.out()));
  }
  /// dist → rank 0's `out` (n entries; rank 0 only).
  void to_root(Vec from, double* out) {
    FOLDOPT_CALL(VecScatterBegin(sc, from, seq, INSERT_VALUES, SCATTER_FORWARD));
    FOLDOPT_CALL(VecScatterEnd(sc, from, seq, INSERT_VALUES, SCATTER_FORWARD));
    if (out) {
      PetscInt n;
      const PetscScalar* a;
      FOLDOPT_CALL(VecGetLocalSize(seq, &n));
      FOLDOPT_CALL(VecGetArrayRead(seq, &a));
      std::copy(a, a + n, out);
      FOLDOPT_CALL(VecRestoreArrayRead(seq, &a));
    }
  }
  /// rank 0's `in` → `to` (distributed).
  void from_root(const double* in, Vec to) {
    if (in) {
      PetscInt n;
      PetscScalar* a;
      FOLDOPT_CALL(VecGetLocalSize(seq, &n));
      FOLDOPT_CALL(VecGetArray(seq, &a));
      std::copy(in, in + n, a);
      FOLDOPT_CALL(VecRestoreArray(seq, &a));
    }
    FOLDOPT_CALL(VecScatterBegin(sc, seq, to, INSERT_VALUES, SCATTER_REVERSE));
    FOLDOPT_CALL(VecScatterEnd(sc, seq, to, INSERT_VALUES, SCATTER_REVERSE));
  }
};

enum Op : int { OP_F = 1, OP_GRAD, OP_G, OP_JAC, OP_HESS, OP_DONE };
struct Header {
  int op = 0, new_x = 0;
  double obj_factor = 1;
};
struct ResultMsg {
  int ran = 0, status = 0, succeeded = 0, iterations = 0;
  double objective = 0, kkt_error = -1;
  char status_name[64] = {0};
  char message[512] = {0};
};

/// One solve: the state every rank keeps, the evaluations, and rank 0's side of the ABI.
class Session {
 public:
  Session(MPI_Comm comm, Problem& p, const ParamSet& theta) : comm_(comm), p_(p), theta_(theta) {
    MPI_Comm_rank(comm, &rank_);
    n_ = p.layout().global();
    me_ = p.num_equality();
    mi_ = p.num_inequality();
    FOLDOPT_CHECK(n_ < INT_MAX && me_ >= 0 && mi_ >= 0 && me_ + mi_ < INT_MAX, PETSC_ERR_SUP,
                  "%s: sizes beyond IPOPT's int indices", kName);
  }

  /// Set up at the initial point x0 (collective): structures and bounds on rank 0.
  void setup(Vec x0) {
    check_problem_layout(x0, p_, kName);
    x_.create(x0);
    FOLDOPT_CALL(VecCopy(x0, x_.dist));
    FOLDOPT_CALL(VecDuplicate(x_.dist, w_.out()));
    if (me_ > 0) {
      OwnedVec c = p_.create_constraint_vec(me_);
      ce_.create(c);
      ye_.create(c);
      FOLDOPT_CALL(VecDuplicate(c, ye0_.out()));
      FOLDOPT_CALL(VecZeroEntries(ye0_));
    }
    if (mi_ > 0) {
      OwnedVec c = p_.create_constraint_vec(mi_);
      ci_.create(c);
      yi_.create(c);
      FOLDOPT_CALL(VecDuplicate(c, yi0_.out()));
      FOLDOPT_CALL(VecZeroEntries(yi0_));
    }
    const bool root = rank_ == 0;
    if (root) x0_.assign(n_, 0.0);
    x_.to_root(x_.dist, root ? x0_.data() : nullptr);

    // Bounds.
    if (root) {
      xl_.assign(n_, -FOLDOPT_IPOPT_INF);
      xu_.assign(n_, FOLDOPT_IPOPT_INF);
    }
    if (p_.has_bounds()) {
      OwnedVec lb, ub;
      FOLDOPT_CALL(VecDuplicate(x_.dist, lb.out()));
      FOLDOPT_CALL(VecDuplicate(x_.dist, ub.out()));
      p_.bounds(theta_, lb, ub);
      x_.to_root(lb, root ? xl_.data() : nullptr);
      x_.to_root(ub, root ? xu_.data() : nullptr);
      bool ok = true;
      for (std::size_t i = 0; root && i < xl_.size(); ++i) {
        if (std::isnan(xl_[i]) || std::isnan(xu_[i])) ok = false;
        xl_[i] = std::max(xl_[i], -FOLDOPT_IPOPT_INF);
        xu_[i] = std::min(xu_[i], FOLDOPT_IPOPT_INF);
      }
      check_collective(comm_, ok, PETSC_ERR_FP, std::string(kName) + ": a bound is NaN");
    }
    if (root) {
      gl_.assign(me_ + mi_, 0.0);
      gu_.assign(me_ + mi_, 0.0);
      for (PetscInt i = me_; i < me_ + mi_; ++i) gl_[i] = -FOLDOPT_IPOPT_INF;
    }

    // Jacobian structures at x0.
    jac_e_.what = "equality Jacobian";
    jac_i_.what = "inequality Jacobian";
    hess_.what = "Hessian of the Lagrangian";
    jac_e_.ncols = jac_i_.ncols = hess_.ncols = n_;
    jac_i_.row_offset = me_;
    hess_.lower = true;
    std::vector<PetscInt> ij;
    std::vector<PetscScalar> v;
    if (me_ > 0) {
      OwnedMat J = p_.equality_jacobian(x_.dist, theta_);
      check_size(J, me_, "equality_jacobian");
      gather_triplets(comm_, J, ij, v);
      if (root) jac_e_.build(ij);
    }
    if (mi_ > 0) {
      OwnedMat J = p_.inequality_jacobian(x_.dist, theta_);
      check_size(J, mi_, "inequality_jacobian");
      gather_triplets(comm_, J, ij, v);
      if (root) jac_i_.build(ij);
    }
    // Hessian structure with every multiplier 1 (every constraint's curvature present).
    if (me_ > 0) FOLDOPT_CALL(VecSet(ye_.dist, 1.0));
    if (mi_ > 0) FOLDOPT_CALL(VecSet(yi_.dist, 1.0));
    OwnedMat L = p_.lagrangian_hessian(x_.dist, theta_, me_ > 0 ? ye_.dist.get() : nullptr,
                                       mi_ > 0 ? yi_.dist.get() : nullptr);
    have_hessian_ = static_cast<bool>(L);
    if (have_hessian_) {
      check_size(L, n_, "lagrangian_hessian");
      gather_triplets(comm_, L, ij, v);
      if (root) hess_.build(ij);
    }
    if (root) {
      jac_i_.value_offset = jac_e_.nnz();
      const int nj = jac_e_.nnz() + jac_i_.nnz();
      jrow_.assign(nj, 0);
      jcol_.assign(nj, 0);
      jac_e_.fill_structure(jrow_.data(), jcol_.data());
      jac_i_.fill_structure(jrow_.data() + jac_e_.nnz(), jcol_.data() + jac_e_.nnz());
      hrow_.assign(hess_.nnz(), 0);
      hcol_.assign(hess_.nnz(), 0);
      hess_.fill_structure(hrow_.data(), hcol_.data());
    }
  }

  /// Rank 0: run IPOPT through the plugin, serving evaluations; broadcasts the end and the result.
  /// Other ranks: serve evaluations until the end. Returns the result on every rank; x* is left in
  /// rank 0's buffer (see finish()).
  ResultMsg run(const foldopt_ipopt_api* api, void* handle, const foldopt_ipopt_options& opt) {
    ResultMsg msg;
    if (rank_ == 0) {
      try {
        foldopt_ipopt_nlp nlp;
        std::memset(&nlp, 0, sizeof nlp);
        nlp.n = static_cast<int>(n_);
        nlp.m = static_cast<int>(me_ + mi_);
        nlp.x_l = xl_.data();
        nlp.x_u = xu_.data();
        nlp.g_l = gl_.data();
        nlp.g_u = gu_.data();
        nlp.nnz_jac = static_cast<int>(jrow_.size());
        nlp.jac_row = jrow_.data();
        nlp.jac_col = jcol_.data();
        nlp.nnz_hess = have_hessian_ ? static_cast<int>(hrow_.size()) : -1;
        nlp.hess_row = hrow_.data();
        nlp.hess_col = hcol_.data();
        nlp.user = this;
        nlp.eval_f = cb_f;
        nlp.eval_grad_f = cb_grad;
        nlp.eval_g = cb_g;
        nlp.eval_jac_g = cb_jac;
        nlp.eval_h = cb_hess;
        nlp.keep_going = cb_keep_going;
        mult_g_.assign(static_cast<std::size_t>(me_ + mi_), 0.0);
        mult_l_.assign(static_cast<std::size_t>(n_), 0.0);
        mult_u_.assign(static_cast<std::size_t>(n_), 0.0);
        nlp.mult_g = mult_g_.data();
        nlp.mult_x_l = mult_l_.data();
        nlp.mult_x_u = mult_u_.data();
        foldopt_ipopt_result res;
        std::memset(&res, 0, sizeof res);
        xstar_ = x0_;
        msg.ran = api->solve(handle, &nlp, &opt, xstar_.data(), &res);
        msg.status = res.status;
        msg.succeeded = res.succeeded;
        msg.iterations = res.iterations;
        msg.objective = res.objective;
        msg.kkt_error = res.kkt_error;
        std::snprintf(msg.status_name, sizeof msg.status_name, "%s", res.status_name);
        std::snprintf(msg.message, sizeof msg.message, "%s", res.message);
      } catch (const std::exception& e) {
        msg.ran = 0;
        std::snprintf(msg.message, sizeof msg.message, "%s", e.what());
      } catch (...) {
        msg.ran = 0;
        std::snprintf(msg.message, sizeof msg.message, "unknown exception");
      }
      Header done;
      done.op = OP_DONE;
      MPI_Bcast(&done, sizeof done, MPI_BYTE, 0, comm_);
    } else {
      for (;;) {
        Header h;
        MPI_Bcast(&h, sizeof h, MPI_BYTE, 0, comm_);
        if (h.op == OP_DONE) break;
        try {
          serve(h, nullptr, nullptr, nullptr);
        } catch (...) {
          if (!pending_) pending_ = std::current_exception();
        }
      }
    }
    MPI_Bcast(&msg, sizeof msg, MPI_BYTE, 0, comm_);
    return msg;
  }

  /// Collective: throw on every rank if an evaluation failed anywhere.
  void check_evaluations() {
    PetscErrorCode code = 0;
    std::string text;
    if (pending_) text = exception_text(pending_, &code);
    int c = static_cast<int>(code), cmax = 0;
    MPI_Allreduce(&c, &cmax, 1, MPI_INT, MPI_MAX, comm_);
    check_collective(comm_, !pending_, cmax ? cmax : PETSC_ERR_LIB, text);
  }

  /// Collective: x ← rank 0's final point.
  void finish(Vec x) { x_.from_root(rank_ == 0 ? xstar_.data() : nullptr, x); }

  /// Collective: IPOPT's multipliers at the final point, distributed (IPOPT's λ of g = (c_E, c_I)
  /// is foldopt's (y_E, y_I); its z_L, z_U are foldopt's bound multipliers, 0 at infinite bounds).
  Multipliers multipliers() {
    const bool root = rank_ == 0;
    Multipliers y;
    if (me_ > 0) {
      y.eq = p_.create_constraint_vec(me_);
      ye_.from_root(root ? mult_g_.data() : nullptr, y.eq);
    }
    if (mi_ > 0) {
      y.ineq = p_.create_constraint_vec(mi_);
      yi_.from_root(root ? mult_g_.data() + me_ : nullptr, y.ineq);
    }
    y.lower = p_.create_vec();
    y.upper = p_.create_vec();
    x_.from_root(root ? mult_l_.data() : nullptr, y.lower);
    x_.from_root(root ? mult_u_.data() : nullptr, y.upper);
    return y;
  }

 private:
  void check_size(Mat A, PetscInt rows, const char* fn) {
    FOLDOPT_CHECK(A != nullptr, PETSC_ERR_ARG_WRONG, "%s: Problem::%s of problem '%s' returned no matrix", kName, fn,
                  p_.type().c_str());
    PetscInt M, N;
    FOLDOPT_CALL(MatGetSize(A, &M, &N));
    FOLDOPT_CHECK(M == rows && N == n_, PETSC_ERR_ARG_SIZ,
                  "%s: Problem::%s of problem '%s' is %" PetscInt_FMT " x %" PetscInt_FMT ", expected %" PetscInt_FMT
                  " x %" PetscInt_FMT,
                  kName, fn, p_.type().c_str(), M, N, rows, n_);
  }

  // One evaluation, on every rank (x, lambda and out are rank 0's; null elsewhere).
  void serve(const Header& h, const double* x, const double* lambda, double* out) {
    const bool root = rank_ == 0;
    if (h.new_x || !x_valid_) {
      x_valid_ = false;
      x_.from_root(x, x_.dist);
      x_valid_ = true;
    }
    switch (h.op) {
      case OP_F: {
        const PetscReal f = p_.objective_gradient(x_.dist, theta_, nullptr);
        if (root) *out = f;
        break;
      }
      case OP_GRAD:
        p_.objective_gradient(x_.dist, theta_, w_);
        x_.to_root(w_, out);
        break;
      case OP_G:
        if (me_ > 0) {
          p_.equality(x_.dist, theta_, ce_.dist);
          ce_.to_root(ce_.dist, out);
        }
        if (mi_ > 0) {
          p_.inequality(x_.dist, theta_, ci_.dist);
          ci_.to_root(ci_.dist, root ? out + me_ : nullptr);
        }
        break;
      case OP_JAC: {
        if (root) std::fill(out, out + jrow_.size(), 0.0);
        if (me_ > 0) {
          OwnedMat J = p_.equality_jacobian(x_.dist, theta_);
          gather_triplets(comm_, J, ij_, v_);
          if (root) jac_e_.add(ij_, v_, 1.0, out);
        }
        if (mi_ > 0) {
          OwnedMat J = p_.inequality_jacobian(x_.dist, theta_);
          gather_triplets(comm_, J, ij_, v_);
          if (root) jac_i_.add(ij_, v_, 1.0, out);
        }
        break;
      }
      case OP_HESS: {
        FOLDOPT_CHECK(have_hessian_, PETSC_ERR_PLIB, "%s: Hessian asked for in limited-memory mode", kName);
        if (root) std::fill(out, out + hrow_.size(), 0.0);
        if (me_ > 0) ye_.from_root(lambda, ye_.dist);
        if (mi_ > 0) yi_.from_root(root ? lambda + me_ : nullptr, yi_.dist);
        const bool constrained = me_ + mi_ > 0;
        const double sigma = h.obj_factor;
        OwnedMat L = p_.lagrangian_hessian(x_.dist, theta_, me_ > 0 ? ye_.dist.get() : nullptr,
                                           mi_ > 0 ? yi_.dist.get() : nullptr);
        FOLDOPT_CHECK(static_cast<bool>(L), PETSC_ERR_ARG_WRONG,
                      "%s: Problem::lagrangian_hessian of problem '%s' returned no matrix after returning one",
                      kName, p_.type().c_str());
        gather_triplets(comm_, L, ij_, v_);
        // σ∇²f + Σλ∇²g = L(x, λ) − (1 − σ) L(x, 0); without constraints σ L(x).
        if (root) hess_.add(ij_, v_, constrained ? 1.0 : sigma, out);
        if (constrained && sigma != 1.0) {
          OwnedMat L0 = p_.lagrangian_hessian(x_.dist, theta_, me_ > 0 ? ye0_.get() : nullptr,
                                              mi_ > 0 ? yi0_.get() : nullptr);
          FOLDOPT_CHECK(static_cast<bool>(L0), PETSC_ERR_ARG_WRONG,
                        "%s: Problem::lagrangian_hessian of problem '%s' returned no matrix", kName,
                        p_.type().c_str());
          gather_triplets(comm_, L0, ij_, v_);
          if (root) hess_.add(ij_, v_, -(1.0 - sigma), out);
        }
        break;
      }
      default:
        detail::throw_error(PETSC_ERR_PLIB, detail::format("%s: unknown opcode %d", kName, h.op));
    }
  }

  // Rank 0: broadcast the opcode and evaluate with the others. Never throws.
  int root_call(const Header& h, const double* x, const double* lambda, double* out) {
    if (pending_) return 0;  // an evaluation failed: IPOPT is stopping, evaluate nothing more
    try {
      Header copy = h;
      MPI_Bcast(&copy, sizeof copy, MPI_BYTE, 0, comm_);
      serve(h, x, lambda, out);
      return 1;
    } catch (...) {
      pending_ = std::current_exception();
      return 0;
    }
  }
  static Header header(int op, int new_x, double sigma = 1.0) {
    Header h;
    h.op = op;
    h.new_x = new_x;
    h.obj_factor = sigma;
    return h;
  }
  static int cb_f(void* u, const double* x, int new_x, double* f) {
    return static_cast<Session*>(u)->root_call(header(OP_F, new_x), x, nullptr, f);
  }
  static int cb_grad(void* u, const double* x, int new_x, double* g) {
    return static_cast<Session*>(u)->root_call(header(OP_GRAD, new_x), x, nullptr, g);
  }
  static int cb_g(void* u, const double* x, int new_x, double* g) {
    return static_cast<Session*>(u)->root_call(header(OP_G, new_x), x, nullptr, g);
  }
  static int cb_jac(void* u, const double* x, int new_x, double* v) {
    return static_cast<Session*>(u)->root_call(header(OP_JAC, new_x), x, nullptr, v);
  }
  static int cb_hess(void* u, const double* x, int new_x, double sigma, const double* lambda, int, double* v) {
    return static_cast<Session*>(u)->root_call(header(OP_HESS, new_x, sigma), x, lambda, v);
  }
  static int cb_keep_going(void* u) { return static_cast<Session*>(u)->pending_ ? 0 : 1; }

  MPI_Comm comm_;
  int rank_ = 0;
  Problem& p_;
  const ParamSet& theta_;
  PetscInt n_ = 0, me_ = 0, mi_ = 0;
  Gathered x_, ce_, ci_, ye_, yi_;
  OwnedVec w_, ye0_, yi0_;
  bool x_valid_ = false, have_hessian_ = false;
  std::exception_ptr pending_;
  // Rank 0 only.
  std::vector<double> x0_, xstar_, xl_, xu_, gl_, gu_, mult_g_, mult_l_, mult_u_;
  std::vector<int> jrow_, jcol_, hrow_, hcol_;
  Pattern jac_e_, jac_i_, hess_;
  std::vector<PetscInt> ij_;
  std::vector<PetscScalar> v_;
};

PetscErrorCode read_ipopt_options(MPI_Comm comm, const char* prefix, PetscReal* tol, PetscInt* max_iter,
                                  PetscInt* print_level, char* solver, size_t len) {
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, prefix, "IPOPT forward solver", "ForwardSolver");
  PetscCall(PetscOptionsReal("-ipopt_tol", "IPOPT's convergence tolerance (tol)", "ipopt", *tol, tol, nullptr));
  PetscCall(PetscOptionsInt("-ipopt_max_iter", "IPOPT's iteration limit (max_iter)", "ipopt", *max_iter, max_iter, nullptr));
  PetscCall(PetscOptionsInt("-ipopt_print_level", "IPOPT's print level (0: silent, 5: IPOPT's default)", "ipopt",
                            *print_level, print_level, nullptr));
  PetscCall(PetscOptionsString("-ipopt_linear_solver", "IPOPT's linear solver (mumps; ma27, ... if available)", "ipopt",
                               solver, solver, len, nullptr));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}

class IpoptForward : public ForwardSolver {
 public:
  explicit IpoptForward(const ForwardContext& ctx) : ctx_(ctx) {
#ifndef FOLDOPT_WITH_IPOPT
    detail::throw_error(PETSC_ERR_SUP, std::string(kName) + ": not built in (install coinor-libipopt-dev and reconfigure)");
#else
    FOLDOPT_CHECK(ctx_.problem != nullptr, PETSC_ERR_ARG_WRONG,
                  "%s needs a Problem (objective, bounds, constraints), not a bare update map", kName);
    int rank = 0;
    MPI_Comm_rank(ctx_.comm, &rank);
    std::string err;
    bool ok = true;
    if (rank == 0) {  // only rank 0 runs IPOPT
      api_ = load_plugin(&path_, &err);
      ok = api_ != nullptr;
      if (ok) {
        char buf[256] = {0};
        handle_ = api_->create(buf, sizeof buf);
        ok = handle_ != nullptr;
        if (!ok) err = std::string(kName) + ": plugin " + path_ + " cannot create a solver: " + buf;
        else version_ = api_->version ? api_->version() : "";
      }
    }
    check_collective(ctx_.comm, ok, PETSC_ERR_LIB, err);
#endif
  }
  ~IpoptForward() override {
    if (api_ && handle_) api_->destroy(handle_);
  }
  std::string type() const override { return "ipopt"; }

  void set_from_options() override {
    char solver[64];
    std::snprintf(solver, sizeof solver, "%s", linear_solver_.c_str());
    FOLDOPT_CALL(read_ipopt_options(ctx_.comm, ctx_.prefix.c_str(), &tol_, &max_iter_, &print_level_, solver, sizeof solver));
    FOLDOPT_CHECK(tol_ > 0, PETSC_ERR_ARG_OUTOFRANGE, "-%sipopt_tol %g must be positive", ctx_.prefix.c_str(), (double)tol_);
    FOLDOPT_CHECK(max_iter_ >= 0 && max_iter_ < INT_MAX, PETSC_ERR_ARG_OUTOFRANGE, "-%sipopt_max_iter must be >= 0",
                  ctx_.prefix.c_str());
    FOLDOPT_CHECK(print_level_ >= 0 && print_level_ <= 12, PETSC_ERR_ARG_OUTOFRANGE,
                  "-%sipopt_print_level must be in 0..12", ctx_.prefix.c_str());
    linear_solver_ = solver;
  }

  ForwardReport solve(const ParamSet& theta, Vec x) override {
    const double t0 = wall_time();
    Session s(ctx_.comm, *ctx_.problem, theta);
    s.setup(x);
    foldopt_ipopt_options opt;
    opt.tol = tol_;
    opt.max_iter = static_cast<int>(max_iter_);
    opt.print_level = static_cast<int>(print_level_);
    opt.linear_solver = linear_solver_.c_str();
    const ResultMsg r = s.run(api_, handle_, opt);
    s.check_evaluations();
    ForwardReport rep;
    rep.solver = "ipopt";
    rep.iterations = r.iterations;
    rep.reason = r.status_name;
    rep.residual = r.kkt_error;
    rep.converged = r.ran && r.succeeded;
    FOLDOPT_CHECK(r.ran, PETSC_ERR_LIB, "%s: IPOPT could not run: %s", kName, r.message);
    FOLDOPT_CHECK(rep.converged, PETSC_ERR_NOT_CONVERGED, "%s did not converge: IPOPT returned %s after %d iterations%s%s",
                  kName, r.status_name, r.iterations, r.message[0] ? ": " : "", r.message);
    s.finish(x);
    mult_ = s.multipliers();
    rep.seconds = wall_time() - t0;
    return rep;
  }

  bool has_multipliers() const override { return true; }
  Multipliers multipliers() const override {
    FOLDOPT_CHECK(static_cast<bool>(mult_.lower), PETSC_ERR_ORDER, "%s: multipliers before a solve", kName);
    Multipliers y;  // copies: the caller may keep or change them
    for (const std::pair<const OwnedVec*, OwnedVec*>& v : {std::make_pair(&mult_.eq, &y.eq), std::make_pair(&mult_.ineq, &y.ineq),
                                                        std::make_pair(&mult_.lower, &y.lower),
                                                        std::make_pair(&mult_.upper, &y.upper)}) {
      if (!*v.first) continue;
      FOLDOPT_CALL(VecDuplicate(*v.first, v.second->out()));
      FOLDOPT_CALL(VecCopy(*v.first, *v.second));
    }
    return y;
  }

  void view(PetscViewer viewer) const override {
    PetscViewerASCIIPrintf(viewer, "forward solver: ipopt (%s, plugin %s)\n", version_.c_str(), path_.c_str());
    PetscViewerASCIIPrintf(viewer, "  tol %g, max_iter %" PetscInt_FMT ", linear solver %s, print level %" PetscInt_FMT "\n",
                           (double)tol_, max_iter_, linear_solver_.c_str(), print_level_);
  }

 private:
  ForwardContext ctx_;
  const foldopt_ipopt_api* api_ = nullptr;  // rank 0
  void* handle_ = nullptr;                  // rank 0
  std::string path_, version_;              // rank 0
  PetscReal tol_ = 1e-10;
  PetscInt max_iter_ = 3000;
  PetscInt print_level_ = 0;
  std::string linear_solver_ = "mumps";
  Multipliers mult_;  ///< of the last solve
};

}  // namespace

std::unique_ptr<ForwardSolver> make_ipopt_forward(const ForwardContext& ctx) {
  return std::unique_ptr<ForwardSolver>(new IpoptForward(ctx));
}

}  // namespace foldopt
