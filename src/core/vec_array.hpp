// foldopt: scoped access to the local entries of a Vec (VecGetArray / VecRestoreArray).
#ifndef FOLDOPT_SRC_CORE_VEC_ARRAY_HPP
#define FOLDOPT_SRC_CORE_VEC_ARRAY_HPP

#include <foldopt/error.hpp>

#include <petscvec.h>

namespace foldopt {

/// Read access to the local entries of a Vec for one scope (real parts).
class ReadArray {
 public:
  explicit ReadArray(Vec v) : v_(v) { FOLDOPT_CALL(VecGetArrayRead(v_, &a_)); }
  ~ReadArray() { VecRestoreArrayRead(v_, &a_); }
  ReadArray(const ReadArray&) = delete;
  ReadArray& operator=(const ReadArray&) = delete;
  PetscReal operator[](PetscInt i) const { return PetscRealPart(a_[i]); }

 private:
  Vec v_;
  const PetscScalar* a_ = nullptr;
};

/// Write access to the local entries of a Vec for one scope.
class WriteArray {
 public:
  explicit WriteArray(Vec v) : v_(v) { FOLDOPT_CALL(VecGetArray(v_, &a_)); }
  ~WriteArray() { VecRestoreArray(v_, &a_); }
  WriteArray(const WriteArray&) = delete;
  WriteArray& operator=(const WriteArray&) = delete;
  PetscScalar& operator[](PetscInt i) { return a_[i]; }

 private:
  Vec v_;
  PetscScalar* a_ = nullptr;
};

}  // namespace foldopt

#endif
