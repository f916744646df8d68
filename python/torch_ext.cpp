// foldopt: the module foldopt._foldopt_torch, the C++ autograd function (libfoldopt_torch) seen
// from Python.
//
// Method: foldopt::torch::Layer wrapped with pybind11 and torch's tensor casters: calling it runs
//   the C++ torch::autograd::Function (include/foldopt/torch.hpp), so Python's autograd (and
//   torch.autograd.gradcheck) differentiates through the libtorch implementation itself rather
//   than foldopt.torch.FoldedFunction. The only translation unit of the Python package that
//   includes torch's headers.
// Algorithm: live layers are released by finalize() (at exit, before SLEPc and PETSc finalize);
//   a foldopt::Error becomes foldopt.Error with its one-line message.
// References: PyTorch C++ extensions (torch/extension.h), pybind11.
#include <foldopt/error.hpp>
#include <foldopt/torch.hpp>

#include "core/util.hpp"
#include "sizes.hpp"

#include <torch/extension.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

namespace py = pybind11;

namespace {

struct CppLayer;
std::set<CppLayer*>& live() {
  static std::set<CppLayer*> s;
  return s;
}

/// A foldopt::torch::Layer owned by Python.
struct CppLayer {
  std::unique_ptr<foldopt::torch::Layer> layer;
  explicit CppLayer(std::unique_ptr<foldopt::torch::Layer> l) : layer(std::move(l)) { live().insert(this); }
  ~CppLayer() {
    live().erase(this);
    if (PetscFinalizeCalled) (void)layer.release();  // PETSc is gone: nothing left to release
  }
  foldopt::torch::Layer& get() {
    FOLDOPT_CHECK(layer != nullptr, PETSC_ERR_ORDER, "foldopt: the layer was released (PETSc finalized)");
    return *layer;
  }
};

struct ErrorHandlerScope {
  ErrorHandlerScope() { PetscPushErrorHandler(PetscReturnErrorHandler, nullptr); }
  ~ErrorHandlerScope() { PetscPopErrorHandler(); }
};

}  // namespace

PYBIND11_MODULE(_foldopt_torch, m) {
  m.doc() = "foldopt: the libtorch autograd function (foldopt::torch::Layer) from Python";
  static py::object error = py::module_::import("foldopt._foldopt").attr("Error");
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const foldopt::Error& e) {
      PyErr_SetString(error.ptr(), foldopt::one_line(e.what()).c_str());
    }
  });
  m.def("finalize", [] {
    for (CppLayer* l : std::vector<CppLayer*>(live().begin(), live().end())) l->layer.reset();
  });
  py::class_<CppLayer>(m, "Layer")
      .def(py::init([](const std::string& problem, const std::string& options) {
             FOLDOPT_CHECK(PetscInitializeCalled && !PetscFinalizeCalled, PETSC_ERR_ORDER,
                           "foldopt: PETSc is not initialized (import foldopt first)");
             ErrorHandlerScope eh;
             return new CppLayer(std::unique_ptr<foldopt::torch::Layer>(new foldopt::torch::Layer(problem, options)));
           }),
           py::arg("problem"), py::arg("options") = "")
      .def("__call__",
           [](CppLayer& l, const std::vector<at::Tensor>& theta) {
             ErrorHandlerScope eh;
             return l.get().forward(theta);
           })
      .def("params", [](CppLayer& l) { return l.get().params(); })
      .def("names", [](CppLayer& l) { return l.get().names(); })
      .def("sizes", [](CppLayer& l) { return foldopt::bridge::sizes_dict(l.get().bound()); })
      .def("fixed_point_residual", [](CppLayer& l) { return l.get().folded().fixed_point_residual(); });
}
