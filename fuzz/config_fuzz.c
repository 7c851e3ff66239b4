
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>

#include "sq_config.h"
#include "sq_rules.h"


/*
 * libFuzzer: a config file through the loader (every check and error
 * message), and a config it accepts through the Prometheus rules
 * printer.  The file is written where the loader reads it.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static char   sq_fuzz_file[64];
static FILE  *sq_fuzz_null;


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int         fd;
    FILE       *f;
    sq_conf_t  *conf;

    if (sq_fuzz_null == NULL) {
        snprintf(sq_fuzz_file, sizeof(sq_fuzz_file),
                 "/tmp/sq-config-fuzz-%ld.yaml", (long) getpid());
        sq_fuzz_null = fopen("/dev/null", "w");

        if (sq_fuzz_null == NULL) {
            abort();
        }
    }

    fd = open(sq_fuzz_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd == -1) {
        abort();
    }

    f = fdopen(fd, "w");
    if (f == NULL) {
        abort();
    }

    if (size) {
        (void) fwrite(data, 1, size, f);
    }

    fclose(f);

    conf = sq_conf_load(sq_fuzz_file, sq_fuzz_null);

    if (conf != NULL) {
        (void) sq_rules_print(conf, sq_fuzz_null, sq_fuzz_null);
        sq_conf_free(conf);
    }

    return 0;
}
