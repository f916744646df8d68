/* foldopt: the C ABI between libfoldopt and the IPOPT plugin (foldopt_ipopt.so).
 *
 * Why a plugin: Debian's IPOPT links the sequential MUMPS (libdmumps_seq, libmumps_common_seq, with
 * its own stub MPI_Init/MPI_Comm_rank/...), whose symbols are the same as those of the parallel
 * MUMPS that PETSc links. In one symbol scope one of the two solvers calls the other's code (or the
 * stub MPI), and IPOPT or PETSc's MUMPS fails. libfoldopt therefore never links libipopt: the glue
 * lives in a separate module, loaded with dlopen(RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND) so that the
 * plugin and its dependencies resolve their symbols in their own tree first, while the rest of the
 * process never sees them.
 *
 * Only plain C types cross this boundary: the plugin exports one function,
 * foldopt_ipopt_plugin_api(), returning a table of function pointers; evaluations come back as C
 * callbacks that return 1 on success and 0 on failure (they never throw). Indices are 0-based.
 * The plugin is serial: libfoldopt calls it on one rank only.
 */
#ifndef FOLDOPT_IPOPT_ABI_H
#define FOLDOPT_IPOPT_ABI_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on every incompatible change of the structures below. */
#define FOLDOPT_IPOPT_ABI_VERSION 2
/* The exported entry point and the plugin's file name. */
#define FOLDOPT_IPOPT_ENTRY "foldopt_ipopt_plugin_api"
#define FOLDOPT_IPOPT_PLUGIN_FILE "foldopt_ipopt.so"
/* IPOPT's infinite bounds: entries at or beyond these are "no bound". */
#define FOLDOPT_IPOPT_INF 1e19

/* The NLP  min f(x)  s.t.  x_l <= x <= x_u,  g_l <= g(x) <= g_u, with sparse Jacobian of g
 * (nnz_jac triplets) and sparse lower triangle of the Hessian of the Lagrangian
 * obj_factor * f + lambda^T g (nnz_hess triplets; nnz_hess < 0: no Hessian, IPOPT uses L-BFGS). */
typedef struct foldopt_ipopt_nlp {
  int n, m;
  const double *x_l, *x_u;      /* n entries */
  const double *g_l, *g_u;      /* m entries */
  int nnz_jac;
  const int *jac_row, *jac_col; /* nnz_jac entries */
  int nnz_hess;
  const int *hess_row, *hess_col; /* nnz_hess entries, row >= col */

  void* user;
  int (*eval_f)(void* user, const double* x, int new_x, double* f);
  int (*eval_grad_f)(void* user, const double* x, int new_x, double* grad);
  int (*eval_g)(void* user, const double* x, int new_x, double* g);
  int (*eval_jac_g)(void* user, const double* x, int new_x, double* values);
  int (*eval_h)(void* user, const double* x, int new_x, double obj_factor, const double* lambda,
                int new_lambda, double* values);
  /* Called once per iteration; returning 0 asks IPOPT to stop (User_Requested_Stop). May be null. */
  int (*keep_going)(void* user);

  /* Outputs, each may be null: IPOPT's multipliers at the final point, lambda of g (m entries)
   * and z_L, z_U of the bounds (n entries each), in IPOPT's convention
   * grad f + J_g^T lambda - z_L + z_U = 0, z_L, z_U >= 0 (version 2). */
  double *mult_g, *mult_x_l, *mult_x_u;
} foldopt_ipopt_nlp;

typedef struct foldopt_ipopt_options {
  double tol;                /* IPOPT "tol" */
  int max_iter;              /* IPOPT "max_iter" */
  int print_level;           /* 0: no output at all (not even IPOPT's banner) */
  const char* linear_solver; /* IPOPT "linear_solver", e.g. "mumps" */
} foldopt_ipopt_options;

typedef struct foldopt_ipopt_result {
  int status;              /* IPOPT's ApplicationReturnStatus */
  char status_name[64];    /* its name, e.g. "Solve_Succeeded" */
  int succeeded;           /* 1 for Solve_Succeeded and Solved_To_Acceptable_Level */
  int iterations;
  double objective;
  double kkt_error;        /* unscaled overall NLP error at the returned point (-1 if unknown) */
  char message[512];       /* what went wrong outside IPOPT's own statuses (empty if nothing) */
} foldopt_ipopt_result;

typedef struct foldopt_ipopt_api {
  int abi_version;              /* FOLDOPT_IPOPT_ABI_VERSION of the plugin */
  const char* (*version)(void); /* e.g. "Ipopt 3.11.9" */
  /* A solver instance; null on failure, with a message in err. */
  void* (*create)(char* err, size_t errlen);
  /* Solve from x (initial point on entry, final point on return: written whatever the status).
   * Returns 1 if IPOPT ran (see res->status), 0 if it could not (res->message says why). */
  int (*solve)(void* handle, const foldopt_ipopt_nlp* nlp, const foldopt_ipopt_options* opt, double* x,
               foldopt_ipopt_result* res);
  void (*destroy)(void* handle);
} foldopt_ipopt_api;

typedef const foldopt_ipopt_api* (*foldopt_ipopt_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* FOLDOPT_IPOPT_ABI_H */
