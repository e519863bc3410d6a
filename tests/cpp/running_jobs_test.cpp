// Running job files through dativo::run_job.
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using dativo_test::contains;
using dativo_test::parquet_files;
using dativo_test::total_rows;

class RunningJobs : public dativo_test::WithTempDir {};

// A job whose paths are relative to the job file's folder, as in examples/jobs/quickstart.yaml.
constexpr const char* kJob = R"(source:
  type: csv
  files:
    - path: people.csv
      id: people
target:
  type: local
  output_base: out/people
  engine:
    options:
      compression: snappy
)";

TEST_F(RunningJobs, ReportCountsRowsAndCommittedFiles) {
  const std::string csv = tmp.write("people.csv", "id,name,score\n1,ann,1.5\n2,bob,2.5\n3,cy,\n");
  const std::string job = tmp.write("job.yaml", kJob);

  const dativo::JobReport report = dativo::run_job(job);

  EXPECT_EQ(report.rows_read, 3u);
  EXPECT_EQ(report.rows_written, 3u);
  EXPECT_EQ(report.rows_rejected, 0u);
  EXPECT_EQ(report.input_bytes, fs::file_size(csv));
  EXPECT_GE(report.seconds, 0.0);
  ASSERT_EQ(report.files.size(), 1u);
  EXPECT_EQ(total_rows(report.files), 3u);
  EXPECT_EQ(report.bytes_written, report.files[0].bytes);
  EXPECT_EQ(fs::file_size(report.files[0].path), report.files[0].bytes);
  EXPECT_EQ(parquet_files(tmp / "out/people"), (std::vector<std::string>{"part-00000.parquet"}));
}

TEST_F(RunningJobs, SkippedRowsAreReported) {
  tmp.write("people.csv", "id,name\n1,ann\n2,bob,extra\n3,cy\n");
  const std::string job = tmp.write("job.yaml", R"(source:
  type: csv
  files:
    - path: people.csv
  engine:
    options:
      on_error: skip
target:
  type: local
  output_base: out/people
)");
  const dativo::JobReport report = dativo::run_job(job);
  EXPECT_EQ(report.rows_written, 2u);
  EXPECT_EQ(report.rows_rejected, 1u);
  EXPECT_TRUE(contains(report.files.at(0).path, "part-00000.parquet"));
}

TEST_F(RunningJobs, SampleIsConvertedUnderItsAsset) {
  const fs::path sample = dativo_test::sample_csv();
  const std::string job = tmp.write("orders.yaml", "source:\n  type: csv\n  files:\n    - path: " +
                                                       sample.string() + "\nasset_path: " +
                                                       (sample.parent_path() / "orders_asset.yaml").string() +
                                                       "\ntarget:\n  type: local\n  output_base: out\n");
  const dativo::JobReport report = dativo::run_job(job);
  EXPECT_EQ(report.rows_written, static_cast<uint64_t>(dativo_test::kSampleRows));
  EXPECT_EQ(total_rows(report.files), report.rows_written);
  EXPECT_EQ(report.warnings, 0u);
}

}  // namespace
