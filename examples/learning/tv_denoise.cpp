// foldopt learning example (issue 11, item 2): total-variation denoising with a learned D.
//
// Method: the denoiser x*(d; D) = argmin_x ½‖x − d‖² + λ‖Dx‖₁ (problem `tv`: its dual
//   min ½‖Dᵀy − d‖² on ‖y‖∞ ≤ λ, FDPG forward = fista on the prox-gradient map, readout
//   x = d − Dᵀy, folded backward). D (the (n−1)×n first-difference operator at the start, pattern
//   fixed) is the layer's parameter block `D.values`, a leaf tensor trained by Adam on the MSE
//   ‖x*(d; D) − x_clean‖² / (B n) over batches of noisy piecewise-constant signals; one D is
//   trained per λ of -lambdas, and the test MSE of the fixed initial D is the baseline.
//   The same problem in QP form, through the folded ADMM map (problem `qp`, OSQP's form): the
//   unknowns z = (x, t) ∈ R^{n+m}, m = n − 1,
//     min ½‖x‖² − dᵀx + λ 1ᵀt   s.t.   Dx − t ≤ 0 (rows 0..m−1),   Dx + t ≥ 0 (rows m..2m−1),
//   i.e. P = diag(I_n, 0), q = (−d, λ1), A = [D −I; D I] with l = (−∞, 0), u = (0, +∞). A.values is
//   the QP's parameter block: it is built from D.values in the autograd graph (each row of A
//   holds D_ii, D_i,i+1 and ∓1), so the QP route learns the same D and returns the same
//   ∂L/∂D.values and ∂L/∂d. The program times training steps of both routes on the same
//   batches, side by side, and checks once that they agree.
// Algorithm: data (every rank alike, torch's generator from -seed): a signal of n entries starts
//   at a level uniform in [−1, 1) and jumps to a new such level after each entry with probability
//   -jump_prob; d = x_clean + N(0, -noise²) per entry; the first -train signals train, the next
//   -test test. Each rank passes its own entries of every block (Layer::local: its rows of the
//   batch, its rows of D), so D.values' gradient on each rank is already that of the whole batch's
//   loss for its own entries (D is split, not replicated: no sum over ranks); Adam acts entry by
//   entry, so the ranks' Adams together are one Adam on the whole D. The QP route gathers D.values
//   whole on every rank inside the graph (AllGather below: its backward sums over the ranks and
//   keeps the rank's own part). Checks (exit 1 if one fails): ∂L/∂D.values along a random
//   direction against central differences of the loss (relative -fd_tol); the training MSE
//   (whole training set) below the initial-D one for every λ; x*, ∂L/∂d and ∂L/∂D.values of the
//   two routes equal to -agree_tol (relative, 2-norm over the batch).
// Output (-output_dir): tv_denoise_curves.csv (epoch, λ, train MSE, test MSE, seconds per step;
//   epoch 0 = the initial D), tv_denoise_timing.csv (per compared step: each route's forward,
//   backward and step seconds), tv_denoise_signal.csv (one test signal: clean, noisy, denoised
//   with the initial and the learned D, for the first λ); plot: examples/learning/plot_tv_denoise.py DIR.
// References: A. Chambolle, J. Math. Imaging Vis. 20 (2004) 89–97 (the dual of TV); A. Beck,
//   M. Teboulle, Oper. Res. Lett. 42 (2014) 1–6 (FDPG); B. Stellato et al., Math. Prog. Comp. 12
//   (2020) 637–672 (OSQP's QP form); J. Kotary, M. H. Dinh, F. Fioretto, Folded optimization for
//   end-to-end model-based learning (2023), §6 "Enhanced total variation denoising".
//
// Options: -signal_length n (100), -train N (256), -test N (128), -batch B (16), -epochs E (30),
//   -lambdas l1,l2,... (0.05,0.1,0.2,0.4), -noise σ (0.1), -jump_prob p (0.05), -lr (0.003),
//   -seed (1), -fd_check (true), -fd_h (1e-5), -fd_tol (1e-5), -compare_steps K (10; 0: no QP
//   route), -agree_tol (1e-6), -output_dir DIR (.); -fdpg_OPTION [value] and -qp_OPTION [value] go to
//   the tv and the qp layer as -OPTION [value] (e.g. -fdpg_fold_fwd_fista_tol 1e-13, -qp_fold_view).
// Run (small, the CTest configuration):
//   mpiexec -n 2 build/examples/learning/tv_denoise -signal_length 40 -train 16 -test 16 -batch 8 -epochs 3 -lambdas 0.05,0.4 -compare_steps 1
// Run (the paper-like configuration, the README's results):
//   mpiexec -n 2 build/examples/learning/tv_denoise -output_dir examples/results
//   /usr/bin/python3 examples/learning/plot_tv_denoise.py examples/results
#include "learning.hpp"

#include <foldopt/torch.hpp>

#include <slepcsys.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

namespace {

using learning::format;
using ::torch::autograd::AutogradContext;
using ::torch::autograd::variable_list;

MPI_Comm comm() { return PETSC_COMM_WORLD; }

int rank_of() {
  int r = 0;
  MPI_Comm_rank(comm(), &r);
  return r;
}

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double max_over_ranks(double v) {
  MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_MAX, comm());
  return v;
}

