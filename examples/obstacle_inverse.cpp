// Example: the library embedded in a distributed simulation code — an inverse obstacle problem.
//
// Method: a membrane over an obstacle on the unit square, discretized on a PETSc DMDA grid of
//   M × M interior nodes (mesh width h = 1/(M+1), Dirichlet boundary u = 0):
//       u*(f) = argmin ½ uᵀKu − fᵀu   subject to  u ≥ ψ,
//   K the 5-point stiffness matrix (4 on the diagonal, −1 for each neighbour inside the grid:
//   h²·(−Δ_h) with the boundary values eliminated), f the nodal load (h² times a load density F),
//   ψ the obstacle. This is a box-QP (foldopt::BoxQP with H = K, q = f, lb = ψ, ub = +∞). The
//   outer problem finds the load whose displacement matches a target in least squares,
//       min_f J(f) = L(f) + ½β fᵀKf,   L(f) = ½‖u*(f) − u_target‖²,
//   with a small smoothness term (β; fᵀKf is a discrete H¹ seminorm of f). L is smooth where the
//   contact set {u* = ψ} does not change; matching the contact set itself would give a zero
//   gradient. u_target = u*(f_true) (+ noise) for a hidden load f_true, from the same forward.
// Algorithm: forward u*(f) by a foldopt::FoldedLayer over the BoxQP (TAO tron by default,
//   warm-started from the previous u*); ∂L/∂f is the `q` block of layer.backward(u* − u_target)
//   (the folded adjoint of the projected-gradient map, -fold_* options); the outer optimizer is a
//   PETSc TAO (prefix outer_, default lmvm) whose objective-and-gradient callback calls the layer.
//   Before the outer loop ∂L/∂f is checked once against central differences of L along a random
//   direction (exit code 1 if the relative difference exceeds -fd_tol, default 1e-5).
// Zero copy: the DMDA's own K and vectors enter the library as they are. BoxQP(K, f, ψ, ub)
//   and ParamSet::add take new references (no copy of values); K's rows, split as the DMDA splits
//   them and storing every diagonal entry, are used as the QP's operator and as tron's Hessian
//   directly (the example checks the handles: qp.H() == K, the problem's Hessian == K). θ for
//   each evaluation is built from the vector TAO hands to the callback (the line-search point
//   itself), ψ and ub: three references. One copy of values exists: BoxQP keeps K's stored
//   values as its own θ block `H.values` (qp.params(), nnz doubles, for a loss that differentiates
//   with respect to K). While that block holds K's own values the objective applies K itself (it
//   compares them once; a private copy of K is taken only for other values:
//   src/objectives/matrix_parameter.cpp, tests/test_shared_matrix.cpp); the example's θ has no
//   such block at all. backward() still returns ∂L/∂(lb, ub, H.values) as well (the
//   map's parameter set; ∂L/∂H.values is one product on K's pattern).
// Output (stable text only, the same at any number of ranks; -timing adds wall times): per outer
//   iteration J, ‖∇J‖, the contact-set size and ‖u − u_target‖; a final summary table. Files in
//   -output_dir (rank 0 writes; the rank count P is in the names, so runs at 1 and 2 ranks can
//   share a directory): obstacle_inverse_npP.csv (iteration, J, L, ‖∇J‖, contact-set size,
//   ‖u − u_target‖) and obstacle_inverse_npP_fields.bin (PETSc binary, natural grid order: ψ,
//   u_target, u, f_true, f, and 1 where u*(f_true) is off the obstacle). examples/plot_obstacle.py
//   DIR draws both.
// References: D. Kinderlehrer, G. Stampacchia, An Introduction to Variational Inequalities and
//   Their Applications (Academic Press 1980), ch. II (the obstacle problem); PETSc manual pages
//   DMDACreate2d, MatSetValuesStencil, TAOLMVM; Kotary, Dinh, Fioretto (2023), fixed-point folding.
//
// Options (-help lists them): -grid M (default 64), -obstacle bump|plateaus, -load F0 (default 8),
//   -noise S (default 0), -beta B (default 1e-8: f is the nodal load, O(h²), so ½β fᵀKf only
//   matters from β ~ 10² on; early stopping regularizes too), -seed N, -fd_eps E (default 1e-4), -fd_tol T
//   (default 1e-5), -output_dir DIR (default .), -timing, -view; -outer_tao_* (outer optimizer,
//   default lmvm, 40 iterations), -fold_* (layer: forward -fold_fwd_*, adjoint -fold_ksp_*,
//   -fold_pc_*; the example's defaults -fold_fwd_tao_gatol 1e-12 -fold_ksp_rtol 1e-12), -da_* (the
//   grid's split, e.g. -da_processors_x).
//
// Run:
//   mpiexec -n 2 ./examples/obstacle_inverse -grid 64
//   mpiexec -n 2 ./examples/obstacle_inverse -grid 512 -outer_tao_max_it 200 -fold_pc_type gamg
//       -output_dir examples/results   (one line: the README's configuration)
//   ./examples/obstacle_inverse -grid 64 -noise 1e-3 -beta 1e2 -obstacle plateaus
//   /usr/bin/python3 examples/plot_obstacle.py examples/results
#include <foldopt/foldopt.hpp>

