// The libtorch autograd function foldopt::torch (include/foldopt/torch.hpp), at np = 1 and 2.
//
// References independent of the code under test:
//   gradcheck   the whole Jacobian ∂x*/∂θ by central finite differences of the forward solve
//               (every entry of every block, eps 1e-6), against the autograd Jacobian (one
//               backward per output entry), as torch.autograd.gradcheck does (atol 1e-6,
//               rtol 1e-4), on small instances of every built-in problem, the forward solved
//               to a fixed-point residual <= 1e-12;
//   executable  the gradient files the foldopt executable wrote for the same problem files and
//               the same dL/dx* (the CTest fixture torch_cli_files);
//   CSR order   the H.values block against H gathered to a dense matrix, read row by row.
// Also: float32 converted (gradient float32, equal to float64's), non-CPU tensors refused with
// one message, two forwards then their backwards, the layer's own options database.
#include "reference.hpp"
#include "test_util.hpp"

#include <foldopt/error.hpp>
#include <foldopt/io.hpp>
#include <foldopt/matrix_values.hpp>
#include <foldopt/problem.hpp>
#include <foldopt/torch.hpp>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <string>
#include <vector>

namespace {

using foldopt::torch::Layer;

/// The whole vector from every rank's part (small sizes, tests only).
std::vector<double> allgather(const at::Tensor& part) {
  at::Tensor p = part.detach().to(at::kDouble).contiguous().reshape({-1});
  int n = static_cast<int>(p.numel()), size = foldopt_test::comm_size();
  std::vector<int> counts(size), displs(size, 0);
  MPI_Allgather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, PETSC_COMM_WORLD);
  for (int r = 1; r < size; ++r) displs[r] = displs[r - 1] + counts[r - 1];
  std::vector<double> out(static_cast<std::size_t>(displs[size - 1] + counts[size - 1]));
  MPI_Allgatherv(p.data_ptr<double>(), n, MPI_DOUBLE, out.data(), counts.data(), displs.data(), MPI_DOUBLE,
                 PETSC_COMM_WORLD);
  return out;
}

const std::string kTight = " -fold_check_fixed_point 1e-12 -fold_ksp_rtol 1e-13";

/// The Jacobian check of the layer at its problem's θ (see the file header).
void gradcheck(Layer& layer, const std::string& what) {
  const double eps = 1e-6, atol = 1e-6, rtol = 1e-4;
  std::vector<at::Tensor> theta = layer.params();
  for (auto& t : theta) t.requires_grad_(true);
  at::Tensor x = layer.forward(theta);
  const std::vector<double> x0 = allgather(x);
  const int64_t nx = static_cast<int64_t>(x0.size()), xstart = layer.solution_start();
  EXPECT_LE(layer.folded().fixed_point_residual(), 1e-12) << what;
  // Analytic rows: one backward per output entry i (the owning rank seeds 1).
  std::vector<std::vector<std::vector<double>>> rows(theta.size());  // [block][i][k]
  for (int64_t i = 0; i < nx; ++i) {
    at::Tensor e = at::zeros_like(x).reshape({-1});
    if (i >= xstart && i < xstart + e.numel()) e[i - xstart] = 1.0;
    std::vector<at::Tensor> g = ::torch::autograd::grad({x}, theta, {e.reshape(x.sizes())}, true);
    for (std::size_t b = 0; b < theta.size(); ++b) rows[b].push_back(allgather(g[b]));
  }
  // Numerical columns: every global entry k of every block, perturbed by its owning rank.
  std::vector<at::Tensor> fd;
  for (const auto& t : theta) fd.push_back(t.detach().clone());
  at::NoGradGuard no_grad;
  int bad = 0;
  for (std::size_t b = 0; b < theta.size(); ++b) {
    const int64_t start = layer.local_start(b), local = layer.local_size(b), global = layer.global_size(b);
    at::Tensor flat = fd[b].reshape({-1});
    for (int64_t k = 0; k < global; ++k) {
      const bool mine = k >= start && k < start + local;
      const double orig = mine ? flat[k - start].item<double>() : 0.0;
      if (mine) flat[k - start] = orig + eps;
      const std::vector<double> xp = allgather(layer.forward(fd));
      if (mine) flat[k - start] = orig - eps;
      const std::vector<double> xm = allgather(layer.forward(fd));
      if (mine) flat[k - start] = orig;
      for (int64_t i = 0; i < nx; ++i) {
        const double num = (xp[i] - xm[i]) / (2 * eps), ana = rows[b][i][k];
        if (std::abs(ana - num) > atol + rtol * std::abs(num) && bad++ < 5)
          ADD_FAILURE() << what << ": d x[" << i << "] / d " << layer.names()[b] << "[" << k << "]: autograd " << ana
                        << ", finite differences " << num;
      }
    }
  }
  EXPECT_EQ(bad, 0) << what;
}

