// TEMPORARY (B = 1 only) until the batch readers land.
#include <foldopt/io.hpp>
namespace foldopt { namespace io {
OwnedVec read_batch(MPI_Comm comm, const std::string& path, PetscInt n, PetscInt* batch, PetscInt local) {
  *batch = 1;
  return read_vec(comm, path, local, n);
}
void OutputSet::add_batch(const std::string& path, Vec v, PetscInt) { add(path, v); }
void OutputSet::add_block(const std::string& path, const ParamBlock& b, PetscInt) { add(path, b.vec); }
}}
