// foldopt: everything in one include.
#ifndef FOLDOPT_FOLDOPT_HPP
#define FOLDOPT_FOLDOPT_HPP

#include <foldopt/adjoint.hpp>
#include <foldopt/checks.hpp>
#include <foldopt/error.hpp>
#include <foldopt/forward.hpp>
#include <foldopt/handle.hpp>
#include <foldopt/io.hpp>
#include <foldopt/layer.hpp>
#include <foldopt/maps/pgd.hpp>
#include <foldopt/memory.hpp>
#include <foldopt/params.hpp>
#include <foldopt/problem.hpp>
#include <foldopt/problems/lasso.hpp>
#include <foldopt/problems/qp_box.hpp>
#include <foldopt/problems/tv.hpp>
#include <foldopt/registry.hpp>
#include <foldopt/spectral.hpp>
#include <foldopt/update_map.hpp>

#endif
