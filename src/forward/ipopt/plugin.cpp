// foldopt: the IPOPT plugin (foldopt_ipopt.so), the only code that links libipopt.
//
// Method: a TNLP whose every evaluation is a C callback of the table in ipopt_abi.h; an
//   IpoptApplication per solve, created without a console journal so that print level 0 prints
//   nothing at all (not even IPOPT's banner); with a print level > 0 a journal on stdout is added.
// Isolation: this module is loaded by libfoldopt with dlopen(RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND)
//   (see ipopt_forward.cpp); it exports one symbol (foldopt_ipopt_plugin_api, everything else is
//   hidden), links neither PETSc nor MPI, and is linked with --no-undefined, so it depends on
//   nothing the host defines. Its sequential MUMPS and that MUMPS's stub MPI resolve inside its own
//   dependency tree; PETSc's parallel MUMPS never sees them.
// No exception leaves this file: IPOPT's own and any other are caught and reported in the result.
// References: A. Wächter, L. T. Biegler, "On the implementation of an interior-point filter
//   line-search algorithm for large-scale nonlinear programming", Math. Prog. 106 (2006);
//   IPOPT 3.11 TNLP interface.
#include "ipopt_abi.h"

#include <IpIpoptApplication.hpp>
#include <IpSolveStatistics.hpp>
#include <IpTNLP.hpp>
#include <IpoptConfig.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

namespace {

using namespace Ipopt;

void copy_text(char* dst, size_t len, const std::string& s) {
  if (!dst || len == 0) return;
  std::snprintf(dst, len, "%s", s.c_str());
}

const char* status_name(ApplicationReturnStatus s) {
  switch (s) {
    case Solve_Succeeded: return "Solve_Succeeded";
    case Solved_To_Acceptable_Level: return "Solved_To_Acceptable_Level";
    case Infeasible_Problem_Detected: return "Infeasible_Problem_Detected";
    case Search_Direction_Becomes_Too_Small: return "Search_Direction_Becomes_Too_Small";
    case Diverging_Iterates: return "Diverging_Iterates";
    case User_Requested_Stop: return "User_Requested_Stop";
    case Feasible_Point_Found: return "Feasible_Point_Found";
    case Maximum_Iterations_Exceeded: return "Maximum_Iterations_Exceeded";
    case Restoration_Failed: return "Restoration_Failed";
    case Error_In_Step_Computation: return "Error_In_Step_Computation";
    case Maximum_CpuTime_Exceeded: return "Maximum_CpuTime_Exceeded";
    case Not_Enough_Degrees_Of_Freedom: return "Not_Enough_Degrees_Of_Freedom";
    case Invalid_Problem_Definition: return "Invalid_Problem_Definition";
    case Invalid_Option: return "Invalid_Option";
    case Invalid_Number_Detected: return "Invalid_Number_Detected";
    case Unrecoverable_Exception: return "Unrecoverable_Exception";
    case NonIpopt_Exception_Thrown: return "NonIpopt_Exception_Thrown";
    case Insufficient_Memory: return "Insufficient_Memory";
    case Internal_Error: return "Internal_Error";
  }
  return "Unknown_Status";
}

/// The NLP of the ABI as an IPOPT TNLP. x_out receives the final point.
class CallbackNlp : public TNLP {
 public:
  CallbackNlp(const foldopt_ipopt_nlp& p, double* x) : p_(p), x_(x) {}

