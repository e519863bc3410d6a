/* An installed-dativo consumer in C: checks header against library, then reads a CSV given as
 * the first argument and prints "read <N> rows". */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <dativo.h>

int main(int argc, char **argv) {
  DativoCsvReader *reader = NULL;
  struct ArrowArrayStream stream = {0};
  struct ArrowArray batch = {0};
  DativoError error = {0};
  DativoStatus status = DATIVO_STATUS_OK;
  uint64_t rows = 0;
  int exit_code = 1;

  if (dativo_abi_version() != DATIVO_ABI_VERSION || strcmp(dativo_version(), DATIVO_VERSION) != 0) {
    fprintf(stderr, "built against dativo.h %s (ABI %d), loaded libdativo %s (ABI %" PRIu32 ")\n",
            DATIVO_VERSION, DATIVO_ABI_VERSION, dativo_version(), dativo_abi_version());
    return 1;
  }
  printf("consumer: dativo %s\n", dativo_version());
  if (argc < 2) {
    return 0;
  }

  status = dativo_csv_reader_open((const char *const *)&argv[1], 1, NULL, &reader, &error);
  if (status == DATIVO_STATUS_OK) {
    status = dativo_csv_reader_stream(reader, &stream, &error);
  }
  while (status == DATIVO_STATUS_OK) {
    int code = stream.get_next(&stream, &batch);
    if (code != 0) {
      status = dativo_status_from_stream(&stream, code, &error);
    } else if (batch.release == NULL) {
      break;
    } else {
      rows += (uint64_t)batch.length;
      batch.release(&batch);
    }
  }
  if (status == DATIVO_STATUS_OK) {
    printf("consumer: read %" PRIu64 " rows\n", rows);
    exit_code = 0;
  } else {
    fprintf(stderr, "consumer: %s: %s\n", dativo_status_string(status), error.message ? error.message : "");
    if (error.release != NULL) {
      error.release(&error);
    }
  }
  if (stream.release != NULL) {
    stream.release(&stream);
  }
  dativo_csv_reader_free(reader);
  return exit_code;
}
