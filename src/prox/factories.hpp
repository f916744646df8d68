// foldopt: the registry factories of the built-in proxes (each defined in its prox's file, with
// the defaults it documents; registered in register.cpp).
//
// Method: one factory per prox, each building from a PartContext and its options.
// References: PETSc manual, KSPRegister (the registration pattern).
#ifndef FOLDOPT_SRC_PROX_FACTORIES_HPP
#define FOLDOPT_SRC_PROX_FACTORIES_HPP

#include <foldopt/prox.hpp>

#include <memory>

namespace foldopt {

std::unique_ptr<Prox> make_identity_prox(const PartContext& ctx);
std::unique_ptr<Prox> make_box_prox(const PartContext& ctx);
std::unique_ptr<Prox> make_nonnegative_prox(const PartContext& ctx);
std::unique_ptr<Prox> make_simplex_prox(const PartContext& ctx);
std::unique_ptr<Prox> make_capped_simplex_prox(const PartContext& ctx);
std::unique_ptr<Prox> make_capped_simplex_product_prox(const PartContext& ctx);
std::unique_ptr<Prox> make_ball_prox(const PartContext& ctx);
std::unique_ptr<Prox> make_halfspace_prox(const PartContext& ctx);
std::unique_ptr<Prox> make_hyperplane_prox(const PartContext& ctx);
std::unique_ptr<Prox> make_l1_prox(const PartContext& ctx);
std::unique_ptr<Prox> make_group_l1_prox(const PartContext& ctx);
std::unique_ptr<Prox> make_linear_prox(const PartContext& ctx);

/// Set the context's prefix and read the options.
inline std::unique_ptr<Prox> configured(std::unique_ptr<Prox> p, const PartContext& ctx) {
  p->set_options_prefix(ctx.prefix);
  p->set_from_options();
  return p;
}

}  // namespace foldopt

#endif
