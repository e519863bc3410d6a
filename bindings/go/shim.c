#include "shim.h"

#include <stdlib.h>
#include <string.h>

#include "_cgo_export.h"

void dativo_go_error_release(DativoError *error) {
  if (error->release != NULL) error->release(error);
}

DativoStatus dativo_go_stream_next(struct ArrowArrayStream *stream, struct ArrowArray *out,
                                   DativoError *error) {
  int code = stream->get_next(stream, out);
  if (code == 0) return DATIVO_STATUS_OK;
  return dativo_status_from_stream(stream, code, error);
}

void dativo_go_stream_release(struct ArrowArrayStream *stream) {
  if (stream->release != NULL) stream->release(stream);
}

void dativo_go_schema_release(struct ArrowSchema *schema) {
  if (schema->release != NULL) schema->release(schema);
}

void dativo_go_array_release(struct ArrowArray *array) {
  if (array->release != NULL) array->release(array);
}

/* The exported array moves into `inner`; the caller's struct becomes a copy whose release
 * first releases `inner` (arrow-go's own release: it drops the Go record) and then unpins. The
 * Arrow C Data Interface allows moving a parent struct: children stay owned by `inner`. */
struct pinned_array {
  struct ArrowArray inner;
  uintptr_t pins;
};

static void pinned_array_release(struct ArrowArray *array) {
  struct pinned_array *p = (struct pinned_array *)array->private_data;
  uintptr_t pins = p->pins;
  p->inner.release(&p->inner);
  free(p);
  array->release = NULL;
  dativoGoUnpin(pins);
}

int dativo_go_array_on_release(struct ArrowArray *array, uintptr_t pins) {
  struct pinned_array *p = malloc(sizeof *p);
  if (p == NULL) return -1;
  p->inner = *array;
  p->pins = pins;
  array->private_data = p;
  array->release = pinned_array_release;
  return 0;
}
