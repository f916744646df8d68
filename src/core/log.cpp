// foldopt: PETSc logging events (see log.hpp).
#include "core/log.hpp"

namespace foldopt {

const LogEvents& log_events() {
  static const LogEvents events = [] {
    LogEvents e{};
    PetscClassId id;
    PetscClassIdRegister("foldopt", &id);
    PetscLogEventRegister("FoldForward", id, &e.forward);
    PetscLogEventRegister("FoldBackward", id, &e.backward);
    PetscLogEventRegister("FoldAdjointSolve", id, &e.adjoint);
    PetscLogEventRegister("FoldAssemble", id, &e.assemble);
    PetscLogEventRegister("FoldRho", id, &e.rho);
    PetscLogEventRegister("FoldStepsize", id, &e.stepsize);
    PetscLogEventRegister("FoldUnrolled", id, &e.unrolled);
    return e;
  }();
  return events;
}

}  // namespace foldopt