/// Every rank's 1-D float64 tensor, concatenated in rank order (on every rank).
at::Tensor allgather(const at::Tensor& local) {
  at::Tensor l = local.detach().reshape({-1}).contiguous();
  int size = 1;
  MPI_Comm_size(comm(), &size);
  std::vector<int> counts(static_cast<std::size_t>(size)), displs(static_cast<std::size_t>(size), 0);
  const int mine = static_cast<int>(l.numel());
  MPI_Allgather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, comm());
  for (int r = 1; r < size; ++r) displs[static_cast<std::size_t>(r)] = displs[static_cast<std::size_t>(r - 1)] + counts[static_cast<std::size_t>(r - 1)];
  at::Tensor whole = at::empty({displs.back() + counts.back()}, at::kDouble);
  MPI_Allgatherv(l.data_ptr<double>(), mine, MPI_DOUBLE, whole.data_ptr<double>(), counts.data(), displs.data(), MPI_DOUBLE,
                 comm());
  return whole;
}

/// The whole of a split 1-D block in the graph: forward gathers every rank's part; backward sums
/// the whole gradient over the ranks and keeps this rank's part (`start` its first entry).
struct AllGather : public ::torch::autograd::Function<AllGather> {
  static at::Tensor forward(AutogradContext* ctx, at::Tensor local, int64_t start) {
    ctx->saved_data["start"] = start;
    ctx->saved_data["count"] = local.numel();
    return allgather(local);
  }
  static variable_list backward(AutogradContext* ctx, variable_list g) {
    at::Tensor w = g[0].contiguous().clone();
    MPI_Allreduce(MPI_IN_PLACE, w.data_ptr<double>(), static_cast<int>(w.numel()), MPI_DOUBLE, MPI_SUM, comm());
    return {w.narrow(0, ctx->saved_data["start"].toInt(), ctx->saved_data["count"].toInt()).clone(), at::Tensor()};
  }
};

/// ‖a − b‖ / ‖b‖ over all ranks (local parts of the same layout).
double rel_diff(const at::Tensor& a, const at::Tensor& b) {
  const double num = learning::sum_over_ranks((a - b).pow(2).sum().item<double>(), comm());
  const double den = learning::sum_over_ranks(b.pow(2).sum().item<double>(), comm());
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

struct Config {
  PetscInt n = 100, train = 256, test = 128, batch = 16, epochs = 30, seed = 1, compare_steps = 10;
  std::vector<PetscReal> lambdas = {0.05, 0.1, 0.2, 0.4};
  PetscReal noise = 0.1, jump_prob = 0.05, lr = 0.003, fd_h = 1e-5, fd_tol = 1e-5, agree_tol = 1e-6;
  PetscBool fd_check = PETSC_TRUE;
  std::string tv_options, qp_options;
};

/// The options -PREFIXname [value] of PETSc's database as "-name [value] ..." (for a layer's own
/// database: -fdpg_fold_view is the tv layer's -fold_view), marked as used. (A string option of
/// the program cannot carry them: PETSc reads a value that starts with '-' as the next option.)
std::string layer_options(const std::string& prefix) {
  PetscInt n = 0;
  char **names = nullptr, **values = nullptr;
  FOLDOPT_CALL(PetscOptionsLeftGet(nullptr, &n, &names, &values));
  std::string out;
  std::vector<std::string> taken;
  for (PetscInt i = 0; i < n; ++i) {
    std::string name = names[i];
    if (!name.empty() && name[0] == '-') name.erase(0, 1);
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    out += " -" + name.substr(prefix.size()) + (values[i] ? std::string(" ") + values[i] : std::string());
    taken.push_back("-" + name);
  }
  FOLDOPT_CALL(PetscOptionsLeftRestore(nullptr, &n, &names, &values));
  for (const std::string& t : taken) {
    PetscBool set = PETSC_FALSE;
    FOLDOPT_CALL(PetscOptionsHasName(nullptr, nullptr, t.c_str(), &set));  // marks it used
  }
  return out;
}

PetscErrorCode read_options(Config* c) {
  char lam[1024] = "0.05,0.1,0.2,0.4";
  PetscBool lam_set = PETSC_FALSE;
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm(), nullptr, "tv_denoise: TV denoising with a learned D (FDPG) against the QP form (ADMM); -fdpg_X / -qp_X: option -X of the tv / qp layer", "tv_denoise");
  PetscCall(PetscOptionsInt("-signal_length", "Signal length n (D is (n-1) x n)", "", c->n, &c->n, nullptr));
  PetscCall(PetscOptionsInt("-train", "Training signals (a multiple of -batch)", "", c->train, &c->train, nullptr));
  PetscCall(PetscOptionsInt("-test", "Test signals (a multiple of -batch)", "", c->test, &c->test, nullptr));
  PetscCall(PetscOptionsInt("-batch", "Signals per training step (the layer's batch B)", "", c->batch, &c->batch, nullptr));
  PetscCall(PetscOptionsInt("-epochs", "Epochs per lambda", "", c->epochs, &c->epochs, nullptr));
  PetscCall(PetscOptionsString("-lambdas", "Regularization weights, comma-separated: one trained D each", "", lam, lam, sizeof lam,
                               &lam_set));
  PetscCall(PetscOptionsReal("-noise", "Standard deviation of the Gaussian noise", "", c->noise, &c->noise, nullptr));
  PetscCall(PetscOptionsReal("-jump_prob", "Probability of a jump after each entry of a signal", "", c->jump_prob, &c->jump_prob,
                             nullptr));
  PetscCall(PetscOptionsReal("-lr", "Adam's learning rate for D.values", "", c->lr, &c->lr, nullptr));
  PetscCall(PetscOptionsInt("-seed", "Seed of the data, the shuffles and the FD direction", "", c->seed, &c->seed, nullptr));
  PetscCall(PetscOptionsBool("-fd_check", "Check dL/dD.values against central differences once", "", c->fd_check, &c->fd_check,
                             nullptr));
  PetscCall(PetscOptionsReal("-fd_h", "Central-difference step (along a unit-RMS direction)", "", c->fd_h, &c->fd_h, nullptr));
  PetscCall(PetscOptionsReal("-fd_tol", "Relative tolerance of the FD check", "", c->fd_tol, &c->fd_tol, nullptr));
  PetscCall(PetscOptionsInt("-compare_steps", "Training steps timed through both routes, FDPG and QP/ADMM (0: no QP route)", "",
                            c->compare_steps, &c->compare_steps, nullptr));
  PetscCall(PetscOptionsReal("-agree_tol", "Relative tolerance of the FDPG/QP agreement (x*, dL/dd, dL/dD)", "", c->agree_tol,
                             &c->agree_tol, nullptr));
  PetscOptionsEnd();
  if (lam_set) {
    c->lambdas.clear();
    const std::string text = lam;
    for (std::size_t pos = 0; pos <= text.size();) {
      const std::size_t end = std::min(text.find(',', pos), text.size());
      const std::string item = text.substr(pos, end - pos);
      char* stop = nullptr;
      const double v = std::strtod(item.c_str(), &stop);
      FOLDOPT_CHECK(!item.empty() && stop && *stop == 0, PETSC_ERR_ARG_WRONG, "tv_denoise: -lambdas %s: '%s' is not a number", lam,
                    item.c_str());
      c->lambdas.push_back(v);
      pos = end + 1;
    }
  }
  c->tv_options = layer_options("fdpg_");
  // ADMM's σ: 1e-4 rather than the map's 1e-6. P is 0 on t, so the KKT matrix's t-block is σI, and
  // at 1e-6 the forward's fixed-point residual stalls near 3e-10, above its tolerance 1e-10, and
  // runs to its iteration limit; σ does not move the fixed point. -qp_fold_admm_sigma overrides it.
  c->qp_options = "-fold_admm_sigma 1e-4" + layer_options("qp_");
  PetscFunctionReturn(0);
}

