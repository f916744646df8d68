// foldopt learning example: smooth top-k multilabel classification (issue 11, the paper's §6
// CIFAR-100 experiment on synthetic data).
//
// Method: features f (d entries) → nn::Sequential(Linear(d, h), ReLU, Linear(h, n)) → scores c →
//   the smooth top-k layer
//       x*(c) = argmax_x cᵀx − ε Σᵢ xᵢ log xᵢ   s.t.  0 ≤ x ≤ 1,  Σᵢ xᵢ = k   (problem `topk`)
//   → loss (1/B) Σ_b ‖x*_b − y_b‖² against the multi-hot labels y_b (k true classes per sample).
//   Three copies of one initial network are trained by Adam on the same minibatches, each through
//   a different layer:
//     (a) pgd     folded proximal-gradient map (-fold_map_type pgd), the problem's closed forward;
//     (b) sqp     folded SQP map (-fold_map_type sqp) on the state (x, y_E); its forward gives x* and
//                 the multiplier y_E of Σx = k: by default the program's closed form below (the
//                 paper, too, ran one forward in every model as the control factor), or IPOPT
//                 (-sqp_forward ipopt) or TAO almm (-sqp_forward tao), both much slower;
//     (c) closed  the program's own closed form, independent of the library (below).
//   At every step the ∂L/∂c of (a) and (b) is compared with (c)'s at the same c (the same scores
//   pushed through the reference), and the parameter gradients of the three networks with each
//   other. The claim checked (the program exits 1 otherwise): every step's ∂L/∂c of (a) and (b)
//   is within -grad_tol (1e-8, relative 2-norm over the batch) of the reference, the three
//   training-loss curves agree to -curve_tol (1e-6, relative) at every epoch, and the loss falls.
// Algorithm (the reference (c)): stationarity of −cᵀx + ε Σ x log x + u(Σx − k) − Σ z_L x +
//   Σ z_U (x − 1) gives, with the shifted threshold τ = u + ε, xᵢ = min(1, exp((cᵢ − τ)/ε)) (an
//   entry at the bound 0 never occurs: exp > 0; z_U > 0 exactly where the min is 1). S(τ) = Σ xᵢ
//   decreases strictly; S(τ_lo) ≥ k at τ_lo = c_(⌈k⌉) (the ⌈k⌉ largest entries at 1) and
//   S(τ_hi) ≤ k at τ_hi = max c + ε log(n/k). Newton on S(τ) = k with S′ = −Σ_F xᵢ/ε (F = {x < 1})
//   inside the bracket, bisection where Newton leaves it. Jacobian: on F, δxᵢ = (xᵢ/ε)(δcᵢ − δτ),
//   capped entries do not move, and Σ δx = 0 gives δτ = Σ_F sᵢ δcᵢ / Σ sᵢ with s = x/ε on F, 0
//   off F. So J = diag(s) − s sᵀ/Σs (symmetric) and the vector-Jacobian product is
//       Jᵀg = s ⊙ g − s (sᵀg)/Σs,
//   a custom torch::autograd::Function (TopKReference).
// Data (synthetic; CIFAR-100 features from DenseNet 40-40 are out of reach here): n class
//   prototypes P_j ~ N(0, I_d); a sample has k distinct true classes L (uniform), features
//   f = Σ_{j∈L} P_j/√k + σ·N(0, I_d) (-feature_noise σ); the training labels are noisy: each of
//   the k labels is replaced with probability -label_noise by a uniformly drawn class not in the
//   set; test labels are clean. Test metric: top-k accuracy, the fraction of the k largest scores
//   (= the k largest x*, x* increasing in c) that are true classes.
// MPI: every rank holds the whole data set (same seed) and the same networks; a minibatch's rows
//   are dealt to the ranks as the layer's rows (B/np each), the parameter gradients summed.
// References: Kotary, Dinh, Fioretto, "Backpropagation of unrolled solvers with folded
//   optimization" (IJCAI 2023), §6 and eq. (19); L. Berrada, A. Zisserman, M. P. Kumar, "Smooth
//   loss functions for deep top-k classification" (ICLR 2018); Y. Xie et al., "Differentiable
//   top-k with optimal transport" (NeurIPS 2020).
// Options: -classes n (100) -k k (5) -epsilon ε (1) -features d (64) -hidden h (128) -train N
//   (512) -test N (512) -batch B (16, a multiple of the ranks) -epochs E (3) -lr (1e-2)
//   -label_noise (0.1) -feature_noise (0.5) -seed (1) -grad_tol (1e-8) -curve_tol (1e-6)
//   -sqp_forward closed|ipopt|tao -pgd_options "..." -sqp_options "..." (more -fold_* options for either
//   layer) -output_dir DIR (CSV topk_multilabel.csv; plot: plot_topk_multilabel.py DIR).
// Run (small, the CTest test):  mpiexec -n 2 topk_multilabel -train 32 -test 128 -batch 4 -epochs 2
// Run (the paper's configuration, 45k samples, 30 epochs; not run here, see README):
//   mpiexec -n 2 topk_multilabel -train 45000 -test 5000 -batch 64 -epochs 30 -output_dir examples/results
#include "learning.hpp"

