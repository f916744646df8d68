// foldopt learning example: risk-constrained portfolio, decision-focused (regret) against
// two-stage (MSE) training (issue 11, item 3; the paper's §6 "Portfolio prediction and
// optimization", Fig. 4(c)).
//
//   features z_i ∈ R^p → ReLU network (5 Linear layers) → ĉ_i ∈ R^n → x*(ĉ_i) = argmax cᵀx
//   s.t. xᵀVx ≤ γ, Σx = 1, x ≥ 0 (problem `portfolio`, folded SQP map, IPOPT forward).
//
// Method: predict-then-optimize data in the style of Elmachtoub & Grigas / PyEPO's portfolio
//   generator (the formulas below; the code is this project's own). With seed S, for n assets
//   and p features, degree deg and noise level τ:
//     B ∈ {0,1}^{n×p}, B_jk ~ Bernoulli(1/2);   L ∈ R^{n×4}, L_jf ~ U(−0.0025τ, 0.0025τ);
//     V_raw = L Lᵀ + (0.01τ)² I;                 γ_raw = 2.25 · eᵀV_raw e, e = (1/n)·1
//     (γ_raw > the minimum-risk portfolio's risk, < every single asset's risk V_jj: feasible,
//     and the risk constraint is active at every x*);
//     z_i ~ N(0, I_p), f_i ~ N(0, I_4), ε_i ~ N(0, I_n), i = 1..N (train) and N+1..N+M (test);
//     c̄_ij = (0.05/√p · (B z_i)_j + 0.1^{1/deg})^deg;   c_ij = c̄_ij + (L f_i)_j + 0.01τ ε_ij.
//   B, L, z, f, ε are drawn once (torch's generator, seeded with S), so the degrees differ only in
//   c. The layer gets V = V_raw/γ_raw and γ = 1 (the same feasible set, O(1) constraint values
//   for IPOPT's tolerances), as files (-Vmat, -c, -gamma written to -output_dir).
//   Regret of a prediction ĉ_i: r_i = c_iᵀx*(c_i) − c_iᵀx*(ĉ_i) ≥ 0; normalized regret of a set
//   Σ_i r_i / Σ_i |c_iᵀx*(c_i)|.
// Algorithm: one network initialized from -net_seed, copied for the two methods (the same initial
//   weights): "regret" minimizes the mini-batch's normalized regret, its gradient through the
//   folded layer (−Σ_i c_iᵀ ∂x*/∂ĉ_i, the folded SQP backward); "mse" minimizes the mean squared
//   error of ĉ to c (no layer in the loss). Adam, -lr, mini-batches of -minibatch instances
//   (the layer's batch; the training and test sets are processed in such chunks), shuffled per
//   epoch. Each epoch: the test set's normalized regret for both models (epoch 0: the initial
//   network). Data parallel: every rank builds the same data and networks and holds its own rows
//   of each mini-batch; gradients and sums are summed over the ranks. -layer_comm self (default):
//   each rank has its own layer (PETSC_COMM_SELF) over its B/size rows, so the IPOPT forwards of
//   the ranks run at once and without communication (IPOPT is serial: with one layer over all
//   ranks, -layer_comm world, it runs on rank 0 and every evaluation is collective, so the other
//   ranks wait); -fold_view then prints every rank's report.
// Checks (exit 1 otherwise, "portfolio: ok" when all hold): once, on the first training
//   mini-batch at the initial network, the layer's ∂(regret)/∂ĉ against central finite
//   differences on a random direction (relative 1e-5; h is small enough that x*'s active set of
//   bounds stays the same at ĉ ± h·d, which is checked; another mini-batch is tried otherwise);
//   for every degree, the regret-trained model's final test regret is below its initial value.
//   Whether decision-focused training beats two-stage is reported, not asserted.
// References: Kotary, Dinh, Fioretto (2023), folded optimization, §6; Elmachtoub & Grigas, Smart
//   "predict, then optimize", Management Science 68 (2022); Tang & Khalil, PyEPO (2022), the
//   portfolio data; Markowitz (1952).
// Options: -assets n (50), -features p (5), -deg d1,d2,... (1,2,4,6,8), -noise τ (1), -train N
//   (1000), -test M (1000), -minibatch B (50; divides N and M), -epochs E (10), -lr (5e-3),
//   -hidden H (64), -data_seed S (1), -net_seed (2), -fd_h (1e-6, relative step), -layer_comm
//   self|world (self), -output_dir DIR; -fold_check_minimum is off unless given (it cannot judge
//   the SQP map: Φ = 0 at every nondegenerate KKT point);
//   and the layer's -fold_* options (e.g. -fold_fwd_ipopt_tol, -fold_sqp_polish, -fold_view).
// Output: DIR/portfolio_curves.csv (degree, epoch, method, train_loss, test_regret, time),
//   DIR/portfolio_summary.csv (final normalized test regret per degree and method), the data
//   files DIR/portfolio_V.mtx, DIR/portfolio_c.mtx; plot: python3 examples/learning/plot_portfolio.py DIR.
// Run (small, the CTest test): mpiexec -n 2 build/examples/learning/portfolio -deg 2 -train 32
//   -test 32 -minibatch 16 -epochs 3 -output_dir /tmp/portfolio
// Run (the paper's configuration: 1000 training and 1000 test samples, degrees 1, 2, 4, 6, 8):
//   mpiexec -n 2 build/examples/learning/portfolio -output_dir examples/results
// Run (the medium configuration committed: degrees 1, 4, 8, 200 test samples, 4 epochs):
//   mpiexec -n 2 build/examples/learning/portfolio -deg 1,4,8 -test 200 -epochs 4 -output_dir examples/results
//   /usr/bin/python3 examples/learning/plot_portfolio.py examples/results
#include <foldopt/torch.hpp>

