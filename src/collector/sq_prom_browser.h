
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_PROM_BROWSER_H_INCLUDED_
#define _SQ_PROM_BROWSER_H_INCLUDED_


#include <event2/buffer.h>

#include "sq_config.h"
#include "sq_windows.h"


/*
 * The browser's families of /metrics (wire version 3, servqual_beacon):
 * per series that has had beacons, since it was first seen, the beacons
 * and their navigation types, and the histograms of LCP, INP, FCP and
 * TTFB in seconds and of CLS (a score, no unit).  Series without beacons
 * write nothing; as for the server's per-series families, nothing is
 * written unless metrics.series is on, nor with privacy.min_requests.
 */

#define SQ_PROM_BROWSER_NLE  12
#define SQ_PROM_CLS_NLE      8

extern const double  sq_prom_browser_le[SQ_PROM_BROWSER_NLE];
extern const double  sq_prom_cls_le[SQ_PROM_CLS_NLE];


/* appends every browser family to b */
void sq_prom_browser(const sq_windows_t *a, const sq_conf_t *conf,
    struct evbuffer *b);


#endif /* _SQ_PROM_BROWSER_H_INCLUDED_ */