#include <foldopt/torch.hpp>

#include <slepcsys.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace {

using at::Tensor;

// ---------------------------------------------------------------------------------------------
// The reference layer (c): the closed form and its exact vector-Jacobian product.

/// x*(c) row by row (c: [R, n] float64): the threshold τ by safeguarded Newton, x = min(1, e^{(c−τ)/ε});
/// the thresholds in `tau` when given (R entries).
Tensor topk_closed_form(const Tensor& c_in, double k, double eps, std::vector<double>* taus = nullptr) {
  Tensor c = c_in.contiguous();
  const int64_t R = c.size(0), n = c.size(1);
  Tensor x = at::empty_like(c);
  const double* cc = c.data_ptr<double>();
  double* xx = x.data_ptr<double>();
  const int64_t kk = static_cast<int64_t>(std::ceil(k));
  std::vector<double> sorted(n);
  if (taus) taus->resize(R);
  for (int64_t r = 0; r < R; ++r) {
    const double* cr = cc + r * n;
    double* xr = xx + r * n;
    sorted.assign(cr, cr + n);
    std::nth_element(sorted.begin(), sorted.begin() + (kk - 1), sorted.end(), std::greater<double>());
    double lo = sorted[kk - 1], hi = *std::max_element(cr, cr + n) + eps * std::log(n / k);
    double tau = 0.5 * (lo + hi);
    for (int it = 0; it < 200; ++it) {
      double S = 0, D = 0;  // S(τ) and Σ_F xᵢ
      for (int64_t i = 0; i < n; ++i) {
        const double e = std::exp((cr[i] - tau) / eps);
        S += std::min(1.0, e);
        if (e < 1) D += e;
      }
      const double g = S - k;
      if (std::abs(g) <= 2e-16 * k || hi - lo <= 2e-16 * std::max(1.0, std::abs(tau))) break;
      (g > 0 ? lo : hi) = tau;  // S too large: raise τ
      const double newton = D > 0 ? tau + g * eps / D : NAN;
      tau = (newton > lo && newton < hi) ? newton : 0.5 * (lo + hi);
    }
    for (int64_t i = 0; i < n; ++i) xr[i] = std::min(1.0, std::exp((cr[i] - tau) / eps));
    if (taus) (*taus)[r] = tau;
  }
  return x;
}

/// Jᵀg = s ⊙ g − s (sᵀg)/Σs, s = x/ε off the capped entries, row by row.
Tensor topk_closed_vjp(const Tensor& x, const Tensor& g, double eps) {
  Tensor s = at::where(x < 1, x / eps, at::zeros_like(x));
  Tensor sum = s.sum(1, true);
  Tensor sg = (s * g).sum(1, true);
  Tensor safe = at::where(sum > 0, sum, at::ones_like(sum));
  return s * g - s * (sg / safe);
}

struct TopKReference : public torch::autograd::Function<TopKReference> {
  static Tensor forward(torch::autograd::AutogradContext* ctx, Tensor c, double k, double eps) {
    Tensor x = topk_closed_form(c.detach(), k, eps);
    ctx->save_for_backward({x});
    ctx->saved_data["eps"] = eps;
    return x;
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::tensor_list g) {
    const Tensor x = ctx->get_saved_variables()[0];
    const double eps = ctx->saved_data["eps"].toDouble();
    return {topk_closed_vjp(x, g[0], eps), Tensor(), Tensor()};
  }
};