void check_config(const Config& c) {
  FOLDOPT_CHECK(c.n >= 2, PETSC_ERR_ARG_OUTOFRANGE, "tv_denoise: -signal_length %" PetscInt_FMT " must be at least 2", c.n);
  FOLDOPT_CHECK(c.batch >= 1, PETSC_ERR_ARG_OUTOFRANGE, "tv_denoise: -batch %" PetscInt_FMT " must be positive", c.batch);
  FOLDOPT_CHECK(c.train >= c.batch && c.train % c.batch == 0, PETSC_ERR_ARG_OUTOFRANGE,
                "tv_denoise: -train %" PetscInt_FMT " must be a positive multiple of -batch %" PetscInt_FMT, c.train, c.batch);
  FOLDOPT_CHECK(c.test >= c.batch && c.test % c.batch == 0, PETSC_ERR_ARG_OUTOFRANGE,
                "tv_denoise: -test %" PetscInt_FMT " must be a positive multiple of -batch %" PetscInt_FMT, c.test, c.batch);
  FOLDOPT_CHECK(c.epochs >= 1, PETSC_ERR_ARG_OUTOFRANGE, "tv_denoise: -epochs %" PetscInt_FMT " must be positive", c.epochs);
  FOLDOPT_CHECK(!c.lambdas.empty(), PETSC_ERR_ARG_WRONG, "tv_denoise: -lambdas needs at least one value");
  for (PetscReal l : c.lambdas)
    FOLDOPT_CHECK(std::isfinite(l) && l > 0, PETSC_ERR_ARG_OUTOFRANGE, "tv_denoise: -lambdas: %g must be positive", (double)l);
  FOLDOPT_CHECK(std::isfinite(c.noise) && c.noise >= 0, PETSC_ERR_ARG_OUTOFRANGE, "tv_denoise: -noise %g must be >= 0",
                (double)c.noise);
  FOLDOPT_CHECK(c.jump_prob >= 0 && c.jump_prob <= 1, PETSC_ERR_ARG_OUTOFRANGE, "tv_denoise: -jump_prob %g must be in [0, 1]",
                (double)c.jump_prob);
  FOLDOPT_CHECK(std::isfinite(c.lr) && c.lr > 0, PETSC_ERR_ARG_OUTOFRANGE, "tv_denoise: -lr %g must be positive", (double)c.lr);
  FOLDOPT_CHECK(c.seed >= 0, PETSC_ERR_ARG_OUTOFRANGE, "tv_denoise: -seed %" PetscInt_FMT " must be >= 0", c.seed);
  FOLDOPT_CHECK(std::isfinite(c.fd_h) && c.fd_h > 0, PETSC_ERR_ARG_OUTOFRANGE, "tv_denoise: -fd_h %g must be positive", (double)c.fd_h);
  FOLDOPT_CHECK(c.fd_tol > 0, PETSC_ERR_ARG_OUTOFRANGE, "tv_denoise: -fd_tol %g must be positive", (double)c.fd_tol);
  FOLDOPT_CHECK(c.agree_tol > 0, PETSC_ERR_ARG_OUTOFRANGE, "tv_denoise: -agree_tol %g must be positive", (double)c.agree_tol);
  FOLDOPT_CHECK(c.compare_steps >= 0 && c.compare_steps <= c.train / c.batch, PETSC_ERR_ARG_OUTOFRANGE,
                "tv_denoise: -compare_steps %" PetscInt_FMT " must be in [0, train/batch = %" PetscInt_FMT "]", c.compare_steps,
                c.train / c.batch);
}

