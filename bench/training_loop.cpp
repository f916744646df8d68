// bench/training_loop: the amortized backward of a training loop with slowly changing θ.
//
// Method: a generated box-QP on a 2-D grid (BoxQPGenerator, as bench/adjoint_methods); a loop of
//   S steps (default 20) in which q moves by δ times a random vector in [-1, 1] (δ = 1e-3), the
//   forward solved at every step by the layer's forward (TAO tron, warm-started from the previous
//   state as FoldedLayer does) and the loss L = ½‖x* − t‖² (t fixed, random) differentiated at
//   every step, g = x* − t. Every configuration of the backward has its own layer, all alive at
//   once: each step runs the forward, then every configuration's backward at that state
//   (FoldedLayer::set_solution), so the reuse across steps (-fold_pc_reuse,
//   -fold_ksp_initial_guess previous) is that of a real loop and a shared machine's varying load
//   falls alike on all configurations. Each backward is FoldedLayer::backward whole (fixed-point check,
//   linearization, the minimum check, the adjoint solve, Ψᵀw); the adjoint solve alone is quoted
//   too. Amortized = mean over the S steps; the "cold forward" is the first step's forward (from
//   the zero state). Gradients are compared with those of the first configuration (BoomerAMG
//   without reuse, rtol 1e-10): relative difference of the q block, maximum over the steps.
// Writes <output_dir>/training_loop_steps.csv (a row per configuration and step) and
//   training_loop_summary.csv (a row per configuration); a Markdown table on stdout.
// References: bench/README.md (the target: box-QP n = 10⁶, amortized backward ≤ 0.1× the cold
//   forward).
//
// Run:   mpiexec -n 2 build/bench/training_loop [-quick] [-n 1000000] [-steps 20] [-delta 1e-3]
//        [-pattern random|block] [-shift 0.1] [-bench_configs a,b,...] [-bench_list]
#include "bench_util.hpp"

#include <foldopt/foldopt.hpp>

#include <cctype>
#include <cmath>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace foldopt;

const char help[] =
    "Training loop: amortized backward with and without reuse across steps (box-QP).\n"
    "  -n N             unknowns (default 1e6; -quick: 1e4)\n"
    "  -steps S         loop steps (default 20)\n"
    "  -delta D         step of q per loop step, times a random vector in [-1, 1] (default 1e-3)\n"
    "  -pattern P       active set of the generated instance: random (default) or block\n"
    "  -shift s         H = 2-D Laplacian + s I (default 0.1)\n"
    "  -bench_configs   comma-separated configurations (-bench_list prints them)\n"
    "  -output_dir D    where the CSV files go (default bench/results)\n";

struct Config {
  const char* name;
  const char* options;
};

// The first is the reference of the gradient differences (and the "no reuse" baseline).
const char kCheapAmg[] =
    " -fold_pc_hypre_boomeramg_coarsen_type HMIS -fold_pc_hypre_boomeramg_interp_type ext+i"
    " -fold_pc_hypre_boomeramg_P_max 4 -fold_pc_hypre_boomeramg_agg_nl 1";
const std::vector<Config>& configs() {
  static const std::string cheap = kCheapAmg;
  static const std::string s_cheap = "-fold_pc_type hypre -fold_pc_reuse -fold_ksp_initial_guess previous" + cheap;
  static const std::string s_sym_cheap =
      "-fold_adjoint_form symmetric -fold_pc_type hypre -fold_pc_reuse -fold_ksp_initial_guess previous" + cheap;
  static const std::string s_sym_cheap_loose = s_sym_cheap + " -fold_ksp_rtol 1e-6";
  static const std::string s_cheap_loose = s_cheap + " -fold_ksp_rtol 1e-6";
  static const std::string s_cheap_loose_nomin = s_cheap_loose + " -fold_check_minimum 0";
  static const std::vector<Config> c = {
      {"gmres+hypre", "-fold_pc_type hypre"},
      {"gmres+hypre+reuse", "-fold_pc_type hypre -fold_pc_reuse"},
      {"gmres+hypre+reuse+guess", "-fold_pc_type hypre -fold_pc_reuse -fold_ksp_initial_guess previous"},
      {"gmres+hypre_cheap+reuse+guess", s_cheap.c_str()},
      {"cg_sym+hypre+reuse+guess",
       "-fold_adjoint_form symmetric -fold_pc_type hypre -fold_pc_reuse -fold_ksp_initial_guess previous"},
      {"cg_sym+gamg+reuse+guess",
       "-fold_adjoint_form symmetric -fold_pc_type gamg -fold_pc_reuse -fold_ksp_initial_guess previous"},
      {"cg_sym+hypre_cheap+reuse+guess", s_sym_cheap.c_str()},
      {"cg_sym+hypre_cheap+reuse+guess+rtol1e-6", s_sym_cheap_loose.c_str()},
      {"gmres+hypre_cheap+reuse+guess+rtol1e-6", s_cheap_loose.c_str()},
      {"gmres+hypre_cheap+reuse+guess+rtol1e-6+no_min_check", s_cheap_loose_nomin.c_str()},
  };
  return c;
}