/// The SQP layer's forward under -sqp_forward closed: the state (x_b, y_E,b) instance after
/// instance from the closed form above. In foldopt's convention (L = f + y_E (Σx − k) − z_Lᵀx +
/// z_Uᵀ(x − 1), forward.hpp) stationarity on the free set reads −cᵢ + ε(1 + log xᵢ) + y_E = 0, so
/// y_E = τ − ε; the bound multipliers are the map's business (from the stationarity residual).
foldopt::CallbackForward::Function closed_sqp_forward(int64_t n, double k, double eps) {
  return [n, k, eps](const foldopt::ParamSet& theta, Vec state, foldopt::ForwardReport& report) {
    Vec c = theta.get("c");
    PetscInt nc = 0, ns = 0;
    FOLDOPT_CALL(VecGetLocalSize(c, &nc));
    FOLDOPT_CALL(VecGetLocalSize(state, &ns));
    const int64_t rows = nc / n;
    FOLDOPT_CHECK(nc == rows * n && ns == rows * (n + 1), PETSC_ERR_ARG_SIZ,
                  "the SQP state holds %" PetscInt_FMT " entries here, not %d instances of %d + 1",
                  ns, (int)rows, (int)n);
    const PetscScalar* cc;
    FOLDOPT_CALL(VecGetArrayRead(c, &cc));
    const Tensor ct = torch::from_blob(const_cast<PetscScalar*>(cc), {rows, n}, at::kDouble).clone();
    FOLDOPT_CALL(VecRestoreArrayRead(c, &cc));
    std::vector<double> tau;
    const Tensor x = topk_closed_form(ct, k, eps, &tau);
    PetscScalar* ss;
    FOLDOPT_CALL(VecGetArray(state, &ss));
    for (int64_t r = 0; r < rows; ++r) {
      std::copy(x.data_ptr<double>() + r * n, x.data_ptr<double>() + (r + 1) * n, ss + r * (n + 1));
      ss[r * (n + 1) + n] = tau[r] - eps;
    }
    FOLDOPT_CALL(VecRestoreArray(state, &ss));
    report.solver = "closed (the program's threshold, with y_E)";
    report.converged = true;
    report.reason = "closed form";
  };
}

// ---------------------------------------------------------------------------------------------
// Options and data.

struct Config {
  PetscInt classes = 100, features = 64, hidden = 128, train = 512, test = 512, batch = 16, epochs = 3, seed = 1;
  PetscReal k = 5, epsilon = 1, lr = 1e-2, label_noise = 0.1, feature_noise = 0.5, grad_tol = 1e-8, curve_tol = 1e-6;
  char sqp_forward[64] = "closed", pgd_options[1024] = "", sqp_options[1024] = "";
};

