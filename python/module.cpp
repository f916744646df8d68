// foldopt: the Python module foldopt._foldopt (pybind11), under the package python/foldopt/.
//
// Method: a BoundLayer (src/torch/bridge.hpp) per Python layer; NumPy arrays (the storage of
//   PyTorch CPU tensors, through torch.from_numpy / .numpy()) cross without copies: θ, ∂L/∂x* and
//   saved states are PETSc Vecs placed on the arrays, gradients are arrays on the gradient Vecs'
//   storage (a capsule holds the Vec). petsc4py Vec/Mat objects cross through petsc4py's C API
//   (the same libpetsc: foldopt and petsc4py link Debian's one). A user's update map written in
//   Python (foldopt.torch.TorchMap: U(x, θ) differentiated by torch.autograd) is the UpdateMap
//   PyMap, whose apply / linearize / Φᵀ / Ψᵀ call back into Python with NumPy views of the local
//   arrays; the layer then solves its adjoint with PETSc's KSP and PCs and SLEPc as for any map.
// Algorithm: PETSc is initialized by petsc4py (and MPI by mpi4py); init() initializes SLEPc on
//   it, finalize() (at exit, before petsc4py's PetscFinalize) releases every live layer and
//   finalizes SLEPc. A foldopt::Error becomes foldopt.Error with the message as one line.
// References: pybind11 documentation (NumPy buffers, exception translation); petsc4py's C API
//   (PyPetscVec_New, PyPetscVec_Get, PyPetscMat_New).
#include <foldopt/error.hpp>
#include <foldopt/layer.hpp>
#include <foldopt/matrix_values.hpp>
#include <foldopt/problem.hpp>
#include <foldopt/update_map.hpp>

#include "core/util.hpp"
#include "torch/bridge.hpp"
#include "sizes.hpp"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <petsc4py/petsc4py.h>
#include <slepcsys.h>

#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace py = pybind11;
using namespace foldopt;

namespace {

/// PETSc errors return codes (no traceback) while foldopt runs; petsc4py's handler otherwise.
struct ErrorHandlerScope {
  ErrorHandlerScope() { PetscPushErrorHandler(PetscReturnErrorHandler, nullptr); }
  ~ErrorHandlerScope() { PetscPopErrorHandler(); }
};

bool slepc_started = false;

void require_petsc() {
  FOLDOPT_CHECK(PetscInitializeCalled && !PetscFinalizeCalled, PETSC_ERR_ORDER,
                "foldopt: PETSc is not initialized (import foldopt, which imports petsc4py.PETSc first)");
}

using Array = py::array_t<double, py::array::c_style | py::array::forcecast>;

/// A NumPy view of v's local entries (valid while v's array is held: during a callback).
py::array view_of(PetscScalar* a, PetscInt n) {
  return py::array_t<double>({static_cast<py::ssize_t>(n)}, {sizeof(double)}, a, py::none());
}

/// A new array holding a copy of v's local entries.
py::array copy_of(Vec v) {
  PetscInt n = 0;
  const PetscScalar* a = nullptr;
  FOLDOPT_CALL(VecGetLocalSize(v, &n));
  py::array_t<double> out(static_cast<py::ssize_t>(n));
  FOLDOPT_CALL(VecGetArrayRead(v, &a));
  if (n) std::memcpy(out.mutable_data(), a, sizeof(double) * static_cast<std::size_t>(n));
  FOLDOPT_CALL(VecRestoreArrayRead(v, &a));
  return out;
}

/// An array on v's storage; the array holds a reference to v until it is freed.
py::array on_storage(Vec v) {
  PetscInt n = 0;
  PetscScalar* a = nullptr;
  FOLDOPT_CALL(VecGetLocalSize(v, &n));
  FOLDOPT_CALL(VecGetArray(v, &a));
  struct Held {
    OwnedVec v;
    PetscScalar* a;
  };
  py::capsule owner(new Held{OwnedVec::share(v), a}, [](void* p) {
    Held* h = static_cast<Held*>(p);
    if (PetscFinalizeCalled)
      (void)h->v.release();  // PETSc is gone: nothing to release
    else
      (void)VecRestoreArray(h->v, &h->a);
    delete h;
  });
  return py::array_t<double>({static_cast<py::ssize_t>(n)}, {sizeof(double)}, a, owner);
}

const double* data_of(const Array& a) { return a.data(); }

/// The local arrays of a set of vectors, held for the lifetime of the object.
class HeldArrays {
 public:
  explicit HeldArrays(std::vector<Vec> vecs) : vecs_(std::move(vecs)), a_(vecs_.size(), nullptr) {
    for (std::size_t i = 0; i < vecs_.size(); ++i) FOLDOPT_CALL(VecGetArray(vecs_[i], &a_[i]));
  }
  ~HeldArrays() {
    for (std::size_t i = 0; i < vecs_.size(); ++i) (void)VecRestoreArray(vecs_[i], &a_[i]);
  }
  py::list views() const {
    py::list out;
    for (std::size_t i = 0; i < vecs_.size(); ++i) {
      PetscInt n = 0;
      FOLDOPT_CALL(VecGetLocalSize(vecs_[i], &n));
      out.append(view_of(a_[i], n));
    }
    return out;
  }
  py::array view(std::size_t i) const { return views()[i].cast<py::array>(); }

