// foldopt example: a small network trained through a folded box-QP layer, in libtorch.
//
//   features f_b (3 per instance) → nn::Sequential(Linear, Tanh, Linear) → q_b → x*_b = argmin
//   ½xᵀHx − q_bᵀx s.t. −1 ≤ x ≤ 1 (problem qp_box, a batch of 4 instances of 6 unknowns; the
//   blocks lb and ub given as tensors) → loss Σ_b ‖x*_b − t_b‖², with the targets t_b the
//   solutions for the problem's own q. optim::Adam updates the network; the loss must fall below
//   a fifth of its first value. (An entry at a bound does not move with q: a target inside the
//   box for an entry the network has pushed onto a bound stalls the training there.)
//
// MPI: every rank holds the same network (same seed) and its own instances of the batch (the
// layer's rows: 4 at one rank, 2 and 2 at two); the parameter gradients are summed over the
// ranks after each backward (data parallel), so every rank takes the same step.
// Run: mpiexec -n 2 torch_train_qp   (prints the loss every 20 steps and "train_qp: ok")
#include <foldopt/torch.hpp>

#include <slepcsys.h>
#include <torch/torch.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (SlepcInitialize(&argc, &argv, nullptr, nullptr)) return 1;
  int rank = 0, status = 0;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  try {
    foldopt::torch::Layer layer("qp_box", "-n 6 -batch 4 -seed 5");
    std::vector<at::Tensor> theta = layer.params();  // q, lb, ub, H.values: this rank's entries
    const int64_t rows = layer.solution_rows(), start = layer.solution_start() / 6;
    theta[1] = -at::ones_like(theta[1]);  // lb
    theta[2] = at::ones_like(theta[2]);   // ub
    at::Tensor target;
    {
      ::torch::NoGradGuard no_grad;
      target = layer.forward(theta).clone();
    }
    ::torch::manual_seed(0);  // the same network and features on every rank
    ::torch::nn::Sequential net(::torch::nn::Linear(3, 16), ::torch::nn::Tanh(), ::torch::nn::Linear(16, 6));
    net->to(at::kDouble);
    at::Tensor features = ::torch::randn({4, 3}, at::kDouble).narrow(0, start, rows);
    ::torch::optim::Adam opt(net->parameters(), ::torch::optim::AdamOptions(0.05));
    double first = 0, last = 0;
    for (int step = 0; step < 100; ++step) {
      opt.zero_grad();
      theta[0] = net->forward(features);  // q of this rank's instances
      at::Tensor x = layer.forward(theta);
      at::Tensor loss = (x - target).pow(2).sum();
      loss.backward();
      for (auto& p : net->parameters())  // Σ over ranks: the gradient of the whole batch's loss
        MPI_Allreduce(MPI_IN_PLACE, p.grad().data_ptr<double>(), static_cast<int>(p.grad().numel()), MPI_DOUBLE, MPI_SUM,
                      PETSC_COMM_WORLD);
      double l = loss.item<double>();
      MPI_Allreduce(MPI_IN_PLACE, &l, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD);
      if (step == 0) first = l;
      last = l;
      if (step % 20 == 0 && rank == 0) std::printf("step %3d  loss %.6e\n", step, l);
      opt.step();
    }
    if (rank == 0) std::printf("loss %.6e -> %.6e\n", first, last);
    if (!(last < 0.2 * first)) {
      if (rank == 0) std::printf("train_qp: the loss did not decrease enough\n");
      status = 1;
    } else if (rank == 0) {
      std::printf("train_qp: ok\n");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_qp: error: %s\n", e.what());
    status = 1;
  }
  SlepcFinalize();
  return status;
}