  bool get_nlp_info(Index& n, Index& m, Index& nnz_jac_g, Index& nnz_h_lag, IndexStyleEnum& style) override {
    n = p_.n;
    m = p_.m;
    nnz_jac_g = p_.nnz_jac;
    nnz_h_lag = p_.nnz_hess > 0 ? p_.nnz_hess : 0;
    style = TNLP::C_STYLE;
    return true;
  }
  bool get_bounds_info(Index n, Number* x_l, Number* x_u, Index m, Number* g_l, Number* g_u) override {
    for (Index i = 0; i < n; ++i) {
      x_l[i] = p_.x_l[i];
      x_u[i] = p_.x_u[i];
    }
    for (Index i = 0; i < m; ++i) {
      g_l[i] = p_.g_l[i];
      g_u[i] = p_.g_u[i];
    }
    return true;
  }
  bool get_starting_point(Index n, bool init_x, Number* x, bool init_z, Number*, Number*, Index, bool init_lambda,
                          Number*) override {
    if (init_z || init_lambda) return false;  // not asked for: warm_start_init_point is off
    if (init_x)
      for (Index i = 0; i < n; ++i) x[i] = x_[i];
    return true;
  }
  bool eval_f(Index, const Number* x, bool new_x, Number& obj) override {
    return p_.eval_f(p_.user, x, new_x ? 1 : 0, &obj) != 0;
  }
  bool eval_grad_f(Index, const Number* x, bool new_x, Number* grad) override {
    return p_.eval_grad_f(p_.user, x, new_x ? 1 : 0, grad) != 0;
  }
  bool eval_g(Index, const Number* x, bool new_x, Index m, Number* g) override {
    if (m == 0) return true;
    return p_.eval_g(p_.user, x, new_x ? 1 : 0, g) != 0;
  }
  bool eval_jac_g(Index, const Number* x, bool new_x, Index, Index nele, Index* row, Index* col,
                  Number* values) override {
    if (!values) {
      for (Index k = 0; k < nele; ++k) {
        row[k] = p_.jac_row[k];
        col[k] = p_.jac_col[k];
      }
      return true;
    }
    if (nele == 0) return true;
    return p_.eval_jac_g(p_.user, x, new_x ? 1 : 0, values) != 0;
  }
  bool eval_h(Index, const Number* x, bool new_x, Number obj_factor, Index, const Number* lambda, bool new_lambda,
              Index nele, Index* row, Index* col, Number* values) override {
    if (p_.nnz_hess < 0) return false;
    if (!values) {
      for (Index k = 0; k < nele; ++k) {
        row[k] = p_.hess_row[k];
        col[k] = p_.hess_col[k];
      }
      return true;
    }
    return p_.eval_h(p_.user, x, new_x ? 1 : 0, obj_factor, lambda, new_lambda ? 1 : 0, values) != 0;
  }
  void finalize_solution(SolverReturn, Index n, const Number* x, const Number* z_L, const Number* z_U, Index m,
                         const Number*, const Number* lambda, Number obj, const IpoptData*,
                         IpoptCalculatedQuantities*) override {
    for (Index i = 0; i < n; ++i) x_[i] = x[i];
    for (Index i = 0; p_.mult_x_l && z_L && i < n; ++i) p_.mult_x_l[i] = z_L[i];
    for (Index i = 0; p_.mult_x_u && z_U && i < n; ++i) p_.mult_x_u[i] = z_U[i];
    for (Index i = 0; p_.mult_g && lambda && i < m; ++i) p_.mult_g[i] = lambda[i];
    objective_ = obj;
  }
  bool intermediate_callback(AlgorithmMode, Index iter, Number, Number, Number, Number, Number, Number, Number,
                             Number, Index, const IpoptData*, IpoptCalculatedQuantities*) override {
    iterations_ = iter;
    return p_.keep_going ? p_.keep_going(p_.user) != 0 : true;
  }

  Index iterations() const { return iterations_; }
  Number objective() const { return objective_; }

