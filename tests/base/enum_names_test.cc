#include "base/enum_names.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <span>
#include <string>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace equifl::test_enums {

using ::equifl::test::IsOk;

enum class Colour { kRed, kDeepBlue };

std::span<const EnumName<Colour>> EnumNames(Colour) {
  static constexpr EnumName<Colour> kNames[] = {{Colour::kRed, "red"},
                                                {Colour::kDeepBlue, "deep_blue"}};
  return kNames;
}

static_assert(NamedEnum<Colour>);
static_assert(!NamedEnum<int>);

namespace {

using ::testing::ElementsAre;

TEST(EnumNamesTest, NamesAndParsesThroughTheTable) {
  EXPECT_EQ(NameOf(Colour::kDeepBlue), "deep_blue");
  EXPECT_EQ(*ParseEnum<Colour>("colour", "red"), Colour::kRed);
  EXPECT_THAT(AllNames<Colour>(), ElementsAre("red", "deep_blue"));
  EXPECT_EQ(AllowedNames<Colour>(), "red, deep_blue");
}

TEST(EnumNamesTest, ErrorsNameWhatAndListTheAllowedNames) {
  const absl::StatusOr<Colour> parsed = ParseEnum<Colour>("paint.colour", "green");
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(parsed.status().message(), "paint.colour is 'green'; allowed values: red, deep_blue");

  const Colour cast = static_cast<Colour>(7);
  EXPECT_EQ(NameOf(cast), kUnknownName);
  EXPECT_FALSE(IsNamed(cast));
  EXPECT_TRUE(IsNamed(Colour::kRed));
  EXPECT_THAT(CheckNamed("paint colour", Colour::kRed), IsOk());
  EXPECT_EQ(CheckNamed("paint colour", cast).message(),
            "paint colour is 7; allowed: red, deep_blue");
}

}  // namespace
}  // namespace equifl::test_enums