struct Case {
  const char* problem;
  const char* options;
};

TEST(TorchFunction, GradcheckEveryProblem) {
  const Case cases[] = {{"qp_box", "-n 6 -seed 3"},
                        {"qp_box", "-n 5 -seed 4 -batch 2"},
                        {"sparsemax", "-n 6 -seed 2 -batch 2"},
                        {"topk", "-n 8 -k 3 -seed 4"},
                        {"lasso", "-n 6 -m 10 -seed 5"},
                        {"tv", "-n 6 -seed 6"}};
  for (const Case& c : cases) {
    Layer layer(c.problem, c.options + kTight);
    gradcheck(layer, std::string(c.problem) + " " + c.options);
  }
}

TEST(TorchFunction, SameGradientAsExecutable) {
  // Files written by the executable (fixture torch_cli_files): the problem and its gradients.
  const std::string dir = FOLDOPT_TORCH_CLI_DIR;
  Layer layer("qp_box", "-Hmat " + dir + "/p.H.mtx -q " + dir + "/p.q.mtx -lb " + dir + "/p.lb.mtx -ub " + dir +
                            "/p.ub.mtx -fold_ksp_rtol 1e-13");
  std::vector<at::Tensor> theta = layer.params();
  for (auto& t : theta) t.requires_grad_(true);
  at::Tensor x = layer.forward(theta);
  const foldopt::Layout& l = layer.problem().solution_layout();
  PetscInt batch = 1;
  foldopt::OwnedVec g = foldopt::io::read_batch(PETSC_COMM_WORLD, dir + "/p.dLdx.mtx", l.n, &batch, l.local);
  const PetscScalar* ga = nullptr;
  VecGetArrayRead(g, &ga);
  at::Tensor gt = at::from_blob(const_cast<PetscScalar*>(ga), {l.local}, at::kDouble).clone();
  VecRestoreArrayRead(g, &ga);
  x.backward(gt.reshape(x.sizes()));
  const std::vector<std::string> names = layer.names();
  for (std::size_t b = 0; b < names.size(); ++b) {
    const std::string file = dir + "/g." + names[b] + ".mtx";
    const std::vector<double> mine = allgather(theta[b].grad());
    std::vector<double> ref;
    if (layer.kinds()[b] == foldopt::BlockKind::matrix_values) {
      foldopt::OwnedMat M = foldopt::io::read_mat(PETSC_COMM_WORLD, file);
      // The file's matrix against ours on H's pattern, entry by entry (dense, small).
      foldopt::ParamBlock blk;
      blk.name = names[b];
      blk.pattern = foldopt::OwnedMat::share(layer.problem().params()[b].pattern);
      blk.kind = foldopt::BlockKind::matrix_values;
      foldopt::OwnedVec v;
      VecDuplicate(layer.problem().params()[b].vec, v.out());
      PetscScalar* va = nullptr;
      VecGetArray(v, &va);
      const at::Tensor gb = theta[b].grad().contiguous();
      for (int64_t k = 0; k < gb.numel(); ++k) va[k] = gb.data_ptr<double>()[k];
      VecRestoreArray(v, &va);
      blk.vec = std::move(v);
      foldopt::OwnedMat G = foldopt::matrix_values::as_matrix(blk);
      const foldopt_ref::MatrixXd a = foldopt_ref::gather_dense(G), r = foldopt_ref::gather_dense(M);
      EXPECT_LE((a - r).norm(), 1e-10 * std::max(1.0, r.norm())) << names[b];
      EXPECT_GT(r.norm(), 0) << names[b];
    } else {
      PetscInt bb = 1;
      foldopt::OwnedVec rv = foldopt::io::read_batch(PETSC_COMM_WORLD, file, l.n, &bb, l.local);
      std::vector<PetscScalar> r = foldopt_test::gather(rv);
      ASSERT_EQ(r.size(), mine.size()) << names[b];
      double d = 0, n = 0;
      for (std::size_t i = 0; i < r.size(); ++i) {
        d += (mine[i] - r[i]) * (mine[i] - r[i]);
        n += r[i] * r[i];
      }
      EXPECT_LE(std::sqrt(d), 1e-10 * std::max(1.0, std::sqrt(n))) << names[b];
    }
  }
}

