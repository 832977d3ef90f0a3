// Names of the project's enums, so every enum is printed, parsed, checked and
// listed ("allowed values: a, b, c") the same way, from one table.
//
// An enum E takes part by declaring, next to itself and in its own namespace,
//
//   //! The names of E in configuration files and messages.
//   inline std::span<const EnumName<E>> EnumNames(E) {
//     static constexpr EnumName<E> kNames[] = {{E::kA, "a"}, {E::kB, "b"}};
//     return kNames;
//   }
//
// which argument-dependent lookup finds (the argument only picks the overload).
// The table's order is the order AllowedNames lists.
#ifndef EQUIFL_BASE_ENUM_NAMES_H_
#define EQUIFL_BASE_ENUM_NAMES_H_

#include <concepts>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/quoted_input.h"

namespace equifl {

//! One enumerator and its name.
template <typename E>
struct EnumName {
  E value;                 //!< The enumerator.
  absl::string_view name;  //!< Its name in configuration files and messages.
};

//! An enum with a name table, found by argument-dependent lookup (see above).
template <typename E>
concept NamedEnum = std::is_enum_v<E> && requires(E value) {
  { EnumNames(value) } -> std::same_as<std::span<const EnumName<E>>>;
};

//! What NameOf returns for a value outside the table (e.g. a cast integer).
inline constexpr absl::string_view kUnknownName = "unknown";

//! The name of `value`, or kUnknownName.
template <NamedEnum E>
absl::string_view NameOf(E value) {
  for (const EnumName<E>& entry : EnumNames(value)) {
    if (entry.value == value) return entry.name;
  }
  return kUnknownName;
}

//! Whether `value` is one of E's named enumerators.
template <NamedEnum E>
bool IsNamed(E value) {
  return NameOf(value) != kUnknownName;
}

//! Every name of E, in table order (e.g. for a command-line validator).
template <NamedEnum E>
std::vector<std::string> AllNames() {
  std::vector<std::string> names;
  for (const EnumName<E>& entry : EnumNames(E{})) names.emplace_back(entry.name);
  return names;
}

//! "a, b, c": every name of E, in table order.
template <NamedEnum E>
std::string AllowedNames() {
  std::string names;
  for (const EnumName<E>& entry : EnumNames(E{})) {
    absl::StrAppend(&names, names.empty() ? "" : ", ", entry.name);
  }
  return names;
}

//! The enumerator called `text`; otherwise InvalidArgument
//! "<what> is '<text>'; allowed values: a, b, c" (text quoted with QuoteInput).
template <NamedEnum E>
absl::StatusOr<E> ParseEnum(absl::string_view what, absl::string_view text) {
  for (const EnumName<E>& entry : EnumNames(E{})) {
    if (entry.name == text) return entry.value;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(what, " is ", QuoteInput(text), "; allowed values: ", AllowedNames<E>()));
}

//! OK if `value` is named; otherwise InvalidArgument "<what> is <number>; allowed:
//! a, b, c", for options structs whose field holds a cast integer.
template <NamedEnum E>
absl::Status CheckNamed(absl::string_view what, E value) {
  if (IsNamed(value)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, " is ", static_cast<int>(value), "; allowed: ", AllowedNames<E>()));
}

}  // namespace equifl

#endif  // EQUIFL_BASE_ENUM_NAMES_H_