#include "learning.hpp"

#include <slepcsys.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

struct Config {
  PetscInt n = 50, p = 5, N = 1000, M = 1000, B = 50, epochs = 10, hidden = 64, data_seed = 1, net_seed = 2;
  PetscReal noise = 1, lr = 5e-3, fd_h = 1e-6;
  bool world_layer = false;  ///< -layer_comm world: one layer over all ranks; self: one per rank
  std::vector<PetscInt> degrees{1, 2, 4, 6, 8};
};

PetscErrorCode read_options(MPI_Comm comm, Config& c, PetscInt* deg, PetscInt* ndeg, PetscBool* deg_set) {
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, nullptr, "portfolio example: regret (decision-focused) vs MSE (two-stage) training", "portfolio");
  PetscCall(PetscOptionsInt("-assets", "Assets n per instance", "portfolio", c.n, &c.n, nullptr));
  PetscCall(PetscOptionsInt("-features", "Features p per instance", "portfolio", c.p, &c.p, nullptr));
  PetscCall(PetscOptionsIntArray("-deg", "Polynomial degrees of the feature-to-price map (a list)", "portfolio", deg, ndeg,
                                 deg_set));
  PetscCall(PetscOptionsReal("-noise", "Noise level tau", "portfolio", c.noise, &c.noise, nullptr));
  PetscCall(PetscOptionsInt("-train", "Training samples N", "portfolio", c.N, &c.N, nullptr));
  PetscCall(PetscOptionsInt("-test", "Test samples M", "portfolio", c.M, &c.M, nullptr));
  PetscCall(PetscOptionsInt("-minibatch", "Instances per mini-batch (the layer's batch; divides -train and -test)",
                               "portfolio", c.B, &c.B, nullptr));
  PetscCall(PetscOptionsInt("-epochs", "Training epochs", "portfolio", c.epochs, &c.epochs, nullptr));
  PetscCall(PetscOptionsReal("-lr", "Adam learning rate", "portfolio", c.lr, &c.lr, nullptr));
  PetscCall(PetscOptionsInt("-hidden", "Width of the network's hidden layers", "portfolio", c.hidden, &c.hidden, nullptr));
  PetscCall(PetscOptionsInt("-data_seed", "Seed of the data", "portfolio", c.data_seed, &c.data_seed, nullptr));
  PetscCall(PetscOptionsInt("-net_seed", "Seed of the initial network and the shuffling", "portfolio", c.net_seed, &c.net_seed,
                               nullptr));
  PetscCall(PetscOptionsReal("-fd_h", "Relative step of the finite-difference check", "portfolio", c.fd_h, &c.fd_h, nullptr));
  const char* comms[] = {"self", "world"};
  PetscInt which = 0;
  PetscCall(PetscOptionsEList("-layer_comm",
                              "The layer: self (one per rank over the rank's rows of each mini-batch) or world (one over all ranks)",
                              "portfolio", comms, 2, comms[0], &which, nullptr));
  c.world_layer = which == 1;
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}

