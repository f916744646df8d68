// foldopt: built-in problems. Adding a problem is adding its file and one line here.
#include <foldopt/problem.hpp>
#include <foldopt/problems/bilinear.hpp>
#include <foldopt/problems/lasso.hpp>
#include <foldopt/problems/portfolio.hpp>
#include <foldopt/problems/qp.hpp>
#include <foldopt/problems/qp_box.hpp>
#include <foldopt/problems/sparsemax.hpp>
#include <foldopt/problems/topk.hpp>
#include <foldopt/problems/tv.hpp>

namespace foldopt {
namespace detail {

void register_builtin_problems(ProblemRegistry& r) {
  r.add("qp_box", [](MPI_Comm comm) { return std::unique_ptr<Problem>(BoxQP::from_options(comm)); });
  r.add("sparsemax", [](MPI_Comm comm) { return std::unique_ptr<Problem>(Sparsemax::from_options(comm)); });
  r.add("topk", [](MPI_Comm comm) { return std::unique_ptr<Problem>(TopK::from_options(comm)); });
  r.add("lasso", [](MPI_Comm comm) { return std::unique_ptr<Problem>(Lasso::from_options(comm)); });
  r.add("qp", [](MPI_Comm comm) { return std::unique_ptr<Problem>(QP::from_options(comm)); });
  r.add("tv", [](MPI_Comm comm) { return std::unique_ptr<Problem>(TvProblem::from_options(comm)); });
  r.add("bilinear", [](MPI_Comm comm) { return std::unique_ptr<Problem>(Bilinear::from_options(comm)); });
  r.add("portfolio", [](MPI_Comm comm) { return std::unique_ptr<Problem>(Portfolio::from_options(comm)); });
}

}  // namespace detail
}  // namespace foldopt
