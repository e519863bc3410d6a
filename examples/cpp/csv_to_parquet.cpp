// csv_to_parquet: convert a CSV file to Parquet through the C++ binding (dativo/dativo.hpp).
//
//   csv_to_parquet INPUT.csv OUTPUT_DIR [reader-options-json] [writer-options-json]
//
// e.g. csv_to_parquet orders.csv out '{"delimiter": ","}' '{"compression": "zstd"}'
//
// The same job as examples/c/csv_to_parquet.c: check the library's ABI, open a CSV reader,
// hand every record batch of its stream to a Parquet writer, commit the files. The RAII types
// release everything on every path, and every failure arrives as a dativo::Error with the
// status and the library's message (file, line, column and value for a bad row).
// Exit status: 0 on success, 1 on any error, 2 on bad usage.

#include <dativo/dativo.hpp>

#include <cstdint>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc < 3 || argc > 5) {
    std::cerr << "usage: " << (argc > 0 ? argv[0] : "csv_to_parquet")
              << " INPUT.csv OUTPUT_DIR [reader-options-json] [writer-options-json]\n";
    return 2;
  }
  const std::string input = argv[1];
  const std::string output_dir = argv[2];
  const std::string reader_options = argc > 3 ? argv[3] : "";  // "": the defaults
  const std::string writer_options = argc > 4 ? argv[4] : "";

  try {
    // The header this program was compiled with must describe the library it loaded.
    dativo::check_version();

    // Opening reads the header and infers the column types: a missing file, an empty file or
    // a bad option throws here, before any output exists.
    dativo::CsvReader reader = dativo::CsvReader::open(input, reader_options);
    dativo::ParquetWriter writer = dativo::ParquetWriter::open(output_dir, reader.schema(), writer_options);

    // One record batch at a time: memory stays flat however large the input is. A bad row
    // throws from the loop (a DataError naming file, line, column and value); it never ends
    // the data silently. (writer.write(reader.stream()) does the same loop in one call.)
    uint64_t rows = 0;
    for (dativo::Array& batch : reader.stream()) {
      rows += static_cast<uint64_t>(batch.length());
      writer.write(std::move(batch));  // the writer takes the batch over
    }

    // Nothing is visible under the final names until close commits the files. On an error
    // above, the writer's destructor discards what it wrote.
    for (const dativo::CommittedFile& file : writer.close()) {
      std::cout << "committed " << file.path << " (" << file.rows << " rows, " << file.bytes << " bytes)\n";
    }
    std::cout << "csv_to_parquet: wrote " << rows << " rows from " << input << " to " << output_dir << '\n';
    return 0;
  } catch (const dativo::Error& e) {
    std::cerr << "csv_to_parquet: " << e.status_string() << " (status " << e.status() << "): " << e.what()
              << '\n';
    return 1;
  }
}
