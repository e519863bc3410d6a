/*
 * A dativo reader plugin in plain C, written against include/dativo.h alone (no libdativo to
 * link): it generates `rows` rows of two columns,
 *
 *   id     int64, not null   0, 1, 2, ...
 *   label  utf8,  nullable   "row-<id>", and null for every id divisible by 10
 *
 * as Arrow C arrays built by hand, in batches of up to 1000 rows.
 *
 * Config (a JSON object; in a job, the job's `source` section): the integers "rows"
 * (required) and "fail_at" (optional: reading the batch that holds that row fails, to show how
 * a reader reports an error mid-stream). The JSON parsing is deliberately trivial (strstr):
 * a real plugin would use a JSON library.
 *
 *   source:
 *     custom_reader: path/to/libnumbers_reader_plugin.so     # entry symbol dativo_plugin_init
 *     connection: {rows: 2500}     # a job passes source.connection to its reader
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dativo.h"

#if defined(__GNUC__) || defined(__clang__)
#define PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define PLUGIN_EXPORT
#endif

#define PLUGIN_NAME "numbers_reader"
#define PLUGIN_VERSION "1.0.0"
#define BATCH_ROWS 1000

/* ---- errors: a message the plugin owns, freed by the release it sets ---------------------- */

static void release_error(DativoError *error) {
  free(error->message);
  error->message = NULL;
  error->release = NULL;
}

static DativoStatus fail(DativoError *error, DativoStatus status, const char *format, ...) {
  if (error != NULL) {
    char buffer[512];
    va_list args;
    va_start(args, format);
    vsnprintf(buffer, sizeof buffer, format, args);
    va_end(args);
    error->message = malloc(strlen(buffer) + 1);
    if (error->message != NULL) {
      strcpy(error->message, buffer);
      error->release = release_error;
    }
  }
  return status;
}

/* ---- the config: `"key": <integer>` found with strstr ------------------------------------- */

/* 1 and *out set when `"key"` is followed by `:` and an integer; 0 when the key is absent;
 * -1 when it is there without an integer. */
static int find_integer(const char *json, const char *key, int64_t *out) {
  char quoted[64];
  snprintf(quoted, sizeof quoted, "\"%s\"", key);
  const char *at = strstr(json, quoted);
  if (at == NULL) return 0;
  at += strlen(quoted);
  while (*at == ' ' || *at == '\t' || *at == '\n' || *at == '\r') at++;
  if (*at != ':') return -1;
  at++;
  char *end = NULL;
  errno = 0;
  long long value = strtoll(at, &end, 10);
  if (end == at || errno != 0) return -1;
  *out = (int64_t)value;
  return 1;
}

/* ---- the schema: struct<id: int64 not null, label: utf8> ---------------------------------- */

static void release_schema(struct ArrowSchema *schema) {
  if (schema->children != NULL) {
    for (int64_t i = 0; i < schema->n_children; i++) {
      /* A consumer may have moved a child out (its release is then NULL). */
      if (schema->children[i]->release != NULL) schema->children[i]->release(schema->children[i]);
      free(schema->children[i]);
    }
    free(schema->children);
  }
  schema->release = NULL;
}

/* Children are released with their parent: the parent's release frees them, so their own
 * release only marks them released. */
static void release_child_schema(struct ArrowSchema *schema) { schema->release = NULL; }

static int make_schema(struct ArrowSchema *out) {
  static const char *const formats[2] = {"l", "u"};
  static const char *const names[2] = {"id", "label"};
  static const int64_t flags[2] = {0, ARROW_FLAG_NULLABLE};
  struct ArrowSchema **children = calloc(2, sizeof *children);
  if (children == NULL) return ENOMEM;
  for (int i = 0; i < 2; i++) {
    children[i] = calloc(1, sizeof **children);
    if (children[i] == NULL) {
      free(children[0]);
      free(children);
      return ENOMEM;
    }
    children[i]->format = formats[i];
    children[i]->name = names[i];
    children[i]->flags = flags[i];
    children[i]->release = release_child_schema;
  }
  memset(out, 0, sizeof *out);
  out->format = "+s";
  out->name = "";
  out->n_children = 2;
  out->children = children;
  out->release = release_schema;
  return 0;
}

