// bench/qp_admm: the sparse QP (problem `qp`) through the ADMM map and its forward: forward and
// backward time, factorizations and their time, Φᵀ products.
//
// Method: a generated qp instance (P tridiagonal SPD, A banded with 3 entries per row, a planted
//   x*; QPGenerator) with n unknowns and m constraint rows is solved by the `admm` forward
//   (OSQP's iteration, ρ adapted, polished) and differentiated by FoldedLayer::backward (GMRES on
//   (I − Φᵀ) w = g, g = 1, rtol 1e-10; the minimum check off: not part of the solve). The
//   backward is run -backwards times at the same solution: each is one bench::Phase (a PETSc
//   log stage), and the factorizations inside it are counted twice over, by the map
//   (AdmmMap::factorizations) and by PETSc's events MatLUFactorSym/Num and MatCholFctrSym/Num of
//   the phase's stage (their count and time); the factorization of the KKT matrix is done once
//   per (ρ, σ, P, A) and reused by every product of the backward, so a backward at the forward's
//   ρ and θ factors nothing, and one after a change of ρ (-backward_rho) exactly once.
// Writes <output_dir>/qp_admm_np<P>.csv (phase, seconds, iterations, products, factorizations by
//   the map and by the events, factorization seconds, memory) and prints a Markdown table.
// References: B. Stellato et al., OSQP, Math. Prog. Comp. 12 (2020) 637–672.
//
// Run:   mpiexec -n 2 build/bench/qp_admm [-n 100000] [-m 50000] [-quick]
#include "bench_util.hpp"

#include <foldopt/foldopt.hpp>
#include <foldopt/maps/admm.hpp>
#include <foldopt/problems/qp.hpp>

#include <petsclog.h>

