// .npy reading: hand-made files of every supported type and version, every header
// and size error, damaged files that must fail cleanly, and files written by numpy
// itself (Debian's /usr/bin/python3 with python3-numpy) read back.
#include "client/data/npy_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/client/data/npy_test_util.h"
#include "tests/client/shard_test_util.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temporary_folder.h"

namespace equifl::client {
namespace {

using ::equifl::client::testing::NpyBytes;
using ::equifl::client::testing::NpyOf;
using ::equifl::client::testing::RawBytes;
using ::equifl::client::testing::WriteBytes;
using ::equifl::test::IsOk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kPlain[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";

std::string ParseError(const std::string& bytes) {
  absl::StatusOr<NpyArray> array = ParseNpy(bytes, "x.npy");
  EXPECT_FALSE(array.ok());
  if (array.ok()) return "";
  EXPECT_EQ(array.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(array.status().message());
}

TEST(NpyFileTest, ReadsEverySupportedType) {
  const std::vector<float> f4 = {0.5f, -1, 2, 3.25f, 4, 5};
  absl::StatusOr<NpyArray> array = ParseNpy(NpyOf("<f4", "(2, 3)", f4), "f4.npy");
  ASSERT_THAT(array, IsOk());
  EXPECT_EQ(array->header.type, NpyType::kFloat32);
  EXPECT_THAT(array->header.shape, ElementsAre(2, 3));
  EXPECT_EQ(array->size(), 6);
  EXPECT_EQ(array->ShapeString(), "(2, 3)");
  EXPECT_EQ(array->header.data_offset % 64, 0);  // numpy aligns the data
  EXPECT_THAT(*array->ToFloat32(), ElementsAre(0.5f, -1, 2, 3.25f, 4, 5));
  EXPECT_THAT(array->ToInt64().status().message(), HasSubstr("must be integers"));

  array = ParseNpy(NpyOf<double>("<f8", "(3,)", {0.1, -2, 1e300}), "f8.npy");
  ASSERT_THAT(array, IsOk());
  EXPECT_EQ(array->ShapeString(), "(3,)");
  const std::vector<float> narrowed = *array->ToFloat32();
  EXPECT_THAT(narrowed, ElementsAre(0.1f, -2.0f, std::numeric_limits<float>::infinity()));

  array = ParseNpy(NpyOf<int64_t>("<i8", "(3,)", {7, -1, 1LL << 40}), "i8.npy");
  ASSERT_THAT(array, IsOk());
  EXPECT_THAT(*array->ToInt64(), ElementsAre(7, -1, 1LL << 40));
  EXPECT_THAT(array->ToFloat32().status().message(),
              HasSubstr("i8.npy holds <i8 values; features must be floating point"));

  array = ParseNpy(NpyOf<int32_t>("<i4", "(2,)", {-5, 9}), "i4.npy");
  ASSERT_THAT(array, IsOk());
  EXPECT_THAT(*array->ToInt64(), ElementsAre(-5, 9));

  array = ParseNpy(NpyOf<uint8_t>("|u1", "(3,)", {0, 200, 255}), "u1.npy");
  ASSERT_THAT(array, IsOk());
  EXPECT_THAT(*array->ToInt64(), ElementsAre(0, 200, 255));

  array = ParseNpy(NpyOf<uint8_t>("|b1", "(3,)", {1, 0, 1}), "b1.npy");
  ASSERT_THAT(array, IsOk());
  EXPECT_THAT(*array->ToInt64(), ElementsAre(1, 0, 1));
  array = ParseNpy(NpyOf<uint8_t>("|b1", "(2,)", {1, 7}), "b1.npy");
  ASSERT_THAT(array, IsOk());
  EXPECT_THAT(array->ToInt64().status().message(), HasSubstr("bool element 1 is the byte 7"));
}

TEST(NpyFileTest, ReadsVersionsTwoAndThreeAndHeaderVariants) {
  const std::string data = RawBytes<float>({1, 2, 3, 4, 5, 6});
  for (int major : {1, 2, 3}) {
    absl::StatusOr<NpyArray> array = ParseNpy(NpyBytes(kPlain, data, major), "v.npy");
    ASSERT_THAT(array, IsOk()) << major << ": " << array.status();
    EXPECT_EQ(array->header.major_version, major);
    EXPECT_EQ(array->header.data_offset % 64, 0);
    EXPECT_EQ(static_cast<int64_t>(array->data.size()), 24);
    EXPECT_THAT(*array->ToFloat32(), ElementsAre(1, 2, 3, 4, 5, 6));
  }
  // Other key orders, double quotes, no trailing comma, Python 2's long integers,
  // a scalar.
  for (const std::string dict : {
           "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}",
           "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2,3)}",
           "{'descr':'<f4','fortran_order':False,'shape':(2L, 3L),}",
           "  { 'descr' : '<f4' , 'fortran_order' : False , 'shape' : ( 2 , 3 , ) }  ",
       }) {
    absl::StatusOr<NpyArray> array = ParseNpy(NpyBytes(dict, data), "v.npy");
    ASSERT_THAT(array, IsOk()) << dict << ": " << array.status();
    EXPECT_THAT(array->header.shape, ElementsAre(2, 3)) << dict;
  }
  absl::StatusOr<NpyArray> scalar = ParseNpy(
      NpyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (), }", RawBytes<int64_t>({42})),
      "s.npy");
  ASSERT_THAT(scalar, IsOk());
  EXPECT_TRUE(scalar->header.shape.empty());
  EXPECT_THAT(*scalar->ToInt64(), ElementsAre(42));
  absl::StatusOr<NpyArray> empty = ParseNpy(
      NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }", ""), "e.npy");
  ASSERT_THAT(empty, IsOk());
  EXPECT_EQ(empty->size(), 0);
}

TEST(NpyFileTest, PreambleErrors) {
  EXPECT_THAT(ParseError(""), HasSubstr("x.npy is not a .npy file"));
  EXPECT_THAT(ParseError("PK\x03\x04 a zip"), HasSubstr("save arrays with numpy.save"));
  std::string bytes = NpyBytes(kPlain, RawBytes<float>({1, 2, 3, 4, 5, 6}));
  bytes[6] = 4;
  EXPECT_THAT(ParseError(bytes),
              HasSubstr("x.npy has .npy format version 4.0; supported: 1.0, 2.0, 3.0"));
  bytes[6] = 1;
  bytes[7] = 1;
  EXPECT_THAT(ParseError(bytes), HasSubstr("version 1.1"));
  EXPECT_THAT(ParseError(std::string("\x93NUMPY\x02\x00\x10", 9)),
              HasSubstr("ends inside the .npy preamble"));
  bytes = NpyBytes(kPlain, "");
  EXPECT_THAT(ParseError(bytes.substr(0, 40)),
              HasSubstr("is truncated: its .npy header is 118 bytes, but only 30 follow"));
}

TEST(NpyFileTest, HeaderErrorsSayWhatIsWrong) {
  const std::string data = RawBytes<float>({1, 2, 3, 4, 5, 6});
  auto header_error = [&](const std::string& dict) { return ParseError(NpyBytes(dict, data)); };
  EXPECT_THAT(header_error("['descr', '<f4']"), HasSubstr("expected '{' at the start"));
  EXPECT_THAT(header_error("{'descr' '<f4', 'fortran_order': False, 'shape': (2, 3)}"),
              HasSubstr("malformed at character 9: expected ':' after 'descr'"));
  EXPECT_THAT(header_error("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)"),
              HasSubstr("expected ',' or '}'"));
  EXPECT_THAT(header_error("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} x"),
              HasSubstr("text after the closing '}'"));
  EXPECT_THAT(header_error("{'descr': '<f4', 'shape': (2, 3)}"),
              HasSubstr("the .npy header has no 'fortran_order'"));
  EXPECT_THAT(header_error("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}"),
              HasSubstr("unknown key 'x'"));
  EXPECT_THAT(
      header_error("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}"),
      HasSubstr("'descr' appears twice"));
  EXPECT_THAT(header_error("{'descr': '<f4', 'fortran_order': false, 'shape': (2, 3)}"),
              HasSubstr("'fortran_order' must be True or False"));
  EXPECT_THAT(header_error("{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}"),
              HasSubstr("'shape' must be a tuple"));
  EXPECT_THAT(header_error("{'descr': '<f4', 'fortran_order': False, 'shape': (6)}"),
              HasSubstr("a one-element 'shape' needs a comma, as in (3,)"));
  EXPECT_THAT(header_error("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3)}"),
              HasSubstr("'shape' has a negative size"));
  EXPECT_THAT(header_error("{'descr': '<f4', 'fortran_order': False, 'shape': (2.0, 3)}"),
              HasSubstr("expected ',' or ')' in 'shape'"));
  EXPECT_THAT(header_error("{'descr': '<f4', 'fortran_order': False, 'shape': "
                           "(99999999999999999999, 3)}"),
              HasSubstr("too large"));
  EXPECT_THAT(header_error("{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3)}"),
              HasSubstr("element type '<f4, ' is not supported"));
  EXPECT_THAT(header_error("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3)}"),
              HasSubstr("Fortran (column-major) order, which is not supported; save "
                        "numpy.ascontiguousarray(array)"));
  for (const char* descr : {">f4", "<f2", "<u4", "<c8", "|O", "<U5"}) {
    EXPECT_THAT(header_error(std::string("{'descr': '") + descr +
                             "', 'fortran_order': False, 'shape': (2, 3)}"),
                HasSubstr(std::string("element type '") + descr +
                          "' is not supported; supported: <f4, <f8, <i8, <i4, |u1, |b1"));
  }
  EXPECT_THAT(header_error("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}"),
              HasSubstr("structured type"));
}

TEST(NpyFileTest, DataSizeMustMatchTheShape) {
  const std::string good = NpyOf<float>("<f4", "(2, 3)", {1, 2, 3, 4, 5, 6});
  EXPECT_THAT(ParseError(good.substr(0, good.size() - 1)),
              HasSubstr("x.npy is truncated: shape (2, 3) of <f4 needs 24 data bytes, but the "
                        "file has 23"));
  EXPECT_THAT(ParseError(good + "junk"),
              HasSubstr("x.npy does not match its header: shape (2, 3) of <f4 needs 24 data "
                        "bytes, but the file has 28"));
  EXPECT_THAT(ParseError(NpyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': "
                                  "(4000000000, 4000000000, 4000000000)}",
                                  "")),
              HasSubstr("too large to be real"));
}

TEST(NpyFileTest, DamagedFilesFailWithoutCrashing) {
  const std::string good = NpyOf<int64_t>("<i8", "(3,)", {1, 2, 3});
  for (size_t length = 0; length < good.size(); ++length) {
    EXPECT_FALSE(ParseNpy(good.substr(0, length), "cut.npy").ok()) << length;
  }
  int parsed = 0;
  for (size_t at = 0; at < good.size(); ++at) {
    for (unsigned char value : {0x00, 0x0A, 0x27, 0x28, 0x7B, 0x7D, 0xFF}) {
      std::string bytes = good;
      bytes[at] = static_cast<char>(value);
      absl::StatusOr<NpyArray> array = ParseNpy(bytes, "flip.npy");
      if (array.ok()) {
        ++parsed;
        (void)array->ToInt64();
        (void)array->ToFloat32();
      }
    }
  }
  EXPECT_GT(parsed, 0);  // changed data bytes still parse
}

TEST(NpyFileTest, ReadNpyNamesMissingFiles) {
  const equifl::test::TemporaryFolder temporary("shard");
  const std::filesystem::path& folder = temporary.path();
  absl::StatusOr<NpyArray> array = ReadNpy((folder / "none.npy").string());
  EXPECT_EQ(array.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(array.status().message(), HasSubstr("none.npy"));
  EXPECT_FALSE(ReadNpy(folder.string()).ok());
  EXPECT_THAT(ReadNpy("/dev/zero").status().message(), HasSubstr("is a character device"));
  WriteBytes(folder / "big.npy", NpyOf<int32_t>("<i4", "(2,)", {3, 4}));
  EXPECT_THAT(ReadNpy((folder / "big.npy").string(), 8).status().message(),
              HasSubstr("at most 8 are read"));
  WriteBytes(folder / "a.npy", NpyOf<int32_t>("<i4", "(2,)", {3, 4}));
  array = ReadNpy((folder / "a.npy").string());
  ASSERT_THAT(array, IsOk());
  EXPECT_EQ(array->source, (folder / "a.npy").string());
  EXPECT_THAT(*array->ToInt64(), ElementsAre(3, 4));
}

// numpy writes the files; the reader must agree with numpy on every value.
TEST(NpyFileTest, ReadsWhatNumpyWrites) {
  const equifl::test::TemporaryFolder temporary("shard");
  const std::filesystem::path& folder = temporary.path();
  const std::string script = (folder / "write.py").string();
  std::ofstream(script) << R"(import sys
import numpy as np
from numpy.lib import format
d = sys.argv[1]
np.save(d + '/f4.npy', (np.arange(12, dtype=np.float32) * 0.25 - 1).reshape(3, 4))
np.save(d + '/f8.npy', np.array([[0.1, -2.5], [1e-8, 3.0]], dtype=np.float64))
np.save(d + '/f4_3d.npy', np.arange(24, dtype=np.float32).reshape(2, 3, 4))
np.save(d + '/i8.npy', np.array([0, 1, -7, 2**40], dtype=np.int64))
np.save(d + '/i4.npy', np.array([5, -3], dtype=np.int32))
np.save(d + '/u1.npy', np.array([0, 255, 9], dtype=np.uint8))
np.save(d + '/b1.npy', np.array([True, False, True]))
np.save(d + '/fortran.npy', np.asfortranarray(np.ones((2, 3), dtype=np.float32)))
np.save(d + '/f2.npy', np.ones(3, dtype=np.float16))
np.save(d + '/big.npy', np.ones(3, dtype='>f4'))
for v in [(2, 0), (3, 0)]:
    with open(d + '/v%d.npy' % v[0], 'wb') as f:
        format.write_array(f, np.arange(6, dtype=np.int64).reshape(2, 3), version=v)
)";
  const std::string command =
      std::string(EQUIFL_PYTHON) + " " + script + " " + folder.string() + " 2>&1";
  if (std::system((std::string(EQUIFL_PYTHON) + " -c 'import numpy' 2>/dev/null").c_str()) != 0) {
    GTEST_SKIP() << EQUIFL_PYTHON << " has no numpy (apt-get install python3-numpy)";
  }
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  auto read = [&](const std::string& name) { return ReadNpy((folder / name).string()); };

  absl::StatusOr<NpyArray> array = read("f4.npy");
  ASSERT_THAT(array, IsOk());
  EXPECT_THAT(array->header.shape, ElementsAre(3, 4));
  std::vector<float> expected;
  for (int i = 0; i < 12; ++i) expected.push_back(i * 0.25f - 1);
  EXPECT_EQ(*array->ToFloat32(), expected);

  array = read("f8.npy");
  ASSERT_THAT(array, IsOk());
  EXPECT_THAT(*array->ToFloat32(), ElementsAre(0.1f, -2.5f, 1e-8f, 3.0f));

  array = read("f4_3d.npy");
  ASSERT_THAT(array, IsOk());
  EXPECT_THAT(array->header.shape, ElementsAre(2, 3, 4));
  EXPECT_EQ((*array->ToFloat32())[23], 23.0f);

  array = read("i8.npy");
  ASSERT_THAT(array, IsOk());
  EXPECT_THAT(*array->ToInt64(), ElementsAre(0, 1, -7, 1LL << 40));
  array = read("i4.npy");
  ASSERT_THAT(array, IsOk());
  EXPECT_THAT(*array->ToInt64(), ElementsAre(5, -3));
  array = read("u1.npy");
  ASSERT_THAT(array, IsOk());
  EXPECT_THAT(*array->ToInt64(), ElementsAre(0, 255, 9));
  array = read("b1.npy");
  ASSERT_THAT(array, IsOk());
  EXPECT_EQ(array->header.type, NpyType::kBool);
  EXPECT_THAT(*array->ToInt64(), ElementsAre(1, 0, 1));
  for (int major : {2, 3}) {
    array = read("v" + std::to_string(major) + ".npy");
    ASSERT_THAT(array, IsOk());
    EXPECT_EQ(array->header.major_version, major);
    EXPECT_THAT(*array->ToInt64(), ElementsAre(0, 1, 2, 3, 4, 5));
  }
  EXPECT_THAT(read("fortran.npy").status().message(), HasSubstr("Fortran (column-major) order"));
  EXPECT_THAT(read("f2.npy").status().message(), HasSubstr("element type '<f2' is not supported"));
  EXPECT_THAT(read("big.npy").status().message(), HasSubstr("element type '>f4' is not supported"));
}

}  // namespace
}  // namespace equifl::client
