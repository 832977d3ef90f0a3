// Name tables for the option enums of client/, so every enum is printed, parsed
// and reported ("allowed: a, b, c") the same way.
#ifndef EQUIFL_CLIENT_INTERNAL_ENUM_NAMES_H_
#define EQUIFL_CLIENT_INTERNAL_ENUM_NAMES_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace equifl::client::internal {

//! One enumerator and its configuration name.
template <typename E>
struct EnumName {
  E value;                 //!< The enumerator.
  absl::string_view name;  //!< Its name in configuration files and messages.
};

//! What NameOf returns for a value outside the table (e.g. a cast integer).
inline constexpr absl::string_view kUnknownName = "unknown";

//! The name of `value`, or kUnknownName.
template <typename E, size_t N>
absl::string_view NameOf(const EnumName<E> (&table)[N], E value) {
  for (const EnumName<E>& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return kUnknownName;
}

//! "a, b, c": every name in the table, in order.
template <typename E, size_t N>
std::string AllowedNames(const EnumName<E> (&table)[N]) {
  std::string names;
  for (const EnumName<E>& entry : table) {
    absl::StrAppend(&names, names.empty() ? "" : ", ", entry.name);
  }
  return names;
}

//! The enumerator called `name`; otherwise an error naming `what` and the allowed names.
template <typename E, size_t N>
absl::StatusOr<E> Parse(const EnumName<E> (&table)[N], absl::string_view what,
                        absl::string_view name) {
  for (const EnumName<E>& entry : table) {
    if (entry.name == name) return entry.value;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(what, " is '", name, "'; allowed values: ", AllowedNames(table)));
}

}  // namespace equifl::client::internal

#endif  // EQUIFL_CLIENT_INTERNAL_ENUM_NAMES_H_