PetscErrorCode read_options(Config* o) {
  PetscFunctionBeginUser;
  PetscOptionsBegin(PETSC_COMM_WORLD, nullptr, "topk_multilabel: smooth top-k multilabel classification", "learning");
  PetscCall(PetscOptionsInt("-classes", "Classes n (entries of the top-k layer)", "", o->classes, &o->classes, nullptr));
  PetscCall(PetscOptionsReal("-k", "True labels per sample and the layer's sum k", "", o->k, &o->k, nullptr));
  PetscCall(PetscOptionsReal("-epsilon", "Entropy weight of the layer", "", o->epsilon, &o->epsilon, nullptr));
  PetscCall(PetscOptionsInt("-features", "Feature dimension d", "", o->features, &o->features, nullptr));
  PetscCall(PetscOptionsInt("-hidden", "Hidden units of the MLP", "", o->hidden, &o->hidden, nullptr));
  PetscCall(PetscOptionsInt("-train", "Training samples (a multiple of -batch)", "", o->train, &o->train, nullptr));
  PetscCall(PetscOptionsInt("-test", "Test samples", "", o->test, &o->test, nullptr));
  PetscCall(PetscOptionsInt("-batch", "Minibatch size B (a multiple of the number of ranks)", "", o->batch, &o->batch, nullptr));
  PetscCall(PetscOptionsInt("-epochs", "Epochs", "", o->epochs, &o->epochs, nullptr));
  PetscCall(PetscOptionsInt("-seed", "Seed of the data and of the initial network", "", o->seed, &o->seed, nullptr));
  PetscCall(PetscOptionsReal("-lr", "Adam learning rate", "", o->lr, &o->lr, nullptr));
  PetscCall(PetscOptionsReal("-label_noise", "Probability that a training label is replaced by a random class", "",
                             o->label_noise, &o->label_noise, nullptr));
  PetscCall(PetscOptionsReal("-feature_noise", "Standard deviation of the feature noise", "", o->feature_noise,
                             &o->feature_noise, nullptr));
  PetscCall(PetscOptionsReal("-grad_tol", "Largest relative difference of dL/dc (pgd, sqp vs closed) accepted", "",
                             o->grad_tol, &o->grad_tol, nullptr));
  PetscCall(PetscOptionsReal("-curve_tol", "Largest relative difference of the epoch losses accepted", "", o->curve_tol,
                             &o->curve_tol, nullptr));
  PetscCall(PetscOptionsString("-sqp_forward", "Forward of the SQP layer: closed (the program's, with the multiplier), ipopt or tao (almm)", "", o->sqp_forward,
                               o->sqp_forward, sizeof o->sqp_forward, nullptr));
  PetscCall(PetscOptionsString("-pgd_options", "More options of the pgd layer (-fold_*)", "", o->pgd_options,
                               o->pgd_options, sizeof o->pgd_options, nullptr));
  PetscCall(PetscOptionsString("-sqp_options", "More options of the sqp layer (-fold_*)", "", o->sqp_options,
                               o->sqp_options, sizeof o->sqp_options, nullptr));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}

void check_config(const Config& o, int size) {
  auto positive = [](PetscInt v, const char* name) {
    FOLDOPT_CHECK(v >= 1, PETSC_ERR_ARG_OUTOFRANGE, "-%s %" PetscInt_FMT " must be positive", name, v);
  };
  positive(o.classes, "classes"), positive(o.features, "features"), positive(o.hidden, "hidden");
  positive(o.train, "train"), positive(o.test, "test"), positive(o.batch, "batch"), positive(o.epochs, "epochs");
  FOLDOPT_CHECK(o.seed >= 0, PETSC_ERR_ARG_OUTOFRANGE, "-seed must be >= 0");
  FOLDOPT_CHECK(o.k >= 1 && o.k < o.classes && o.k == std::floor(o.k), PETSC_ERR_ARG_OUTOFRANGE,
                "-k %g must be a whole number of labels in [1, -classes)", (double)o.k);
  FOLDOPT_CHECK(o.epsilon > 0 && std::isfinite(o.epsilon), PETSC_ERR_ARG_OUTOFRANGE, "-epsilon must be > 0");
  FOLDOPT_CHECK(o.lr > 0, PETSC_ERR_ARG_OUTOFRANGE, "-lr must be > 0");
  FOLDOPT_CHECK(o.label_noise >= 0 && o.label_noise <= 1, PETSC_ERR_ARG_OUTOFRANGE, "-label_noise must be in [0, 1]");
  FOLDOPT_CHECK(o.feature_noise >= 0, PETSC_ERR_ARG_OUTOFRANGE, "-feature_noise must be >= 0");
  FOLDOPT_CHECK(o.grad_tol > 0 && o.curve_tol > 0, PETSC_ERR_ARG_OUTOFRANGE, "-grad_tol and -curve_tol must be > 0");
  FOLDOPT_CHECK(o.batch % size == 0, PETSC_ERR_ARG_INCOMP,
                "-batch %" PetscInt_FMT " must be a multiple of the %d ranks (whole rows per rank)", o.batch, size);
  FOLDOPT_CHECK(o.train % o.batch == 0, PETSC_ERR_ARG_INCOMP,
                "-train %" PetscInt_FMT " must be a multiple of -batch %" PetscInt_FMT, o.train, o.batch);
  FOLDOPT_CHECK(o.test >= size, PETSC_ERR_ARG_INCOMP, "-test must be at least the number of ranks");
  const std::string fwd = o.sqp_forward;
  FOLDOPT_CHECK(fwd == "closed" || fwd == "ipopt" || fwd == "tao", PETSC_ERR_ARG_OUTOFRANGE,
                "-sqp_forward %s: must be closed, ipopt or tao", o.sqp_forward);
}

