// Versions: the header and the loaded library agree, and a mismatch is explained.
#include "test_support.hpp"

namespace {

using dativo_test::contains;

TEST(Versions, LoadedLibraryMatchesTheHeader) {
  EXPECT_EQ(dativo::version(), DATIVO_VERSION);
  EXPECT_NO_THROW(dativo::check_version());
}

TEST(Versions, AbiMismatchNamesBothVersions) {
  try {
    dativo::detail::check_abi_version(1, "0.1.0", 2, "0.2.0");
    ADD_FAILURE() << "nothing thrown";
  } catch (const dativo::InvalidArgumentError& e) {
    EXPECT_TRUE(contains(e.what(), "dativo.h 0.1.0 (ABI version 1)"));
    EXPECT_TRUE(contains(e.what(), "libdativo is 0.2.0 (ABI version 2)"));
  }
}

}  // namespace
