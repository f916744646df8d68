// foldopt: strict checks of option values, made before PETSc reads them.
//
// PETSc 3.18's getters wrap integers (-n 4294967396 reads as 100), ignore an option given without
// its value (-n alone), and raise errors from inside a PetscOptionsBegin block, which then leaks.
// The readers of foldopt's options therefore check the raw string of each of their options first
// (present, parsed completely, in range) and only then let PetscOptionsInt/Real/... read it, so
// that -help still lists every option with its value. The options database is the same on every
// rank, so every check here is collective (FOLDOPT_CHECK) unless said otherwise.
//
// Rule for PETSc's own options under a foldopt prefix (check_prefixed_options): an option whose
// name ends in `_type`, or in a word that names a number (`...tol`, `_max_it`, `_max_iter`,
// `_max_funcs`, `_restart`, `_nev`, `_ncv`, `_mpd`, `_levels`, `_print_level`, `_steps`, `_seed`,
// `_max_size`) must carry a value; any other option may be a flag (-fold_view, -fold_monitor,
// -fold_ksp_monitor, -fold_unrolled_history, ...). Values of numbers must parse completely and be
// nonnegative (integers at most PETSC_MAX_INT, `...rtol` below 1); `_type` values of KSP, PC, SNES, SNES line search, EPS and ST
// are looked up in PETSc's and SLEPc's registered lists (TAO's by the TAO forward solver's table).
#ifndef FOLDOPT_SRC_CORE_OPTIONS_HPP
#define FOLDOPT_SRC_CORE_OPTIONS_HPP

#include <petscsys.h>

#include <string>
#include <vector>

namespace foldopt {
namespace options {

/// PETSc's rule for an option name in argument lists and in GetAll's string: a dash (or two),
/// then a letter; a dash and a digit, or "-.5", is a negative number, a value.
bool is_key(const std::string& word);

/// The raw value of option `-<prefix><name>` (name without the dash): false when not given; when
/// given, `*value` is its text, or empty with `*has_value` false for an option given alone.
bool raw_value(const char* prefix, const char* name, std::string* value, bool* has_value);

/// Integer option -<prefix><name> in [lo, hi]: given with a value, a complete base-10 integer.
void check_int(const char* prefix, const char* name, long long lo, long long hi);
/// Real option in [lo, hi] (an open end when `lo_open` / `hi_open`): a complete, finite number.
void check_real(const char* prefix, const char* name, double lo, double hi, bool lo_open = false, bool hi_open = false);
/// Boolean option: given alone (true), or 1/0, true/false, yes/no, on/off (any case).
void check_bool(const char* prefix, const char* name);
/// String option: given with a value.
void check_string(const char* prefix, const char* name);
/// Option taking one of `choices`: given with a value from the list.
void check_choice(const char* prefix, const char* name, const std::vector<std::string>& choices);
/// Viewer option (`-fold_view [type][:file[:format[:mode]]]`): a file it names must be writable,
/// checked on rank 0 for all ranks of `comm` (PETSc opens ASCII files on rank 0 only, so a
/// failure there would leave the other ranks waiting).
void check_viewer(MPI_Comm comm, const char* prefix, const char* name);

/// PETSc's own options under `prefix` (the rule above); nothing for an empty prefix.
void check_prefixed_options(const std::string& prefix);

/// Every option in the database as (name without the dash, value or empty, has value).
struct Entry {
  std::string name, value;
  bool has_value;
};
std::vector<Entry> all_options();

}  // namespace options
}  // namespace foldopt

#endif