struct Data {
  Tensor features, labels;  ///< [N, d] and the multi-hot [N, n] (float64)
};

/// Samples from the class prototypes; the same on every rank (the seed alone decides them).
Data make_data(const Config& o, const Tensor& prototypes, int64_t N, double label_noise, std::mt19937_64& rng) {
  const int64_t n = o.classes, d = o.features, k = static_cast<int64_t>(o.k);
  Data data;
  data.labels = at::zeros({N, n}, at::kDouble);
  Tensor clean = at::zeros({N, n}, at::kDouble);
  std::vector<int64_t> perm(n);
  std::uniform_real_distribution<double> u01(0, 1);
  auto L = data.labels.accessor<double, 2>();
  auto C = clean.accessor<double, 2>();
  for (int64_t s = 0; s < N; ++s) {
    for (int64_t j = 0; j < n; ++j) perm[j] = j;
    for (int64_t j = 0; j < k; ++j) std::swap(perm[j], perm[j + std::uniform_int_distribution<int64_t>(0, n - 1 - j)(rng)]);
    for (int64_t j = 0; j < k; ++j) C[s][perm[j]] = 1;
    // Noisy labels: a flipped label takes a class outside the current set (perm[k..n) holds them).
    std::vector<int64_t> set(perm.begin(), perm.begin() + k), rest(perm.begin() + k, perm.end());
    for (int64_t j = 0; j < k; ++j) {
      if (u01(rng) >= label_noise) continue;
      const int64_t r = std::uniform_int_distribution<int64_t>(0, (int64_t)rest.size() - 1)(rng);
      std::swap(set[j], rest[r]);
    }
    for (int64_t j : set) L[s][j] = 1;
  }
  Tensor noise = at::empty({N, d}, at::kDouble);
  {
    std::normal_distribution<double> g(0, 1);
    double* p = noise.data_ptr<double>();
    for (int64_t i = 0; i < N * d; ++i) p[i] = g(rng);
  }
  data.features = at::matmul(clean, prototypes) / std::sqrt((double)k) + o.feature_noise * noise;
  return data;
}

// ---------------------------------------------------------------------------------------------
// The three trained models.

struct Model {
  std::string name;
  torch::nn::Sequential net;
  std::unique_ptr<torch::optim::Adam> opt;
  std::function<Tensor(const Tensor&)> layer;  ///< c → x*(c), differentiable
  // per epoch
  double loss_sum = 0, seconds = 0, max_grad_rel = 0, max_param_rel = 0, max_x_diff = 0;
  int steps = 0;
  // whole run
  std::vector<double> epoch_loss, epoch_acc, epoch_seconds;
  double run_grad_rel = 0, run_param_rel = 0, run_seconds = 0, run_x_diff = 0;
  int run_steps = 0;
};

std::vector<Tensor> grads(const torch::nn::Sequential& net) {
  std::vector<Tensor> g;
  for (const Tensor& p : net->parameters()) g.push_back(p.grad().detach().reshape({-1}));
  return g;
}

/// ‖a − b‖ / ‖b‖ over all ranks' entries (2-norms of the concatenation).
double rel_diff(const Tensor& a, const Tensor& b, MPI_Comm comm) {
  double v[2] = {(a - b).pow(2).sum().item<double>(), b.pow(2).sum().item<double>()};
  MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_DOUBLE, MPI_SUM, comm);
  return v[1] > 0 ? std::sqrt(v[0] / v[1]) : std::sqrt(v[0]);
}

