// Ownership: every wrapper releases its C resource exactly once, moves leave the source empty,
// move-assignment frees the old resource, and consumed inputs are consumed on failure too.
#include "test_support.hpp"

#include <cerrno>

namespace {

using dativo_test::contains;
using dativo_test::first_batch;
using dativo_test::parquet_files;
using dativo_test::sample_csv;

class Ownership : public dativo_test::WithTempDir {};

// Arrow structs made by the test, whose release callbacks count how often they ran (in the
// int that `private_data` points to).
ArrowSchema counted_schema(int* releases) {
  ArrowSchema schema{};
  schema.format = "+s";
  schema.private_data = releases;
  schema.release = [](ArrowSchema* s) {
    ++*static_cast<int*>(s->private_data);
    s->release = nullptr;
  };
  return schema;
}

ArrowArray counted_array(int* releases, int64_t length) {
  ArrowArray array{};
  array.length = length;
  array.private_data = releases;
  array.release = [](ArrowArray* a) {
    ++*static_cast<int*>(a->private_data);
    a->release = nullptr;
  };
  return array;
}

// A foreign stream that fails every get_next with EIO and says why in get_last_error.
ArrowArrayStream failing_stream(int* releases) {
  ArrowArrayStream stream{};
  stream.get_schema = [](ArrowArrayStream*, ArrowSchema*) { return EIO; };
  stream.get_next = [](ArrowArrayStream*, ArrowArray*) { return EIO; };
  stream.get_last_error = [](ArrowArrayStream*) -> const char* { return "disk on fire"; };
  stream.private_data = releases;
  stream.release = [](ArrowArrayStream* s) {
    ++*static_cast<int*>(s->private_data);
    s->release = nullptr;
  };
  return stream;
}

TEST_F(Ownership, SchemaIsReleasedOnceByItsLastOwner) {
  int releases = 0;
  {
    dativo::Schema a(counted_schema(&releases));
    dativo::Schema b(std::move(a));
    EXPECT_FALSE(a);
    EXPECT_TRUE(b);
    EXPECT_EQ(a.num_fields(), 0u);
    EXPECT_EQ(releases, 0);
  }
  EXPECT_EQ(releases, 1);
}

TEST_F(Ownership, MoveAssignmentReleasesTheOldSchema) {
  int old_releases = 0;
  int new_releases = 0;
  dativo::Schema target(counted_schema(&old_releases));
  target = dativo::Schema(counted_schema(&new_releases));
  EXPECT_EQ(old_releases, 1);
  EXPECT_EQ(new_releases, 0);
  target.reset();
  EXPECT_EQ(new_releases, 1);
  EXPECT_FALSE(target);
}

TEST_F(Ownership, MoveAssignmentReleasesTheOldArray) {
  int old_releases = 0;
  int new_releases = 0;
  {
    dativo::Array target(counted_array(&old_releases, 3));
    dativo::Array source(counted_array(&new_releases, 5));
    target = std::move(source);
    EXPECT_EQ(old_releases, 1);
    EXPECT_FALSE(source);
    EXPECT_EQ(source.length(), 0);
    EXPECT_EQ(target.length(), 5);
  }
  EXPECT_EQ(new_releases, 1);
}

TEST_F(Ownership, MoveAssignmentReleasesTheOldStream) {
  int old_releases = 0;
  int new_releases = 0;
  {
    dativo::Stream target(failing_stream(&old_releases));
    target = dativo::Stream(failing_stream(&new_releases));
    EXPECT_EQ(old_releases, 1);
    EXPECT_EQ(new_releases, 0);
  }
  EXPECT_EQ(new_releases, 1);
}

TEST_F(Ownership, SelfMoveAssignmentKeepsTheResource) {
  int releases = 0;
  dativo::Array array(counted_array(&releases, 1));
  dativo::Array& alias = array;
  array = std::move(alias);
  EXPECT_TRUE(array);
  EXPECT_EQ(releases, 0);
}

TEST_F(Ownership, ReleaseHandsTheRawStructToTheCaller) {
  int releases = 0;
  dativo::Schema schema(counted_schema(&releases));
  ArrowSchema raw = schema.release();
  EXPECT_FALSE(schema);
  EXPECT_NE(raw.release, nullptr);
  schema.reset();  // owns nothing: releases nothing
  EXPECT_EQ(releases, 0);
  raw.release(&raw);
  EXPECT_EQ(releases, 1);
}

TEST_F(Ownership, AdoptingARawStructMarksItMoved) {
  int releases = 0;
  ArrowArray raw = counted_array(&releases, 2);
  {
    dativo::Array owner(std::move(raw));
    EXPECT_EQ(raw.release, nullptr);
  }
  EXPECT_EQ(releases, 1);
}

TEST_F(Ownership, ForeignStreamErrorsKeepTheirMessage) {
  int releases = 0;
  dativo::Stream stream(failing_stream(&releases));
  try {
    stream.next();
    ADD_FAILURE() << "nothing thrown";
  } catch (const dativo::IoError& e) {
    EXPECT_STREQ(e.what(), "disk on fire");
  }
  EXPECT_THROW(stream.schema(), dativo::IoError);
}

TEST_F(Ownership, EmptyStreamThrowsInvalidArgument) {
  dativo::Stream empty;
  EXPECT_THROW(empty.next(), dativo::InvalidArgumentError);
  EXPECT_THROW(empty.schema(), dativo::InvalidArgumentError);
  EXPECT_THROW(empty.begin(), dativo::InvalidArgumentError);
}

TEST_F(Ownership, StreamReleasedToCRawCanBeAdoptedAgain) {
  dativo::Stream stream = dativo::CsvReader::open(sample_csv()).stream();
  ArrowArrayStream raw = stream.release();
  EXPECT_FALSE(stream);
  dativo::Stream again(std::move(raw));
  int64_t rows = 0;
  for (dativo::Array& batch : again) rows += batch.length();
  EXPECT_EQ(rows, dativo_test::kSampleRows);
}

TEST_F(Ownership, MovedFromReaderIsEmptyAndItsCallsAreInvalidArguments) {
  dativo::CsvReader first = dativo::CsvReader::open(sample_csv());
  dativo::CsvReader second(std::move(first));
  EXPECT_FALSE(first);
  EXPECT_EQ(first.get(), nullptr);
  EXPECT_EQ(first.rows_read(), 0u);
  EXPECT_THROW(first.schema(), dativo::InvalidArgumentError);
  EXPECT_THROW(first.stream(), dativo::InvalidArgumentError);
  EXPECT_EQ(second.schema().num_fields(), 10u);
}

TEST_F(Ownership, MoveAssignedReaderFreesTheOldOne) {
  const std::string small = tmp.write("small.csv", "id\n1\n");
  dativo::CsvReader reader = dativo::CsvReader::open(sample_csv());
  reader = dativo::CsvReader::open(small);  // the sample's reader is freed (LeakSanitizer checks)
  EXPECT_EQ(reader.schema().field_names(), (std::vector<std::string>{"id"}));
}

TEST_F(Ownership, MovedFromWriterIsEmptyAndItsCallsAreInvalidArguments) {
  dativo::Schema schema = dativo::CsvReader::open(sample_csv()).schema();
  dativo::ParquetWriter first = dativo::ParquetWriter::open(tmp / "out", schema);
  dativo::ParquetWriter second = std::move(first);
  EXPECT_FALSE(first);
  EXPECT_THROW(first.close(), dativo::InvalidArgumentError);
  dativo::Array batch = first_batch(sample_csv());
  EXPECT_THROW(first.write(std::move(batch)), dativo::InvalidArgumentError);
  EXPECT_FALSE(batch) << "the batch is consumed even by an empty writer";
  EXPECT_EQ(second.close().size(), 1u);
}

TEST_F(Ownership, MoveAssignedWriterDiscardsTheOldOne) {
  dativo::CsvReader reader = dativo::CsvReader::open(sample_csv());
  dativo::Schema schema = reader.schema();
  const std::string first_dir = tmp / "first";
  dativo::ParquetWriter writer = dativo::ParquetWriter::open(first_dir, schema);
  writer.write(reader.stream());
  writer = dativo::ParquetWriter::open(tmp / "second", schema);
  EXPECT_TRUE(parquet_files(first_dir).empty());
  // The discarded writer let go of its directory: a new writer may use it.
  dativo::ParquetWriter again = dativo::ParquetWriter::open(first_dir, schema);
  EXPECT_EQ(again.close().size(), 1u);
  EXPECT_EQ(writer.close().size(), 1u);
}

TEST_F(Ownership, BatchesMovedOutOfTheLoopStayValid) {
  dativo::CsvReader reader = dativo::CsvReader::open(sample_csv(), R"({"batch_size": 8})");
  std::vector<dativo::Array> kept;
  for (dativo::Array& batch : reader.stream()) kept.push_back(std::move(batch));
  int64_t rows = 0;
  for (const dativo::Array& batch : kept) {
    EXPECT_TRUE(batch);
    rows += batch.length();
  }
  EXPECT_EQ(rows, dativo_test::kSampleRows);
  EXPECT_EQ(kept.size(), 4u);
}

TEST_F(Ownership, EmptySchemaCannotOpenAWriter) {
  const auto call = [&] { dativo::ParquetWriter::open(tmp / "out", dativo::Schema()); };
  EXPECT_THROW(call(), dativo::InvalidArgumentError);
}

}  // namespace