 private:
  const foldopt_ipopt_nlp& p_;
  double* x_;
  Index iterations_ = 0;
  Number objective_ = 0;
};

struct Instance {
  int solves = 0;
};

const char* plugin_version() { return "Ipopt " IPOPT_VERSION; }

void* plugin_create(char* err, size_t errlen) {
  try {
    return new Instance();
  } catch (const std::exception& e) {
    copy_text(err, errlen, e.what());
  } catch (...) {
    copy_text(err, errlen, "unknown exception");
  }
  return nullptr;
}

void plugin_destroy(void* h) { delete static_cast<Instance*>(h); }

int plugin_solve(void* h, const foldopt_ipopt_nlp* nlp, const foldopt_ipopt_options* opt, double* x,
                 foldopt_ipopt_result* res) {
  if (!res) return 0;
  std::memset(res, 0, sizeof *res);
  res->status = Internal_Error;
  res->kkt_error = -1;
  copy_text(res->status_name, sizeof res->status_name, status_name(Internal_Error));
  if (!h || !nlp || !opt || !x) {
    copy_text(res->message, sizeof res->message, "null argument");
    return 0;
  }
  try {
    ++static_cast<Instance*>(h)->solves;
    // No console journal: IPOPT prints nothing unless a print level is asked for.
    SmartPtr<IpoptApplication> app = new IpoptApplication(false, false);
    if (opt->print_level > 0) app->Jnlst()->AddFileJournal("console", "stdout", J_ITERSUMMARY);
    SmartPtr<OptionsList> o = app->Options();
    std::string bad;
    auto num = [&](const char* k, double v) { if (!o->SetNumericValue(k, v)) bad += std::string(bad.empty() ? "" : ", ") + k; };
    auto integer = [&](const char* k, int v) { if (!o->SetIntegerValue(k, v)) bad += std::string(bad.empty() ? "" : ", ") + k; };
    auto str = [&](const char* k, const char* v) {
      if (!o->SetStringValue(k, v)) bad += std::string(bad.empty() ? "" : ", ") + k + " " + v;
    };
    num("tol", opt->tol);
    integer("max_iter", opt->max_iter);
    integer("print_level", opt->print_level > 0 ? opt->print_level : 0);
    str("linear_solver", opt->linear_solver && opt->linear_solver[0] ? opt->linear_solver : "mumps");
    num("nlp_lower_bound_inf", -FOLDOPT_IPOPT_INF);
    num("nlp_upper_bound_inf", FOLDOPT_IPOPT_INF);
    // No relaxation of the bounds: IPOPT's default relaxes them by 1e-8 and then moves the final x
    // back onto them, which leaves the returned x and multipliers ~1e-8 off stationarity.
    num("bound_relax_factor", 0.0);
    if (nlp->nnz_hess < 0) str("hessian_approximation", "limited-memory");
    if (!bad.empty()) {
      res->status = Invalid_Option;
      copy_text(res->status_name, sizeof res->status_name, status_name(Invalid_Option));
      copy_text(res->message, sizeof res->message, "IPOPT rejects the option(s) " + bad);
      return 1;
    }
    ApplicationReturnStatus st = app->Initialize("");  // no ipopt.opt from the working directory
    SmartPtr<CallbackNlp> tnlp = new CallbackNlp(*nlp, x);
    if (st == Solve_Succeeded) st = app->OptimizeTNLP(GetRawPtr(tnlp));
    res->status = st;
    copy_text(res->status_name, sizeof res->status_name, status_name(st));
    res->succeeded = (st == Solve_Succeeded || st == Solved_To_Acceptable_Level) ? 1 : 0;
    res->iterations = tnlp->iterations();
    res->objective = tnlp->objective();
    SmartPtr<SolveStatistics> stats = app->Statistics();
    if (IsValid(stats)) {
      res->iterations = stats->IterationCount();
      res->objective = stats->FinalObjective();
      Number dual_inf, constr_viol, compl_, kkt;
      stats->Infeasibilities(dual_inf, constr_viol, compl_, kkt);
      res->kkt_error = kkt;
    }
    return 1;
  } catch (const IpoptException& e) {
    copy_text(res->message, sizeof res->message, "IPOPT exception " + e.Message());
  } catch (const std::exception& e) {
    copy_text(res->message, sizeof res->message, std::string("exception in IPOPT: ") + e.what());
  } catch (...) {
    copy_text(res->message, sizeof res->message, "unknown exception in IPOPT");
  }
  return 0;
}

const foldopt_ipopt_api api_table = {FOLDOPT_IPOPT_ABI_VERSION, plugin_version, plugin_create, plugin_solve,
                                     plugin_destroy};

}  // namespace

extern "C" __attribute__((visibility("default"))) const foldopt_ipopt_api* foldopt_ipopt_plugin_api(void) {
  return &api_table;
}
