
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "sq_decode.h"
#include "sq_windows.h"


/*
 * libFuzzer: a datagram through the decoder and, when it is good, into
 * a window store (the merge of its slots) and read back as windows.
 * The store is kept across inputs, as the collector keeps it; its
 * series limit keeps its memory bounded.
 */

#define SQ_FUZZ_NOW  1700000000


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static sq_windows_t  sq_fuzz_windows;
static sq_dgram_t    sq_fuzz_dgram;
static int           sq_fuzz_ready;
static int64_t       sq_fuzz_tick;


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int            k;
    int64_t        now;
    uint32_t       i;
    sq_win_t       w;
    sq_series_t   *s;

    if (!sq_fuzz_ready) {
        if (sq_dgram_init(&sq_fuzz_dgram) != 0
            || sq_windows_init(&sq_fuzz_windows, 60, 300, 3600, 256, 7200,
                               64)
               != 0)
        {
            abort();
        }

        sq_fuzz_ready = 1;
    }

    /* time moves on, so slots roll over and series expire */

    now = SQ_FUZZ_NOW + (sq_fuzz_tick++ % 20000);

    if (sq_decode(&sq_fuzz_dgram, (const char *) data, size)
        != SQ_DECODE_OK)
    {
        return 0;
    }

    (void) sq_windows_ingest(&sq_fuzz_windows, &sq_fuzz_dgram, now);

    sq_win_init(&w);

    for (i = 0; i < sq_fuzz_windows.n && i < 16; i++) {
        s = sq_fuzz_windows.all[i];

        for (k = 0; k < 2; k++) {
            sq_win_reset(&w);
            (void) sq_windows_window(&sq_fuzz_windows, s, k, now, &w);
        }
    }

    sq_win_free(&w);

    if (sq_fuzz_tick % 1000 == 0) {
        sq_windows_expire(&sq_fuzz_windows, now);
    }

    return 0;
}
