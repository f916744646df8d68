// foldopt: the sizes of a bound layer as a Python dict (python/module.cpp, python/torch_ext.cpp).
//
// Method: per block its local entries, first local entry and global size, in the layer's block
// order; of x*, the instance size n, the batch, the local entries, the first one and the whole
// instances held here (−1 when the rank's part is not whole instances); the state's local size.
#ifndef FOLDOPT_PYTHON_SIZES_HPP
#define FOLDOPT_PYTHON_SIZES_HPP

#include "torch/bridge.hpp"

#include <pybind11/pybind11.h>

namespace foldopt {
namespace bridge {

inline pybind11::dict sizes_dict(const BoundLayer& l) {
  pybind11::dict d;
  pybind11::list local, start, global;
  for (std::size_t i = 0; i < l.blocks().size(); ++i) {
    local.append(l.local_size(i));
    start.append(l.local_start(i));
    global.append(l.global_size(i));
  }
  d["local"] = local;
  d["start"] = start;
  d["global"] = global;
  d["n"] = l.solution_layout().n;
  d["batch"] = l.solution_layout().batch;
  d["solution_local"] = l.solution_layout().local;
  d["solution_start"] = l.solution_start();
  d["solution_rows"] = l.solution_rows();
  d["state_local"] = l.state_layout().local;
  return d;
}

}  // namespace bridge
}  // namespace foldopt

#endif  // FOLDOPT_PYTHON_SIZES_HPP
