// foldopt: the `bilinear_global` forward solver of the bilinear problem (private header).
#ifndef FOLDOPT_SRC_FORWARD_BILINEAR_GLOBAL_HPP
#define FOLDOPT_SRC_FORWARD_BILINEAR_GLOBAL_HPP

#include <foldopt/forward.hpp>
#include <foldopt/problems/bilinear.hpp>

#include "forward/fista.hpp"

#include <string>
#include <vector>

namespace foldopt {

class BilinearGlobalForward : public ForwardSolver {
 public:
  explicit BilinearGlobalForward(const ForwardContext& ctx);
  std::string type() const override { return "bilinear_global"; }
  void set_from_options() override;
  ForwardReport solve(const ParamSet& theta, Vec x) override;
  void view(PetscViewer viewer) const override;

  /// What the last solve found, per instance: the best vertex's value F(v*) (unsmoothed), the
  /// smoothed value F_μ(v*) there and F_μ of the point returned (before the FISTA polish).
  struct Result {
    bool enumerated = false;     ///< the vertices of one side were enumerated (exact for μ = 0)
    char side = 'x';             ///< the side enumerated
    double vertices = 0;         ///< per instance: enumerated, or alternating runs
    PetscInt sweeps = 0;         ///< block-ascent sweeps over all instances and starts
    PetscInt polish = 0;         ///< FISTA iterations of the polish (0: none needed)
    std::vector<double> vertex_value, vertex_smoothed, smoothed;
    /// max over instances of F(v*) − μ φ_min − F_μ(returned): after enumeration, how far F_μ of
    /// the point returned may lie below the smoothed maximum (a posteriori; at most μΔ)
    double gap = 0;
  };
  const Result& result() const { return result_; }

 private:
  void gather_q();

  ForwardContext ctx_;
  Bilinear* problem_ = nullptr;
  FistaForward fista_;
  PetscReal tol_ = 1e-12;
  PetscInt max_sweeps_ = 100000;
  std::vector<double> Q_;  ///< Q dense, row-major, on every rank
  Result result_;
};

}  // namespace foldopt

#endif
