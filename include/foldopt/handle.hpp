// foldopt: owning handles for PETSc and SLEPc objects.
//
// A PETSc object is a reference-counted pointer; Owned<T> holds one reference and drops it in its
// destructor (never throwing: a failure there is reported by PETSc and ignored). The raw handle is
// reached by implicit conversion, so an Owned<Vec> can be passed wherever PETSc expects a Vec.
#ifndef FOLDOPT_HANDLE_HPP
#define FOLDOPT_HANDLE_HPP

#include <petscis.h>
#include <petscksp.h>
#include <petscmat.h>
#include <petscvec.h>

#include <utility>

namespace foldopt {

template <typename T, PetscErrorCode (*Destroy)(T*)>
class Owned {
 public:
  Owned() = default;
  /// Take ownership of one reference to `h` (the caller's reference is consumed).
  explicit Owned(T h) : h_(h) {}
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  Owned(Owned&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  Owned& operator=(Owned&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
  }
  ~Owned() { reset(); }

  /// A new owner of the same object (adds a reference).
  static Owned share(T h) {
    if (h) PetscObjectReference(reinterpret_cast<PetscObject>(h));
    return Owned(h);
  }
  operator T() const noexcept { return h_; }
  T get() const noexcept { return h_; }
  /// Address for PETSc's create functions; releases any object held.
  T* out() noexcept {
    reset();
    return &h_;
  }
  T release() noexcept { return std::exchange(h_, nullptr); }
  explicit operator bool() const noexcept { return h_ != nullptr; }
  void reset() noexcept {
    if (h_) {
      (void)Destroy(&h_);
      h_ = nullptr;
    }
  }

 private:
  T h_ = nullptr;
};

using OwnedVec = Owned<Vec, VecDestroy>;
using OwnedMat = Owned<Mat, MatDestroy>;
using OwnedIS = Owned<IS, ISDestroy>;
using OwnedKSP = Owned<KSP, KSPDestroy>;
using OwnedVecScatter = Owned<VecScatter, VecScatterDestroy>;

}  // namespace foldopt

#endif  // FOLDOPT_HANDLE_HPP
