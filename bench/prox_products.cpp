// bench/prox_products: each prox's Jacobian product, and the Φᵀ product of its prox-gradient map,
// as a multiple of streaming the vectors it reads and writes once; and the simplex-type
// projections themselves at large n.
//
// Method: every prox of prox_registry() (but `linear`, whose products are inner ADMM solves, not
//   streaming kernels) is built at n entries (one instance) with θ = {lb = −1, ub = 1, λ = 0.5,
//   q} and linearized at z with entries uniform in [−2, 2) drawn by global index (the same at any
//   number of ranks). Then, each the best of -reps repetitions (max over ranks), taken round
//   robin over all the products and the triad (so that load on the machine hits them alike):
//     J v                      Prox::jacobian_mult
//     Φᵀ v = (I − α∇²f) J v    ProxGradMap::phi_t over f = ½‖x‖² − qᵀx (∇²f = I), α = 0.5
//   and, for the catalogue problems' own maps (sparsemax, topk with its entropy, tv 1-D and 2-D,
//   qp_box's pgd), Φᵀ v of the problem's prox-gradient map linearized at its generated instance.
//   A product reads v and the data of its linearization and writes y at least once: its floor
//   counts 8 bytes an entry for v, for y and for the prox's vector (its mask, ẑ, a, …; none for
//   J = I), and the Hessian as the map stores it (AIJ: 12 bytes a nonzero, 4 a row: the identity
//   of f = ½‖x‖² is assembled, 16 bytes a row; a matrix-free Hessian reads the state, 8), divided
//   by the triad bandwidth (a = b + 3c, 24 bytes an entry, as bench_util.hpp's) measured among
//   them on vectors of the same length (the same cache regime). The ratio time / floor has the target ≤ 3.
//   Projections: Prox::apply of `simplex` and `capped_simplex` (k = n/10: the top-k threshold)
//   at -proj_n entries (default 10⁷) on z uniform in [−2, 2), best of -reps (target < 1 s).
// Writes <output_dir>/prox_products_np<P>.csv (kind, name, n, seconds, floor seconds, ratio,
//   bytes) and prints a Markdown table.
// References: J. D. McCalpin, STREAM (the triad kernel); A. Beck, First-Order Methods in
//   Optimization (SIAM 2017), ch. 6 (the proxes).
//
// Run:   mpiexec -n 2 build/bench/prox_products [-n 1000000] [-proj_n 10000000] [-reps 10] [-quick]
#include "bench_util.hpp"

#include <foldopt/foldopt.hpp>
#include <foldopt/maps/prox_grad.hpp>
#include <foldopt/objectives.hpp>
#include <foldopt/problems/composite.hpp>
#include <foldopt/problems/qp_box.hpp>
#include <foldopt/problems/sparsemax.hpp>
#include <foldopt/problems/topk.hpp>
#include <foldopt/problems/tv.hpp>

#include <cmath>
#include <functional>
#include <memory>

