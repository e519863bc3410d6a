// Read a CSV file through the header-only C++ binding (bindings/cpp) and count the rows: the
// C++ side of the binding-overhead benchmark (benches/read_overhead/run). Same work as
// read_csv.c and examples/rust/read_csv.rs; here each batch is a dativo::Array released by its
// destructor.
#include <chrono>
#include <cstdio>
#include <exception>

#include "dativo/dativo.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: read_csv_cpp FILE.csv\n");
    return 2;
  }
  try {
    auto start = std::chrono::steady_clock::now();
    dativo::CsvReader reader = dativo::CsvReader::open(argv[1]);
    dativo::Stream stream = reader.stream();
    long long rows = 0;
    for (dativo::Array& batch : stream) rows += batch.length();
    std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
    std::printf("rows %lld seconds %.3f\n", rows, seconds.count());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