#include <petscdmda.h>
#include <petsctao.h>
#include <slepcsys.h>

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace {

using foldopt::OwnedMat;
using foldopt::OwnedVec;
using foldopt::ParamSet;
using OwnedDM = foldopt::Owned<DM, DMDestroy>;
using OwnedTao = foldopt::Owned<Tao, TaoDestroy>;
using OwnedViewer = foldopt::Owned<PetscViewer, PetscViewerDestroy>;

struct Config {
  PetscInt grid = 64;
  char obstacle[64] = "bump";
  PetscReal load = 8;      ///< magnitude F0 of the hidden load density
  PetscReal noise = 0;     ///< standard deviation of the noise added to u_target
  PetscReal beta = 1e-8;   ///< weight of the smoothness term ½β fᵀKf
  PetscInt seed = 5;
  PetscReal fd_eps = 1e-4; /// central-difference step along the direction (relative to the load)
  PetscReal fd_tol = 1e-5;
  char output_dir[PETSC_MAX_PATH_LEN] = ".";
  PetscBool timing = PETSC_FALSE, view = PETSC_FALSE;
};

PetscErrorCode read_config(MPI_Comm comm, Config* c) {
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, nullptr, "Inverse obstacle problem (examples/obstacle_inverse)", "");
  PetscCall(PetscOptionsInt("-grid", "Interior nodes per side of the M x M grid (at least 3)", "", c->grid, &c->grid, nullptr));
  PetscCall(PetscOptionsString("-obstacle", "Obstacle: bump (a smooth Gaussian bump) or plateaus (a disc and a square at two heights)",
                               "", c->obstacle, c->obstacle, sizeof c->obstacle, nullptr));
  PetscCall(PetscOptionsReal("-load", "Magnitude F0 of the hidden load density (positive)", "", c->load, &c->load, nullptr));
  PetscCall(PetscOptionsReal("-noise", "Standard deviation of the noise added to the target displacement (>= 0)", "", c->noise,
                             &c->noise, nullptr));
  PetscCall(PetscOptionsReal("-beta", "Weight of the smoothness term 1/2 beta f'Kf of the outer objective (>= 0)", "", c->beta,
                             &c->beta, nullptr));
  PetscCall(PetscOptionsInt("-seed", "Seed of the noise and of the gradient check's direction (>= 0)", "", c->seed, &c->seed, nullptr));
  PetscCall(PetscOptionsReal("-fd_eps", "Step of the central differences, relative to the load scale (> 0)", "", c->fd_eps,
                             &c->fd_eps, nullptr));
  PetscCall(PetscOptionsReal("-fd_tol", "Largest relative difference accepted by the gradient check (> 0)", "", c->fd_tol,
                             &c->fd_tol, nullptr));
  PetscCall(PetscOptionsString("-output_dir", "Directory of the CSV and field files (created if missing)", "", c->output_dir,
                               c->output_dir, sizeof c->output_dir, nullptr));
  PetscCall(PetscOptionsBool("-timing", "Print wall times and solver counts as well (not stable across runs)", "", c->timing,
                             &c->timing, nullptr));
  PetscCall(PetscOptionsBool("-view", "Print the layer's report at the end", "", c->view, &c->view, nullptr));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}

void check_config(const Config& c) {
  FOLDOPT_CHECK(c.grid >= 3 && c.grid <= 100000, PETSC_ERR_ARG_OUTOFRANGE, "-grid %" PetscInt_FMT ": must be in [3, 100000]",
                c.grid);
  const std::string ob = c.obstacle;
  FOLDOPT_CHECK(ob == "bump" || ob == "plateaus", PETSC_ERR_ARG_UNKNOWN_TYPE, "-obstacle %s: unknown (bump, plateaus)",
                c.obstacle);
  FOLDOPT_CHECK(std::isfinite(c.load) && c.load > 0, PETSC_ERR_ARG_OUTOFRANGE, "-load %g: must be positive and finite",
                (double)c.load);
  FOLDOPT_CHECK(std::isfinite(c.noise) && c.noise >= 0, PETSC_ERR_ARG_OUTOFRANGE, "-noise %g: must be nonnegative and finite",
                (double)c.noise);
  FOLDOPT_CHECK(std::isfinite(c.beta) && c.beta >= 0, PETSC_ERR_ARG_OUTOFRANGE, "-beta %g: must be nonnegative and finite",
                (double)c.beta);
  FOLDOPT_CHECK(c.seed >= 0, PETSC_ERR_ARG_OUTOFRANGE, "-seed %" PetscInt_FMT ": must be nonnegative", c.seed);
  FOLDOPT_CHECK(std::isfinite(c.fd_eps) && c.fd_eps > 0, PETSC_ERR_ARG_OUTOFRANGE, "-fd_eps %g: must be positive",
                (double)c.fd_eps);
  FOLDOPT_CHECK(std::isfinite(c.fd_tol) && c.fd_tol > 0, PETSC_ERR_ARG_OUTOFRANGE, "-fd_tol %g: must be positive",
                (double)c.fd_tol);
}

