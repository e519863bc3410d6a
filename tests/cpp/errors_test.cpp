// Every failure surfaces as the dativo::Error subclass of its status, with the library's
// complete message.
#include "test_support.hpp"

#include <functional>
#include <optional>
#include <type_traits>
#include <typeinfo>

namespace {

using dativo_test::contains;
using dativo_test::first_batch;
using dativo_test::parquet_files;
using dativo_test::sample_csv;

class Errors : public dativo_test::WithTempDir {};

// A CSV whose third value of `id` is not an integer, read with a one-row type sample: `id` is
// inferred as int64 from line 2, and line 4 is a bad row.
constexpr const char* kBadAfterSample = "id,name\n1,ann\n2,bob\nx3,cy\n4,dee\n";
constexpr const char* kOneRowSample = R"({"infer_sample_rows": 1, "batch_size": 1})";

template <typename E>
E thrown_by(const std::function<void()>& call) {
  try {
    call();
  } catch (const E& e) {
    return e;
  } catch (const std::exception& other) {
    ADD_FAILURE() << "expected " << typeid(E).name() << ", got " << typeid(other).name() << ": "
                  << other.what();
    throw;
  }
  ADD_FAILURE() << "expected " << typeid(E).name() << ", nothing was thrown";
  throw std::logic_error("nothing thrown");
}

TEST_F(Errors, MissingFileIsIoErrorNamingThePath) {
  const std::string missing = tmp / "no-such-file.csv";
  const auto e = thrown_by<dativo::IoError>([&] { dativo::CsvReader::open(missing); });
  EXPECT_EQ(e.status(), DATIVO_STATUS_IO);
  EXPECT_TRUE(contains(e.what(), missing));
  EXPECT_STREQ(e.status_string(), "I/O error");
}

TEST_F(Errors, UnknownOptionIsConfigErrorNamingTheKey) {
  const auto e = thrown_by<dativo::ConfigError>(
      [&] { dativo::CsvReader::open(sample_csv(), R"({"delimeter": ";"})"); });
  EXPECT_EQ(e.status(), DATIVO_STATUS_CONFIG);
  EXPECT_TRUE(contains(e.what(), "delimeter"));
}

TEST_F(Errors, MalformedOptionsJsonIsConfigError) {
  EXPECT_THROW(dativo::CsvReader::open(sample_csv(), "{not json"), dativo::ConfigError);
}

TEST_F(Errors, BadWriterOptionIsConfigErrorNamingTheKey) {
  dativo::Schema schema = dativo::CsvReader::open(sample_csv()).schema();
  const auto e = thrown_by<dativo::ConfigError>(
      [&] { dativo::ParquetWriter::open(tmp / "out", schema, R"({"compresion": "zstd"})"); });
  EXPECT_TRUE(contains(e.what(), "compresion"));
}

TEST_F(Errors, BadValueAfterTheTypeSampleIsDataErrorNamingFileAndLine) {
  const std::string csv = tmp.write("bad.csv", kBadAfterSample);
  dativo::CsvReader reader = dativo::CsvReader::open(csv, kOneRowSample);
  int64_t rows_before_error = 0;
  const auto e = thrown_by<dativo::DataError>([&] {
    for (dativo::Array& batch : reader.stream()) rows_before_error += batch.length();
  });
  EXPECT_EQ(e.status(), DATIVO_STATUS_DATA);
  EXPECT_TRUE(contains(e.what(), "bad.csv:4"));
  EXPECT_TRUE(contains(e.what(), "'id'"));
  EXPECT_TRUE(contains(e.what(), "x3"));
  EXPECT_LE(rows_before_error, 2);
}

TEST_F(Errors, FailedStreamKeepsFailingAndNeverLooksLikeTheEnd) {
  const std::string csv = tmp.write("bad.csv", kBadAfterSample);
  dativo::Stream stream = dativo::CsvReader::open(csv, kOneRowSample).stream();
  const auto first = thrown_by<dativo::DataError>([&] {
    while (stream.next()) {
    }
  });
  const auto again = thrown_by<dativo::DataError>([&] { stream.next(); });
  EXPECT_STREQ(again.what(), first.what());
}

TEST_F(Errors, FailingStreamWrittenToParquetKeepsItsDataStatusAndCommitsNothing) {
  const std::string csv = tmp.write("bad.csv", kBadAfterSample);
  dativo::CsvReader reader = dativo::CsvReader::open(csv, kOneRowSample);
  const std::string out = tmp / "out";
  dativo::ParquetWriter writer = dativo::ParquetWriter::open(out, reader.schema());
  const auto e = thrown_by<dativo::DataError>([&] { writer.write(reader.stream()); });
  EXPECT_TRUE(contains(e.what(), "bad.csv:4"));
  // The writer discarded its files; closing says why.
  const auto closed = thrown_by<dativo::InvalidArgumentError>([&] { writer.close(); });
  EXPECT_TRUE(contains(closed.what(), "bad.csv:4"));
  EXPECT_TRUE(parquet_files(out).empty());
}

TEST_F(Errors, WriteAfterCloseIsInvalidArgument) {
  dativo::CsvReader reader = dativo::CsvReader::open(sample_csv());
  dativo::ParquetWriter writer = dativo::ParquetWriter::open(tmp / "out", reader.schema());
  writer.close();
  dativo::Array batch = first_batch(sample_csv());
  const auto e = thrown_by<dativo::InvalidArgumentError>([&] { writer.write(std::move(batch)); });
  EXPECT_EQ(e.status(), DATIVO_STATUS_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e.what(), "closed"));
  EXPECT_FALSE(batch) << "the batch is consumed even though the write failed";
}

