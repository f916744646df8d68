// foldopt: strict checks of option values (see src/core/options.hpp).
//
// Method: the raw text of an option comes from PetscOptionsFindPair (for one named option) or
//   from PetscOptionsGetAll (for every option under a prefix, without marking any as used, so that
//   the executable's unused-option check still sees them); integers are parsed with strtoll and
//   compared with the range before any narrowing to PetscInt; reals with strtod, finite only;
//   type names are looked up in the registered PetscFunctionLists.
#include "core/options.hpp"

#include <foldopt/error.hpp>

#include <petscksp.h>
#include <petscsnes.h>
#include <slepceps.h>

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace foldopt {
namespace options {

namespace {

std::string option_name(const char* prefix, const char* name) {
  return std::string("-") + (prefix ? prefix : "") + name;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

/// The value as shown in a message: printable characters only (an options file could hold anything).
std::string shown(const std::string& v) {
  std::string out;
  for (char c : v) out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  return out.size() > 512 ? out.substr(0, 509) + "..." : out;
}

bool parse_int(const std::string& v, long long* out) {
  if (v.empty() || std::isspace(static_cast<unsigned char>(v[0]))) return false;
  errno = 0;
  char* end = nullptr;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  if (errno == ERANGE || !end || *end != '\0') return false;
  *out = x;
  return true;
}

bool parse_real(const std::string& v, double* out) {
  if (v.empty() || std::isspace(static_cast<unsigned char>(v[0]))) return false;
  errno = 0;
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (!end || *end != '\0' || !std::isfinite(x)) return false;
  *out = x;
  return true;
}

/// The value of a numeric option that must be present (collective: the database is the same everywhere).
std::string required_value(const char* prefix, const char* name, bool* given) {
  std::string v;
  bool has = false;
  *given = raw_value(prefix, name, &v, &has);
  if (!*given) return v;
  FOLDOPT_CHECK(has, PETSC_ERR_ARG_WRONG, "option %s needs a value", option_name(prefix, name).c_str());
  return v;
}

struct TypeList {
  const char* word;  // the option name ends in "<word>_type"
  const char* what;
  PetscFunctionList* list;
};

void initialize_lists() {
  FOLDOPT_CALL(KSPInitializePackage());
  FOLDOPT_CALL(PCInitializePackage());
  FOLDOPT_CALL(SNESInitializePackage());
  FOLDOPT_CALL(EPSInitializePackage());
  FOLDOPT_CALL(STInitializePackage());
  FOLDOPT_CALL(PetscViewerInitializePackage());
}

std::string list_names(PetscFunctionList list) {
  const char** names = nullptr;
  int n = 0;
  FOLDOPT_CALL(PetscFunctionListGet(list, &names, &n));
  std::string out;
  for (int i = 0; i < n && names[i]; ++i) out += (i ? ", " : "") + std::string(names[i]);  // null-terminated
  FOLDOPT_CALL(PetscFree(names));
  return out;
}

void check_type_in(PetscFunctionList list, const std::string& option, const std::string& value, const char* what) {
  void (*f)(void) = nullptr;
  FOLDOPT_CALL(PetscFunctionListFind(list, value.c_str(), &f));
  FOLDOPT_CHECK(f != nullptr, PETSC_ERR_ARG_UNKNOWN_TYPE, "option %s %s: unknown %s type (registered: %s)", option.c_str(),
                shown(value).c_str(), what, list_names(list).c_str());
}

// Integer-valued words of PETSc's and foldopt's options (the name's tail after the last '_', or two words).
const char* const int_tails[] = {"_max_it", "_max_iter", "_max_funcs", "_restart", "_nev", "_ncv", "_mpd",
                                 "_levels", "_print_level", "_steps", "_seed", "_max_size"};

}  // namespace

bool is_key(const std::string& tok) {
  if (tok.size() < 2 || tok[0] != '-') return false;
  const std::size_t k = tok[1] == '-' ? 2 : 1;
  return tok.size() > k && std::isalpha(static_cast<unsigned char>(tok[k]));
}

bool raw_value(const char* prefix, const char* name, std::string* value, bool* has_value) {
  const char* v = nullptr;
  PetscBool set = PETSC_FALSE;
  FOLDOPT_CALL(PetscOptionsFindPair(nullptr, prefix, option_name(nullptr, name).c_str(), &v, &set));
  *has_value = set && v && v[0];
  *value = *has_value ? v : "";
  return set;
}

void check_int(const char* prefix, const char* name, long long lo, long long hi) {
  bool given = false;
  const std::string v = required_value(prefix, name, &given);
  if (!given) return;
  const std::string opt = option_name(prefix, name);
  long long x = 0;
  FOLDOPT_CHECK(parse_int(v, &x), PETSC_ERR_ARG_WRONG,
                "option %s %s: not an integer", opt.c_str(), shown(v).c_str());
  FOLDOPT_CHECK(x >= lo && x <= hi, PETSC_ERR_ARG_OUTOFRANGE, "option %s %s: out of range (%lld to %lld)", opt.c_str(),
                shown(v).c_str(), lo, hi);
}

void check_real(const char* prefix, const char* name, double lo, double hi, bool lo_open, bool hi_open) {
  bool given = false;
  const std::string v = required_value(prefix, name, &given);
  if (!given) return;
  const std::string opt = option_name(prefix, name);
  double x = 0;
  FOLDOPT_CHECK(parse_real(v, &x), PETSC_ERR_ARG_WRONG, "option %s %s: not a finite number", opt.c_str(), shown(v).c_str());
  const bool ok = (lo_open ? x > lo : x >= lo) && (hi_open ? x < hi : x <= hi);
  if (hi >= 1e300)  // no upper bound in practice: say the lower one
    FOLDOPT_CHECK(ok, PETSC_ERR_ARG_OUTOFRANGE, "option %s %s: out of range (must be %s %g)", opt.c_str(),
                  shown(v).c_str(), lo_open ? ">" : ">=", lo);
  FOLDOPT_CHECK(ok, PETSC_ERR_ARG_OUTOFRANGE, "option %s %s: out of range %s%g, %g%s", opt.c_str(), shown(v).c_str(),
                lo_open ? "(" : "[", lo, hi, hi_open ? ")" : "]");
}

void check_bool(const char* prefix, const char* name) {
  std::string v;
  bool has = false;
  if (!raw_value(prefix, name, &v, &has) || !has) return;
  const std::string l = lower(v);
  const bool ok = l == "1" || l == "0" || l == "true" || l == "false" || l == "yes" || l == "no" || l == "on" || l == "off";
  FOLDOPT_CHECK(ok, PETSC_ERR_ARG_WRONG, "option %s %s: not a boolean (true/false, yes/no, on/off, 1/0)",
                option_name(prefix, name).c_str(), shown(v).c_str());
}

void check_string(const char* prefix, const char* name) {
  bool given = false;
  required_value(prefix, name, &given);
}

void check_choice(const char* prefix, const char* name, const std::vector<std::string>& choices) {
  bool given = false;
  const std::string v = required_value(prefix, name, &given);
  if (!given) return;
  std::string list;
  bool ok = false;
  for (const auto& c : choices) {
    ok = ok || c == v;
    list += (list.empty() ? "" : ", ") + c;
  }
  FOLDOPT_CHECK(ok, PETSC_ERR_ARG_UNKNOWN_TYPE, "option %s %s: unknown value (one of %s)", option_name(prefix, name).c_str(),
                shown(v).c_str(), list.c_str());
}

void check_viewer(MPI_Comm comm, const char* prefix, const char* name) {
  std::string v;
  bool has = false;
  if (!raw_value(prefix, name, &v, &has) || !has) return;  // alone: stdout
  const std::string opt = option_name(prefix, name);
  // type:file:format:mode, each part optional
  std::vector<std::string> part;
  std::size_t start = 0;
  for (;;) {
    const std::size_t c = v.find(':', start);
    part.push_back(v.substr(start, c == std::string::npos ? std::string::npos : c - start));
    if (c == std::string::npos) break;
    start = c + 1;
  }
  initialize_lists();
  if (!part[0].empty()) check_type_in(PetscViewerList, opt, part[0], "viewer");
  const std::string type = part[0].empty() ? "ascii" : part[0];
  if (part.size() < 2 || part[1].empty()) return;
  if (type != "ascii" && type != "binary" && type != "vtk" && type != "hdf5") return;
  const std::string& file = part[1];
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  std::string why;
  if (rank == 0) {
    if (access(file.c_str(), F_OK) == 0) {
      if (access(file.c_str(), W_OK) != 0) why = std::strerror(errno);
    } else {
      const std::size_t slash = file.rfind('/');
      const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : file.substr(0, slash));
      if (access(dir.c_str(), W_OK | X_OK) != 0) why = std::string("directory ") + dir + ": " + std::strerror(errno);
    }
  }
  check_collective(comm, why.empty(), PETSC_ERR_FILE_OPEN,
                   "option " + opt + " " + shown(v) + ": cannot write " + shown(file) + " (" + why + ")");
}

std::vector<Entry> all_options() {
  char* all = nullptr;
  FOLDOPT_CALL(PetscOptionsGetAll(nullptr, &all));
  std::vector<std::string> tok;
  for (const char* p = all; p && *p;) {
    while (*p == ' ') ++p;
    const char* q = p;
    while (*q && *q != ' ') ++q;
    if (q > p) tok.emplace_back(p, q);
    p = q;
  }
  FOLDOPT_CALL(PetscFree(all));
  std::vector<Entry> out;
  for (std::size_t i = 0; i < tok.size(); ++i) {
    if (!is_key(tok[i])) continue;  // a value already taken
    Entry e{tok[i].substr(tok[i][1] == '-' ? 2 : 1), "", false};
    if (i + 1 < tok.size() && !is_key(tok[i + 1])) {
      e.value = tok[i + 1];
      e.has_value = true;
      ++i;
    }
    out.push_back(e);
  }
  return out;
}

void check_prefixed_options(const std::string& prefix) {
  if (prefix.empty()) return;  // without a prefix the options are not ours to judge
  initialize_lists();
  const TypeList types[] = {{"ksp", "KSP", &KSPList},      {"pc", "PC", &PCList},     {"snes", "SNES", &SNESList},
                            {"linesearch", "SNES line search", &SNESLineSearchList},
                            {"eps", "EPS", &EPSList},      {"st", "ST", &STList}};
  // TAO types are checked by the forward solver itself before TaoSetFromOptions (src/forward/tao.cpp:
  // a table that also refuses registered types unfit for the problem).
  for (const Entry& e : all_options()) {
    if (e.name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string opt = "-" + e.name;
    const std::string tail = e.name.substr(prefix.size());
    if (ends_with(tail, "_type") || tail == "type") {
      FOLDOPT_CHECK(e.has_value, PETSC_ERR_ARG_WRONG, "option %s needs a value (a type name)", opt.c_str());
      for (const TypeList& t : types) {
        const std::string w = std::string(t.word) + "_type";
        if (tail == w || ends_with(tail, "_" + w)) check_type_in(*t.list, opt, e.value, t.what);
      }
      continue;
    }
    bool integer = false;
    for (const char* t : int_tails) integer = integer || ends_with("_" + tail, t);
    const bool tolerance = ends_with(tail, "tol");
    if (!integer && !tolerance) continue;  // possibly a flag
    FOLDOPT_CHECK(e.has_value, PETSC_ERR_ARG_WRONG, "option %s needs a value (a number)", opt.c_str());
    const std::string l = lower(e.value);
    if (l == "petsc_default" || l == "default" || l == "petsc_decide" || l == "decide") continue;  // PETSc's keywords
    if (integer) {
      // Mostly integers; a few share the word with a real (SLEPc's -eps_krylovschur_restart 0.5).
      long long x = 0;
      double r = 0;
      const bool is_int = parse_int(e.value, &x);
      FOLDOPT_CHECK(is_int || parse_real(e.value, &r), PETSC_ERR_ARG_WRONG, "option %s %s: not a number", opt.c_str(),
                    shown(e.value).c_str());
      FOLDOPT_CHECK(is_int ? (x >= 0 && x <= PETSC_MAX_INT) : r >= 0, PETSC_ERR_ARG_OUTOFRANGE,
                    "option %s %s: out of range (0 to %lld)", opt.c_str(), shown(e.value).c_str(), (long long)PETSC_MAX_INT);
    } else {
      double x = 0;
      FOLDOPT_CHECK(parse_real(e.value, &x), PETSC_ERR_ARG_WRONG, "option %s %s: not a finite number", opt.c_str(),
                    shown(e.value).c_str());
      FOLDOPT_CHECK(x >= 0, PETSC_ERR_ARG_OUTOFRANGE, "option %s %s: a tolerance must be nonnegative", opt.c_str(),
                    shown(e.value).c_str());
      FOLDOPT_CHECK(!ends_with(tail, "rtol") || x < 1, PETSC_ERR_ARG_OUTOFRANGE,
                    "option %s %s: a relative tolerance must be below 1", opt.c_str(), shown(e.value).c_str());
    }
  }
}

}  // namespace options
}  // namespace foldopt