/// Set an option unless the command line gives it.
void default_option(const char* name, const char* value) {
  PetscBool set = PETSC_FALSE;
  FOLDOPT_CALL(PetscOptionsHasName(nullptr, nullptr, name, &set));
  if (!set) FOLDOPT_CALL(PetscOptionsSetValue(nullptr, name, value));
}

/// A reproducible number in [0, 1) for (seed, stream, global grid index): splitmix64 of the three,
/// so a field drawn from it is the same at any number of ranks.
double uniform(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  std::uint64_t z = seed * 0x9E3779B97F4A7C15ull + stream * 0xD1B54A32D192ED03ull + index + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * (1.0 / 9007199254740992.0);
}

/// A standard normal number for (seed, stream, index) (Box–Muller on two uniforms).
double normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  const double u1 = 1.0 - uniform(seed, 2 * stream, index), u2 = uniform(seed, 2 * stream + 1, index);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

/// The simulation code's own objects: the grid, its stiffness matrix and its fields.
struct Membrane {
  OwnedDM da;
  OwnedMat K;
  OwnedVec psi, ub, f_true;
  PetscInt M = 0;
  PetscReal h = 0;

  OwnedVec create_vec() const {
    OwnedVec v;
    FOLDOPT_CALL(DMCreateGlobalVector(da, v.out()));
    return v;
  }

  /// v(i, j) = fn(x, y, natural index) at the grid's nodes ((i+1)h, (j+1)h) owned by this rank.
  template <typename Fn>
  void fill(Vec v, Fn fn) const {
    PetscInt xs, ys, xm, ym;
    FOLDOPT_CALL(DMDAGetCorners(da, &xs, &ys, nullptr, &xm, &ym, nullptr));
    PetscScalar** a;
    FOLDOPT_CALL(DMDAVecGetArray(da, v, &a));
    for (PetscInt j = ys; j < ys + ym; ++j)
      for (PetscInt i = xs; i < xs + xm; ++i)
        a[j][i] = fn((i + 1) * h, (j + 1) * h, static_cast<std::uint64_t>(j * M + i));
    FOLDOPT_CALL(DMDAVecRestoreArray(da, v, &a));
  }
};

std::unique_ptr<Membrane> build_membrane(MPI_Comm comm, const Config& c) {
  std::unique_ptr<Membrane> m(new Membrane);
  m->M = c.grid;
  m->h = 1.0 / static_cast<PetscReal>(c.grid + 1);
  FOLDOPT_CALL(DMDACreate2d(comm, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DMDA_STENCIL_STAR, c.grid, c.grid, PETSC_DECIDE,
                            PETSC_DECIDE, 1, 1, nullptr, nullptr, m->da.out()));
  FOLDOPT_CALL(DMSetFromOptions(m->da));
  FOLDOPT_CALL(DMSetUp(m->da));
  // K: the 5-point stiffness matrix, assembled by stencil on the DMDA's own matrix (Dirichlet
  // boundary: neighbours outside the grid are u = 0 and drop out).
  FOLDOPT_CALL(DMCreateMatrix(m->da, m->K.out()));
  PetscInt xs, ys, xm, ym;
  FOLDOPT_CALL(DMDAGetCorners(m->da, &xs, &ys, nullptr, &xm, &ym, nullptr));
  for (PetscInt j = ys; j < ys + ym; ++j)
    for (PetscInt i = xs; i < xs + xm; ++i) {
      MatStencil row{}, col[5]{};
      PetscScalar val[5];
      PetscInt k = 0;
      row.i = i, row.j = j;
      col[k].i = i, col[k].j = j, val[k++] = 4.0;
      if (i > 0) col[k].i = i - 1, col[k].j = j, val[k++] = -1.0;
      if (i < c.grid - 1) col[k].i = i + 1, col[k].j = j, val[k++] = -1.0;
      if (j > 0) col[k].i = i, col[k].j = j - 1, val[k++] = -1.0;
      if (j < c.grid - 1) col[k].i = i, col[k].j = j + 1, val[k++] = -1.0;
      FOLDOPT_CALL(MatSetValuesStencil(m->K, 1, &row, k, col, val, INSERT_VALUES));
    }
  FOLDOPT_CALL(MatAssemblyBegin(m->K, MAT_FINAL_ASSEMBLY));
  FOLDOPT_CALL(MatAssemblyEnd(m->K, MAT_FINAL_ASSEMBLY));

  // The obstacle ψ, the unbounded upper bound, the hidden load f_true = h² F_true.
  m->psi = m->create_vec();
  m->ub = m->create_vec();
  m->f_true = m->create_vec();
  FOLDOPT_CALL(VecSet(m->ub, PETSC_INFINITY));
  const bool bump = std::string(c.obstacle) == "bump";
  m->fill(m->psi, [bump](double x, double y, std::uint64_t) {
    if (bump) return 1.1 * std::exp(-((x - 0.45) * (x - 0.45) + (y - 0.55) * (y - 0.55)) / (2 * 0.15 * 0.15)) - 1.0;
    if ((x - 0.3) * (x - 0.3) + (y - 0.35) * (y - 0.35) < 0.15 * 0.15) return 0.05;  // a disc
    if (std::abs(x - 0.7) < 0.12 && std::abs(y - 0.65) < 0.12) return -0.1;          // a square
    return -1.0;                                                                      // far below
  });
  const double h2 = m->h * m->h, F0 = c.load;
  m->fill(m->f_true, [h2, F0](double x, double y, std::uint64_t) {
    return -h2 * F0 * (1.0 + 0.5 * std::sin(2 * M_PI * x) * std::sin(2 * M_PI * y));
  });
  return m;
}