TEST_F(Errors, CloseTwiceIsInvalidArgument) {
  dativo::ParquetWriter writer =
      dativo::ParquetWriter::open(tmp / "out", dativo::CsvReader::open(sample_csv()).schema());
  writer.close();
  EXPECT_THROW(writer.close(), dativo::InvalidArgumentError);
}

TEST_F(Errors, SecondStreamFromOneReaderIsInvalidArgument) {
  dativo::CsvReader reader = dativo::CsvReader::open(sample_csv());
  dativo::Stream stream = reader.stream();
  const auto e = thrown_by<dativo::InvalidArgumentError>([&] { reader.stream(); });
  EXPECT_TRUE(contains(e.what(), "already taken"));
  EXPECT_TRUE(stream.next().has_value()) << "the first stream is unaffected";
}

TEST_F(Errors, StreamWithOtherColumnsIsSchemaError) {
  const std::string other = tmp.write("other.csv", "a,b,c\nx,y,z\n");
  dativo::ParquetWriter writer =
      dativo::ParquetWriter::open(tmp / "out", dativo::CsvReader::open(sample_csv()).schema());
  dativo::Stream stream = dativo::CsvReader::open(other).stream();
  const auto e = thrown_by<dativo::SchemaError>([&] { writer.write(std::move(stream)); });
  EXPECT_EQ(e.status(), DATIVO_STATUS_SCHEMA);
  EXPECT_TRUE(contains(e.what(), "order_id"));
  EXPECT_FALSE(stream) << "the stream is consumed even though the write failed";
}

TEST_F(Errors, BatchOfOtherTypesIsSchemaErrorWhenItsSchemaIsGiven) {
  const std::string ints = tmp.write("ints.csv", "id,name\n1,ann\n");
  const std::string floats = tmp.write("floats.csv", "id,name\n1.5,bob\n");
  dativo::ParquetWriter writer = dativo::ParquetWriter::open(tmp / "out", dativo::CsvReader::open(ints).schema());
  dativo::CsvReader reader = dativo::CsvReader::open(floats);
  dativo::Schema schema = reader.schema();
  dativo::Stream stream = reader.stream();
  std::optional<dativo::Array> batch = stream.next();
  ASSERT_TRUE(batch.has_value());
  const auto e = thrown_by<dativo::SchemaError>([&] { writer.write(std::move(*batch), schema); });
  EXPECT_TRUE(contains(e.what(), "`id` Float64")) << e.what();
  EXPECT_FALSE(*batch) << "the batch is consumed even though the write failed";
}

TEST_F(Errors, FilesWithDifferentColumnsAreSchemaError) {
  const std::string a = tmp.write("a.csv", "id,name\n1,ann\n");
  const std::string b = tmp.write("b.csv", "id,email\n2,b@example.com\n");
  EXPECT_THROW(dativo::CsvReader::open({a, b}), dativo::SchemaError);
}

TEST_F(Errors, EmptyFileIsDataError) {
  const std::string empty = tmp.write("empty.csv", "");
  EXPECT_THROW(dativo::CsvReader::open(empty), dativo::DataError);
}

