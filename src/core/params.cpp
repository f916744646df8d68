// foldopt: named parameter blocks (see include/foldopt/params.hpp).
#include <foldopt/params.hpp>

#include <foldopt/error.hpp>

namespace foldopt {

const char* to_string(BlockKind k) {
  switch (k) {
    case BlockKind::instance: return "per instance";
    case BlockKind::shared: return "shared by the batch";
    case BlockKind::scalar: return "scalar";
    case BlockKind::matrix_values: return "matrix values";
  }
  return "?";
}

void ParamSet::add(const std::string& name, Vec v, Mat pattern) {
  FOLDOPT_CHECK(v != nullptr, PETSC_ERR_ARG_NULL, "parameter block '%s': no vector", name.c_str());
  PetscInt N;
  FOLDOPT_CALL(VecGetSize(v, &N));
  add(name, v, pattern ? BlockKind::matrix_values : (N == 1 ? BlockKind::scalar : BlockKind::instance), pattern);
}

void ParamSet::add(const std::string& name, Vec v, BlockKind kind, Mat pattern) {
  FOLDOPT_CHECK(v != nullptr, PETSC_ERR_ARG_NULL, "parameter block '%s': no vector", name.c_str());
  FOLDOPT_CHECK(!has(name), PETSC_ERR_ARG_WRONG, "parameter block '%s' given twice", name.c_str());
  FOLDOPT_CHECK((kind == BlockKind::matrix_values) == (pattern != nullptr), PETSC_ERR_ARG_WRONG,
                "parameter block '%s': a pattern goes with matrix values, and only with them", name.c_str());
  ParamBlock b;
  b.name = name;
  b.vec = OwnedVec::share(v);
  b.pattern = OwnedMat::share(pattern);
  b.kind = kind;
  blocks_.push_back(std::move(b));
}

const ParamBlock& ParamSet::block(const std::string& name) const {
  for (const auto& b : blocks_)
    if (b.name == name) return b;
  std::string known;
  for (const auto& b : blocks_) known += (known.empty() ? "" : ", ") + b.name;
  detail::throw_error(PETSC_ERR_ARG_WRONG, "no parameter block '" + name + "' (blocks: " + known + ")");
}

bool ParamSet::has(const std::string& name) const {
  for (const auto& b : blocks_)
    if (b.name == name) return true;
  return false;
}

Vec ParamSet::get(const std::string& name) const { return block(name).vec; }

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
    out.add(b.name, v, b.kind, b.pattern);
  }
  return out;
}

ParamSet ParamSet::share() const {
  ParamSet out;
  for (const auto& b : blocks_) out.add(b.name, b.vec, b.kind, b.pattern);
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