 private:
  std::vector<Vec> vecs_;
  std::vector<PetscScalar*> a_;
};

/// A Python exception from a callback, as a foldopt::Error of this rank (not collective).
[[noreturn]] void rethrow_python(const std::string& where, py::error_already_set& e) {
  throw Error(PETSC_ERR_USER, "python update map: " + where + ": " + one_line(e.what()), false);
}

/// A user's update map in Python: `obj` has apply(x, theta, y), linearize(x, theta),
/// phi_t(v, y), psi_t(v, outs) on NumPy arrays of the rank's entries (whole instances: the
/// batch's B instances are split over the ranks, rows·n entries here), and optionally a `name`.
/// Parameter blocks are per instance (the state's layout).
class PyMap : public UpdateMap {
 public:
  PyMap(py::object obj, PetscInt n, PetscInt batch, std::vector<std::string> blocks, MPI_Comm comm)
      : obj_(std::move(obj)), names_(std::move(blocks)) {
    FOLDOPT_CHECK(n > 0 && batch > 0, PETSC_ERR_ARG_OUTOFRANGE,
                  "python update map: n = %" PetscInt_FMT " and batch = %" PetscInt_FMT " must be positive", n, batch);
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    const PetscInt rows = batch / size + (rank < batch % size ? 1 : 0);
    layout_ = Layout{comm, n, batch, rows * n};
    name_ = py::hasattr(obj_, "name") ? obj_.attr("name").cast<std::string>() : std::string("python");
  }
  std::string type() const override { return "python"; }
  std::string describe() const override { return "python (" + name_ + ")"; }
  const Layout& layout() const override { return layout_; }
  ParamSet create_params() const override {
    ParamSet p;
    for (const auto& name : names_) {
      OwnedVec v = create_vec();
      FOLDOPT_CALL(VecZeroEntries(v));
      p.add(name, v, BlockKind::instance);
    }
    return p;
  }
  void apply(Vec x, const ParamSet& theta, Vec y) override {
    HeldArrays ax({x}), ay({y}), at(vecs_of(theta));
    try {
      obj_.attr("apply")(ax.view(0), at.views(), ay.view(0));
    } catch (py::error_already_set& e) {
      rethrow_python("apply", e);
    }
  }
  void linearize(Vec x, const ParamSet& theta) override {
    HeldArrays ax({x}), at(vecs_of(theta));
    try {
      obj_.attr("linearize")(ax.view(0), at.views());
    } catch (py::error_already_set& e) {
      rethrow_python("linearize", e);
    }
  }
  void phi_t(Vec v, Vec y) override {
    HeldArrays av({v}), ay({y});
    try {
      obj_.attr("phi_t")(av.view(0), ay.view(0));
    } catch (py::error_already_set& e) {
      rethrow_python("phi_t", e);
    }
  }
  void psi_t(Vec v, ParamSet& out) override {
    HeldArrays av({v}), ao(vecs_of(out));
    try {
      obj_.attr("psi_t")(av.view(0), ao.views());
    } catch (py::error_already_set& e) {
      rethrow_python("psi_t", e);
    }
  }
  PetscReal fixed_point_scale() const override {
    return py::hasattr(obj_, "fixed_point_scale") ? obj_.attr("fixed_point_scale").cast<double>() : 1.0;
  }

