// Writing Parquet files through dativo::ParquetWriter.
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using dativo_test::kSampleRows;
using dativo_test::parquet_files;
using dativo_test::sample_csv;
using dativo_test::total_rows;

class WritingParquet : public dativo_test::WithTempDir {};

TEST_F(WritingParquet, CommittedFilesHoldEveryBatchWritten) {
  dativo::CsvReader reader = dativo::CsvReader::open(sample_csv(), R"({"batch_size": 7})");
  const std::string out = tmp / "out";
  dativo::ParquetWriter writer = dativo::ParquetWriter::open(out, reader.schema());
  for (dativo::Array& batch : reader.stream()) writer.write(std::move(batch));
  const std::vector<dativo::CommittedFile> files = writer.close();

  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(total_rows(files), static_cast<uint64_t>(kSampleRows));
  EXPECT_EQ(fs::path(files[0].path).filename(), "part-00000.parquet");
  EXPECT_EQ(fs::file_size(files[0].path), files[0].bytes);
  EXPECT_EQ(parquet_files(out), (std::vector<std::string>{"part-00000.parquet"}));
}

TEST_F(WritingParquet, WholeStreamIsWrittenAndSplitByRowsPerFile) {
  dativo::CsvReader reader = dativo::CsvReader::open(sample_csv());
  const std::string out = tmp / "out";
  dativo::ParquetWriter writer =
      dativo::ParquetWriter::open(out, reader.schema(), R"({"max_rows_per_file": 10, "compression": "zstd"})");
  writer.write(reader.stream());
  const std::vector<dativo::CommittedFile> files = writer.close();

  ASSERT_EQ(files.size(), 3u);
  for (const dativo::CommittedFile& file : files) {
    EXPECT_EQ(file.rows, 10u) << file.path;
    EXPECT_GT(file.bytes, 0u) << file.path;
    EXPECT_TRUE(fs::exists(file.path)) << file.path;
  }
  EXPECT_EQ(total_rows(files), static_cast<uint64_t>(kSampleRows));
}

TEST_F(WritingParquet, NothingIsVisibleBeforeClose) {
  dativo::CsvReader reader = dativo::CsvReader::open(sample_csv());
  const std::string out = tmp / "out";
  dativo::ParquetWriter writer = dativo::ParquetWriter::open(out, reader.schema());
  writer.write(reader.stream());
  EXPECT_TRUE(parquet_files(out).empty());
  writer.close();
  EXPECT_EQ(parquet_files(out).size(), 1u);
}

TEST_F(WritingParquet, WriterDestroyedWithoutCloseCommitsNothing) {
  const std::string out = tmp / "out";
  {
    dativo::CsvReader reader = dativo::CsvReader::open(sample_csv());
    dativo::ParquetWriter writer = dativo::ParquetWriter::open(out, reader.schema());
    writer.write(reader.stream());
  }
  EXPECT_TRUE(parquet_files(out).empty());
}

TEST_F(WritingParquet, WriterWithNoBatchesCommitsOneEmptyFile) {
  const std::string out = tmp / "out";
  dativo::ParquetWriter writer =
      dativo::ParquetWriter::open(out, dativo::CsvReader::open(sample_csv()).schema());
  const std::vector<dativo::CommittedFile> files = writer.close();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].rows, 0u);
}

}  // namespace