/// Piecewise-constant signals [count, n] with jumps, and their noisy copies (same on every rank).
struct Signals {
  at::Tensor clean, noisy;
};

Signals make_signals(const Config& c, int64_t count) {
  const auto dbl = at::TensorOptions().dtype(at::kDouble);
  at::Tensor jump = ::torch::rand({count, c.n}, dbl) < c.jump_prob;
  jump.select(1, 0).fill_(true);
  at::Tensor levels = 2 * ::torch::rand({count, c.n}, dbl) - 1;
  // A segment's level is the draw at its first entry: entry j takes that of the last jump ≤ j.
  at::Tensor first = std::get<0>(at::arange(c.n, at::kLong).expand({count, c.n}).masked_fill(~jump, 0).cummax(1));
  Signals s;
  s.clean = levels.gather(1, first);
  s.noisy = s.clean + c.noise * ::torch::randn({count, c.n}, dbl);
  return s;
}

/// The FDPG route: the `tv` layer and its blocks.
struct TvRoute {
  foldopt::torch::Layer layer;
  std::size_t id = 0, ilam = 0, iD = 0;
  int64_t n, batch;
  TvRoute(const Config& c)
      : layer("tv", format("-n %d -batch %d ", (int)c.n, (int)c.batch) + c.tv_options), n(c.n), batch(c.batch) {
    const std::vector<std::string> names = layer.names();
    auto find = [&](const std::string& b) {
      auto it = std::find(names.begin(), names.end(), b);
      FOLDOPT_CHECK(it != names.end(), PETSC_ERR_PLIB, "tv_denoise: the tv layer has no block '%s'", b.c_str());
      return static_cast<std::size_t>(it - names.begin());
    };
    id = find("d");
    ilam = find("lambda");
    iD = find("D.values");
    FOLDOPT_CHECK(layer.kinds()[iD] == foldopt::BlockKind::matrix_values, PETSC_ERR_PLIB,
                  "tv_denoise: block D.values is not a matrix-values block");
    FOLDOPT_CHECK(layer.global_size(iD) == 2 * (n - 1), PETSC_ERR_ARG_WRONG,
                  "tv_denoise: D.values has %lld entries; the program needs the 1-D first-difference pattern (2 per row), "
                  "do not give -fdpg_Dmat or -fdpg_tv_grid",
                  (long long)layer.global_size(iD));
  }
  /// x*(d; D) for a whole batch [B, n] (every rank alike): this rank's entries, 1-D.
  at::Tensor solve(const at::Tensor& d_whole, const at::Tensor& lam, const at::Tensor& D) {
    std::vector<at::Tensor> theta = layer.params();
    theta[id] = layer.local(id, d_whole);
    theta[ilam] = layer.local(ilam, lam);
    theta[iD] = D;  // the map's α = 1/(‖D‖₁‖D‖∞) follows D at each forward
    return layer.forward(theta).reshape({-1});
  }
  /// This rank's entries of a whole [B, n] tensor in the solution's layout.
  at::Tensor mine(const at::Tensor& whole) const {
    return whole.reshape({-1}).narrow(0, layer.solution_start(), layer.local_size(id));
  }
};