 private:
  std::vector<Vec> vecs_of(const ParamSet& p) const {
    std::vector<Vec> out;
    for (const auto& name : names_) out.push_back(p.get(name));
    return out;
  }
  py::object obj_;
  std::vector<std::string> names_;
  std::string name_;
  Layout layout_;
};

class PyLayer;
std::set<PyLayer*>& live_layers() {
  static std::set<PyLayer*> s;
  return s;
}

/// The Python object foldopt._foldopt.Layer.
class PyLayer {
 public:
  explicit PyLayer(std::unique_ptr<bridge::BoundLayer> b) : b_(std::move(b)) { live_layers().insert(this); }
  ~PyLayer() {
    live_layers().erase(this);
    if (PetscFinalizeCalled) (void)b_.release();  // PETSc is gone: nothing left to release
  }
  void release() {
    ErrorHandlerScope eh;
    b_.reset();
  }
  bridge::BoundLayer& b() {
    FOLDOPT_CHECK(b_ != nullptr, PETSC_ERR_ORDER, "foldopt: the layer was released (PETSc finalized)");
    return *b_;
  }

  std::vector<std::string> names() { return b().blocks().names(); }
  std::vector<std::string> kinds() {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < b().blocks().size(); ++i) out.push_back(to_string(b().blocks()[i].kind));
    return out;
  }
  py::dict sizes() { return bridge::sizes_dict(b()); }
  py::list params() {
    py::list out;
    for (std::size_t i = 0; i < b().blocks().size(); ++i) out.append(copy_of(b().blocks()[i].vec));
    return out;
  }
  /// Forward on arrays: (call, x*, s*) as new arrays.
  py::tuple forward(const std::vector<Array>& theta) {
    ErrorHandlerScope eh;
    ParamSet p = wrap_arrays(theta);
    const long call = b().forward(p);
    return py::make_tuple(call, copy_of(b().solution()), copy_of(b().state()));
  }
  /// Install (θ, s*) without a forward solve: returns the call number (as forward's).
  long set_solution(const std::vector<Array>& theta, const Array& state) {
    ErrorHandlerScope eh;
    ParamSet p = wrap_arrays(theta);
    check_size(state, b().state_layout().local, "the state");
    OwnedVec s = b().wrap_state(data_of(state));
    return b().set_solution(p, s);
  }
  py::list backward(long call, const std::vector<Array>& theta, const Array& state, const Array& g) {
    ErrorHandlerScope eh;
    ParamSet p = wrap_arrays(theta);
    check_size(state, b().state_layout().local, "the state");
    check_size(g, b().solution_layout().local, "the gradient dL/dx*");
    OwnedVec s = b().wrap_state(data_of(state));
    OwnedVec gv = b().wrap_solution(data_of(g));
    ParamSet grad = b().backward(call, p, s, gv);
    py::list out;
    for (const auto& name : b().blocks().names()) out.append(on_storage(grad.get(name)));
    return out;
  }

  // ---- petsc4py objects ----
  py::list params_petsc() {
    py::list out;
    for (std::size_t i = 0; i < b().blocks().size(); ++i)
      out.append(py::reinterpret_steal<py::object>(PyPetscVec_New(b().blocks()[i].vec)));
    return out;
  }
  py::dict data_matrices() {
    py::dict d;
    if (b().problem())
      for (const auto& m : b().problem()->data_matrices())
        d[py::str(m.first)] = py::reinterpret_steal<py::object>(PyPetscMat_New(m.second));
    return d;
  }
  /// Forward on petsc4py Vecs (each with the block's layout; for a matrix-values block also a
  /// Mat with the block's pattern, whose values are taken): (call, x* as a new Vec).
  py::tuple forward_petsc(const std::vector<py::object>& theta) {
    ErrorHandlerScope eh;
    ParamSet p = set_of(theta);
    const long call = b().forward(p);
    OwnedVec x;
    FOLDOPT_CALL(VecDuplicate(b().solution(), x.out()));
    FOLDOPT_CALL(VecCopy(b().solution(), x));
    last_petsc_theta_ = std::move(p);
    return py::make_tuple(call, py::reinterpret_steal<py::object>(PyPetscVec_New(x)));
  }
  /// Backward of the last forward_petsc for a petsc4py Vec g: a dict of petsc4py Vecs, and a Mat
  /// with its pattern for a matrix-values block.
  py::dict backward_petsc(long call, py::object g) {
    ErrorHandlerScope eh;
    Vec gv = PyPetscVec_Get(g.ptr());
    if (!gv) throw py::error_already_set();
    OwnedVec s;
    FOLDOPT_CALL(VecDuplicate(b().state(), s.out()));
    FOLDOPT_CALL(VecCopy(b().state(), s));
    ParamSet grad = b().backward(call, last_petsc_theta_, s, gv);
    py::dict out;
    for (std::size_t i = 0; i < grad.size(); ++i) {
      if (grad[i].kind == BlockKind::matrix_values) {
        OwnedMat m = matrix_values::as_matrix(grad[i]);
        out[py::str(grad[i].name)] = py::reinterpret_steal<py::object>(PyPetscMat_New(m));
      } else {
        out[py::str(grad[i].name)] = py::reinterpret_steal<py::object>(PyPetscVec_New(grad[i].vec));
      }
    }
    return out;
  }

