/* Read a CSV file through the C API's Arrow stream and count the rows: the C side of the
 * binding-overhead benchmark (benches/read_overhead/run). It does exactly what
 * examples/rust/read_csv.rs does in Rust, so the difference is the cost of the boundary:
 * exporting each batch as a struct ArrowArray and releasing it. */
#define _POSIX_C_SOURCE 199309L /* clock_gettime under -std=c99 */
#include <stdio.h>
#include <time.h>

#include "dativo.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: read_csv FILE.csv\n");
    return 2;
  }
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);

  DativoError error = {0};
  DativoCsvReader* reader = NULL;
  const char* paths[] = {argv[1]};
  if (dativo_csv_reader_open(paths, 1, NULL, &reader, &error) != DATIVO_STATUS_OK) {
    fprintf(stderr, "error: %s\n", error.message);
    error.release(&error);
    return 1;
  }
  struct ArrowArrayStream stream;
  if (dativo_csv_reader_stream(reader, &stream, &error) != DATIVO_STATUS_OK) {
    fprintf(stderr, "error: %s\n", error.message);
    error.release(&error);
    dativo_csv_reader_free(reader);
    return 1;
  }
  long long rows = 0;
  int status = 0;
  for (;;) {
    struct ArrowArray batch;
    int code = stream.get_next(&stream, &batch);
    if (code != 0) {
      dativo_status_from_stream(&stream, code, &error);
      fprintf(stderr, "error: %s\n", error.message);
      error.release(&error);
      status = 1;
      break;
    }
    if (batch.release == NULL) break; /* end of the stream */
    rows += batch.length;
    batch.release(&batch);
  }
  stream.release(&stream);
  dativo_csv_reader_free(reader);

  clock_gettime(CLOCK_MONOTONIC, &end);
  if (status == 0) {
    double seconds = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    printf("rows %lld seconds %.3f\n", rows, seconds);
  }
  return status;
}