/// Nodes in contact, u_i − ψ_i ≤ 1e-9 (collective; a tron solution lies exactly on the bound there).
PetscInt contact_size(Vec u, Vec psi) {
  PetscInt n;
  FOLDOPT_CALL(VecGetLocalSize(u, &n));
  const PetscScalar *a, *b;
  FOLDOPT_CALL(VecGetArrayRead(u, &a));
  FOLDOPT_CALL(VecGetArrayRead(psi, &b));
  PetscInt local = 0, total = 0;
  for (PetscInt i = 0; i < n; ++i) local += PetscRealPart(a[i] - b[i]) <= 1e-9 ? 1 : 0;
  FOLDOPT_CALL(VecRestoreArrayRead(u, &a));
  FOLDOPT_CALL(VecRestoreArrayRead(psi, &b));
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)u, &comm));
  MPI_Allreduce(&local, &total, 1, MPIU_INT, MPI_SUM, comm);
  return total;
}

/// θ of one evaluation: references to f (TAO's vector), ψ and ub — no values are copied.
ParamSet theta_of(const Membrane& m, Vec f) {
  ParamSet t;
  t.add("q", f);
  t.add("lb", m.psi);
  t.add("ub", m.ub);
  return t;
}

/// Whether the QP holds the simulation's own objects: its matrix and its Hessian (the operator
/// tron and the map apply, for a θ without `H.values`) are K itself, its θ blocks q, lb, ub are f,
/// ψ and ub themselves.
bool shares_objects(foldopt::BoxQP& qp, const Membrane& m, Vec f) {
  OwnedMat hess = qp.hessian(f, theta_of(m, f));
  return qp.H() == m.K.get() && hess.get() == m.K.get() && qp.params().get("q") == f &&
         qp.params().get("lb") == m.psi.get() && qp.params().get("ub") == m.ub.get();
}

/// One row of the learning curve.
struct Row {
  PetscInt it;
  PetscReal J, L, gnorm, misfit;
  PetscInt contact;
};

/// The outer problem: J(f) through the layer, with what the monitor and the summary report.
class Outer {
 public:
  Outer(foldopt::FoldedLayer& layer, const Membrane& m, Vec u_target, PetscReal beta)
      : layer_(layer), m_(m), ut_(u_target), beta_(beta) {
    r_ = m.create_vec();
    kf_ = m.create_vec();
  }

  /// u*(f) and L(f) = ½‖u* − u_target‖² (a forward only).
  PetscReal loss(Vec f) {
    Vec u = layer_.forward(theta_of(m_, f));
    FOLDOPT_CALL(VecWAXPY(r_, -1.0, ut_, u));
    PetscReal nr;
    FOLDOPT_CALL(VecNorm(r_, NORM_2, &nr));
    ++forwards_;
    return 0.5 * nr * nr;
  }