Config read_config(MPI_Comm comm) {
  Config c;
  PetscInt deg[16] = {1, 2, 4, 6, 8}, ndeg = 16;
  PetscBool deg_set = PETSC_FALSE;
  FOLDOPT_CALL(read_options(comm, c, deg, &ndeg, &deg_set));
  if (deg_set) c.degrees.assign(deg, deg + ndeg);
  FOLDOPT_CHECK(c.n >= 2, PETSC_ERR_ARG_OUTOFRANGE, "portfolio: -assets %" PetscInt_FMT " must be at least 2", c.n);
  FOLDOPT_CHECK(c.p >= 1, PETSC_ERR_ARG_OUTOFRANGE, "portfolio: -features %" PetscInt_FMT " must be at least 1", c.p);
  FOLDOPT_CHECK(!c.degrees.empty(), PETSC_ERR_ARG_WRONG, "portfolio: -deg needs at least one degree");
  for (PetscInt d : c.degrees)
    FOLDOPT_CHECK(d >= 1 && d <= 16, PETSC_ERR_ARG_OUTOFRANGE, "portfolio: -deg %" PetscInt_FMT " must be in 1..16", d);
  FOLDOPT_CHECK(std::isfinite(c.noise) && c.noise > 0, PETSC_ERR_ARG_OUTOFRANGE, "portfolio: -noise %g must be positive",
                (double)c.noise);
  FOLDOPT_CHECK(c.B >= 1, PETSC_ERR_ARG_OUTOFRANGE, "portfolio: -minibatch %" PetscInt_FMT " must be positive", c.B);
  FOLDOPT_CHECK(c.N >= c.B && c.N % c.B == 0 && c.M >= c.B && c.M % c.B == 0, PETSC_ERR_ARG_WRONG,
                "portfolio: -minibatch %" PetscInt_FMT " must divide -train %" PetscInt_FMT " and -test %" PetscInt_FMT, c.B,
                c.N, c.M);
  FOLDOPT_CHECK(c.epochs >= 1, PETSC_ERR_ARG_OUTOFRANGE, "portfolio: -epochs %" PetscInt_FMT " must be positive", c.epochs);
  FOLDOPT_CHECK(std::isfinite(c.lr) && c.lr > 0, PETSC_ERR_ARG_OUTOFRANGE, "portfolio: -lr %g must be positive", (double)c.lr);
  FOLDOPT_CHECK(c.hidden >= 1, PETSC_ERR_ARG_OUTOFRANGE, "portfolio: -hidden %" PetscInt_FMT " must be positive", c.hidden);
  FOLDOPT_CHECK(c.data_seed >= 0 && c.net_seed >= 0, PETSC_ERR_ARG_OUTOFRANGE, "portfolio: -data_seed and -net_seed must be >= 0");
  FOLDOPT_CHECK(std::isfinite(c.fd_h) && c.fd_h > 0 && c.fd_h < 1e-2, PETSC_ERR_ARG_OUTOFRANGE,
                "portfolio: -fd_h %g must be in (0, 1e-2)", (double)c.fd_h);
  int size = 1;
  MPI_Comm_size(comm, &size);
  FOLDOPT_CHECK(c.world_layer || c.B % size == 0, PETSC_ERR_ARG_WRONG,
                "portfolio: -minibatch %" PetscInt_FMT " must be a multiple of the %d ranks with -layer_comm self", c.B, size);
  return c;
}