namespace {

using namespace foldopt;

const char help[] = "The sparse QP through ADMM: forward, backward, factorizations, Phi^T products.\n"
                    "  -n N           unknowns (default 1e5; -quick: 1e3)\n"
                    "  -m M           constraint rows (default n/2)\n"
                    "  -backwards K   backward calls (default 3; the first at the forward's rho, each\n"
                    "                 later one after a change of rho: r, r/2, r, ... (see -backward_rho)\n"
                    "  -backward_rho r  the r above (default: 2x the forward's rho)\n"
                    "  -output_dir D  where qp_admm_np<P>.csv goes (default bench/results)\n";

/// Count and seconds of the factorization events in `stage` (summed over ranks: time max).
void factor_events(MPI_Comm comm, PetscLogStage stage, PetscInt* count, double* seconds) {
  *count = 0;
  *seconds = 0;
  for (const char* name : {"MatLUFactorSym", "MatLUFactorNum", "MatCholFctrSym", "MatCholFctrNum"}) {
    PetscLogEvent e;
    if (PetscLogEventGetId(name, &e)) continue;
    PetscEventPerfInfo info;
    FOLDOPT_CALL(PetscLogEventGetPerfInfo(stage, e, &info));
    if (std::string(name).find("Num") != std::string::npos) *count += info.count;  // one numeric factorization each
    *seconds += info.time;
  }
  *seconds = bench::max_over(comm, *seconds);
  PetscInt c = *count;
  MPI_Allreduce(&c, count, 1, MPIU_INT, MPI_MAX, comm);
}

PetscLogStage stage_of(const char* name) {
  PetscLogStage s;
  FOLDOPT_CALL(PetscLogStageGetId(name, &s));
  return s;
}

int body(MPI_Comm comm, const bench::Args& args) {
  FOLDOPT_CALL(PetscLogDefaultBegin());  // events per stage, also without -log_view
  QPGenerator gen;
  gen.n = args.quick ? 1000 : 100000;
  gen.m = 0;
  PetscInt backwards = 3;
  PetscReal backward_rho = 0;
  PetscOptionsGetInt(nullptr, nullptr, "-n", &gen.n, nullptr);
  PetscOptionsGetInt(nullptr, nullptr, "-m", &gen.m, nullptr);
  PetscOptionsGetInt(nullptr, nullptr, "-backwards", &backwards, nullptr);
  PetscOptionsGetReal(nullptr, nullptr, "-backward_rho", &backward_rho, nullptr);
  if (gen.n < 10) throw std::invalid_argument("-n must be at least 10");
  if (gen.m == 0) gen.m = gen.n / 2;
  if (gen.m < 1 || backwards < 1 || backward_rho < 0)
    throw std::invalid_argument("-m and -backwards must be positive, -backward_rho >= 0");
  int size = 1;
  MPI_Comm_size(comm, &size);

  std::unique_ptr<QP> qp;
  double setup_seconds;
  {
    bench::Phase ph(comm, "QpSetup");
    qp = QP::generate(comm, gen);
    setup_seconds = ph.seconds();
  }
  FoldedLayer layer(*qp);
  layer.set_check_minimum(false);
  layer.set_from_options();
  auto& map = dynamic_cast<AdmmMap&>(layer.map());  // the bench asks for the map's own counters

  struct Row {
    std::string phase;
    double seconds;
    PetscInt iterations, products, map_factorizations, event_factorizations;
    double factor_seconds, memory_mib;
    PetscReal rho;
  };
  std::vector<Row> rows;
  {
    const PetscInt f0 = map.factorizations();
    bench::Phase ph(comm, "QpForward");
    layer.forward(qp->params());
    const double sec = ph.seconds();
    const memory::Phase& m = ph.memory();
    PetscInt fe;
    double fs;
    factor_events(comm, stage_of("QpForward"), &fe, &fs);
    rows.push_back({"forward", sec, layer.forward_report().iterations, 0, map.factorizations() - f0, fe, fs,
                    bench::mib(m.peak - m.start), map.rho()});
  }
  const PetscReal forward_rho = map.rho();
  OwnedVec g;
  FOLDOPT_CALL(VecDuplicate(layer.solution(), g.out()));
  FOLDOPT_CALL(VecSet(g, 1.0));
  PetscInt fe_before = 0;
  double fs_before = 0;
  for (PetscInt b = 0; b < backwards; ++b) {
    if (b > 0) map.set_rho((backward_rho > 0 ? backward_rho : 2 * forward_rho) * (b % 2 ? 1.0 : 0.5));
    const PetscInt f0 = map.factorizations();
    bench::Phase ph(comm, "QpBackward");
    layer.backward(g);
    const double sec = ph.seconds();
    const memory::Phase& m = ph.memory();
    PetscInt fe;
    double fs;
    factor_events(comm, stage_of("QpBackward"), &fe, &fs);  // cumulative over the stage's pushes
    const AdjointReport& r = layer.adjoint().report();
    rows.push_back({"backward " + std::to_string(b + 1), sec, r.iterations, r.products, map.factorizations() - f0,
                    fe - fe_before, fs - fs_before, bench::mib(m.peak - m.start), map.rho()});
    fe_before = fe;
    fs_before = fs;
  }

  bench::Csv csv(comm, args.output_dir, "qp_admm_np" + std::to_string(size) + ".csv",
                 {"command: " + args.command, "machine: " + bench::machine(comm),
                  "instance: qp generated, n = " + bench::num(gen.n) + ", m = " + bench::num(gen.m) + ", set-up " +
                      bench::num(setup_seconds) + " s; linear system " + map.describe(),
                  "factorizations: by the map (its KKT system) and by PETSc's numeric factorization events "
                  "(the map's and the forward's polishing); memory: peak - start of the phase, summed over ranks"},
                 {"phase", "seconds", "iterations", "phi_t_products", "map_factorizations", "event_factorizations",
                  "factor_seconds", "memory_MiB", "rho"});
  PetscPrintf(comm, "| phase | time (s) | iterations | Phi^T products | factorizations (map / events) | factor time (s) | memory (MiB) | rho |\n"
                    "|---|---|---|---|---|---|---|---|\n");
  for (const Row& r : rows) {
    csv.row({r.phase, bench::num(r.seconds), bench::num(r.iterations), bench::num(r.products), bench::num(r.map_factorizations),
             bench::num(r.event_factorizations), bench::num(r.factor_seconds), bench::num(r.memory_mib), bench::num(r.rho)});
    PetscPrintf(comm, "| %s | %.3f | %" PetscInt_FMT " | %" PetscInt_FMT " | %" PetscInt_FMT " / %" PetscInt_FMT " | %.3f | %.1f | %.3g |\n",
                r.phase.c_str(), r.seconds, r.iterations, r.products, r.map_factorizations, r.event_factorizations,
                r.factor_seconds, r.memory_mib, (double)r.rho);
  }
  csv.close();
  PetscPrintf(comm, "PASS\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return foldopt::bench::run_main(argc, argv, help, body); }