/// The QP route: the `qp` layer over files describing P, A (pattern) and the bounds.
struct QpRoute {
  foldopt::torch::Layer layer;
  std::size_t iq = 0, il = 0, iu = 0, iA = 0;
  int64_t n, m, batch;
  at::Tensor l_whole, u_whole, weight;  // bounds; the x-part mask of z
  QpRoute(const Config& c, const std::string& dir) : layer(create(c, dir)), n(c.n), m(c.n - 1), batch(c.batch) {
    const std::vector<std::string> names = layer.names();
    auto find = [&](const std::string& b) {
      auto it = std::find(names.begin(), names.end(), b);
      FOLDOPT_CHECK(it != names.end(), PETSC_ERR_PLIB, "tv_denoise: the qp layer has no block '%s'", b.c_str());
      return static_cast<std::size_t>(it - names.begin());
    };
    iq = find("q");
    il = find("l");
    iu = find("u");
    iA = find("A.values");
    const double inf = std::numeric_limits<double>::infinity();
    const auto dbl = at::TensorOptions().dtype(at::kDouble);
    l_whole = at::cat({at::full({batch, m}, -inf, dbl), at::zeros({batch, m}, dbl)}, 1);
    u_whole = at::cat({at::zeros({batch, m}, dbl), at::full({batch, m}, inf, dbl)}, 1);
    weight = mine(at::cat({at::ones({batch, n}, dbl), at::zeros({batch, m}, dbl)}, 1));
  }
  /// Writes P = diag(I_n, 0), A = [D −I; D I] (first differences: the pattern), and q, l, u for
  /// B instances in MatrixMarket files under dir (rank 0), builds the layer from them (which
  /// rows are one-sided is fixed by l and u there) and removes them.
  static foldopt::torch::Layer create(const Config& c, const std::string& dir) {
    const int n = static_cast<int>(c.n), m = n - 1, B = static_cast<int>(c.batch);
    const std::string P = dir + "/tv_denoise_qp.P.mtx", A = dir + "/tv_denoise_qp.A.mtx", q = dir + "/tv_denoise_qp.q.mtx",
                      l = dir + "/tv_denoise_qp.l.mtx", u = dir + "/tv_denoise_qp.u.mtx";
    int ok = 1;
    if (rank_of() == 0) {
      auto open = [&](const std::string& f) {
        std::FILE* fp = std::fopen(f.c_str(), "w");
        if (!fp) ok = 0;
        return fp;
      };
      if (std::FILE* fp = open(P)) {
        std::fprintf(fp, "%%%%MatrixMarket matrix coordinate real general\n%d %d %d\n", n + m, n + m, n);
        for (int i = 0; i < n; ++i) std::fprintf(fp, "%d %d 1\n", i + 1, i + 1);
        ok &= std::fclose(fp) == 0;
      }
      if (std::FILE* fp = open(A)) {
        std::fprintf(fp, "%%%%MatrixMarket matrix coordinate real general\n%d %d %d\n", 2 * m, n + m, 6 * m);
        for (int s = 0; s < 2; ++s)
          for (int i = 0; i < m; ++i) {
            const int r = s * m + i + 1;
            std::fprintf(fp, "%d %d -1\n%d %d 1\n%d %d %d\n", r, i + 1, r, i + 2, r, n + i + 1, s ? 1 : -1);
          }
        ok &= std::fclose(fp) == 0;
      }
      auto array = [&](const std::string& f, int rows, auto value) {
        if (std::FILE* fp = open(f)) {
          std::fprintf(fp, "%%%%MatrixMarket matrix array real general\n%d %d\n", rows, B);
          for (int b = 0; b < B; ++b)
            for (int i = 0; i < rows; ++i) std::fprintf(fp, "%s\n", value(i));
          ok &= std::fclose(fp) == 0;
        }
      };
      array(q, n + m, [](int) { return "0"; });
      array(l, 2 * m, [m](int i) { return i < m ? "-inf" : "0"; });
      array(u, 2 * m, [m](int i) { return i < m ? "0" : "inf"; });
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, comm());
    FOLDOPT_CHECK(ok, PETSC_ERR_FILE_WRITE, "tv_denoise: cannot write the QP files under %s", dir.c_str());
    foldopt::torch::Layer layer("qp", "-Pmat " + P + " -Amat " + A + " -q " + q + " -l " + l + " -u " + u + " " + c.qp_options);
    MPI_Barrier(comm());  // every rank has read them: the files have done their part
    if (rank_of() == 0)
      for (const std::string& f : {P, A, q, l, u}) std::remove(f.c_str());
    return layer;
  }
  /// This rank's entries of a whole [B, n + m] tensor in the solution's layout.
  at::Tensor mine(const at::Tensor& whole) const {
    return whole.reshape({-1}).narrow(0, layer.solution_start(), layer.local_size(iq));
  }
  /// z*(d; D) for a whole batch: this rank's entries of z, 1-D. D is this rank's part of
  /// D.values (the tv layer's split), `start` its first entry.
  at::Tensor solve(const at::Tensor& d_whole, double lam, const at::Tensor& D, int64_t start) {
    const auto dbl = at::TensorOptions().dtype(at::kDouble);
    at::Tensor Dw = AllGather::apply(D, start).reshape({m, 2});
    at::Tensor A_whole = at::cat({at::cat({Dw, -at::ones({m, 1}, dbl)}, 1), at::cat({Dw, at::ones({m, 1}, dbl)}, 1)}, 0);
    at::Tensor q_whole = at::cat({-d_whole, at::full({batch, m}, lam, dbl)}, 1);
    std::vector<at::Tensor> theta = layer.params();
    theta[iq] = layer.local(iq, q_whole);
    theta[il] = layer.local(il, l_whole);
    theta[iu] = layer.local(iu, u_whole);
    theta[iA] = layer.local(iA, A_whole);
    return layer.forward(theta).reshape({-1});
  }
};