  /// J(f) and ∇J(f) = ∂L/∂f + βKf; ∂L/∂f is the `q` block of the layer's backward. dLdf (optional)
  /// receives ∂L/∂f alone.
  PetscReal evaluate(Vec f, Vec G, Vec dLdf = nullptr) {
    const PetscReal L = loss(f);
    const double t0 = MPI_Wtime();
    ParamSet grad = layer_.backward(r_);
    backward_seconds_ += MPI_Wtime() - t0;
    ++backwards_;
    adjoint_iterations_ += layer_.adjoint().report().iterations;
    forward_iterations_ += layer_.forward_report().iterations;
    if (dLdf) FOLDOPT_CALL(VecCopy(grad.get("q"), dLdf));
    FOLDOPT_CALL(MatMult(m_.K, f, kf_));
    PetscScalar fkf;
    FOLDOPT_CALL(VecDot(f, kf_, &fkf));
    FOLDOPT_CALL(VecWAXPY(G, beta_, kf_, grad.get("q")));
    last_.J = L + 0.5 * beta_ * PetscRealPart(fkf);
    last_.L = L;
    FOLDOPT_CALL(VecNorm(r_, NORM_2, &last_.misfit));
    last_.contact = contact_size(layer_.solution(), m_.psi);
    return last_.J;
  }

  /// TAO's objective-and-gradient callback: no exception crosses PETSc; the first one is kept
  /// and thrown again after TaoSolve.
  static PetscErrorCode objgrad(Tao, Vec X, PetscReal* J, Vec G, void* ctx) {
    Outer* o = static_cast<Outer*>(ctx);
    try {
      *J = o->evaluate(X, G);
    } catch (...) {
      if (!o->error_) o->error_ = std::current_exception();
      return PETSC_ERR_LIB;
    }
    return 0;
  }

  /// TAO's monitor: one line per iteration and a row of the curve, at TAO's accepted iterate
  /// (re-evaluated only if the line search's last point was not the accepted one).
  static PetscErrorCode monitor(Tao tao, void* ctx) {
    Outer* o = static_cast<Outer*>(ctx);
    try {
      PetscInt it;
      PetscReal J, gnorm, cnorm, xdiff;
      TaoConvergedReason reason;
      FOLDOPT_CALL(TaoGetSolutionStatus(tao, &it, &J, &gnorm, &cnorm, &xdiff, &reason));
      if (std::abs(J - o->last_.J) > 1e-13 * std::abs(J)) {
        Vec X, G;
        FOLDOPT_CALL(TaoGetSolution(tao, &X));
        FOLDOPT_CALL(VecDuplicate(X, &G));
        OwnedVec g(G);
        o->evaluate(X, g);
      }
      Row r = o->last_;
      r.it = it;
      r.gnorm = gnorm;
      o->rows_.push_back(r);
      PetscPrintf(PetscObjectComm((PetscObject)tao),
                  "%4" PetscInt_FMT "  J = %.3e  |grad J| = %.2e  contact %6" PetscInt_FMT "  |u - u_target| = %.3e\n", it,
                  (double)r.J, (double)r.gnorm, r.contact, (double)r.misfit);
    } catch (...) {
      if (!o->error_) o->error_ = std::current_exception();
      return PETSC_ERR_LIB;
    }
    return 0;
  }

  void rethrow() {
    if (error_) std::rethrow_exception(error_);
  }
  const std::vector<Row>& rows() const { return rows_; }
  PetscInt forwards() const { return forwards_; }
  PetscInt backwards() const { return backwards_; }
  PetscInt adjoint_iterations() const { return adjoint_iterations_; }
  PetscInt forward_iterations() const { return forward_iterations_; }
  double backward_seconds() const { return backward_seconds_; }

 private:
  foldopt::FoldedLayer& layer_;
  const Membrane& m_;
  Vec ut_;
  PetscReal beta_;
  OwnedVec r_, kf_;
  Row last_{0, -1, -1, 0, 0, 0};
  std::vector<Row> rows_;
  PetscInt forwards_ = 0, backwards_ = 0, adjoint_iterations_ = 0, forward_iterations_ = 0;
  double backward_seconds_ = 0;
  std::exception_ptr error_;
};

/// mkdir -p on rank 0; every rank learns the outcome.
void make_directory(MPI_Comm comm, const std::string& dir) {
  int rank = 0, ok = 1;
  MPI_Comm_rank(comm, &rank);
  std::string why;
  if (rank == 0) {
    std::string path;
    for (std::size_t k = 0; k <= dir.size() && ok; ++k) {
      if (k < dir.size() && dir[k] != '/') continue;
      path = dir.substr(0, k);
      if (path.empty()) continue;
      struct stat st;
      if (stat(path.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) ok = 0, why = path + " is not a directory";
      } else if (mkdir(path.c_str(), 0777) != 0 && errno != EEXIST) {
        ok = 0, why = path + ": " + std::strerror(errno);
      }
    }
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, comm);
  FOLDOPT_CHECK(ok, PETSC_ERR_FILE_OPEN, "-output_dir %s: cannot create it%s%s", dir.c_str(), rank == 0 ? ": " : "",
                rank == 0 ? why.c_str() : "");
}

