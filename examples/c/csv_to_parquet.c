/*
 * csv_to_parquet: convert a CSV file to Parquet through the dativo C API.
 *
 *   csv_to_parquet INPUT.csv OUTPUT_DIR [reader-options-json] [writer-options-json]
 *
 * e.g. csv_to_parquet orders.csv out '{"delimiter": ","}' '{"compression": "zstd"}'
 *
 * It shows the whole life cycle of the C API: check the library's ABI, open a CSV reader, take
 * its schema and its Arrow C stream, hand every record batch to a Parquet writer, commit the
 * files, and release everything on every path (one cleanup block at the end of main).
 * Exit status: 0 on success, 1 on any error, 2 on bad usage.
 */
#include <inttypes.h>
#include <stdio.h>

#include "dativo.h"

/* Print a failed call's status and message, then free the message. */
static void report_failure(const char *what, DativoStatus status, DativoError *error) {
  fprintf(stderr, "csv_to_parquet: %s failed (%s): %s\n", what, dativo_status_string(status),
          error->message != NULL ? error->message : "no details");
  /* The library allocated the message; only its release callback may free it. It also zeroes
   * the struct, so the error can be passed to the next call. */
  if (error->release != NULL) {
    error->release(error);
  }
}

int main(int argc, char **argv) {
  /* Everything that may need releasing is declared (and zeroed) here, so the cleanup block at
   * the end can release whatever exists on every path: NULL handles and released structs
   * (release == NULL) are no-ops there. */
  DativoCsvReader *reader = NULL;
  DativoParquetWriter *writer = NULL;
  DativoFileList *files = NULL;
  struct ArrowSchema schema = {0};
  struct ArrowArrayStream stream = {0};
  struct ArrowArray batch = {0};
  DativoError error = {0};
  DativoStatus status = DATIVO_STATUS_OK;
  const char *input = NULL;
  const char *output_dir = NULL;
  const char *reader_options = NULL;
  const char *writer_options = NULL;
  uint64_t rows = 0;
  size_t i = 0;
  int exit_code = 1;

  if (argc < 3 || argc > 5) {
    fprintf(stderr,
            "usage: %s INPUT.csv OUTPUT_DIR [reader-options-json] [writer-options-json]\n",
            argc > 0 ? argv[0] : "csv_to_parquet");
    return 2;
  }
  input = argv[1];
  output_dir = argv[2];
  reader_options = argc > 3 ? argv[3] : NULL; /* NULL: the defaults */
  writer_options = argc > 4 ? argv[4] : NULL;

  /* The header this program was compiled with must describe the library it loaded: a program
   * built against another ABI would call functions whose arguments changed. */
  if (dativo_abi_version() != DATIVO_ABI_VERSION) {
    fprintf(stderr,
            "csv_to_parquet: this program was built against dativo.h %s (ABI %d) but loaded "
            "libdativo %s (ABI %" PRIu32 "); rebuild it against the installed headers\n",
            DATIVO_VERSION, DATIVO_ABI_VERSION, dativo_version(), dativo_abi_version());
    return 1;
  }

  /* Opening reads the header and infers the column types, so a missing file, an empty file or
   * a bad option fails here, before any output exists. */
  status = dativo_csv_reader_open(&input, 1, reader_options, &reader, &error);
  if (status != DATIVO_STATUS_OK) {
    report_failure("opening the CSV reader", status, &error);
    goto cleanup;
  }

  /* The writer needs the schema up front to lay out the Parquet columns. It only borrows it:
   * we still own `schema` and release it in the cleanup block. */
  status = dativo_csv_reader_schema(reader, &schema, &error);
  if (status != DATIVO_STATUS_OK) {
    report_failure("reading the CSV schema", status, &error);
    goto cleanup;
  }
  status = dativo_parquet_writer_open(output_dir, &schema, writer_options, &writer, &error);
  if (status != DATIVO_STATUS_OK) {
    report_failure("opening the Parquet writer", status, &error);
    goto cleanup;
  }

  status = dativo_csv_reader_stream(reader, &stream, &error);
  if (status != DATIVO_STATUS_OK) {
    report_failure("taking the CSV stream", status, &error);
    goto cleanup;
  }

  /* One record batch at a time: memory stays flat however large the input is. (Handing the
   * whole stream to dativo_parquet_writer_write_stream does the same loop in one call; it is
   * spelled out here to show the Arrow C stream protocol.) */
  for (;;) {
    int code = stream.get_next(&stream, &batch);
    if (code != 0) {
      /* A bad row ends the stream with an error, never with a silent end of data. The status
       * and the full message (file, line, column, value) come from the stream. */
      status = dativo_status_from_stream(&stream, code, &error);
      report_failure("reading the CSV", status, &error);
      goto cleanup;
    }
    if (batch.release == NULL) {
      break; /* a released array marks the end of the stream */
    }
    rows += (uint64_t)batch.length;
    /* The writer takes the batch over (moves it): on return batch.release is NULL, success or
     * failure, so it must not be released here. A C array carries no types; passing the
     * schema lets the writer check them. */
    status = dativo_parquet_writer_write_array(writer, &batch, &schema, &error);
    if (status != DATIVO_STATUS_OK) {
      report_failure("writing Parquet", status, &error);
      goto cleanup;
    }
  }

  /* Nothing is visible under the final names until close commits the files. */
  status = dativo_parquet_writer_close(writer, &files, &error);
  if (status != DATIVO_STATUS_OK) {
    report_failure("committing the Parquet files", status, &error);
    goto cleanup;
  }
  for (i = 0; i < dativo_file_list_count(files); i++) {
    printf("committed %s (%" PRIu64 " rows, %" PRIu64 " bytes)\n", dativo_file_list_path(files, i),
           dativo_file_list_rows(files, i), dativo_file_list_bytes(files, i));
  }
  printf("csv_to_parquet: wrote %" PRIu64 " rows from %s to %s\n", rows, input, output_dir);
  exit_code = 0;

cleanup:
  /* Release in reverse order of creation. A writer that was not closed (an error above) is
   * discarded by dativo_parquet_writer_free: its temporary files are deleted. */
  if (batch.release != NULL) {
    batch.release(&batch);
  }
  dativo_file_list_free(files);
  if (stream.release != NULL) {
    stream.release(&stream);
  }
  dativo_parquet_writer_free(writer);
  if (schema.release != NULL) {
    schema.release(&schema);
  }
  dativo_csv_reader_free(reader);
  /* Every failure above released its message already; this is for safety only. */
  if (error.release != NULL) {
    error.release(&error);
  }
  return exit_code;
}