/// The batch's MSE on this rank's entries (Σ over the ranks: the batch's MSE).
at::Tensor mse_part(const at::Tensor& x, const at::Tensor& target, int64_t entries) {
  return (x - target).pow(2).sum() / static_cast<double>(entries);
}

/// MSE of x*(·; D) over a whole set (no graph), in batches.
double evaluate(TvRoute& tv, const Signals& s, const at::Tensor& lam, const at::Tensor& D) {
  ::torch::NoGradGuard no_grad;
  const int64_t count = s.clean.size(0);
  double sum = 0;
  for (int64_t b0 = 0; b0 < count; b0 += tv.batch) {
    at::Tensor x = tv.solve(s.noisy.narrow(0, b0, tv.batch), lam, D);
    sum += (x - tv.mine(s.clean.narrow(0, b0, tv.batch))).pow(2).sum().item<double>();
  }
  return learning::sum_over_ranks(sum, comm()) / static_cast<double>(count * tv.n);
}

struct StepTime {
  double forward = 0, backward = 0, total = 0;
};

}  // namespace

int main(int argc, char** argv) {
  if (SlepcInitialize(&argc, &argv, nullptr, nullptr)) return 1;
  const int rank = rank_of();
  int status = 0;
  try {
    Config c;
    FOLDOPT_CALL(read_options(&c));
    check_config(c);
    const std::string dir = learning::output_dir(comm());
    const std::string cmd = learning::command_line(argc, argv);
    int size = 1;
    MPI_Comm_size(comm(), &size);
    const auto dbl = at::TensorOptions().dtype(at::kDouble);

    ::torch::manual_seed(static_cast<uint64_t>(c.seed));
    const Signals train = make_signals(c, c.train), test = make_signals(c, c.test);
    const double noisy_test_mse = (test.noisy - test.clean).pow(2).mean().item<double>();

    TvRoute tv(c);
    const at::Tensor D0 = tv.layer.params()[tv.iD].clone();  // first differences, this rank's rows
    const int64_t D_start = tv.layer.local_start(tv.iD);
    std::vector<std::string> comments = {
        "command: " + cmd,
        format("ranks %d; signals n = %d, train %d, test %d, batch %d, epochs %d, noise %g, jump_prob %g, lr %g, seed %d", size,
               (int)c.n, (int)c.train, (int)c.test, (int)c.batch, (int)c.epochs, (double)c.noise, (double)c.jump_prob,
               (double)c.lr, (int)c.seed),
        format("test MSE of the noisy signals themselves: %.6e", noisy_test_mse),
        "epoch 0: the initial D (first differences, the fixed-D baseline); seconds_per_step: wall time of forward + backward + "
        "Adam step (max over ranks), mean over the epoch"};
    learning::Csv curves(comm(), dir + "/tv_denoise_curves.csv", comments, "epoch,lambda,train_mse,test_mse,seconds_per_step");

    bool ok = true;
    // ---- the gradient against central differences (first λ, initial D, first batch) ----
    if (c.fd_check) {
      const at::Tensor lam = at::full({1}, c.lambdas[0], dbl);
      const at::Tensor d = train.noisy.narrow(0, 0, c.batch), target = tv.mine(train.clean.narrow(0, 0, c.batch));
      const int64_t entries = c.batch * c.n;
      at::Tensor D = D0.clone().requires_grad_(true);
      at::Tensor loss = mse_part(tv.solve(d, lam, D), target, entries);
      loss.backward();
      ::torch::manual_seed(static_cast<uint64_t>(c.seed) + 7);
      const at::Tensor v = tv.layer.local(tv.iD, ::torch::randn({tv.layer.global_size(tv.iD)}, dbl));
      const double gv = learning::sum_over_ranks((D.grad() * v).sum().item<double>(), comm());
      auto L = [&](double h) {
        ::torch::NoGradGuard no_grad;
        return learning::sum_over_ranks(mse_part(tv.solve(d, lam, D0 + h * v), target, entries).item<double>(), comm());
      };
      const double fd = (L(c.fd_h) - L(-c.fd_h)) / (2 * c.fd_h);
      const double rel = std::abs(fd - gv) / std::max(std::abs(gv), 1e-300);
      const bool pass = gv != 0 && rel <= c.fd_tol;
      if (rank == 0)
        std::printf("FD check (lambda %g, batch 0, h %g): dL/dD.values . v = %.10e, central difference %.10e, rel %.2e (<= %g: %s)\n",
                    (double)c.lambdas[0], (double)c.fd_h, gv, fd, rel, (double)c.fd_tol, pass ? "yes" : "NO");
      ok = ok && pass;
    }

    // ---- FDPG against the QP form through ADMM: agreement once, then time per step ----
    struct Compared {
      double x = 0, dd = 0, dD = 0, fdpg = 0, qp = 0;
    } cmp;
    if (c.compare_steps > 0) {
      QpRoute qp(c, dir);
      learning::Csv timing(comm(), dir + "/tv_denoise_timing.csv",
                           {"command: " + cmd,
                            format("ranks %d; n = %d, batch %d, lambda %g; the same batches and initial D through both routes, "
                                   "alternating step by step; each route its own copy of D and its own Adam",
                                   size, (int)c.n, (int)c.batch, (double)c.lambdas[0]),
                            "seconds: wall time, max over ranks; forward = layer forward (incl. building theta), backward = "
                            "loss.backward(), step = forward + backward + Adam step"},
                           "step,route,forward_seconds,backward_seconds,step_seconds");
      const double lam = c.lambdas[0];
      const at::Tensor lam_t = at::full({1}, lam, dbl);
      at::Tensor Df = D0.clone().requires_grad_(true), Dq = D0.clone().requires_grad_(true);
      ::torch::optim::Adam opt_f({Df}, ::torch::optim::AdamOptions(c.lr)), opt_q({Dq}, ::torch::optim::AdamOptions(c.lr));
      std::vector<double> tf, tq;
      for (PetscInt s = 0; s < c.compare_steps; ++s) {
        const at::Tensor clean = train.clean.narrow(0, s * c.batch, c.batch), noisy = train.noisy.narrow(0, s * c.batch, c.batch);
        const bool check = s == 0;
        StepTime f, q;
        // FDPG
        opt_f.zero_grad();
        at::Tensor df = noisy.clone().requires_grad_(check);
        MPI_Barrier(comm());
        double t0 = now();
        at::Tensor x = tv.solve(df, lam_t, Df);
        double t1 = now();
        mse_part(x, tv.mine(clean), c.batch * c.n).backward();
        double t2 = now();
        opt_f.step();
        double t3 = now();
        f = {max_over_ranks(t1 - t0), max_over_ranks(t2 - t1), max_over_ranks(t3 - t0)};
        // QP through ADMM
        opt_q.zero_grad();
        at::Tensor dq = noisy.clone().requires_grad_(check);
        MPI_Barrier(comm());
        t0 = now();
        at::Tensor z = qp.solve(dq, lam, Dq, D_start);
        t1 = now();
        at::Tensor tz = qp.mine(at::cat({clean, at::zeros({c.batch, c.n - 1}, dbl)}, 1));
        (qp.weight * (z - tz).pow(2)).sum().div(static_cast<double>(c.batch * c.n)).backward();
        t2 = now();
        if (check) {
          // Before the step: both gradients at the same D.
          const at::Tensor xw = allgather(x), zw = allgather(z).reshape({c.batch, 2 * c.n - 1}).narrow(1, 0, c.n).reshape({-1});
          cmp.x = (xw - zw).norm().item<double>() / xw.norm().item<double>();
          // dL/dd: the tv layer's on this rank's part; the QP route's through q on every rank's whole d (Σ over ranks).
          at::Tensor gq = dq.grad().reshape({-1}).contiguous().clone();
          MPI_Allreduce(MPI_IN_PLACE, gq.data_ptr<double>(), static_cast<int>(gq.numel()), MPI_DOUBLE, MPI_SUM, comm());
          at::Tensor gf = df.grad().reshape({-1}).contiguous().clone();
          MPI_Allreduce(MPI_IN_PLACE, gf.data_ptr<double>(), static_cast<int>(gf.numel()), MPI_DOUBLE, MPI_SUM, comm());
          cmp.dd = (gq - gf).norm().item<double>() / gf.norm().item<double>();
          cmp.dD = rel_diff(Dq.grad(), Df.grad());
        }
        opt_q.step();
        t3 = now();
        q = {max_over_ranks(t1 - t0), max_over_ranks(t2 - t1), max_over_ranks(t3 - t0)};
        timing.row(format("%d,fdpg,%.6e,%.6e,%.6e", (int)s, f.forward, f.backward, f.total));
        timing.row(format("%d,qp_admm,%.6e,%.6e,%.6e", (int)s, q.forward, q.backward, q.total));
        tf.push_back(f.total);
        tq.push_back(q.total);
        if (rank == 0)
          std::printf("compare step %d: FDPG %.4f s (forward %.4f, backward %.4f), QP/ADMM %.4f s (forward %.4f, backward %.4f)\n",
                      (int)s, f.total, f.forward, f.backward, q.total, q.forward, q.backward);
      }
      auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        const std::size_t k = v.size();
        return k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2]);
      };
      cmp.fdpg = median(tf);
      cmp.qp = median(tq);
      timing.row(format("median,fdpg,,,%.6e", cmp.fdpg));
      timing.row(format("median,qp_admm,,,%.6e", cmp.qp));
      timing.close();
      const bool pass = cmp.x <= c.agree_tol && cmp.dd <= c.agree_tol && cmp.dD <= c.agree_tol;
      if (rank == 0)
        std::printf("FDPG vs QP/ADMM (step 0): x* rel %.2e, dL/dd rel %.2e, dL/dD.values rel %.2e (<= %g: %s); median step "
                    "%.4f s vs %.4f s: QP/FDPG = %.1f\n",
                    cmp.x, cmp.dd, cmp.dD, (double)c.agree_tol, pass ? "yes" : "NO", cmp.fdpg, cmp.qp, cmp.qp / cmp.fdpg);
      ok = ok && pass;
    }

    // ---- training, one D per λ ----
    struct Result {
      double lambda, train0, train, test0, test, step;
    };
    std::vector<Result> results;
    const int64_t steps = c.train / c.batch;
    at::Tensor example_learned, example_fixed;
    for (std::size_t li = 0; li < c.lambdas.size(); ++li) {
      const double lam = c.lambdas[li];
      const at::Tensor lam_t = at::full({1}, lam, dbl);
      at::Tensor D = D0.clone().requires_grad_(true);
      ::torch::optim::Adam opt({D}, ::torch::optim::AdamOptions(c.lr));
      Result r{lam, evaluate(tv, train, lam_t, D0), 0, evaluate(tv, test, lam_t, D0), 0, 0};
      curves.row(format("0,%g,%.8e,%.8e,", lam, r.train0, r.test0));
      if (rank == 0) std::printf("lambda %g epoch %3d  train MSE %.6e  test MSE %.6e  (initial D)\n", lam, 0, r.train0, r.test0);
      ::torch::manual_seed(static_cast<uint64_t>(c.seed) + 100 + li);
      for (PetscInt e = 1; e <= c.epochs; ++e) {
        const at::Tensor perm = ::torch::randperm(c.train, at::TensorOptions().dtype(at::kLong));
        double seconds = 0;
        for (int64_t s = 0; s < steps; ++s) {
          const at::Tensor idx = perm.narrow(0, s * c.batch, c.batch);
          MPI_Barrier(comm());
          const double t0 = now();
          opt.zero_grad();
          at::Tensor x = tv.solve(train.noisy.index_select(0, idx), lam_t, D);
          mse_part(x, tv.mine(train.clean.index_select(0, idx)), c.batch * c.n).backward();
          opt.step();
          seconds += max_over_ranks(now() - t0);
        }
        r.step = seconds / static_cast<double>(steps);
        r.train = evaluate(tv, train, lam_t, D.detach());
        r.test = evaluate(tv, test, lam_t, D.detach());
        curves.row(format("%d,%g,%.8e,%.8e,%.6e", (int)e, lam, r.train, r.test, r.step));
        if (rank == 0)
          std::printf("lambda %g epoch %3d  train MSE %.6e  test MSE %.6e  %.4f s/step\n", lam, (int)e, r.train, r.test, r.step);
      }
      if (li == 0) {
        ::torch::NoGradGuard no_grad;
        const at::Tensor d = test.noisy.narrow(0, 0, c.batch);
        example_fixed = allgather(tv.solve(d, lam_t, D0)).reshape({c.batch, c.n}).select(0, 0);
        example_learned = allgather(tv.solve(d, lam_t, D.detach())).reshape({c.batch, c.n}).select(0, 0);
      }
      results.push_back(r);
      if (!(r.train < r.train0)) {
        if (rank == 0) std::printf("tv_denoise: lambda %g: the training MSE did not fall below the initial D's\n", lam);
        ok = false;
      }
    }
    curves.close();
    {
      learning::Csv sig(comm(), dir + "/tv_denoise_signal.csv",
                        {"command: " + cmd, format("test signal 0, lambda %g: denoised with the initial and the learned D",
                                                   (double)c.lambdas[0])},
                        "i,clean,noisy,x_initial_D,x_learned_D");
      for (int64_t i = 0; i < c.n; ++i)
        sig.row(format("%d,%.8e,%.8e,%.8e,%.8e", (int)i, test.clean[0][i].item<double>(), test.noisy[0][i].item<double>(),
                       example_fixed[i].item<double>(), example_learned[i].item<double>()));
      sig.close();
    }

    if (rank == 0) {
      std::printf("\n| lambda | train MSE, initial D | train MSE, learned D | test MSE, initial D (baseline) | test MSE, learned D | "
                  "learned / baseline | s/step (FDPG) |\n|---|---|---|---|---|---|---|\n");
      for (const Result& r : results)
        std::printf("| %g | %.4e | %.4e | %.4e | %.4e | %.3f | %.4f |\n", r.lambda, r.train0, r.train, r.test0, r.test,
                    r.test / r.test0, r.step);
      std::printf("\n(test MSE of the noisy signals: %.4e)\n", noisy_test_mse);
      if (c.compare_steps > 0)
        std::printf("\n| route | median s/step | ratio to FDPG |\n|---|---|---|\n| FDPG (tv, fista + folded prox_grad) | %.4f | 1 |\n"
                    "| QP form (qp, folded ADMM) | %.4f | %.1f |\n",
                    cmp.fdpg, cmp.qp, cmp.qp / cmp.fdpg);
    }
    if (ok) {
      if (rank == 0) std::printf("tv_denoise: ok\n");
    } else {
      status = 1;
      if (rank == 0) std::printf("tv_denoise: a check failed\n");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tv_denoise: error: %s\n", e.what());
    status = 1;
  }
  SlepcFinalize();
  return status;
}
