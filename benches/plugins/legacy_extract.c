/*
 * Drives a legacy Dativo reader plugin the way the Dativo bridge does, from C so that the host
 * costs nothing: create_reader(config), extract_batch until NULL (each string scanned for its
 * records, then handed back to free_string), free_reader. A NULL with last_error() set is a
 * failure (exit 1).
 *
 *   legacy_extract LIB.so CONFIG_JSON   ->   "rows N seconds S bytes B"
 *
 * S runs from create_reader to the final NULL; B is the JSON text received.
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

typedef void *(*create_reader_fn)(const char *);
typedef char *(*extract_batch_fn)(void *);
typedef void (*free_reader_fn)(void *);
typedef void (*free_string_fn)(char *);
typedef const char *(*last_error_fn)(void);

/* The objects at the top level of a JSON array of records (strings may hold any character). */
static uint64_t count_records(const char *json, uint64_t *bytes) {
  uint64_t records = 0;
  int depth = 0, in_string = 0;
  const char *p = json;
  for (; *p != '\0'; p++) {
    char c = *p;
    if (in_string) {
      if (c == '\\' && p[1] != '\0') {
        p++;
      } else if (c == '"') {
        in_string = 0;
      }
    } else if (c == '"') {
      in_string = 1;
    } else if (c == '{' || c == '[') {
      if (c == '{' && depth == 1) records++;
      depth++;
    } else if (c == '}' || c == ']') {
      depth--;
    }
  }
  *bytes += (uint64_t)(p - json);
  return records;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s LIB.so CONFIG_JSON\n", argv[0]);
    return 2;
  }
  void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    fprintf(stderr, "%s\n", dlerror());
    return 1;
  }
  create_reader_fn create_reader;
  extract_batch_fn extract_batch;
  free_reader_fn free_reader;
  free_string_fn free_string;
  last_error_fn last_error;
  /* POSIX: dlsym's void* converts to a function pointer through this copy. */
  *(void **)&create_reader = dlsym(lib, "create_reader");
  *(void **)&extract_batch = dlsym(lib, "extract_batch");
  *(void **)&free_reader = dlsym(lib, "free_reader");
  *(void **)&free_string = dlsym(lib, "free_string");
  *(void **)&last_error = dlsym(lib, "last_error");
  if (!create_reader || !extract_batch || !free_reader || !free_string || !last_error) {
    fprintf(stderr, "%s lacks a legacy ABI symbol\n", argv[1]);
    return 1;
  }
  double start = now();
  void *reader = create_reader(argv[2]);
  if (reader == NULL) {
    fprintf(stderr, "create_reader failed: %s\n", last_error() ? last_error() : "(no last_error)");
    return 1;
  }
  uint64_t rows = 0, bytes = 0;
  char *batch;
  while ((batch = extract_batch(reader)) != NULL) {
    rows += count_records(batch, &bytes);
    free_string(batch);
  }
  const char *error = last_error();
  double seconds = now() - start;
  free_reader(reader);
  if (error != NULL) {
    fprintf(stderr, "extract_batch failed: %s\n", error);
    return 1;
  }
  printf("rows %llu seconds %.3f bytes %llu\n", (unsigned long long)rows, seconds, (unsigned long long)bytes);
  return 0;
}