namespace {

using namespace foldopt;

const char help[] =
    "Per-prox Jacobian and Phi^T products against the bandwidth floor; simplex-type projections.\n"
    "  -n N           entries of the products (default 1e6; -quick: 1e5)\n"
    "  -proj_n N      entries of the projections (default 1e7; -quick: 1e6)\n"
    "  -reps R        repetitions, the best is kept (default 50; projections: at most 3)\n"
    "  -output_dir D  where prox_products_np<P>.csv goes (default bench/results)\n";

/// Uniform in [lo, hi) by global index (splitmix64), the same at any number of ranks.
void fill_uniform(Vec v, double lo, double hi, unsigned long long seed) {
  PetscInt start, end;
  FOLDOPT_CALL(VecGetOwnershipRange(v, &start, &end));
  PetscScalar* a;
  FOLDOPT_CALL(VecGetArray(v, &a));
  for (PetscInt i = start; i < end; ++i) {
    unsigned long long x = (unsigned long long)i * 0x9E3779B97F4A7C15ULL + seed;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    x ^= x >> 31;
    a[i - start] = lo + (hi - lo) * (double)(x >> 11) * (1.0 / 9007199254740992.0);
  }
  FOLDOPT_CALL(VecRestoreArray(v, &a));
}

/// The problem the registry's proxes are built against: n unknowns, θ = {q, lb, ub, lambda}.
class ProxBenchProblem : public Problem {
 public:
  ProxBenchProblem(MPI_Comm comm, PetscInt n) : layout_(batch_layout(comm, n, 1)) {
    auto vec = [&](double lo, double hi, unsigned long long seed) {
      OwnedVec v;
      FOLDOPT_CALL(VecCreateMPI(comm, layout_.local, layout_.global(), v.out()));
      fill_uniform(v, lo, hi, seed);
      return v;
    };
    OwnedVec q = vec(-1, 1, 11), lb = vec(-1, -1, 0), ub = vec(1, 1, 0), lambda;
    FOLDOPT_CALL(VecCreateMPI(comm, PETSC_DECIDE, 1, lambda.out()));
    FOLDOPT_CALL(VecSet(lambda, 0.5));
    theta_.add("q", q);
    theta_.add("lb", lb);
    theta_.add("ub", ub);
    theta_.add("lambda", lambda, BlockKind::scalar);
  }
  std::string type() const override { return "prox_bench"; }
  const Layout& layout() const override { return layout_; }
  const ParamSet& params() const override { return theta_; }
  std::string default_map() const override { return "prox_grad"; }

 private:
  Layout layout_;
  ParamSet theta_;
};

/// Best of `reps` calls of f (seconds, max over ranks).
template <typename F>
double best_of(MPI_Comm comm, int reps, F f) {
  f();  // warm-up (first touch of the outputs)
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    MPI_Barrier(comm);
    const double t0 = bench::wall();
    f();
    best = std::min(best, bench::max_over(comm, bench::wall() - t0));
  }
  return best;
}

/// Bytes of an AIJ matrix a product must read: 12 a stored nonzero (value, column), 4 a row.
double matrix_bytes(Mat A) {
  if (!A) return 0;
  MatInfo info;
  FOLDOPT_CALL(MatGetInfo(A, MAT_GLOBAL_SUM, &info));
  PetscInt m, n;
  FOLDOPT_CALL(MatGetSize(A, &m, &n));
  return 12.0 * info.nz_used + 4.0 * (double)m;
}

struct Row {
  std::string kind, name;
  PetscInt n;
  double seconds, floor_seconds, bytes;
};

void set_option(const std::string& name, const std::string& value) {
  FOLDOPT_CALL(PetscOptionsSetValue(nullptr, name.c_str(), value.c_str()));
}