TEST(TorchFunction, CsrOrderOfMatrixValues) {
  Layer layer("qp_box", "-n 7 -seed 2");
  const std::size_t b = 3;
  ASSERT_EQ(layer.names()[b], "H.values");
  const foldopt_ref::MatrixXd H = foldopt_ref::gather_dense(layer.problem().params()[b].pattern);
  // Row by row, columns ascending, the nonzeros of H (the generated H has no explicit zeros).
  std::vector<double> csr;
  for (int i = 0; i < H.rows(); ++i)
    for (int j = 0; j < H.cols(); ++j)
      if (H(i, j) != 0.0) csr.push_back(H(i, j));
  EXPECT_EQ(allgather(layer.params()[b]), csr);
}

TEST(TorchFunction, DtypeDeviceAndShapes) {
  Layer layer("qp_box", "-n 6 -seed 3 -batch 2" + kTight);
  std::vector<at::Tensor> t64 = layer.params(), t32;
  for (const auto& t : t64) t32.push_back(t.to(at::kFloat));
  t64[0].requires_grad_(true);
  t32[0].requires_grad_(true);
  at::Tensor x64 = layer.forward(t64), x32 = layer.forward(t32);
  EXPECT_EQ(x32.scalar_type(), at::kDouble);
  const int64_t rows = layer.solution_rows();
  ASSERT_GE(rows, 0);  // a batch of 2 splits into whole instances at 1 and 2 ranks
  EXPECT_EQ(x64.sizes().vec(), (std::vector<int64_t>{rows, 6}));
  (x64 * x64).sum().backward();
  (x32 * x32).sum().backward();
  EXPECT_EQ(t32[0].grad().scalar_type(), at::kFloat);
  EXPECT_EQ(t64[0].grad().sizes(), t64[0].sizes());
  EXPECT_LE((t32[0].grad().to(at::kDouble) - t64[0].grad()).abs().max().item<double>(), 1e-5);
  // A tensor that is not on the CPU is refused, with the block named.
  std::vector<at::Tensor> meta = layer.params();
  meta[1] = at::empty(meta[1].sizes(), at::TensorOptions().dtype(at::kDouble).device(at::kMeta));
  try {
    layer.forward(meta);
    ADD_FAILURE() << "a meta tensor was accepted";
  } catch (const foldopt::Error& e) {
    EXPECT_NE(std::string(e.what()).find("parameter block 'lb': a tensor on device meta"), std::string::npos) << e.what();
  }
  std::vector<at::Tensor> few = {layer.params()[0]};
  EXPECT_THROW(layer.forward(few), foldopt::Error);
}

TEST(TorchFunction, TwoForwardsThenBackwards) {
  Layer layer("qp_box", "-n 6 -seed 3" + kTight);
  std::vector<at::Tensor> base = layer.params();
  auto with_q = [&](double shift) {
    std::vector<at::Tensor> t = base;
    t[0] = (base[0] + shift).detach().requires_grad_(true);
    return t;
  };
  std::vector<at::Tensor> a = with_q(0.3), bq = with_q(-0.2), ref = with_q(0.3);
  at::Tensor xa = layer.forward(a), xb = layer.forward(bq);
  (xb.sum() + (xa * xa).sum()).backward();  // xa's backward after xb's forward
  at::Tensor xr = layer.forward(ref);
  (xr * xr).sum().backward();
  EXPECT_LE((a[0].grad() - ref[0].grad()).abs().max().item<double>(), 1e-13);
}

TEST(TorchFunction, OwnOptionsDatabase) {
  // Two layers with different options side by side; the program's database is left alone.
  Layer small("sparsemax", "-n 4"), large("sparsemax", "-n 9");
  EXPECT_EQ(small.global_size(0), 4);
  EXPECT_EQ(large.global_size(0), 9);
  PetscBool set = PETSC_FALSE;
  PetscOptionsHasName(nullptr, nullptr, "-n", &set);
  EXPECT_FALSE(set);
  try {
    Layer bad("sparsemax", "-n 4 -fold_bogus 1");
    ADD_FAILURE() << "a misspelled option was accepted";
  } catch (const foldopt::Error& e) {
    EXPECT_NE(std::string(e.what()).find("unused option(s) in the layer's options: -fold_bogus 1"), std::string::npos)
        << e.what();
  }
  // From the options database.
  foldopt_test::ScopedOptions o(std::vector<std::pair<std::string, std::string>>{{"-n", "5"}});
  Layer db = Layer::from_database("sparsemax");
  EXPECT_EQ(db.global_size(0), 5);
}

}  // namespace
