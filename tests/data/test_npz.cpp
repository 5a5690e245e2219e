#include <gtest/gtest.h>

#include "data/data_error.h"
#include "data/npz.h"
#include "npy_fixtures.h"

namespace sparsecap::data {
namespace {

using testing_support::make_float32_npy;
using testing_support::make_zip;
using testing_support::ZipMember;

TEST(Npz, ReadsStoredAndDeflatedMembersByName) {
  std::vector<float> large(500);
  for (size_t i = 0; i < large.size(); ++i) large[i] = static_cast<float>(i % 7);  // compressible
  const auto archive = make_zip({{"feat.npy", make_float32_npy("(100, 5)", large), true},
                                 {"boxes.npy", make_float32_npy("(1, 4)", {1, 2, 3, 4}), false}});
  const NamedArrays arrays = parse_npz(archive, "a.npz");
  ASSERT_EQ(arrays.size(), 2u);
  EXPECT_EQ(arrays.at("feat").shape, (std::vector<int64_t>{100, 5}));
  EXPECT_EQ(arrays.at("feat").values, large);
  EXPECT_EQ(arrays.at("boxes").values, (std::vector<float>{1, 2, 3, 4}));
}

TEST(Npz, ReadsZip64RecordsAsNumpyWritesThem) {
  ZipMember local{"feat.npy", make_float32_npy("(2, 2)", {1, 2, 3, 4}), true};
  local.zip64_local_header = true;
  ZipMember central{"box.npy", make_float32_npy("(1, 4)", {5, 6, 7, 8}), false};
  central.zip64_central_entry = true;
  const NamedArrays arrays = parse_npz(make_zip({local, central}), "z64.npz");
  EXPECT_EQ(arrays.at("feat").values, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(arrays.at("box").values, (std::vector<float>{5, 6, 7, 8}));
}

TEST(NpzErrors, NotAZipFile) {
  const std::vector<uint8_t> bytes(100, 7);
  try {
    parse_npz(bytes, "junk.npz");
    ADD_FAILURE();
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find("junk.npz: not a .npz (zip) archive"), std::string::npos) << error.what();
  }
}

TEST(NpzErrors, CorruptMemberFailsTheCrc) {
  auto archive = make_zip({{"feat.npy", make_float32_npy("(4,)", {1, 2, 3, 4}), false}});
  archive[30 + 8 + 128 + 2] ^= 0xff;  // a byte inside the stored array data
  try {
    parse_npz(archive, "bad.npz");
    ADD_FAILURE();
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find("bad.npz:feat.npy: CRC-32 mismatch"), std::string::npos) << error.what();
  }
}

TEST(NpzErrors, TruncatedArchive) {
  auto archive = make_zip({{"feat.npy", make_float32_npy("(4,)", {1, 2, 3, 4}), true}});
  archive.resize(archive.size() / 2);
  EXPECT_THROW(parse_npz(archive, "half.npz"), DataError);
}

TEST(NpzErrors, BadMemberHeaderNamesTheMember) {
  const auto archive = make_zip({{"feat.npy", std::vector<uint8_t>{'n', 'o', 'p', 'e'}, false}});
  try {
    parse_npz(archive, "m.npz");
    ADD_FAILURE();
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find("m.npz:feat.npy: not a .npy file"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace sparsecap::data
