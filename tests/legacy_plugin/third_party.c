/* A third-party plugin written only against the legacy Dativo JSON ABI, as the platform's
 * bridge calls it: no dativo header, no last_error, errors said on stderr and NULL.
 * tests/plugins.rs builds it with cc and runs jobs with it.
 *
 * Reader: the config is searched for "rows": N and "fail_at": K (plain text search, as a
 * small plugin might); extract_batch returns batches of up to 2 records
 * [{"id": 1, "name": "n1", "score": 1.5, "active": true}, ...], NULL at the end, and NULL with
 * a line on stderr at record K.
 * Writer: write_batch appends the records JSON as one line to output_base/records.jsonl (the
 * output_base is found in the config by text search) and returns
 * [{"path": ..., "size_bytes": ..., "record_count": N}]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reader {
  long rows, fail_at, next;
};

struct writer {
  char path[4096];
};

static long number_after(const char *config, const char *key, long fallback) {
  const char *at = strstr(config, key);
  if (at == NULL) return fallback;
  at += strlen(key);
  while (*at == '"' || *at == ':' || *at == ' ') at++;
  return strtol(at, NULL, 10);
}

void *create_reader(const char *config) {
  struct reader *r;
  if (config == NULL || strstr(config, "\"broken\"") != NULL) {
    fprintf(stderr, "third_party: cannot start: broken config\n");
    return NULL;
  }
  r = calloc(1, sizeof *r);
  if (r == NULL) return NULL;
  r->rows = number_after(config, "\"rows\"", 5);
  r->fail_at = number_after(config, "\"fail_at\"", -1);
  r->next = 1;
  return r;
}

char *extract_batch(void *handle) {
  struct reader *r = handle;
  char *out;
  size_t used = 0, size = 4096;
  int n = 0;
  if (r == NULL || r->next > r->rows) return NULL;
  out = malloc(size);
  if (out == NULL) return NULL;
  used += (size_t)snprintf(out + used, size - used, "[");
  while (n < 2 && r->next <= r->rows) {
    if (r->next == r->fail_at) {
      fprintf(stderr, "third_party: record %ld is corrupt\n", r->next);
      free(out);
      return NULL;
    }
    used += (size_t)snprintf(out + used, size - used,
                             "%s{\"id\": %ld, \"name\": \"n%ld\", \"score\": %ld.5, \"active\": %s}",
                             n ? ", " : "", r->next, r->next, r->next, r->next % 2 ? "true" : "false");
    r->next++;
    n++;
  }
  snprintf(out + used, size - used, "]");
  return out;
}

void free_reader(void *handle) { free(handle); }

void free_string(char *text) { free(text); }

void *create_writer(const char *config) {
  struct writer *w;
  const char *at = config ? strstr(config, "\"output_base\"") : NULL;
  size_t len = 0;
  if (at == NULL) {
    fprintf(stderr, "third_party: no output_base\n");
    return NULL;
  }
  at = strchr(at + 13, '"');
  if (at == NULL) return NULL;
  at++;
  w = calloc(1, sizeof *w);
  if (w == NULL) return NULL;
  while (at[len] && at[len] != '"' && len < sizeof w->path - 20) len++;
  memcpy(w->path, at, len);
  strcat(w->path, "/records.jsonl");
  return w;
}

char *write_batch(void *handle, const char *batch) {
  struct writer *w = handle;
  FILE *f;
  long size, count = 0;
  const char *p;
  char *out;
  if (w == NULL || batch == NULL) return NULL;
  f = fopen(w->path, "a");
  if (f == NULL) {
    fprintf(stderr, "third_party: cannot open %s\n", w->path);
    return NULL;
  }
  fprintf(f, "%s\n", batch);
  size = ftell(f);
  fclose(f);
  for (p = batch; (p = strstr(p, "\"id\"")) != NULL; p++) count++;
  out = malloc(strlen(w->path) + 100);
  if (out == NULL) return NULL;
  sprintf(out, "[{\"path\": \"%s\", \"size_bytes\": %ld, \"record_count\": %ld}]", w->path, size, count);
  return out;
}

void free_writer(void *handle) { free(handle); }