/* ---- arrays: every buffer malloc'd, freed by the release of the array that owns it -------- */

static void release_array(struct ArrowArray *array) {
  if (array->buffers != NULL) {
    for (int64_t i = 0; i < array->n_buffers; i++) {
      free((void *)array->buffers[i]);
    }
    free((void *)array->buffers);
  }
  if (array->children != NULL) {
    for (int64_t i = 0; i < array->n_children; i++) {
      if (array->children[i]->release != NULL) array->children[i]->release(array->children[i]);
      free(array->children[i]);
    }
    free(array->children);
  }
  array->release = NULL;
}

static struct ArrowArray *new_array(int64_t length, int64_t n_buffers) {
  struct ArrowArray *array = calloc(1, sizeof *array);
  if (array == NULL) return NULL;
  array->length = length;
  array->n_buffers = n_buffers;
  array->buffers = calloc((size_t)n_buffers, sizeof(void *));
  array->release = release_array;
  if (array->buffers == NULL) {
    free(array);
    return NULL;
  }
  return array;
}

/* ids first .. first + length - 1 */
static struct ArrowArray *make_ids(int64_t first, int64_t length) {
  struct ArrowArray *array = new_array(length, 2);
  if (array == NULL) return NULL;
  int64_t *values = malloc((size_t)(length > 0 ? length : 1) * sizeof *values);
  if (values == NULL) {
    release_array(array);
    free(array);
    return NULL;
  }
  for (int64_t i = 0; i < length; i++) values[i] = first + i;
  array->buffers[0] = NULL; /* no validity bitmap: no nulls */
  array->buffers[1] = values;
  return array;
}

/* "row-<id>", null for ids divisible by 10 */
static struct ArrowArray *make_labels(int64_t first, int64_t length) {
  struct ArrowArray *array = new_array(length, 3);
  if (array == NULL) return NULL;
  size_t bitmap_bytes = (size_t)(length + 7) / 8 + 1;
  uint8_t *validity = calloc(bitmap_bytes, 1);
  int32_t *offsets = malloc((size_t)(length + 1) * sizeof *offsets);
  char *data = malloc((size_t)(length > 0 ? length : 1) * 24);
  array->buffers[0] = validity;
  array->buffers[1] = offsets;
  array->buffers[2] = data;
  if (validity == NULL || offsets == NULL || data == NULL) {
    release_array(array);
    free(array);
    return NULL;
  }
  int32_t end = 0;
  offsets[0] = 0;
  for (int64_t i = 0; i < length; i++) {
    int64_t id = first + i;
    if (id % 10 == 0) {
      array->null_count++;
    } else {
      validity[i / 8] |= (uint8_t)(1u << (i % 8));
      end += snprintf(data + end, 24, "row-%" PRId64, id);
    }
    offsets[i + 1] = end;
  }
  return array;
}

/* ---- the stream --------------------------------------------------------------------------- */

typedef struct {
  int64_t rows;
  int64_t fail_at; /* -1: never */
  int64_t next;
  char last_error[256];
} NumbersStream;

static int stream_get_schema(struct ArrowArrayStream *stream, struct ArrowSchema *out) {
  (void)stream;
  return make_schema(out);
}

