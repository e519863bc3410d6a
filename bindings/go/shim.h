/* shim.h: the few C helpers the Go package needs because Go cannot call C function pointers
 * (the release and get_next callbacks of Arrow C structs and of DativoError). Each helper is
 * one call or one small sequence that must run on one thread without returning to Go. */
#ifndef DATIVO_GO_SHIM_H
#define DATIVO_GO_SHIM_H

#include <stdint.h>
#include "dativo.h"

/* Free the message of a filled DativoError (no-op when it holds none). */
void dativo_go_error_release(DativoError *error);

/* Take the next batch of `stream` into `out`. Returns DATIVO_STATUS_OK with out->release ==
 * NULL at the end of the stream. On a failed get_next, recovers the stream's exact status and
 * message in the same C call, so the stream is asked from the thread that just used it. */
DativoStatus dativo_go_stream_next(struct ArrowArrayStream *stream, struct ArrowArray *out,
                                   DativoError *error);

/* Release an Arrow C struct if it is not released yet. */
void dativo_go_stream_release(struct ArrowArrayStream *stream);
void dativo_go_schema_release(struct ArrowSchema *schema);
void dativo_go_array_release(struct ArrowArray *array);

/* Make `array` call the Go function dativoGoUnpin(pins) after its own release, so the Go
 * buffers it points to stay pinned exactly as long as the library holds them. */
int dativo_go_array_on_release(struct ArrowArray *array, uintptr_t pins);

#endif