/// The drawn data shared by every degree (see the header's formulas).
struct Data {
  at::Tensor Bmat, L, V, z, f, eps;  // [n,p], [n,4], [n,n] (scaled: γ = 1), [N+M,p], [N+M,4], [N+M,n]
  double gamma_raw = 0;
};

Data draw(const Config& c) {
  ::torch::manual_seed(static_cast<uint64_t>(c.data_seed));
  const auto opt = at::TensorOptions().dtype(at::kDouble);
  Data d;
  d.Bmat = ::torch::bernoulli(::torch::full({c.n, c.p}, 0.5, opt));
  d.L = (::torch::rand({c.n, 4}, opt) * 2 - 1) * (0.0025 * c.noise);
  const double s = 0.01 * c.noise;
  at::Tensor Vraw = d.L.matmul(d.L.t()) + s * s * ::torch::eye(c.n, opt);
  d.gamma_raw = 2.25 * Vraw.mean().item<double>();  // eᵀVe with e = 1/n
  d.V = Vraw / d.gamma_raw;
  const int64_t total = c.N + c.M;
  d.z = ::torch::randn({total, c.p}, opt);
  d.f = ::torch::randn({total, 4}, opt);
  d.eps = ::torch::randn({total, c.n}, opt);
  return d;
}

/// True prices of every sample for degree deg, [N+M, n].
at::Tensor prices(const Config& c, const Data& d, PetscInt deg) {
  at::Tensor base = d.z.matmul(d.Bmat.t()) * (0.05 / std::sqrt((double)c.p)) + std::pow(0.1, 1.0 / (double)deg);
  return base.pow((double)deg) + d.f.matmul(d.L.t()) + 0.01 * c.noise * d.eps;
}

/// The network: 5 Linear layers with ReLU between them, float64, from `seed`.
::torch::nn::Sequential make_net(const Config& c) {
  ::torch::manual_seed(static_cast<uint64_t>(c.net_seed));
  namespace nn = ::torch::nn;
  nn::Sequential net(nn::Linear(c.p, c.hidden), nn::ReLU(), nn::Linear(c.hidden, c.hidden), nn::ReLU(),
                     nn::Linear(c.hidden, c.hidden), nn::ReLU(), nn::Linear(c.hidden, c.hidden), nn::ReLU(),
                     nn::Linear(c.hidden, c.n));
  net->to(at::kDouble);
  return net;
}

/// A MatrixMarket dense array file (rank 0 writes; every rank learns whether it worked).
void write_array(MPI_Comm comm, const std::string& path, const at::Tensor& colmajor_rows_cols) {
  // colmajor_rows_cols: [cols, rows]; each row of the tensor is one column of the file.
  int rank = 0, ok = 1;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) {
    at::Tensor t = colmajor_rows_cols.contiguous();
    std::FILE* fp = std::fopen(path.c_str(), "w");
    ok = fp != nullptr;
    if (fp) {
      std::fprintf(fp, "%%%%MatrixMarket matrix array real general\n%lld %lld\n", (long long)t.size(1), (long long)t.size(0));
      const double* v = t.data_ptr<double>();
      for (int64_t k = 0; k < t.numel(); ++k) std::fprintf(fp, "%.17g\n", v[k]);
      if (std::fclose(fp) != 0) ok = 0;
    }
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, comm);
  FOLDOPT_CHECK(ok, PETSC_ERR_FILE_WRITE, "portfolio: cannot write %s", path.c_str());
}

/// The layer and this rank's rows of each chunk of B instances.
struct Solver {
  foldopt::torch::Layer layer;
  std::vector<at::Tensor> theta;
  int64_t row0 = 0, rows = 0;