int body(MPI_Comm comm, const bench::Args& args) {
  PetscInt n = args.quick ? 100000 : 1000000, proj_n = args.quick ? 1000000 : 10000000, reps = 50;
  PetscOptionsGetInt(nullptr, nullptr, "-n", &n, nullptr);
  PetscOptionsGetInt(nullptr, nullptr, "-proj_n", &proj_n, nullptr);
  PetscOptionsGetInt(nullptr, nullptr, "-reps", &reps, nullptr);
  if (n < 100 || proj_n < 100 || reps < 1) throw std::invalid_argument("-n and -proj_n must be >= 100, -reps >= 1");
  n -= n % 10;  // group_l1's groups of 10 and the product's two segments divide n
  int size = 1;
  MPI_Comm_size(comm, &size);
  std::vector<Row> rows;
  // Every product (and the triad) is an op; the repetitions go round robin over all ops, so that
  // a burst of load on the machine hits them alike, and each keeps its best time.
  struct Op {
    std::string kind, name;
    PetscInt n;
    double bytes;  // the floor's bytes (below), or 0 for the triad
    std::function<void()> run;
    double best = 1e300;
  };
  std::vector<Op> ops;
  std::vector<std::shared_ptr<void>> keep;  // the objects the ops act on
  auto hold_vec = [&](OwnedVec v) {
    auto p = std::make_shared<OwnedVec>(std::move(v));
    keep.push_back(p);
    return p->get();
  };
  {
    OwnedVec ta, tb, tc;
    FOLDOPT_CALL(VecCreateMPI(comm, PETSC_DECIDE, n, ta.out()));
    FOLDOPT_CALL(VecDuplicate(ta, tb.out()));
    FOLDOPT_CALL(VecDuplicate(ta, tc.out()));
    FOLDOPT_CALL(VecSet(tb, 1.0));
    FOLDOPT_CALL(VecSet(tc, 2.0));
    Vec a = hold_vec(std::move(ta)), b = hold_vec(std::move(tb)), c = hold_vec(std::move(tc));
    ops.push_back({"triad", "a = b + 3 c", n, 0, [a, b, c] { FOLDOPT_CALL(VecWAXPY(a, 3.0, c, b)); }});
  }

  // Registry proxes: J v, and Φᵀ v of the map over f = ½‖x‖² − qᵀx.
  auto problem = std::make_shared<ProxBenchProblem>(comm, n);
  keep.push_back(problem);
  Vec z = hold_vec(problem->create_vec()), v = hold_vec(problem->create_vec()), y = hold_vec(problem->create_vec());
  fill_uniform(z, -2, 2, 3);
  fill_uniform(v, -1, 1, 5);
  set_option("-bench_prox_k", std::to_string(n / 10));
  set_option("-bench_prox_sums", std::to_string(n / 20) + "," + std::to_string(n / 20));
  set_option("-bench_prox_group_size", "10");
  PartContext ctx;
  ctx.comm = comm;
  ctx.problem = problem.get();
  ctx.layout = problem->layout();
  ctx.prefix = "bench_prox_";
  for (const std::string& name : prox_registry().names()) {
    if (name == "linear") continue;  // nested: each product is an inner ADMM solve
    std::shared_ptr<Prox> h(prox_registry().create("prox", name, ctx));
    std::shared_ptr<Objective> f(make_quadratic(problem->layout(), nullptr, "q"));
    keep.push_back(h);
    keep.push_back(f);
    h->linearize(z, 1.0, problem->params());
    // v, y and the linearization's vector (the mask, ẑ, a, ...; none for J = I)
    const double jbytes = (name == "identity" ? 16.0 : 24.0) * n;
    ops.push_back({"J v", name, n, jbytes, [h, v, y] { h->jacobian_mult(v, y); }});
    auto map = std::make_shared<ProxGradMap>(*problem, *f, *h, 0.5);
    keep.push_back(map);
    Vec x = hold_vec(problem->create_vec());
    FOLDOPT_CALL(VecCopy(problem->params().get("q"), x));  // z = x − α(x − q) at α = 0.5: x = 2z − q
    FOLDOPT_CALL(VecAXPBY(x, 2.0, -1.0, z));
    map->linearize(x, problem->params());
    const double pbytes = jbytes + matrix_bytes(f->hessian(x, problem->params()));  // and ∇²f as stored (AIJ I)
    ops.push_back({"Phi^T v", name, n, pbytes, [map, v, y] { map->phi_t(v, y); }});
  }

  // The catalogue problems' own maps. The state: the problem's known solution, else uniform in
  // [lo, hi).
  auto map_op = [&](const std::string& name, std::shared_ptr<Problem> p, double lo, double hi) {
    keep.push_back(p);
    auto map = std::make_shared<ProxGradMap>(*p);
    keep.push_back(map);
    map->set_from_options();
    Vec s = hold_vec(p->create_vec()), w = hold_vec(p->create_vec()), out = hold_vec(p->create_vec());
    if (p->known_solution())
      FOLDOPT_CALL(VecCopy(p->known_solution(), s));
    else
      fill_uniform(s, lo, hi, 7);
    fill_uniform(w, -1, 1, 5);
    map->linearize(s, p->params());
    PetscInt ns;
    FOLDOPT_CALL(VecGetSize(s, &ns));
    // v, y, J's vector, and the Hessian as stored (a matrix-free one reads the state: 8 bytes)
    const double bytes = 24.0 * ns + (p->has_hessian() ? matrix_bytes(p->hessian(s, p->params())) : 8.0 * ns);
    ops.push_back({"Phi^T v (problem)", name, ns, bytes, [map, w, out] { map->phi_t(w, out); }});
  };
  map_op("sparsemax (simplex, H = I)", Sparsemax::generate(comm, n, 1, 1), 0, 1);
  map_op("topk (capped simplex, entropy)", TopK::generate(comm, n, 1, 1, (PetscReal)(n / 10), 0.1), 0.01, 0.99);
  {
    TvGenerator g;
    g.n = n;
    map_op("tv 1-D (box [-lambda, lambda], D D^T)", TvProblem::generate(comm, g, true), -0.3, 0.3);
    g.m1 = g.m2 = (PetscInt)std::lround(std::sqrt((double)n));
    g.n = g.m1 * g.m2;
    map_op("tv 2-D (box [-lambda, lambda], D D^T)", TvProblem::generate(comm, g, true), -0.3, 0.3);
  }
  {
    BoxQPGenerator g;
    g.n = n;
    map_op("qp_box (box, 5-point H)", BoxQP::generate(comm, g), -1, 1);
  }

  for (Op& op : ops) op.run();  // warm-up (first touch of the outputs)
  for (PetscInt r = 0; r < reps; ++r)
    for (Op& op : ops) {
      MPI_Barrier(comm);
      const double t0 = bench::wall();
      op.run();
      op.best = std::min(op.best, bench::max_over(comm, bench::wall() - t0));
    }
  const double bw = 24.0 * (double)n / ops[0].best;
  for (const Op& op : ops)
    if (op.bytes > 0) rows.push_back({op.kind, op.name, op.n, op.best, op.bytes / bw, op.bytes});

  // The simplex-type projections at proj_n entries.
  const double bw_proj = bench::triad_bandwidth(comm, proj_n, 5);
  {
    ProxBenchProblem big(comm, proj_n);
    OwnedVec zb = big.create_vec(), yb = big.create_vec();
    fill_uniform(zb, -2, 2, 3);
    set_option("-bench_proj_k", std::to_string(proj_n / 10));
    PartContext c;
    c.comm = comm;
    c.problem = &big;
    c.layout = big.layout();
    c.prefix = "bench_proj_";
    for (const char* name : {"simplex", "capped_simplex"}) {
      std::unique_ptr<Prox> h = prox_registry().create("prox", name, c);
      const double t = best_of(comm, (int)std::min<PetscInt>(reps, 3), [&] { h->apply(zb, 1.0, big.params(), yb); });
      rows.push_back({"projection", name, proj_n, t, 16.0 * proj_n / bw_proj, 16.0 * proj_n});
    }
  }

  bench::Csv csv(comm, args.output_dir, "prox_products_np" + std::to_string(size) + ".csv",
                 {"command: " + args.command, "machine: " + bench::machine(comm),
                  "triad bandwidth " + bench::num(bw / 1e9) + " GB/s at n = " + bench::num(n) + ", " +
                      bench::num(bw_proj / 1e9) + " GB/s at n = " + bench::num(proj_n),
                  "floor = bytes / triad bandwidth; bytes = v read, y written, the linearization's vector (8 bytes an entry "
                  "each) and the Hessian as stored (AIJ: 12 a nonzero, 4 a row); best of " +
                      bench::num(reps)},
                 {"kind", "name", "n", "seconds", "floor_seconds", "ratio", "bytes"});
  PetscPrintf(comm, "| kind | prox / problem | n | time (ms) | floor (ms) | ratio |\n|---|---|---|---|---|---|\n");
  for (const Row& r : rows) {
    csv.row({r.kind, "\"" + r.name + "\"", bench::num(r.n), bench::num(r.seconds), bench::num(r.floor_seconds),
             bench::num(r.seconds / r.floor_seconds), bench::num(r.bytes)});
    PetscPrintf(comm, "| %s | %s | %" PetscInt_FMT " | %.3f | %.3f | %.2f |\n", r.kind.c_str(), r.name.c_str(), r.n,
                1e3 * r.seconds, 1e3 * r.floor_seconds, r.seconds / r.floor_seconds);
  }
  csv.close();
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return foldopt::bench::run_main(argc, argv, help, body); }
