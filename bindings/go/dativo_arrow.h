/*
 * dativo_arrow.h: the Arrow C Data Interface and C Stream Interface structs, exactly as the
 * Arrow specification defines them (https://arrow.apache.org/docs/format/CDataInterface.html,
 * https://arrow.apache.org/docs/format/CStreamInterface.html).
 *
 * The guards are the ones the specification prescribes, so this header coexists with
 * arrow/c/abi.h, nanoarrow.h or any other copy of the same definitions: whichever is
 * included first defines the structs, the others skip them.
 */
#ifndef DATIVO_ARROW_H
#define DATIVO_ARROW_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE

#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4

/* The type of an array: a format string, a name, children, and a release callback. */
struct ArrowSchema {
  const char* format;
  const char* name;
  const char* metadata;
  int64_t flags;
  int64_t n_children;
  struct ArrowSchema** children;
  struct ArrowSchema* dictionary;
  void (*release)(struct ArrowSchema*);
  void* private_data;
};

/* The data of an array: buffers, children, and a release callback. */
struct ArrowArray {
  int64_t length;
  int64_t null_count;
  int64_t offset;
  int64_t n_buffers;
  int64_t n_children;
  const void** buffers;
  struct ArrowArray** children;
  struct ArrowArray* dictionary;
  void (*release)(struct ArrowArray*);
  void* private_data;
};

#endif /* ARROW_C_DATA_INTERFACE */

#ifndef ARROW_C_STREAM_INTERFACE
#define ARROW_C_STREAM_INTERFACE

/* A stream of arrays sharing one schema. Callbacks return 0 or an errno-compatible code;
 * get_next writes a released array (release == NULL) at the end of the stream. */
struct ArrowArrayStream {
  int (*get_schema)(struct ArrowArrayStream*, struct ArrowSchema* out);
  int (*get_next)(struct ArrowArrayStream*, struct ArrowArray* out);
  const char* (*get_last_error)(struct ArrowArrayStream*);
  void (*release)(struct ArrowArrayStream*);
  void* private_data;
};

#endif /* ARROW_C_STREAM_INTERFACE */

#ifdef __cplusplus
}
#endif

#endif /* DATIVO_ARROW_H */