  py::dict report() {
    FoldedLayer& l = b().layer();
    py::dict r, f, a, rho;
    const ForwardReport& fr = l.forward_report();
    f["solver"] = fr.solver;
    f["converged"] = fr.converged;
    f["iterations"] = fr.iterations;
    f["reason"] = fr.reason;
    f["residual"] = fr.residual;
    f["seconds"] = fr.seconds;
    const AdjointReport& ar = l.adjoint().report();
    a["method"] = ar.method;
    a["converged"] = ar.converged;
    a["iterations"] = ar.iterations;
    a["reason"] = ar.reason;
    a["residual"] = ar.residual;
    a["rhs_norm"] = ar.rhs_norm;
    a["worst_instance"] = ar.worst_instance;
    a["rtol"] = ar.rtol;
    a["products"] = ar.products;
    a["seconds"] = ar.seconds;
    const RhoEstimate& re = l.rho_estimate();
    rho["converged"] = re.converged;
    rho["rho"] = re.rho;
    rho["error"] = re.error;
    rho["iterations"] = re.iterations;
    rho["products"] = re.products;
    r["forward"] = f;
    r["adjoint"] = a;
    r["rho"] = rho;
    r["fixed_point_residual"] = l.fixed_point_residual();
    r["map"] = l.map().describe();
    return r;
  }
  void view() {
    ErrorHandlerScope eh;
    b().with_options([&] {
      b().layer().view(PETSC_VIEWER_STDOUT_(b().comm()));
      FOLDOPT_CALL(PetscViewerFlush(PETSC_VIEWER_STDOUT_(b().comm())));
    });
  }

 private:
  void check_size(const Array& a, PetscInt local, const std::string& what) {
    int rank = 0;
    MPI_Comm_rank(b().comm(), &rank);
    check_collective(b().comm(), a.size() == local, PETSC_ERR_ARG_SIZ,
                     detail::format("%s: %lld entries given on rank %d, where the layer holds %lld", what.c_str(),
                                    (long long)a.size(), rank, (long long)local));
  }
  /// θ over the arrays (sizes checked: this rank's entries of each block).
  ParamSet wrap_arrays(const std::vector<Array>& theta) {
    const ParamSet& blocks = b().blocks();
    FOLDOPT_CHECK(theta.size() == blocks.size(), PETSC_ERR_ARG_SIZ,
                  "foldopt: %zu parameter blocks given, the layer has %zu", theta.size(), blocks.size());
    std::vector<const PetscScalar*> data;
    for (std::size_t i = 0; i < theta.size(); ++i) {
      check_size(theta[i], b().local_size(i), "parameter block '" + blocks[i].name + "'");
      data.push_back(data_of(theta[i]));
    }
    return b().wrap(data);
  }
  ParamSet set_of(const std::vector<py::object>& theta) {
    const ParamSet& blocks = b().blocks();
    FOLDOPT_CHECK(theta.size() == blocks.size(), PETSC_ERR_ARG_SIZ,
                  "foldopt: %zu parameter blocks given, the layer has %zu", theta.size(), blocks.size());
    ParamSet p;
    py::object mat_type = py::module_::import("petsc4py.PETSc").attr("Mat");
    for (std::size_t i = 0; i < theta.size(); ++i) {
      OwnedVec values;  // a Mat given for a matrix-values block: its values in CSR order
      if (py::isinstance(theta[i], mat_type)) {
        FOLDOPT_CHECK(blocks[i].kind == BlockKind::matrix_values, PETSC_ERR_ARG_WRONG,
                      "parameter block '%s': a petsc4py Mat is accepted only for a matrix-values block",
                      blocks[i].name.c_str());
        Mat M = PyPetscMat_Get(theta[i].ptr());
        if (!M) throw py::error_already_set();
        values = matrix_values::values(M);
      }
      Vec v = values ? values.get() : PyPetscVec_Get(theta[i].ptr());
      if (!v) throw py::error_already_set();
      PetscInt n = 0, local = 0;
      FOLDOPT_CALL(VecGetSize(v, &n));
      FOLDOPT_CALL(VecGetLocalSize(v, &local));
      check_collective(b().comm(), n == b().global_size(i) && local == b().local_size(i), PETSC_ERR_ARG_SIZ,
                       detail::format("parameter block '%s': the Vec has %lld entries (%lld here), the layer's %lld (%lld here)",
                                      blocks[i].name.c_str(), (long long)n, (long long)local, (long long)b().global_size(i),
                                      (long long)b().local_size(i)));
      p.add(blocks[i].name, v, blocks[i].kind, blocks[i].pattern);
    }
    return p;
  }

