/*
 * The public headers compile cleanly under strict warnings, can be included twice, and match
 * the library they are linked with. Built as C99 (this file) and as C++17 (a copy named
 * header_test.cpp), both with -Wall -Wextra -Werror -pedantic.
 */
#include "dativo.h"
#include "dativo.h" /* twice: the include guard must hold */
#include "dativo_arrow.h"

#include <stdio.h>
#include <string.h>

static int failures = 0;

#define CHECK(condition)                                                              \
  do {                                                                                \
    if (!(condition)) {                                                               \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
      failures++;                                                                     \
    }                                                                                 \
  } while (0)

int main(void) {
  DativoCsvReader *reader = NULL;
  DativoError error;
  DativoStatus status;
  memset(&error, 0, sizeof error); /* = {0} in C; spelled portably for the C++ build */

  /* The header's version macros are the library's versions. */
  CHECK(DATIVO_VERSION_NUMBER ==
        DATIVO_VERSION_MAJOR * 1000000 + DATIVO_VERSION_MINOR * 1000 + DATIVO_VERSION_PATCH);
  CHECK(dativo_version_number() == DATIVO_VERSION_NUMBER);
  CHECK(dativo_abi_version() == DATIVO_ABI_VERSION);
  CHECK(strcmp(dativo_version(), DATIVO_VERSION) == 0);

  /* The error convention: a wrong call returns a status, fills the caller's error and leaves
   * the out-parameter alone; release frees the message and zeroes the struct. */
  status = dativo_csv_reader_open(NULL, 0, NULL, &reader, &error);
  CHECK(status == DATIVO_STATUS_INVALID_ARGUMENT);
  CHECK(reader == NULL);
  CHECK(error.message != NULL && error.release != NULL);
  if (error.release != NULL) {
    error.release(&error);
  }
  CHECK(error.message == NULL && error.release == NULL);
  CHECK(strcmp(dativo_status_string(DATIVO_STATUS_OK), "") != 0);
  CHECK(dativo_status_string(-1) != NULL);

  if (failures != 0) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("dativo.h %s matches libdativo %s (ABI %u)\n", DATIVO_VERSION, dativo_version(),
         (unsigned)dativo_abi_version());
  return 0;
}