double max_over_ranks(double v, MPI_Comm comm) {
  MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_MAX, comm);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (SlepcInitialize(&argc, &argv, nullptr, "topk_multilabel: smooth top-k multilabel classification (issue 11)"))
    return 1;
  const MPI_Comm comm = PETSC_COMM_WORLD;
  int rank = 0, size = 1, status = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  try {
    Config o;
    FOLDOPT_CALL(read_options(&o));
    check_config(o, size);
    const std::string dir = learning::output_dir(comm, ".");
    const int64_t n = o.classes, B = o.batch, rows = B / size, row0 = rank * rows;

    // Layers (a) and (b): the problem topk with a batch of B instances; c is replaced by the scores.
    const std::string base = learning::format("-n %d -batch %d -k %.17g -epsilon %.17g", (int)n, (int)B, (double)o.k,
                                              (double)o.epsilon);
    const std::string pgd_opts = base + " -fold_map_type pgd -fold_ksp_rtol 1e-12 " + o.pgd_options;
    const std::string fwd = o.sqp_forward;
    const std::string sqp_fwd = fwd == "ipopt" ? "-fold_fwd_type ipopt" : fwd == "tao" ? "-fold_fwd_type tao -fold_fwd_tao_type almm" : "";
    // Φ = 0 at the solution with the exact Hessian: the minimum check (Arnoldi on Φᵀ) cannot tell
    // anything there (maps/sqp.hpp), so it is off; the problem is strictly convex.
    const std::string sqp_opts = base + " -fold_map_type sqp " + sqp_fwd + " -fold_check_minimum 0 " + o.sqp_options;
    foldopt::torch::Layer pgd_layer("topk", pgd_opts, comm), sqp_layer("topk", sqp_opts, comm);
    if (fwd == "closed") sqp_layer.folded().set_forward_callback(closed_sqp_forward(n, o.k, o.epsilon));
    for (foldopt::torch::Layer* l : {&pgd_layer, &sqp_layer})
      FOLDOPT_CHECK(l->solution_rows() == rows && l->solution_start() == row0 * n, PETSC_ERR_PLIB,
                    "the layer's rows on rank %d are not rows [%d, %d) of the batch", rank, (int)row0,
                    (int)(row0 + rows));

    // Data and the initial network, alike on every rank.
    std::mt19937_64 rng(static_cast<unsigned long>(o.seed));
    torch::manual_seed(o.seed);
    const Tensor prototypes = torch::randn({n, (int64_t)o.features}, at::kDouble);
    const Data train = make_data(o, prototypes, o.train, o.label_noise, rng);
    const Data test = make_data(o, prototypes, o.test, 0.0, rng);
    torch::nn::Sequential net0(torch::nn::Linear(o.features, o.hidden), torch::nn::ReLU(), torch::nn::Linear(o.hidden, n));
    net0->to(at::kDouble);

    std::vector<Model> models(3);
    const char* names[3] = {"pgd", "sqp", "closed"};
    for (int m = 0; m < 3; ++m) {
      models[m].name = names[m];
      models[m].net = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(net0->clone());
      models[m].opt.reset(new torch::optim::Adam(models[m].net->parameters(), torch::optim::AdamOptions(o.lr)));
    }
    models[0].layer = [&](const Tensor& c) { return pgd_layer.forward({c}); };
    models[1].layer = [&](const Tensor& c) { return sqp_layer.forward({c}); };
    const double k = o.k, eps = o.epsilon;
    models[2].layer = [k, eps](const Tensor& c) { return TopKReference::apply(c, k, eps); };
    Model& ref = models[2];

    // The test split of this rank.
    const int64_t t0 = o.test * rank / size, t1 = o.test * (rank + 1) / size;
    const Tensor test_f = test.features.slice(0, t0, t1), test_y = test.labels.slice(0, t0, t1);
    auto accuracy = [&](Model& m) {
      torch::NoGradGuard no_grad;
      const Tensor top = std::get<1>(m.net->forward(test_f).topk(static_cast<int64_t>(o.k), 1));
      const double hits = learning::sum_over_ranks(test_y.gather(1, top).sum().item<double>(), comm);
      return hits / (o.k * o.test);
    };
    // Loss of this rank's rows: Σ ‖x − y‖² / B (the ranks' sum is the batch mean).
    auto loss_of = [&](const Tensor& x, const Tensor& y) { return (x - y).pow(2).sum() / static_cast<double>(B); };

    learning::Csv csv(comm, dir + "/topk_multilabel.csv",
                      {"command: " + learning::command_line(argc, argv),
                       learning::format("synthetic data: %d train, %d test, %d classes, k = %g, d = %d, label noise %g, "
                                        "feature noise %g, seed %d; MLP %d-%d-%d; Adam lr %g; batch %d; epsilon %g; %d rank%s",
                                        (int)o.train, (int)o.test, (int)n, (double)o.k, (int)o.features,
                                        (double)o.label_noise, (double)o.feature_noise, (int)o.seed, (int)o.features,
                                        (int)o.hidden, (int)n, (double)o.lr, (int)B, (double)o.epsilon, size,
                                        size > 1 ? "s" : ""),
                       "pgd layer options: " + pgd_opts, "sqp layer options: " + sqp_opts,
                       "sqp layer forward: " + (fwd == "closed" ? std::string("the program's closed form with y_E (callback)") : fwd),
                       "grad_rel_*: max over the epoch's steps of |dL/dc - reference dL/dc| / |reference| at the same c; "
                       "param_rel_*: of the network parameters' gradients against the closed-form network's; "
                       "time_*: seconds of the epoch's training steps (max over ranks)"},
                      "epoch,loss_pgd,loss_sqp,loss_closed,acc_pgd,acc_sqp,acc_closed,grad_rel_pgd,grad_rel_sqp,"
                      "param_rel_pgd,param_rel_sqp,time_pgd,time_sqp,time_closed");
    if (rank == 0)
      std::printf("topk_multilabel: %d train / %d test samples, %d classes, k = %g, epsilon %g, batch %d, %d epochs, %d rank%s\n",
                  (int)o.train, (int)o.test, (int)n, (double)o.k, (double)o.epsilon, (int)B, (int)o.epochs, size,
                  size > 1 ? "s" : "");
    const double acc0 = accuracy(ref);
    if (rank == 0) std::printf("initial test top-%g accuracy %.4f (chance %.4f)\n", (double)o.k, acc0, o.k / n);

    const int64_t steps = o.train / B;
    for (int epoch = 1; epoch <= o.epochs; ++epoch) {
      for (Model& m : models) m.loss_sum = m.seconds = m.max_grad_rel = m.max_param_rel = m.max_x_diff = 0, m.steps = 0;
      torch::manual_seed(o.seed * 1000 + epoch);  // the same order on every rank and for every model
      const Tensor order = torch::randperm(o.train, at::kLong);
      for (int64_t s = 0; s < steps; ++s) {
        const Tensor idx = order.slice(0, s * B + row0, s * B + row0 + rows);
        const Tensor f = train.features.index_select(0, idx), y = train.labels.index_select(0, idx);
        for (Model& m : models) {
          const double t = MPI_Wtime();
          m.opt->zero_grad();
          Tensor c = m.net->forward(f);
          c.retain_grad();
          Tensor x = m.layer(c);
          Tensor loss = loss_of(x, y);
          loss.backward();
          learning::sum_gradients(m.net->parameters(), comm);
          m.seconds += MPI_Wtime() - t;
          m.loss_sum += learning::sum_over_ranks(loss.item<double>(), comm);
          ++m.steps;
          if (&m != &ref) {
            // The reference's ∂L/∂c at this model's own c (the same scores, the same labels).
            Tensor cr = c.detach().clone().requires_grad_(true);
            Tensor xr = TopKReference::apply(cr, k, eps);
            loss_of(xr, y).backward();
            m.max_grad_rel = std::max(m.max_grad_rel, rel_diff(c.grad(), cr.grad(), comm));
            m.max_x_diff = std::max(m.max_x_diff, max_over_ranks((x.detach() - xr.detach()).abs().max().item<double>(), comm));
          }
        }
        const Tensor gref = at::cat(grads(ref.net));
        for (Model& m : models) {
          if (&m != &ref) m.max_param_rel = std::max(m.max_param_rel, rel_diff(at::cat(grads(m.net)), gref, comm));
          const double t = MPI_Wtime();
          m.opt->step();
          m.seconds += MPI_Wtime() - t;
        }
      }
      for (Model& m : models) {
        m.epoch_loss.push_back(m.loss_sum / m.steps);
        m.epoch_acc.push_back(accuracy(m));
        m.epoch_seconds.push_back(max_over_ranks(m.seconds, comm));
        m.run_grad_rel = std::max(m.run_grad_rel, m.max_grad_rel);
        m.run_param_rel = std::max(m.run_param_rel, m.max_param_rel);
        m.run_x_diff = std::max(m.run_x_diff, m.max_x_diff);
        m.run_seconds += m.epoch_seconds.back();
        m.run_steps += m.steps;
      }
      Model &a = models[0], &b = models[1];
      csv.row(learning::format("%d,%.12e,%.12e,%.12e,%.6f,%.6f,%.6f,%.3e,%.3e,%.3e,%.3e,%.4f,%.4f,%.4f", epoch,
                               a.epoch_loss.back(), b.epoch_loss.back(), ref.epoch_loss.back(), a.epoch_acc.back(),
                               b.epoch_acc.back(), ref.epoch_acc.back(), a.max_grad_rel, b.max_grad_rel, a.max_param_rel,
                               b.max_param_rel, a.epoch_seconds.back(), b.epoch_seconds.back(), ref.epoch_seconds.back()));
      if (rank == 0)
        std::printf("epoch %3d  loss pgd %.10f sqp %.10f closed %.10f  acc %.4f %.4f %.4f  max grad diff pgd %.2e sqp %.2e"
                    "  (params %.2e %.2e)  time %.2f %.2f %.2f s\n",
                    epoch, a.epoch_loss.back(), b.epoch_loss.back(), ref.epoch_loss.back(), a.epoch_acc.back(),
                    b.epoch_acc.back(), ref.epoch_acc.back(), a.max_grad_rel, b.max_grad_rel, a.max_param_rel,
                    b.max_param_rel, a.epoch_seconds.back(), b.epoch_seconds.back(), ref.epoch_seconds.back());
    }
    csv.close();

    // The claim.
    double curve_diff[2] = {0, 0};
    for (int m = 0; m < 2; ++m)
      for (std::size_t e = 0; e < ref.epoch_loss.size(); ++e)
        curve_diff[m] = std::max(curve_diff[m], std::abs(models[m].epoch_loss[e] - ref.epoch_loss[e]) / std::abs(ref.epoch_loss[e]));
    if (rank == 0) {
      std::printf("\n| layer | final test top-%g acc. | final train loss | max rel. diff dL/dc vs closed | max rel. diff "
                  "param. grad. | max rel. diff loss curve | max abs diff x* | time per step (ms) |\n",
                  (double)o.k);
      std::printf("|---|---|---|---|---|---|---|---|\n");
      for (int m = 0; m < 3; ++m) {
        const Model& M = models[m];
        if (m < 2)
          std::printf("| %s | %.4f | %.10f | %.2e | %.2e | %.2e | %.2e | %.2f |\n", M.name.c_str(), M.epoch_acc.back(),
                      M.epoch_loss.back(), M.run_grad_rel, M.run_param_rel, curve_diff[m], M.run_x_diff,
                      1e3 * M.run_seconds / M.run_steps);
        else
          std::printf("| %s (reference) | %.4f | %.10f | - | - | - | - | %.2f |\n", M.name.c_str(), M.epoch_acc.back(),
                      M.epoch_loss.back(), 1e3 * M.run_seconds / M.run_steps);
      }
      std::printf("\ncurves: %s/topk_multilabel.csv (plot: plot_topk_multilabel.py %s)\n", dir.c_str(), dir.c_str());
    }
    const bool grads_ok = models[0].run_grad_rel <= o.grad_tol && models[1].run_grad_rel <= o.grad_tol;
    const bool curves_ok = curve_diff[0] <= o.curve_tol && curve_diff[1] <= o.curve_tol;
    const bool falls = ref.epoch_loss.back() < ref.epoch_loss.front() && models[0].epoch_loss.back() < models[0].epoch_loss.front() &&
                       models[1].epoch_loss.back() < models[1].epoch_loss.front();
    if (rank == 0) {
      if (!grads_ok)
        std::printf("topk_multilabel: dL/dc differs from the closed form by %.2e (pgd), %.2e (sqp) > -grad_tol %.1e\n",
                    models[0].run_grad_rel, models[1].run_grad_rel, (double)o.grad_tol);
      if (!curves_ok)
        std::printf("the loss curves differ by %.2e (pgd), %.2e (sqp) > -curve_tol %.1e\n", curve_diff[0],
                    curve_diff[1], (double)o.curve_tol);
      if (!falls) std::printf("the training loss did not fall from the first to the last epoch\n");
      if (grads_ok && curves_ok && falls) std::printf("topk_multilabel: ok\n");
    }
    status = grads_ok && curves_ok && falls ? 0 : 1;
  } catch (const std::exception& e) {
    if (rank == 0) std::fprintf(stderr, "topk_multilabel: error: %s\n", e.what());  // the errors are collective
    status = 1;
  }
  SlepcFinalize();
  return status;
}
