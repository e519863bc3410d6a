// Fixtures shared by the C++ binding tests: a temporary directory per test, small files
// written into it, and helpers that read a CSV file into batches.
#ifndef DATIVO_CPP_TEST_SUPPORT_HPP
#define DATIVO_CPP_TEST_SUPPORT_HPP

#include <dativo/dativo.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace dativo_test {

namespace fs = std::filesystem;

/// The repository's sample CSV (examples/data/orders.csv): 30 rows, 10 columns.
inline const char* sample_csv() { return DATIVO_SAMPLE_CSV; }
constexpr int64_t kSampleRows = 30;

/// A fresh directory under the system temp directory, removed with its content at the end.
class TempDir {
 public:
  TempDir() {
    std::random_device entropy;
    std::mt19937_64 random(entropy() ^
                           static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
    do {
      path_ = fs::temp_directory_path() / ("dativo-cpp-test-" + std::to_string(random()));
    } while (!fs::create_directory(path_));
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }
  /// `path()/name` as a string.
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

  /// Write `text` to `path()/name`; returns the file's path.
  std::string write(const std::string& name, const std::string& text) const {
    const fs::path file = path_ / name;
    std::ofstream out(file, std::ios::binary);
    out << text;
    out.close();
    if (!out) throw std::runtime_error("cannot write " + file.string());
    return file.string();
  }

 private:
  fs::path path_;
};

/// Base of every test suite: each test gets its own temporary directory, `tmp`.
class WithTempDir : public ::testing::Test {
 protected:
  TempDir tmp;
};

/// The `*.parquet` files of `dir` (names only, sorted).
inline std::vector<std::string> parquet_files(const std::string& dir) {
  std::vector<std::string> names;
  if (!fs::exists(dir)) return names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".parquet") names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

/// Sum of the rows of `files`.
inline uint64_t total_rows(const std::vector<dativo::CommittedFile>& files) {
  uint64_t rows = 0;
  for (const auto& file : files) rows += file.rows;
  return rows;
}

/// The first batch of the CSV file at `path`.
inline dativo::Array first_batch(const std::string& path) {
  dativo::CsvReader reader = dativo::CsvReader::open(path);
  dativo::Stream stream = reader.stream();
  std::optional<dativo::Array> batch = stream.next();
  if (!batch) throw std::runtime_error(path + " has no rows");
  return std::move(*batch);
}

/// Whether `text` contains `part`, for EXPECT_TRUE with a readable failure.
inline ::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

}  // namespace dativo_test

#endif  // DATIVO_CPP_TEST_SUPPORT_HPP
