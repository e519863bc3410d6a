// dativo::ParquetWriter into s3://bucket/prefix on a real S3-compatible server. ctest runs this
// binary through tests/common/s3_server.py, which starts SeaweedFS on 127.0.0.1, passes it in
// S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_BUCKET and S3_PYTHON, and stops it afterwards;
// what was written is read back by pyarrow (tests/common/s3_reader.py) and compared with the CSV.
#include "test_support.hpp"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>

namespace {

using dativo_test::kSampleRows;
using dativo_test::sample_csv;
using dativo_test::total_rows;

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

/// The writer's connection options (the keys of a job's target.connection.s3).
std::string connection(const std::string& more = "") {
  return R"({"endpoint": ")" + env("S3_ENDPOINT") + R"(", "access_key_id": ")" + env("S3_ACCESS_KEY") +
         R"(", "secret_access_key": ")" + env("S3_SECRET_KEY") + R"(", "region": "us-east-1")" + more + "}";
}

/// Runs tests/common/s3_reader.py with `args`; its stdout.
std::string reader(const std::string& args) {
  const std::string command = "'" + env("S3_PYTHON") + "' '" + DATIVO_S3_READER + "' " + args;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::string out;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe.get())) > 0) out.append(buffer.data(), n);
  return out;
}

class ObjectStore : public ::testing::Test {
 protected:
  void SetUp() override {
    // Not a skip: without the server this binary was run outside ctest, and that is an error.
    ASSERT_FALSE(env("S3_ENDPOINT").empty())
        << "S3_ENDPOINT is not set: run this test through ctest (tests/common/s3_server.py starts the server)";
  }
  std::string bucket = env("S3_BUCKET");
};

TEST_F(ObjectStore, CsvToABucketReadsBackEqualThroughTheManifest) {
  const std::string where = bucket + "/cpp/orders";
  dativo::CsvReader csv = dativo::CsvReader::open(sample_csv(), R"({"batch_size": 7})");
  dativo::ParquetWriter writer =
      dativo::ParquetWriter::open("s3://" + where, csv.schema(), connection(R"(, "max_rows_per_file": 12)"));
  writer.write(csv.stream());
  EXPECT_NE(reader("table " + where).find(R"("manifest": null)"), std::string::npos) << "visible before close";
  const std::vector<dativo::CommittedFile> files = writer.close();

  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(total_rows(files), static_cast<uint64_t>(kSampleRows));
  EXPECT_EQ(files[0].path.rfind("s3://" + where + "/part-", 0), 0u) << files[0].path;
  const std::string compared = reader("csv-equal " + where + " '" + sample_csv() + "'");
  EXPECT_NE(compared.find(R"("equal": true, "rows": 30)"), std::string::npos) << compared;
}

TEST_F(ObjectStore, PartitionedWriterAndADroppedWriterLeaveOnlyTheCommittedTable) {
  const std::string where = bucket + "/cpp/by_country";
  {
    dativo::CsvReader csv = dativo::CsvReader::open(sample_csv());
    dativo::ParquetWriter writer = dativo::ParquetWriter::open(
        "s3://" + where, csv.schema(), connection(R"(, "partitioning": ["ingest_date", "country"])"));
    writer.write(csv.stream());
    const std::vector<dativo::CommittedFile> files = writer.close();
    EXPECT_EQ(total_rows(files), static_cast<uint64_t>(kSampleRows));
    for (const dativo::CommittedFile& file : files)
      EXPECT_NE(file.path.find("/ingest_date="), std::string::npos) << file.path;
  }
  const std::string before = reader("table " + where);
  {
    // Destroyed without close(): its objects are deleted and the manifest is unchanged.
    dativo::CsvReader csv = dativo::CsvReader::open(sample_csv());
    dativo::ParquetWriter writer =
        dativo::ParquetWriter::open("s3://" + where, csv.schema(), connection(R"(, "max_rows_per_file": 5)"));
    writer.write(csv.stream());
  }
  EXPECT_EQ(reader("table " + where), before);
  EXPECT_NE(before.find(R"("rows": 30)"), std::string::npos) << before;
}

TEST_F(ObjectStore, AWrongSecretIsAnIoErrorThatNamesTheUrlAndHidesTheSecret) {
  dativo::CsvReader csv = dativo::CsvReader::open(sample_csv());
  const std::string secret = "cpp-wrong-secret-never-shown";
  const std::string options = R"({"endpoint": ")" + env("S3_ENDPOINT") + R"(", "access_key_id": ")" +
                              env("S3_ACCESS_KEY") + R"(", "secret_access_key": ")" + secret + R"("})";
  try {
    dativo::ParquetWriter::open("s3://" + bucket + "/cpp/denied", csv.schema(), options);
    FAIL() << "a wrong secret was accepted";
  } catch (const dativo::IoError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("s3://" + bucket + "/cpp/denied"), std::string::npos) << message;
    EXPECT_EQ(message.find(secret), std::string::npos) << message;
  }
}

}  // namespace
