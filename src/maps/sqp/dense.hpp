// foldopt: dense copies of small distributed objects on every rank, for the SQP map's dense KKT
// route (private).
//
// Method: vectors by VecScatterCreateToAll; matrices by an all-gather of each rank's rows as
//   triplets (MatGetRow), summed into an Eigen matrix. Every rank holds the whole object: only
//   for the small instances the dense route accepts (SqpMap refuses larger ones).
// References: PETSc 3.18 manual pages VecScatterCreateToAll, MatGetRow.
#ifndef FOLDOPT_SRC_MAPS_SQP_DENSE_HPP
#define FOLDOPT_SRC_MAPS_SQP_DENSE_HPP

#include <foldopt/handle.hpp>

#include <Eigen/Dense>

namespace foldopt {
namespace dense {

/// All entries of v on every rank (collective). A null v gives an empty vector.
Eigen::VectorXd all_of(Vec v);
/// A on every rank as a dense rows × cols matrix (collective).
Eigen::MatrixXd all_of(Mat A);
/// v's own entries from `full`, the whole vector by global index (every rank has it).
void set_local(Vec v, const Eigen::VectorXd& full);

}  // namespace dense
}  // namespace foldopt

#endif  // FOLDOPT_SRC_MAPS_SQP_DENSE_HPP