static int stream_get_next(struct ArrowArrayStream *stream, struct ArrowArray *out) {
  NumbersStream *state = stream->private_data;
  int64_t length = state->rows - state->next;
  if (length > BATCH_ROWS) length = BATCH_ROWS;
  memset(out, 0, sizeof *out);
  if (length <= 0) return 0; /* the end: a released array */
  if (state->fail_at >= state->next && state->fail_at < state->next + length) {
    snprintf(state->last_error, sizeof state->last_error,
             PLUGIN_NAME ": row %" PRId64 " cannot be generated (fail_at: %" PRId64 " in the config)",
             state->fail_at, state->fail_at);
    return EIO;
  }
  struct ArrowArray **children = calloc(2, sizeof *children);
  struct ArrowArray *top = new_array(length, 1);
  if (children == NULL || top == NULL) {
    free(children);
    if (top != NULL) {
      release_array(top);
      free(top);
    }
    snprintf(state->last_error, sizeof state->last_error, PLUGIN_NAME ": out of memory");
    return ENOMEM;
  }
  top->n_children = 2;
  top->children = children;
  children[0] = make_ids(state->next, length);
  children[1] = make_labels(state->next, length);
  if (children[0] == NULL || children[1] == NULL) {
    for (int i = 0; i < 2; i++) {
      if (children[i] == NULL) children[i] = calloc(1, sizeof **children); /* released: skipped */
    }
    release_array(top);
    free(top);
    snprintf(state->last_error, sizeof state->last_error, PLUGIN_NAME ": out of memory");
    return ENOMEM;
  }
  *out = *top; /* move: the struct is copied, the buffers travel with it */
  free(top);
  state->next += length;
  return 0;
}

static const char *stream_get_last_error(struct ArrowArrayStream *stream) {
  NumbersStream *state = stream->private_data;
  return state->last_error[0] != '\0' ? state->last_error : NULL;
}

static void stream_release(struct ArrowArrayStream *stream) {
  free(stream->private_data);
  stream->private_data = NULL;
  stream->release = NULL;
}

/* ---- the plugin --------------------------------------------------------------------------- */

static DativoStatus open_reader(DativoPluginVTable *plugin, const char *config_json, struct ArrowArrayStream *out,
                                DativoError *error) {
  (void)plugin;
  if (config_json == NULL || out == NULL) {
    return fail(error, DATIVO_STATUS_INVALID_ARGUMENT, PLUGIN_NAME ": config_json and out must not be NULL");
  }
  int64_t rows = 0, fail_at = -1;
  int found = find_integer(config_json, "rows", &rows);
  if (found != 1 || rows < 0) {
    return fail(error, DATIVO_STATUS_CONFIG,
                PLUGIN_NAME ": the config needs \"rows\": a whole number >= 0 (got %s)", config_json);
  }
  if (find_integer(config_json, "fail_at", &fail_at) < 0) {
    return fail(error, DATIVO_STATUS_CONFIG, PLUGIN_NAME ": \"fail_at\" must be a whole number");
  }
  NumbersStream *state = calloc(1, sizeof *state);
  if (state == NULL) return fail(error, DATIVO_STATUS_INTERNAL, PLUGIN_NAME ": out of memory");
  state->rows = rows;
  state->fail_at = fail_at;
  out->get_schema = stream_get_schema;
  out->get_next = stream_get_next;
  out->get_last_error = stream_get_last_error;
  out->release = stream_release;
  out->private_data = state;
  return DATIVO_STATUS_OK;
}

/* The entry's tag: the data symbol dativo_plugin_abi_dativo_plugin_init, which tells a host that
 * dativo_plugin_init is a plugin-ABI entry before it calls it (a host calls no other symbol). */
DATIVO_PLUGIN_ENTRY_TAG(dativo_plugin_init);

/* The entry symbol (the default one, so a job can name the library alone). */
PLUGIN_EXPORT DativoStatus dativo_plugin_init(uint32_t abi_version, DativoPluginVTable *vtable,
                                              DativoError *error) {
  if (abi_version != 1) {
    /* DATIVO_STATUS_PLUGIN: "not this version", so a newer host asks again with version 1. */
    return fail(error, DATIVO_STATUS_PLUGIN, PLUGIN_NAME " speaks plugin ABI version 1, not %u",
                (unsigned)abi_version);
  }
  if (vtable == NULL) return fail(error, DATIVO_STATUS_INVALID_ARGUMENT, PLUGIN_NAME ": vtable is NULL");
  vtable->size = (uint32_t)sizeof(DativoPluginVTable);
  vtable->kind = DATIVO_PLUGIN_READER;
  vtable->name = PLUGIN_NAME;
  vtable->version = PLUGIN_VERSION;
  vtable->open_reader = open_reader;
  vtable->write = NULL;
  vtable->release = NULL; /* nothing allocated per plugin */
  vtable->private_data = NULL;
  return DATIVO_STATUS_OK;
}