TEST_F(Errors, EmptyPathListIsInvalidArgument) {
  const auto e = thrown_by<dativo::InvalidArgumentError>(
      [&] { dativo::CsvReader::open(std::vector<std::string>{}); });
  EXPECT_TRUE(contains(e.what(), "num_paths"));
}

TEST_F(Errors, UnknownJobKeyIsConfigErrorNamingTheKey) {
  tmp.write("people.csv", "id\n1\n");
  const std::string job = tmp.write("job.yaml", R"(source:
  type: csv
  files:
    - path: people.csv
target:
  type: local
  output_bse: out
)");
  const auto e = thrown_by<dativo::ConfigError>([&] { dativo::run_job(job); });
  EXPECT_TRUE(contains(e.what(), "output_bse"));
}

TEST_F(Errors, MissingJobFileIsIoError) {
  const std::string missing = tmp / "missing.yaml";
  const auto e = thrown_by<dativo::IoError>([&] { dativo::run_job(missing); });
  EXPECT_TRUE(contains(e.what(), missing));
}

TEST_F(Errors, JobWithBadRowFailsAsDataErrorAndCommitsNothing) {
  tmp.write("bad.csv", kBadAfterSample);
  const std::string job = tmp.write("job.yaml", R"(source:
  type: csv
  files:
    - path: bad.csv
  engine:
    options:
      infer_sample_rows: 1
target:
  type: local
  output_base: out
)");
  const auto e = thrown_by<dativo::DataError>([&] { dativo::run_job(job); });
  EXPECT_TRUE(contains(e.what(), "bad.csv:4"));
  EXPECT_TRUE(parquet_files(tmp / "out").empty());
}

// The one status -> class table, exercised without the library.
TEST(ErrorTable, EveryStatusThrowsItsOwnClassWithItsMessage) {
  auto check_status = [](DativoStatus status, const auto& expected_type) {
    using E = std::decay_t<decltype(expected_type)>;
    try {
      dativo::throw_error(status, std::string("message ") + std::to_string(status));
      ADD_FAILURE() << "nothing thrown for status " << status;
    } catch (const dativo::Error& e) {
      EXPECT_EQ(typeid(e), typeid(E)) << "status " << status;
      EXPECT_EQ(e.status(), status);
      EXPECT_EQ(std::string(e.what()), "message " + std::to_string(status));
    }
  };
  check_status(DATIVO_STATUS_INVALID_ARGUMENT, dativo::InvalidArgumentError(""));
  check_status(DATIVO_STATUS_CONFIG, dativo::ConfigError(""));
  check_status(DATIVO_STATUS_DATA, dativo::DataError(""));
  check_status(DATIVO_STATUS_SCHEMA, dativo::SchemaError(""));
  check_status(DATIVO_STATUS_IO, dativo::IoError(""));
  check_status(DATIVO_STATUS_ARROW, dativo::ArrowError(""));
  check_status(DATIVO_STATUS_PARQUET, dativo::ParquetError(""));
  check_status(DATIVO_STATUS_PLUGIN, dativo::PluginError(""));
  check_status(DATIVO_STATUS_INTERNAL, dativo::InternalError(""));
  check_status(42, dativo::Error(42, ""));  // a status from a newer library
}

TEST(ErrorTable, CheckReleasesTheErrorOfARawCCall) {
  DativoCsvReader* reader = nullptr;
  DativoError error{};
  const char* no_paths = nullptr;
  const DativoStatus status = dativo_csv_reader_open(&no_paths, 1, nullptr, &reader, &error);
  ASSERT_NE(error.message, nullptr);
  try {
    dativo::check(status, error);
    ADD_FAILURE() << "nothing thrown";
  } catch (const dativo::InvalidArgumentError& e) {
    EXPECT_TRUE(contains(e.what(), "paths[0] is NULL"));
  }
  EXPECT_EQ(error.message, nullptr);
  EXPECT_EQ(error.release, nullptr);
  EXPECT_EQ(reader, nullptr) << "out-parameters are written only on success";
  EXPECT_NO_THROW(dativo::check(DATIVO_STATUS_OK, error));
}

TEST(ErrorTable, ErrorWithoutMessageUsesTheStatusDescription) {
  DativoError empty{};
  try {
    dativo::throw_error(DATIVO_STATUS_PARQUET, empty);
  } catch (const dativo::ParquetError& e) {
    EXPECT_STREQ(e.what(), "Parquet error");
  }
}

}  // namespace