  std::unique_ptr<bridge::BoundLayer> b_;
  ParamSet last_petsc_theta_;
};

bridge::OptionsSource source_of(py::object options) {
  if (options.is_none()) return bridge::OptionsSource{true, ""};
  return bridge::OptionsSource{false, options.cast<std::string>()};
}

}  // namespace

PYBIND11_MODULE(_foldopt, m) {
  m.doc() = "foldopt: gradients through optimization solvers by folded optimization (the C++ bindings)";
  if (import_petsc4py() < 0) throw py::error_already_set();
  static py::exception<Error> error(m, "Error", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      PyErr_SetString(error.ptr(), one_line(e.what()).c_str());
    }
  });
  m.def("init", [] {
    require_petsc();
    if (!slepc_started) {
      ErrorHandlerScope eh;
      FOLDOPT_CALL(SlepcInitializeNoArguments());
      slepc_started = true;
    }
  }, "Initialize SLEPc on the PETSc that petsc4py started (foldopt's __init__ calls it)");
  m.def("finalize", [] {
    for (PyLayer* l : std::vector<PyLayer*>(live_layers().begin(), live_layers().end())) l->release();
    if (slepc_started && !PetscFinalizeCalled) {
      ErrorHandlerScope eh;
      SlepcFinalize();
    }
    slepc_started = false;
  }, "Release every layer and finalize SLEPc (at exit, before petsc4py finalizes PETSc)");
  m.def("problems", [] { return problem_registry().names(); }, "The registered problems");
  m.def("maps", [] { return map_registry().names(); }, "The registered update maps");
  m.def("forwards", [] { return forward_registry().names(); }, "The registered forward solvers");

  py::class_<PyLayer>(m, "Layer")
      .def(py::init([](const std::string& problem, py::object options) {
             require_petsc();
             ErrorHandlerScope eh;
             return new PyLayer(std::unique_ptr<bridge::BoundLayer>(
                 new bridge::BoundLayer(PETSC_COMM_WORLD, problem, source_of(options))));
           }),
           py::arg("problem"), py::arg("options") = py::none())
      .def_static("from_map",
                  [](py::object map, PetscInt n, PetscInt batch, std::vector<std::string> blocks, py::object options) {
                    require_petsc();
                    ErrorHandlerScope eh;
                    std::unique_ptr<UpdateMap> um(new PyMap(map, n, batch, std::move(blocks), PETSC_COMM_WORLD));
                    return new PyLayer(std::unique_ptr<bridge::BoundLayer>(new bridge::BoundLayer(std::move(um), source_of(options))));
                  },
                  py::arg("map"), py::arg("n"), py::arg("batch"), py::arg("blocks"), py::arg("options") = py::none(),
                  py::return_value_policy::take_ownership)
      .def("names", &PyLayer::names)
      .def("kinds", &PyLayer::kinds)
      .def("sizes", &PyLayer::sizes)
      .def("params", &PyLayer::params)
      .def("forward", &PyLayer::forward)
      .def("set_solution", &PyLayer::set_solution)
      .def("backward", &PyLayer::backward)
      .def("params_petsc", &PyLayer::params_petsc)
      .def("data_matrices", &PyLayer::data_matrices)
      .def("forward_petsc", &PyLayer::forward_petsc)
      .def("backward_petsc", &PyLayer::backward_petsc)
      .def("report", &PyLayer::report)
      .def("view", &PyLayer::view);
}