  /// x*(c) for this rank's rows of one chunk (c: [rows, n]); differentiable in c.
  at::Tensor solve(const at::Tensor& c) {
    theta[0] = c.contiguous();
    return layer.forward(theta);
  }
};

/// Per instance c_iᵀx*(c_i) for every sample (rank's rows of each chunk, [rows per chunk · chunks]):
/// computed chunk by chunk, returned as a whole [total] tensor summed over ranks (each rank fills its rows).
at::Tensor optimal_values(Solver& s, const at::Tensor& c_all, int64_t B, MPI_Comm comm) {
  ::torch::NoGradGuard ng;
  const int64_t total = c_all.size(0);
  at::Tensor out = ::torch::zeros({total}, c_all.options());
  for (int64_t k = 0; k < total; k += B) {
    at::Tensor c = c_all.narrow(0, k + s.row0, s.rows);
    at::Tensor x = s.solve(c);
    out.narrow(0, k + s.row0, s.rows).copy_((c * x).sum(1));
  }
  MPI_Allreduce(MPI_IN_PLACE, out.data_ptr<double>(), (int)out.numel(), MPI_DOUBLE, MPI_SUM, comm);
  return out;
}

/// Normalized regret of the network's predictions on samples [first, first+count).
double test_regret(Solver& s, ::torch::nn::Sequential& net, const at::Tensor& z, const at::Tensor& c_true,
                   const at::Tensor& opt_val, int64_t first, int64_t count, int64_t B, MPI_Comm comm) {
  ::torch::NoGradGuard ng;
  double regret = 0;
  for (int64_t k = first; k < first + count; k += B) {
    at::Tensor zi = z.narrow(0, k + s.row0, s.rows), ci = c_true.narrow(0, k + s.row0, s.rows);
    at::Tensor x = s.solve(net->forward(zi));
    regret += (opt_val.narrow(0, k + s.row0, s.rows) - (ci * x).sum(1)).sum().item<double>();
  }
  regret = learning::sum_over_ranks(regret, comm);
  return regret / opt_val.narrow(0, first, count).abs().sum().item<double>();
}

/// Bound-active set of x (entries below tol), for the finite-difference check.
std::vector<bool> active_set(const at::Tensor& x, double tol = 1e-7) {
  at::Tensor a = (x < tol).flatten().contiguous();
  std::vector<bool> out((std::size_t)a.numel());
  for (int64_t i = 0; i < a.numel(); ++i) out[(std::size_t)i] = a[i].item<bool>();
  return out;
}

/// The check of ∂(regret)/∂ĉ against central differences on chunk k of the training set;
/// returns the relative difference, or −1 when the active set changed between ĉ ± h·d.
double fd_check(Solver& s, ::torch::nn::Sequential& net, const at::Tensor& z, const at::Tensor& c_true, int64_t k,
                int64_t chunk, double h_rel, MPI_Comm comm, double* analytic_out, double* fd_out) {
  at::Tensor chat, ci = c_true.narrow(0, k + s.row0, s.rows);
  {
    ::torch::NoGradGuard ng;
    chat = net->forward(z.narrow(0, k + s.row0, s.rows)).clone();
  }
  // regret(ĉ) = const − Σ_i c_iᵀx*(ĉ_i): the derivative of −Σ c_iᵀx*(ĉ_i).
  at::Tensor leaf = chat.clone().set_requires_grad(true);
  at::Tensor x = s.solve(leaf);
  at::Tensor loss = -(ci * x).sum();
  loss.backward();
  ::torch::manual_seed(12345);  // one direction for the whole chunk, alike at any rank count
  at::Tensor dir = ::torch::randn({chunk, chat.size(1)}, chat.options()).narrow(0, s.row0, s.rows);
  double analytic = learning::sum_over_ranks((leaf.grad() * dir).sum().item<double>(), comm);
  const double norm_c = std::sqrt(learning::sum_over_ranks(chat.pow(2).sum().item<double>(), comm));
  const double norm_d = std::sqrt(learning::sum_over_ranks(dir.pow(2).sum().item<double>(), comm));
  const double h = h_rel * norm_c / norm_d;
  ::torch::NoGradGuard ng;
  at::Tensor xp = s.solve(chat + h * dir).clone();
  at::Tensor xm = s.solve(chat - h * dir).clone();
  int same = active_set(xp) == active_set(xm) && active_set(xp) == active_set(x.detach());
  MPI_Allreduce(MPI_IN_PLACE, &same, 1, MPI_INT, MPI_MIN, comm);
  const double fp = learning::sum_over_ranks(-(ci * xp).sum().item<double>(), comm);
  const double fm = learning::sum_over_ranks(-(ci * xm).sum().item<double>(), comm);
  const double fd = (fp - fm) / (2 * h);
  *analytic_out = analytic;
  *fd_out = fd;
  if (!same) return -1;
  return std::abs(analytic - fd) / std::max(std::abs(fd), 1e-300);
}

