// foldopt: named parameter blocks (see include/foldopt/params.hpp).
#include <foldopt/params.hpp>

#include <foldopt/error.hpp>

namespace foldopt {

void ParamSet::add(const std::string& name, Vec v, Mat pattern) {
  FOLDOPT_CHECK(v != nullptr, PETSC_ERR_ARG_NULL, "parameter block '%s': no vector", name.c_str());
  FOLDOPT_CHECK(!has(name), PETSC_ERR_ARG_WRONG, "parameter block '%s' given twice", name.c_str());
  ParamBlock b;
  b.name = name;
  b.vec = OwnedVec::share(v);
  b.pattern = OwnedMat::share(pattern);
  blocks_.push_back(std::move(b));
}

bool ParamSet::has(const std::string& name) const {
  for (const auto& b : blocks_)
    if (b.name == name) return true;
  return false;
}

Vec ParamSet::get(const std::string& name) const {
  for (const auto& b : blocks_)
    if (b.name == name) return b.vec;
  std::string known;
  for (const auto& b : blocks_) known += (known.empty() ? "" : ", ") + b.name;
  detail::throw_error(PETSC_ERR_ARG_WRONG,
                      "no parameter block '" + name + "' (blocks: " + known + ")");
}

std::vector<std::string> ParamSet::names() const {
  std::vector<std::string> out;
  for (const auto& b : blocks_) out.push_back(b.name);
  return out;
}

ParamSet ParamSet::zeros_like() const {
  ParamSet out;
  for (const auto& b : blocks_) {
    OwnedVec v;
    FOLDOPT_CALL(VecDuplicate(b.vec, v.out()));
    FOLDOPT_CALL(VecZeroEntries(v));
    out.add(b.name, v, b.pattern);
  }
  return out;
}

ParamSet ParamSet::copy() const {
  ParamSet out = zeros_like();
  for (std::size_t i = 0; i < blocks_.size(); ++i)
    FOLDOPT_CALL(VecCopy(blocks_[i].vec, out.blocks_[i].vec));
  return out;
}

void ParamSet::axpy(PetscScalar a, const ParamSet& x) {
  FOLDOPT_CHECK(x.size() == size(), PETSC_ERR_ARG_SIZ, "parameter sets differ in their blocks");
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    FOLDOPT_CHECK(x.blocks_[i].name == blocks_[i].name, PETSC_ERR_ARG_WRONG,
                  "parameter blocks '%s' and '%s' differ", blocks_[i].name.c_str(),
                  x.blocks_[i].name.c_str());
    FOLDOPT_CALL(VecAXPY(blocks_[i].vec, a, x.blocks_[i].vec));
  }
}

void ParamSet::set_zero() {
  for (auto& b : blocks_) FOLDOPT_CALL(VecZeroEntries(b.vec));
}

PetscScalar ParamSet::dot(const ParamSet& y) const {
  FOLDOPT_CHECK(y.size() == size(), PETSC_ERR_ARG_SIZ, "parameter sets differ in their blocks");
  PetscScalar s = 0;
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    PetscScalar d;
    FOLDOPT_CALL(VecDot(blocks_[i].vec, y.blocks_[i].vec, &d));
    s += d;
  }
  return s;
}

}  // namespace foldopt