void write_curve(MPI_Comm comm, const std::string& path, const std::string& command, const Config& c,
                 const std::vector<Row>& rows) {
  int rank = 0, ok = 1;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) {
    std::FILE* fp = std::fopen(path.c_str(), "w");
    if (!fp) {
      ok = 0;
    } else {
      std::fprintf(fp, "# command: %s\n", command.c_str());
      std::fprintf(fp, "# instance: inverse obstacle problem, grid %d x %d, obstacle %s, load %g, noise %g, beta %g, seed %d\n",
                   (int)c.grid, (int)c.grid, c.obstacle, (double)c.load, (double)c.noise, (double)c.beta, (int)c.seed);
      std::fprintf(fp, "iteration,J,L,grad_norm,contact,misfit\n");
      for (const Row& r : rows)
        std::fprintf(fp, "%d,%.10e,%.10e,%.10e,%d,%.10e\n", (int)r.it, (double)r.J, (double)r.L, (double)r.gnorm,
                     (int)r.contact, (double)r.misfit);
      ok = std::fclose(fp) == 0;
    }
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, comm);
  FOLDOPT_CHECK(ok, PETSC_ERR_FILE_WRITE, "cannot write %s", path.c_str());
}

/// ‖a − b‖ / ‖b‖ over the nodes where mask is 1.
PetscReal relative_error(Vec a, Vec b, Vec mask) {
  OwnedVec d, bm;
  FOLDOPT_CALL(VecDuplicate(a, d.out()));
  FOLDOPT_CALL(VecDuplicate(a, bm.out()));
  FOLDOPT_CALL(VecWAXPY(d, -1.0, b, a));
  if (mask) FOLDOPT_CALL(VecPointwiseMult(d, d, mask));
  FOLDOPT_CALL(VecCopy(b, bm));
  if (mask) FOLDOPT_CALL(VecPointwiseMult(bm, bm, mask));
  PetscReal nd, nb;
  FOLDOPT_CALL(VecNorm(d, NORM_2, &nd));
  FOLDOPT_CALL(VecNorm(bm, NORM_2, &nb));
  return nb > 0 ? nd / nb : nd;
}

