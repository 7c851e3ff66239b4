
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "sq_collector.h"
#include "sq_status.h"


int  sq_log_level = SQ_LOG_INFO;

static const char  *sq_log_names[] = { "error", "warn", "info", "debug" };


void
sq_log(int level, const char *fmt, ...)
{
    char        ts[32];
    time_t      t;
    va_list     ap;
    struct tm   tm;

    if (level > sq_log_level) {
        return;
    }

    t = time(NULL);
    gmtime_r(&t, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);

    fprintf(stderr, "%s [%s] %d: ", ts, sq_log_names[level], (int) getpid());

    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);

    fputc('\n', stderr);
    fflush(stderr);
}


int64_t
sq_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);

    return (int64_t) ts.tv_sec;
}


const char *
sq_strerror(int status)
{
    static const char  *names[SQ_NSTATUS] = {
        "success",
        "out of memory",
        "invalid argument or input",
        "limit reached",
        "duplicate",
        "system call failed",
        "database error",
        "corrupt data"
    };

    if (status < 0 || status >= SQ_NSTATUS) {
        return "unknown status";
    }

    return names[status];
}