struct Result {
  double initial = 0, final_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  if (SlepcInitialize(&argc, &argv, nullptr, nullptr)) return 1;
  int rank = 0, status = 0;
  MPI_Comm comm = PETSC_COMM_WORLD;
  MPI_Comm_rank(comm, &rank);
  try {
    const Config cfg = read_config(comm);
    const std::string dir = learning::output_dir(comm, ".");
    const std::string cmd = learning::command_line(argc, argv);
    const Data data = draw(cfg);
    const int64_t n = cfg.n, B = cfg.B;

    // The layer: V and c as files, γ = 1 (V scaled); the -fold_* options come from the command line.
    // -layer_comm self: each rank's own layer over its B/size rows of every chunk (no communication
    // inside the forward: IPOPT runs on every rank at once); world: one layer over all ranks.
    int size = 1;
    MPI_Comm_size(comm, &size);
    const MPI_Comm layer_comm = cfg.world_layer ? comm : PETSC_COMM_SELF;
    const int64_t layer_batch = cfg.world_layer ? B : B / size;
    const std::string vpath = dir + "/portfolio_V.mtx", cpath = dir + "/portfolio_c.mtx";
    write_array(comm, vpath, data.V);
    write_array(comm, cpath, prices(cfg, data, cfg.degrees[0]).narrow(0, 0, layer_batch));
    FOLDOPT_CALL(PetscOptionsSetValue(nullptr, "-Vmat", vpath.c_str()));
    FOLDOPT_CALL(PetscOptionsSetValue(nullptr, "-c", cpath.c_str()));
    FOLDOPT_CALL(PetscOptionsSetValue(nullptr, "-gamma", "1"));
    // The minimum check cannot judge the SQP map (Φ = 0 at every nondegenerate KKT point, the map's
    // header): off unless asked for, it would cost an Arnoldi run per backward.
    PetscBool has_check = PETSC_FALSE;
    FOLDOPT_CALL(PetscOptionsHasName(nullptr, nullptr, "-fold_check_minimum", &has_check));
    if (!has_check) FOLDOPT_CALL(PetscOptionsSetValue(nullptr, "-fold_check_minimum", "0"));
    Solver s{foldopt::torch::Layer::from_database("portfolio", layer_comm), {}, 0, 0};
    s.theta = s.layer.params();
    FOLDOPT_CHECK(s.layer.names().size() == 2 && s.layer.names()[0] == "c", PETSC_ERR_PLIB,
                  "portfolio: expected the layer's blocks c, gamma");
    int whole = s.layer.local_size(0) % n == 0 && s.layer.local_start(0) % n == 0;
    MPI_Allreduce(MPI_IN_PLACE, &whole, 1, MPI_INT, MPI_MIN, comm);
    FOLDOPT_CHECK(whole, PETSC_ERR_ARG_WRONG,
                  "portfolio: a rank's part of the batch must be whole instances (use -minibatch a multiple of the ranks)");
    s.row0 = s.layer.local_start(0) / n + (cfg.world_layer ? 0 : rank * layer_batch);
    s.rows = s.layer.local_size(0) / n;
    PetscBool help = PETSC_FALSE;
    FOLDOPT_CALL(PetscOptionsHasHelp(nullptr, &help));
    if (help) {  // the options of the program and the layer are printed: no training
      SlepcFinalize();
      return 0;
    }

    if (rank == 0) {
      std::printf("portfolio: n = %lld assets, p = %lld features, %lld train / %lld test samples, mini-batch %lld, %lld epochs, "
                  "noise %g, gamma_raw = %.4e (2.25 e'Ve)\n",
                  (long long)n, (long long)cfg.p, (long long)cfg.N, (long long)cfg.M, (long long)B, (long long)cfg.epochs,
                  (double)cfg.noise, data.gamma_raw);
      std::fflush(stdout);
    }
    learning::Csv csv(comm, dir + "/portfolio_curves.csv",
                      {"portfolio: regret (decision-focused) vs mse (two-stage) training through the folded SQP layer",
                       "command: " + cmd,
                       learning::format("n=%lld p=%lld train=%lld test=%lld minibatch=%lld epochs=%lld noise=%g lr=%g hidden=%lld",
                                        (long long)n, (long long)cfg.p, (long long)cfg.N, (long long)cfg.M, (long long)B,
                                        (long long)cfg.epochs, (double)cfg.noise, (double)cfg.lr, (long long)cfg.hidden),
                       "train_loss: normalized regret (regret) or MSE (mse) of the epoch's mini-batches; test_regret: "
                       "normalized regret on the test set; time: seconds since the degree's start"},
                      "degree,epoch,method,train_loss,test_regret,time");
    learning::Csv summary(comm, dir + "/portfolio_summary.csv", {"command: " + cmd},
                          "degree,method,initial_test_regret,final_test_regret");
    std::map<std::pair<PetscInt, std::string>, Result> results;
    bool checked = false;
    const char* methods[2] = {"regret", "mse"};

    for (PetscInt deg : cfg.degrees) {
      const auto t0 = std::chrono::steady_clock::now();
      auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
      const at::Tensor c_all = prices(cfg, data, deg);
      const at::Tensor opt_val = optimal_values(s, c_all, B, comm);
      ::torch::nn::Sequential nets[2] = {make_net(cfg), make_net(cfg)};  // the same initial weights
      std::unique_ptr<::torch::optim::Adam> opts[2];
      for (int m = 0; m < 2; ++m)
        opts[m].reset(new ::torch::optim::Adam(nets[m]->parameters(), ::torch::optim::AdamOptions(cfg.lr)));

      if (!checked) {
        double rel = -1, a = 0, f = 0;
        for (int64_t k = 0; k < cfg.N && rel < 0; k += B) rel = fd_check(s, nets[0], data.z, c_all, k, B, cfg.fd_h, comm, &a, &f);
        if (rank == 0)
          std::printf("gradient check (d regret/d c_hat . dir): folded %.12e, central differences %.12e, rel. diff %.2e\n", a, f,
                      rel);
        if (!(rel >= 0 && rel <= 1e-5)) {
          if (rank == 0)
            std::printf("portfolio: the layer's gradient does not agree with central differences (%s)\n",
                        rel < 0 ? "no mini-batch with a stable active set" : "rel. diff above 1e-5");
          status = 1;
        }
        checked = true;
        for (auto& net : nets) net->zero_grad();
      }

      const double init = test_regret(s, nets[0], data.z, c_all, opt_val, cfg.N, cfg.M, B, comm);
      for (int m = 0; m < 2; ++m) {
        results[{deg, methods[m]}].initial = init;
        csv.row(learning::format("%lld,0,%s,,%.10e,%.3f", (long long)deg, methods[m], init, seconds()));
      }
      if (rank == 0) std::printf("deg %lld  epoch  0  test regret %.5f (initial network)\n", (long long)deg, init);

      ::torch::manual_seed(static_cast<uint64_t>(cfg.net_seed) + 1000 + (uint64_t)deg);
      for (PetscInt epoch = 1; epoch <= cfg.epochs; ++epoch) {
        const at::Tensor perm = ::torch::randperm(cfg.N, at::TensorOptions().dtype(at::kLong));
        double loss_sum[2] = {0, 0}, test[2] = {0, 0};
        for (int64_t k = 0; k < cfg.N; k += B) {
          const at::Tensor idx = perm.narrow(0, k + s.row0, s.rows);
          const at::Tensor zi = data.z.index_select(0, idx), ci = c_all.index_select(0, idx);
          const double opt_sum = opt_val.index_select(0, perm.narrow(0, k, B)).abs().sum().item<double>();
          for (int m = 0; m < 2; ++m) {
            opts[m]->zero_grad();
            at::Tensor chat = nets[m]->forward(zi), loss;
            if (m == 0) {
              at::Tensor x = s.solve(chat);
              loss = (opt_val.index_select(0, idx) - (ci * x).sum(1)).sum() / opt_sum;  // normalized regret
            } else {
              loss = (chat - ci).pow(2).sum() / (double)(B * n);
            }
            loss.backward();
            learning::sum_gradients(nets[m]->parameters(), comm);
            opts[m]->step();
            loss_sum[m] += learning::sum_over_ranks(loss.item<double>(), comm);
          }
        }
        for (int m = 0; m < 2; ++m) {
          test[m] = test_regret(s, nets[m], data.z, c_all, opt_val, cfg.N, cfg.M, B, comm);
          const double tl = loss_sum[m] / (double)(cfg.N / B);
          results[{deg, methods[m]}].final_ = test[m];
          csv.row(learning::format("%lld,%lld,%s,%.10e,%.10e,%.3f", (long long)deg, (long long)epoch, methods[m], tl, test[m],
                                   seconds()));
        }
        if (rank == 0) {
          std::printf("deg %lld  epoch %2lld  regret: train %.5f test %.5f | mse: train %.3e test regret %.5f  (%.1f s)\n",
                      (long long)deg, (long long)epoch, loss_sum[0] / (double)(cfg.N / B), test[0],
                      loss_sum[1] / (double)(cfg.N / B), test[1], seconds());
          std::fflush(stdout);
        }
      }
      for (int m = 0; m < 2; ++m) {
        const Result& r = results[{deg, methods[m]}];
        summary.row(learning::format("%lld,%s,%.10e,%.10e", (long long)deg, methods[m], r.initial, r.final_));
      }
    }
    csv.close();
    summary.close();

    if (rank == 0) {
      std::printf("\nfinal normalized test regret (%lld epochs)\n\n| degree | initial | regret (DFL) | mse (two-stage) |\n"
                  "|---:|---:|---:|---:|\n",
                  (long long)cfg.epochs);
      for (PetscInt deg : cfg.degrees)
        std::printf("| %lld | %.4f | %.4f | %.4f |\n", (long long)deg, results[{deg, "regret"}].initial,
                    results[{deg, "regret"}].final_, results[{deg, "mse"}].final_);
    }
    for (PetscInt deg : cfg.degrees) {
      const Result& r = results[{deg, "regret"}];
      if (!(r.final_ < r.initial)) {
        if (rank == 0)
          std::printf("portfolio: degree %lld: the regret-trained model's test regret %.5f is not below its initial %.5f\n",
                      (long long)deg, r.final_, r.initial);
        status = 1;
      }
    }
    if (status == 0 && rank == 0) std::printf("portfolio: ok\n");
  } catch (const foldopt::Error& e) {
    if (rank == 0 || !e.collective()) std::fprintf(stderr, "portfolio: error: %s\n", e.what());  // one line per error
    status = 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "portfolio: error (rank %d): %s\n", rank, e.what());
    status = 1;
  }
  SlepcFinalize();
  return status;
}
