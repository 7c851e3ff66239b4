
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_PROM_FMT_H_INCLUDED_
#define _SQ_PROM_FMT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/*
 * Numbers and label values as the Prometheus text format writes them: an
 * unsigned integer without printf, a double in its shortest form of at
 * most 15 significant digits (0.85, never 0.84999999999999998; NaN, +Inf,
 * -Inf), a label value escaped.  Each writes into buf (SQ_PROM_FMT_NUM
 * bytes at least for numbers) and returns the length, no NUL counted.
 */

#define SQ_PROM_FMT_NUM  32


size_t sq_prom_fmt_u64(char *buf, uint64_t v);
size_t sq_prom_fmt_double(char *buf, double v);

/* escapes s (\\, \", \n) into buf of size at least 2 * strlen(s) */
size_t sq_prom_fmt_esc(char *buf, const char *s);


#endif /* _SQ_PROM_FMT_H_INCLUDED_ */