/// The option names of an option string ("-a 1 -b" -> {"-a", "-b"}), to clear them afterwards.
std::vector<std::string> option_names(const std::string& opts) {
  std::vector<std::string> out;
  std::istringstream s(opts);
  for (std::string w; s >> w;)
    if (w.size() > 1 && w[0] == '-' && std::isalpha((unsigned char)w[1])) out.push_back(w);
  return out;
}

struct Step {
  double backward = 0, adjoint = 0, setup = 0;
  PetscInt iterations = 0, products = 0, setups = 0;
  bool reused = false;
  PetscReal initial_residual = -1, structure_change = -1, grad_diff = 0;
};

int body(MPI_Comm comm, const bench::Args& args) {
  BoxQPGenerator gen;
  gen.n = args.quick ? 10000 : 1000000;
  gen.shift = 0.1;
  PetscInt steps = 20, seed = 1;
  PetscReal delta = 1e-3;
  char pattern[64] = "random";
  std::string names;
  for (const Config& c : configs()) names += (names.empty() ? "" : ",") + std::string(c.name);
  char chosen[2048];
  std::snprintf(chosen, sizeof chosen, "%s", names.c_str());
  PetscBool list = PETSC_FALSE;
  PetscOptionsBegin(comm, nullptr, "Training loop benchmark", "bench");
  PetscOptionsInt("-n", "unknowns", "", gen.n, &gen.n, nullptr);
  PetscOptionsInt("-steps", "loop steps", "", steps, &steps, nullptr);
  PetscOptionsInt("-seed", "instance seed", "", seed, &seed, nullptr);
  PetscOptionsReal("-delta", "step of q per loop step", "", delta, &delta, nullptr);
  PetscOptionsReal("-shift", "H = Laplacian + shift I", "", gen.shift, &gen.shift, nullptr);
  PetscOptionsString("-pattern", "active set pattern (random, block)", "", pattern, pattern, sizeof pattern, nullptr);
  PetscOptionsString("-bench_configs", "comma-separated configurations", "", chosen, chosen, sizeof chosen, nullptr);
  PetscOptionsBool("-bench_list", "list the configurations and their options", "", list, &list, nullptr);
  PetscOptionsEnd();
  if (list) {
    for (const Config& c : configs()) PetscPrintf(comm, "%-40s %s\n", c.name, c.options);
    return 0;
  }
  if (gen.n < 4 || steps < 1 || !(delta >= 0)) throw std::invalid_argument("-n >= 4, -steps >= 1 and -delta >= 0 are needed");
  std::vector<const Config*> run;
  {
    std::stringstream ss(chosen);
    for (std::string item; std::getline(ss, item, ',');) {
      const Config* found = nullptr;
      for (const Config& c : configs())
        if (item == c.name) found = &c;
      if (!found) throw std::invalid_argument("unknown configuration '" + item + "' (-bench_list)");
      run.push_back(found);
    }
  }
  gen.pattern = pattern;
  gen.seed = static_cast<unsigned long>(seed);
  int size = 1;
  MPI_Comm_size(comm, &size);

  std::unique_ptr<BoxQP> qp = BoxQP::generate(comm, gen);
  ParamSet theta = qp->params().copy();
  OwnedVec target = qp->create_vec(), r = qp->create_vec();
  fill_random(target, 99);

  // Every configuration has its own layer, all alive at once; each step runs the forward, then
  // every configuration's backward at that step, so that the machine's load (shared, varying)
  // falls alike on all of them. A configuration's options are in the database while its layer
  // reads them and during each of its backwards (a PC reads some of them at its set-up).
  struct Row {
    const Config* c;
    std::unique_ptr<FoldedLayer> layer;
    std::vector<Step> s;
    double peak = 0;
  };
  auto with_options = [](const Config* c, const std::function<void()>& f) {
    FOLDOPT_CALL(PetscOptionsInsertString(nullptr, c->options));
    try {
      f();
    } catch (...) {
      for (const std::string& o : option_names(c->options)) PetscOptionsClearValue(nullptr, o.c_str());
      throw;
    }
    for (const std::string& o : option_names(c->options)) PetscOptionsClearValue(nullptr, o.c_str());
  };
  std::vector<Row> rows;
  for (const Config* c : run) {
    rows.push_back(Row{c, nullptr, {}, 0});
    with_options(c, [&] {
      rows.back().layer.reset(new FoldedLayer(*qp));
      rows.back().layer->set_from_options();
    });
  }
  std::vector<double> fwd_seconds;
  std::vector<PetscInt> fwd_its;
  FoldedLayer forward_layer(*qp);
  forward_layer.set_from_options();
  OwnedVec g = qp->create_vec(), ref_grad = qp->create_vec();
  for (PetscInt k = 0; k < steps; ++k) {
    if (k) {
      fill_random(r, 1000 + (unsigned long)k);
      FOLDOPT_CALL(VecAXPY(theta.get("q"), delta, r));
    }
    {
      bench::Phase ph(comm, "forward");
      forward_layer.forward(theta);
      fwd_seconds.push_back(ph.seconds());
    }
    fwd_its.push_back(forward_layer.forward_report().iterations);
    Vec state = forward_layer.state();
    FOLDOPT_CALL(VecWAXPY(g, -1.0, target, state));  // g = x* − t
    for (std::size_t i = 0; i < rows.size(); ++i) {
      Row& row = rows[i];
      with_options(row.c, [&] {
        row.layer->set_solution(theta, state);
        bench::Phase ph(comm, "backward");
        ParamSet grad = row.layer->backward(g);
        Step st;
        st.backward = ph.seconds();
        row.peak = std::max(row.peak, ph.memory().peak);
        const AdjointReport& rep = row.layer->adjoint().report();
        st.adjoint = rep.seconds;
        st.setup = rep.setup_seconds;
        st.iterations = rep.iterations;
        st.products = rep.products;
        st.setups = rep.pc_setups;
        st.reused = rep.pc_reused;
        st.initial_residual = rep.initial_residual;
        st.structure_change = rep.structure_change;
        if (i == 0) FOLDOPT_CALL(VecCopy(grad.get("q"), ref_grad));
        st.grad_diff = bench::rel_diff(grad.get("q"), ref_grad);
        row.s.push_back(st);
      });
    }
    PetscPrintf(comm, "  step %" PetscInt_FMT " done\n", k);
  }
  const double cold = fwd_seconds[0];
  double fwd_mean = 0;
  for (double t : fwd_seconds) fwd_mean += t / (double)steps;

  const std::string instance = "qp_box n = " + std::to_string((long long)gen.n) + ", pattern " + gen.pattern +
                               ", shift " + bench::num(gen.shift) + ", seed " + std::to_string((long long)seed) +
                               ", steps " + std::to_string((long long)steps) + ", delta " + bench::num(delta);
  const std::vector<std::string> comments = {"command: " + args.command, "machine: " + bench::machine(comm),
                                             "instance: " + instance,
                                             "L = 0.5 |x* - t|^2, q += delta * uniform[-1,1] per step; forward TAO tron warm-started; "
                                             "each step: the forward, then every configuration's backward"};
  bench::Csv steps_csv(comm, args.output_dir, "training_loop_steps.csv", comments,
                       {"config", "step", "forward_s", "forward_iterations", "backward_s", "adjoint_s", "setup_s",
                        "iterations", "products", "pc_reused", "pc_setups", "structure_change", "initial_residual",
                        "grad_rel_diff"});
  bench::Csv summary_csv(comm, args.output_dir, "training_loop_summary.csv", comments,
                         {"config", "options", "cold_forward_s", "mean_forward_s", "amortized_backward_s",
                          "amortized_adjoint_s", "backward_over_cold_forward", "adjoint_over_cold_forward",
                          "first_backward_s", "mean_iterations", "pc_setups", "max_grad_rel_diff", "backward_peak_mib"});

  PetscPrintf(comm, "\ntraining loop on %s, %d rank(s); cold forward %.3f s (%" PetscInt_FMT " iterations), mean forward %.3f s\n\n",
              instance.c_str(), size, cold, fwd_its[0], fwd_mean);
  PetscPrintf(comm, "| configuration | amortized backward (s) | / cold forward | adjoint solve alone (s) | / cold forward | first backward (s) | mean iterations | PC set-ups | max grad. rel. diff | peak during the backwards, all layers alive (MiB) |\n");
  PetscPrintf(comm, "|---|---|---|---|---|---|---|---|---|---|\n");
  for (const Row& row : rows) {
    double b = 0, a = 0, its = 0, diff = 0;
    for (PetscInt k = 0; k < steps; ++k) {
      const Step& st = row.s[k];
      b += st.backward / (double)steps;
      a += st.adjoint / (double)steps;
      its += (double)st.iterations / (double)steps;
      diff = std::max<double>(diff, st.grad_diff);
      steps_csv.row({row.c->name, bench::num(k), bench::num(fwd_seconds[k]), bench::num(fwd_its[k]), bench::num(st.backward),
                     bench::num(st.adjoint), bench::num(st.setup), bench::num(st.iterations), bench::num(st.products),
                     st.reused ? "1" : "0", bench::num(st.setups), bench::num((double)st.structure_change),
                     bench::num((double)st.initial_residual), bench::num(st.grad_diff)});
    }
    const PetscInt setups = row.s.back().setups;
    summary_csv.row({row.c->name, std::string("\"") + row.c->options + "\"", bench::num(cold), bench::num(fwd_mean),
                     bench::num(b), bench::num(a), bench::num(b / cold), bench::num(a / cold), bench::num(row.s[0].backward),
                     bench::num(its), bench::num(setups), bench::num(diff), bench::num(bench::mib(row.peak))});
    PetscPrintf(comm, "| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.1f | %" PetscInt_FMT " | %.1e | %.0f |\n", row.c->name, b, b / cold, a,
                a / cold, row.s[0].backward, its, setups, diff, bench::mib(row.peak));
  }
  steps_csv.close();
  summary_csv.close();
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return foldopt::bench::run_main(argc, argv, help, body); }
