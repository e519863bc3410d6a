// Reading CSV files through dativo::CsvReader and dativo::Stream.
#include "test_support.hpp"

#include <numeric>

namespace {

using dativo_test::contains;
using dativo_test::kSampleRows;
using dativo_test::sample_csv;

class ReadingCsv : public dativo_test::WithTempDir {};

TEST_F(ReadingCsv, SampleHasItsColumnsInOrder) {
  dativo::CsvReader reader = dativo::CsvReader::open(sample_csv());
  dativo::Schema schema = reader.schema();
  const std::vector<std::string> expected = {"order_id", "customer_id", "customer_name", "email", "amount",
                                             "quantity", "ordered_at", "paid", "country", "note"};
  EXPECT_EQ(schema.field_names(), expected);
  EXPECT_EQ(schema.num_fields(), expected.size());
}

TEST_F(ReadingCsv, ColumnTypesAreInferredFromTheValues) {
  dativo::Schema schema = dativo::CsvReader::open(sample_csv()).schema();
  EXPECT_EQ(schema.field_format(0), "l");        // order_id: int64
  EXPECT_EQ(schema.field_format(2), "u");        // customer_name: string
  EXPECT_EQ(schema.field_format(4), "g");        // amount: float64
  EXPECT_EQ(schema.field_format(6), "tsu:UTC");  // ordered_at: timestamp
  EXPECT_EQ(schema.field_format(7), "b");        // paid: boolean
}

TEST_F(ReadingCsv, IteratingTheStreamYieldsEverySampleRow) {
  dativo::CsvReader reader = dativo::CsvReader::open(sample_csv());
  int64_t rows = 0;
  for (dativo::Array& batch : reader.stream()) rows += batch.length();
  EXPECT_EQ(rows, kSampleRows);
  EXPECT_EQ(reader.rows_read(), static_cast<uint64_t>(kSampleRows));
  EXPECT_EQ(reader.rows_rejected(), 0u);
}

TEST_F(ReadingCsv, NextReturnsBatchesThenNulloptAtTheEnd) {
  const std::string csv = tmp.write("small.csv", "id,name\n1,ann\n2,bob\n3,cy\n");
  dativo::Stream stream = dativo::CsvReader::open(csv, R"({"batch_size": 2})").stream();
  std::vector<int64_t> lengths;
  while (std::optional<dativo::Array> batch = stream.next()) lengths.push_back(batch->length());
  EXPECT_EQ(lengths, (std::vector<int64_t>{2, 1}));
  EXPECT_FALSE(stream.next().has_value());
}

TEST_F(ReadingCsv, StreamIteratorsWorkWithStandardAlgorithms) {
  dativo::Stream stream = dativo::CsvReader::open(sample_csv(), R"({"batch_size": 4})").stream();
  const int64_t rows = std::accumulate(stream.begin(), stream.end(), int64_t{0},
                                       [](int64_t n, const dativo::Array& batch) { return n + batch.length(); });
  EXPECT_EQ(rows, kSampleRows);
}

TEST_F(ReadingCsv, PostIncrementHandsOutTheBatchItPassed) {
  const std::string csv = tmp.write("small.csv", "id\n1\n2\n3\n");
  dativo::Stream stream = dativo::CsvReader::open(csv, R"({"batch_size": 2})").stream();
  dativo::Stream::iterator it = stream.begin();
  dativo::Array first = std::move(*it++);
  EXPECT_EQ(first.length(), 2);
  ASSERT_NE(it, stream.end());
  EXPECT_EQ(it->length(), 1);
  ++it;
  EXPECT_EQ(it, stream.end());
}

TEST_F(ReadingCsv, StreamSchemaIsTheReaderSchema) {
  dativo::CsvReader reader = dativo::CsvReader::open(sample_csv());
  dativo::Stream stream = reader.stream();
  EXPECT_EQ(stream.schema().field_names(), reader.schema().field_names());
}

TEST_F(ReadingCsv, SeveralFilesAreReadAsOneStream) {
  const std::string a = tmp.write("a.csv", "id,name\n1,ann\n2,bob\n");
  const std::string b = tmp.write("b.csv", "id,name\n3,cy\n4,dee\n5,eve\n");
  dativo::CsvReader reader = dativo::CsvReader::open({a, b});
  int64_t rows = 0;
  for (dativo::Array& batch : reader.stream()) rows += batch.length();
  EXPECT_EQ(rows, 5);
}

TEST_F(ReadingCsv, OptionsReachTheReader) {
  const std::string csv = tmp.write("semicolon.csv", "id;name\n1;ann\n2;NA\n");
  dativo::CsvReader reader = dativo::CsvReader::open(std::vector<std::string>{csv},
                                                     R"({"delimiter": ";", "null_values": ["NA"]})");
  EXPECT_EQ(reader.schema().field_names(), (std::vector<std::string>{"id", "name"}));
}

TEST_F(ReadingCsv, SkippedBadRowsAreCounted) {
  const std::string csv = tmp.write("skip.csv", "id,name\n1,ann\n2,bob,extra\n3,cy\n");
  dativo::CsvReader reader = dativo::CsvReader::open(csv, R"({"on_error": "skip"})");
  int64_t rows = 0;
  for (dativo::Array& batch : reader.stream()) rows += batch.length();
  EXPECT_EQ(rows, 2);
  EXPECT_EQ(reader.rows_read(), 2u);
  EXPECT_EQ(reader.rows_rejected(), 1u);
}

TEST_F(ReadingCsv, StreamKeepsWorkingAfterItsReaderIsGone) {
  dativo::Stream stream;
  {
    dativo::CsvReader reader = dativo::CsvReader::open(sample_csv());
    stream = reader.stream();
  }
  int64_t rows = 0;
  for (dativo::Array& batch : stream) rows += batch.length();
  EXPECT_EQ(rows, kSampleRows);
}

TEST_F(ReadingCsv, FieldIndexPastTheEndIsOutOfRange) {
  dativo::Schema schema = dativo::CsvReader::open(sample_csv()).schema();
  EXPECT_THROW(schema.field_name(10), std::out_of_range);
  EXPECT_TRUE(contains(schema.field_name(9), "note"));
}

}  // namespace