int run(MPI_Comm comm, int argc, char** argv) {
  Config c;
  FOLDOPT_CALL(read_config(comm, &c));
  check_config(c);
  make_directory(comm, c.output_dir);  // before the work: a bad -output_dir fails at once
  const double t_start = MPI_Wtime();
  std::unique_ptr<Membrane> m = build_membrane(comm, c);

  // The library's view of the simulation's objects: new references, no copies (see the header).
  OwnedVec f = m->create_vec();  // the outer variable, f₀ = 0
  FOLDOPT_CALL(VecZeroEntries(f));
  foldopt::BoxQP qp(m->K, f, m->psi, m->ub);
  const bool shared = shares_objects(qp, *m, f);
  FOLDOPT_CHECK(shared, PETSC_ERR_PLIB, "the library copied K or a vector instead of referencing it");

  // A layer over the QP; the example's own defaults before the command line: tight forward and
  // adjoint tolerances, so that the outer iterates agree at 1 and 2 ranks to the printed digits
  // (the outer problem is ill-conditioned and amplifies solver tolerances).
  default_option("-fold_fwd_tao_gatol", "1e-12");
  default_option("-fold_ksp_rtol", "1e-12");
  foldopt::FoldedLayer layer(qp);
  layer.set_from_options();

  // The target: u_target = u*(f_true) by the same forward, plus noise.
  OwnedVec ut = m->create_vec();
  {
    Vec u = layer.forward(theta_of(*m, m->f_true));
    FOLDOPT_CALL(VecCopy(u, ut));
  }
  OwnedVec free_true = m->create_vec();  // 1 where the target is not in contact
  {
    PetscInt n;
    FOLDOPT_CALL(VecGetLocalSize(ut, &n));
    const PetscScalar *u, *p;
    PetscScalar* w;
    FOLDOPT_CALL(VecGetArrayRead(ut, &u));
    FOLDOPT_CALL(VecGetArrayRead(m->psi, &p));
    FOLDOPT_CALL(VecGetArray(free_true, &w));
    for (PetscInt i = 0; i < n; ++i) w[i] = PetscRealPart(u[i] - p[i]) <= 1e-9 ? 0.0 : 1.0;
    FOLDOPT_CALL(VecRestoreArray(free_true, &w));
    FOLDOPT_CALL(VecRestoreArrayRead(m->psi, &p));
    FOLDOPT_CALL(VecRestoreArrayRead(ut, &u));
  }
  const PetscInt contact_true = contact_size(ut, m->psi);
  if (c.noise > 0) {
    OwnedVec xi = m->create_vec();
    const std::uint64_t seed = static_cast<std::uint64_t>(c.seed);
    m->fill(xi, [seed](double, double, std::uint64_t k) { return normal(seed, 1, k); });
    FOLDOPT_CALL(VecAXPY(ut, c.noise, xi));
  }
  Outer problem(layer, *m, ut, c.beta);

  const PetscInt N = c.grid * c.grid;
  PetscPrintf(comm, "inverse obstacle problem: grid %" PetscInt_FMT " x %" PetscInt_FMT " (%" PetscInt_FMT
                    " unknowns), obstacle %s, load %g, noise %g, beta %g\n",
              c.grid, c.grid, N, c.obstacle, (double)c.load, (double)c.noise, (double)c.beta);
  PetscPrintf(comm, "the library works on the DMDA's own K, f, psi (shared, not copied): %s\n", shared ? "yes" : "no");
  PetscPrintf(comm, "target: %" PetscInt_FMT " nodes in contact\n", contact_true);

  // The gradient check at f₀ along a random direction d (‖d‖∞ = h² F0, the load's scale).
  {
    OwnedVec d = m->create_vec(), fp = m->create_vec(), G = m->create_vec(), dLdf = m->create_vec();
    const std::uint64_t seed = static_cast<std::uint64_t>(c.seed);
    const double scale = m->h * m->h * c.load;
    m->fill(d, [seed, scale](double, double, std::uint64_t k) { return scale * (2 * uniform(seed, 2, k) - 1); });
    problem.evaluate(f, G, dLdf);
    PetscScalar gd;
    FOLDOPT_CALL(VecDot(dLdf, d, &gd));
    const PetscReal eps = c.fd_eps;
    FOLDOPT_CALL(VecWAXPY(fp, eps, d, f));
    const PetscReal Lp = problem.loss(fp);
    FOLDOPT_CALL(VecWAXPY(fp, -eps, d, f));
    const PetscReal Lm = problem.loss(fp);
    const PetscReal fd = (Lp - Lm) / (2 * eps), an = PetscRealPart(gd);
    const PetscReal rel = std::abs(an - fd) / std::max<PetscReal>(std::max(std::abs(an), std::abs(fd)), 1e-300);
    PetscPrintf(comm, "gradient check (central differences along a random direction): dL/df.d = %.5e, FD %.5e, %s %g\n",
                (double)an, (double)fd, rel <= c.fd_tol ? "relative difference below" : "RELATIVE DIFFERENCE ABOVE",
                (double)c.fd_tol);
    if (c.timing) PetscPrintf(comm, "gradient check: relative difference %.3e\n", (double)rel);
    FOLDOPT_CHECK(rel <= c.fd_tol, PETSC_ERR_PLIB,
                  "gradient check failed: relative difference %.3e between dL/df.d = %.10e and central differences %.10e "
                  "exceeds -fd_tol %g",
                  (double)rel, (double)an, (double)fd, (double)c.fd_tol);
  }

  // The outer optimizer: a TAO on f, prefix outer_, defaults before the command line.
  OwnedTao tao;
  FOLDOPT_CALL(TaoCreate(comm, tao.out()));
  FOLDOPT_CALL(TaoSetOptionsPrefix(tao, "outer_"));
  FOLDOPT_CALL(TaoSetType(tao, TAOLMVM));
  FOLDOPT_CALL(TaoSetMaximumIterations(tao, 40));
  FOLDOPT_CALL(TaoSetTolerances(tao, 1e-14, 1e-10, 0.0));
  FOLDOPT_CALL(TaoSetSolution(tao, f));
  FOLDOPT_CALL(TaoSetObjectiveAndGradient(tao, nullptr, Outer::objgrad, &problem));
  FOLDOPT_CALL(TaoSetMonitor(tao, Outer::monitor, &problem, nullptr));
  FOLDOPT_CALL(TaoSetFromOptions(tao));
  TaoType type;
  FOLDOPT_CALL(TaoGetType(tao, &type));
  PetscPrintf(comm, "outer optimizer: tao %s (-outer_tao_*); forward: %s; adjoint: -fold_ksp_*, -fold_pc_*\n", type,
              layer.forward_solver().type().c_str());
  const double t_outer = MPI_Wtime();
  const PetscErrorCode ierr = TaoSolve(tao);
  problem.rethrow();
  FOLDOPT_CALL(ierr);
  const double outer_seconds = MPI_Wtime() - t_outer;
  TaoConvergedReason reason;
  PetscInt its;
  FOLDOPT_CALL(TaoGetConvergedReason(tao, &reason));
  FOLDOPT_CALL(TaoGetIterationNumber(tao, &its));

  // The final state: u*(f) at TAO's solution.
  problem.loss(f);
  OwnedVec u = m->create_vec();
  FOLDOPT_CALL(VecCopy(layer.solution(), u));
  const std::vector<Row>& rows = problem.rows();
  FOLDOPT_CHECK(!rows.empty(), PETSC_ERR_PLIB, "the outer optimizer reported no iteration");
  const Row& first = rows.front();
  const Row& last = rows.back();
  FOLDOPT_CHECK(shares_objects(qp, *m, f), PETSC_ERR_PLIB, "the library copied K during the run");
  const PetscReal u_err = relative_error(u, ut, nullptr), f_err = relative_error(f, m->f_true, free_true);

  PetscPrintf(comm, "\n| quantity | value |\n|---|---|\n");
  PetscPrintf(comm, "| grid (unknowns) | %" PetscInt_FMT " x %" PetscInt_FMT " (%" PetscInt_FMT ") |\n", c.grid, c.grid, N);
  PetscPrintf(comm, "| outer iterations (tao %s) | %" PetscInt_FMT " (%s) |\n", type, its, TaoConvergedReasons[reason]);
  PetscPrintf(comm, "| loss J: first -> last | %.3e -> %.3e |\n", (double)first.J, (double)last.J);
  PetscPrintf(comm, "| misfit L = 1/2 |u - u_target|^2: first -> last | %.3e -> %.3e |\n", (double)first.L, (double)last.L);
  PetscPrintf(comm, "| relative error of u | %.2e |\n", (double)u_err);
  PetscPrintf(comm, "| relative error of f off the target's contact set | %.2e |\n", (double)f_err);
  PetscPrintf(comm, "| contact set: target, recovered | %" PetscInt_FMT ", %" PetscInt_FMT " |\n", contact_true, last.contact);
  if (c.timing) {
    int size = 1;
    MPI_Comm_size(comm, &size);
    PetscPrintf(comm, "| ranks | %d |\n", size);
    PetscPrintf(comm, "| forwards, backwards | %" PetscInt_FMT ", %" PetscInt_FMT " |\n", problem.forwards(),
                problem.backwards());
    PetscPrintf(comm, "| forward (tron) iterations, adjoint KSP iterations (total) | %" PetscInt_FMT ", %" PetscInt_FMT " |\n",
                problem.forward_iterations(), problem.adjoint_iterations());
    PetscPrintf(comm, "| outer loop, backward part, whole run (s) | %.2f, %.2f, %.2f |\n", outer_seconds,
                problem.backward_seconds(), MPI_Wtime() - t_start);
  }

  // Files: the curve (CSV) and the fields (PETSc binary, natural order: VecView of a DMDA vector).
  int size = 1;
  MPI_Comm_size(comm, &size);
  const std::string dir = c.output_dir, base = dir + "/obstacle_inverse_np" + std::to_string(size);
  std::string command = size > 1 ? "mpiexec -n " + std::to_string(size) + " " : "";
  for (int k = 0; k < argc; ++k) command += (k ? " " : "") + std::string(argv[k]);
  write_curve(comm, base + ".csv", command, c, rows);
  {
    OwnedViewer v;
    FOLDOPT_CALL(PetscViewerCreate(comm, v.out()));
    FOLDOPT_CALL(PetscViewerSetType(v, PETSCVIEWERBINARY));
    FOLDOPT_CALL(PetscViewerBinarySetSkipInfo(v, PETSC_TRUE));
    FOLDOPT_CALL(PetscViewerFileSetMode(v, FILE_MODE_WRITE));
    FOLDOPT_CALL(PetscViewerFileSetName(v, (base + "_fields.bin").c_str()));
    for (Vec w : {m->psi.get(), ut.get(), u.get(), m->f_true.get(), f.get(), free_true.get()}) FOLDOPT_CALL(VecView(w, v));
  }
  PetscPrintf(comm, "wrote obstacle_inverse_npP.csv and obstacle_inverse_npP_fields.bin (P ranks) to -output_dir\n");
  if (c.view) layer.view(PETSC_VIEWER_STDOUT_(comm));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (SlepcInitialize(&argc, &argv, nullptr, "examples/obstacle_inverse: an inverse obstacle problem on a DMDA grid\n")) return 1;
  PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
  int code = 0;
  try {
    code = run(PETSC_COMM_WORLD, argc, argv);
  } catch (const foldopt::Error& e) {
    // A collective error is raised on every rank: one rank reports it. Otherwise stop all ranks.
    int rank = 0;
    MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
    if (!e.collective() || rank == 0) std::fprintf(stderr, "obstacle_inverse: error: %s\n", e.what());
    if (!e.collective()) MPI_Abort(PETSC_COMM_WORLD, 1);
    code = 1;
  }
  PetscPopErrorHandler();
  SlepcFinalize();
  return code;
}

// Tested (examples/CMakeLists.txt, at 1 and 2 ranks, output compared with
// examples/output/obstacle_inverse.out) with the arguments:
//   -grid 32 -outer_tao_max_it 25 -output_dir obstacle_inverse_out
