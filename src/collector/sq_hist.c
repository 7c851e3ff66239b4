
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <stdlib.h>
#include <string.h>

#include "sq_status.h"
#include "sq_hist.h"


static int sq_hist_reserve(sq_hist_t *h, uint32_t n);
static sq_hbin_t sq_hbin_add(sq_hbin_t b, uint64_t count);


/* adds to a bin's count, saturating rather than spilling into the index */

static sq_hbin_t
sq_hbin_add(sq_hbin_t b, uint64_t count)
{
    if (count > SQ_HBIN_COUNT_MAX - sq_hbin_count(b)) {
        return sq_hbin(sq_hbin_idx(b), SQ_HBIN_COUNT_MAX);
    }

    return b + count;
}


void
sq_hist_init(sq_hist_t *h)
{
    h->bins = NULL;
    h->n = 0;
    h->cap = 0;
    h->total = 0;
}


void
sq_hist_lend(sq_hist_t *h, sq_hbin_t *bins, uint32_t cap)
{
    h->bins = bins;
    h->n = 0;
    h->cap = cap | SQ_HIST_BORROWED;
    h->total = 0;
}


void
sq_hist_free(sq_hist_t *h)
{
    if (!(h->cap & SQ_HIST_BORROWED)) {
        free(h->bins);
    }

    sq_hist_init(h);
}


void
sq_hist_reset(sq_hist_t *h)
{
    h->n = 0;
    h->total = 0;
}


static int
sq_hist_reserve(sq_hist_t *h, uint32_t n)
{
    uint32_t    cap, have;
    sq_hbin_t  *bins;

    have = h->cap & ~SQ_HIST_BORROWED;

    if (n <= have) {
        return SQ_OK;
    }

    if (n > SQ_HIST_BUCKETS) {
        return SQ_ERR_INVALID;
    }

    cap = have ? have : 4;

    while (cap < n) {
        cap *= 2;
    }

    if (cap > SQ_HIST_BUCKETS) {
        cap = SQ_HIST_BUCKETS;
    }

    if (h->cap & SQ_HIST_BORROWED) {
        bins = malloc(cap * sizeof(sq_hbin_t));

        if (bins != NULL) {
            memcpy(bins, h->bins, h->n * sizeof(sq_hbin_t));
        }

    } else {
        bins = realloc(h->bins, cap * sizeof(sq_hbin_t));
    }

    if (bins == NULL) {
        return SQ_ERR_NOMEM;
    }

    h->bins = bins;
    h->cap = cap;

    return SQ_OK;
}


int
sq_hist_add(sq_hist_t *h, uint32_t idx, uint64_t count)
{
    uint32_t  lo, hi, mid;

    if (idx >= SQ_HIST_BUCKETS || count == 0) {
        return idx >= SQ_HIST_BUCKETS ? SQ_ERR_INVALID : SQ_OK;
    }

    /* appending in order is the common case */

    if (h->n == 0 || sq_hbin_idx(h->bins[h->n - 1]) < idx) {
        lo = h->n;

    } else {
        lo = 0;
        hi = h->n;

        while (lo < hi) {
            mid = (lo + hi) / 2;

            if (sq_hbin_idx(h->bins[mid]) < idx) {
                lo = mid + 1;

            } else {
                hi = mid;
            }
        }

        if (lo < h->n && sq_hbin_idx(h->bins[lo]) == idx) {
            h->bins[lo] = sq_hbin_add(h->bins[lo], count);
            h->total += count;
            return SQ_OK;
        }
    }

    if (sq_hist_reserve(h, h->n + 1) != SQ_OK) {
        return SQ_ERR_NOMEM;
    }

    memmove(&h->bins[lo + 1], &h->bins[lo], (h->n - lo) * sizeof(sq_hbin_t));

    h->bins[lo] = sq_hbin(idx, count > SQ_HBIN_COUNT_MAX
                                ? SQ_HBIN_COUNT_MAX : count);
    h->n++;
    h->total += count;

    return SQ_OK;
}


int
sq_hist_merge(sq_hist_t *dst, const sq_hist_t *src)
{
    uint32_t          i, j, k, n, sn, dn;
    uint64_t          added, key, c, v;
    sq_hbin_t        *a, *out;
    const sq_hbin_t  *sb;

    if (src->n == 0) {
        return SQ_OK;
    }

    /*
     * The common case first, in one pass: src's buckets are all in dst
     * already (a series' latencies fall in the same few buckets minute
     * after minute), and their counts are added in place.  At the first
     * bucket dst lacks, the rest of src is merged as below.
     */

    a = dst->bins;
    sb = src->bins;
    sn = src->n;
    dn = dst->n;
    added = 0;

    /*
     * A bin's index is its top bits: a bin of a lower bucket is a lower
     * number, two bins are of one bucket when their xor is below
     * 1 << SQ_HBIN_SHIFT, and a count that overflows shows as a change
     * of the index bits.
     */

    i = 0;

    if (dn == sn) {
        /* the same buckets, most often: bin by bin, until one differs
           or would saturate */

        for ( /* void */ ; i < sn; i++) {
            c = sb[i] & SQ_HBIN_COUNT_MAX;
            v = a[i] + c;

            if (((a[i] ^ sb[i]) | (v ^ sb[i])) > SQ_HBIN_COUNT_MAX) {
                break;
            }

            a[i] = v;
            added += c;
        }
    }

    for (j = i; j < sn; j++, i++) {
        key = sb[j] & ~SQ_HBIN_COUNT_MAX;

        while (i < dn && a[i] < key) {
            i++;
        }

        if (i == dn || (a[i] ^ key) > SQ_HBIN_COUNT_MAX) {
            break;
        }

        c = sb[j] & SQ_HBIN_COUNT_MAX;
        v = a[i] + c;
        a[i] = ((v ^ key) > SQ_HBIN_COUNT_MAX) ? key | SQ_HBIN_COUNT_MAX : v;
        added += c;
    }

    if (j == sn) {
        dst->total += src->total;
        return SQ_OK;
    }

    sb += j;
    sn -= j;

    /* count the union, then merge backwards in place */

    n = dst->n;

    for (i = 0, j = 0; j < sn; j++) {
        while (i < dst->n && sq_hbin_idx(dst->bins[i]) < sq_hbin_idx(sb[j]))
        {
            i++;
        }

        if (i == dst->n || sq_hbin_idx(dst->bins[i]) != sq_hbin_idx(sb[j])) {
            n++;
        }
    }

    if (sq_hist_reserve(dst, n) != SQ_OK) {
        /* the buckets merged so far stay, and their total */
        dst->total += added;
        return SQ_ERR_NOMEM;
    }

    a = dst->bins;
    out = dst->bins;
    i = dst->n;
    j = sn;
    k = n;

    while (j > 0) {
        if (i > 0 && sq_hbin_idx(a[i - 1]) > sq_hbin_idx(sb[j - 1])) {
            out[--k] = a[--i];

        } else if (i > 0 && sq_hbin_idx(a[i - 1]) == sq_hbin_idx(sb[j - 1]))
        {
            out[--k] = a[--i];
            j--;
            out[k] = sq_hbin_add(out[k], sq_hbin_count(sb[j]));

        } else {
            out[--k] = sb[--j];
        }
    }

    dst->n = n;
    dst->total += src->total;

    return SQ_OK;
}


int
sq_hist_copy(sq_hist_t *dst, const sq_hist_t *src)
{
    sq_hist_reset(dst);

    return sq_hist_merge(dst, src);
}


double
sq_hist_quantile(const sq_hist_t *h, double q)
{
    uint32_t  i;
    uint64_t  rank, seen;

    if (h->total == 0) {
        return -1;
    }

    if (q <= 0) {
        return sq_hist_mid(sq_hbin_idx(h->bins[0]));
    }

    /* the smallest value with at least ceil(q * total) values at or below */

    rank = (uint64_t) (q * (double) h->total);

    if ((double) rank < q * (double) h->total) {
        rank++;
    }

    if (rank == 0) {
        rank = 1;
    }

    seen = 0;

    for (i = 0; i < h->n; i++) {
        seen += sq_hbin_count(h->bins[i]);

        if (seen >= rank) {
            return sq_hist_mid(sq_hbin_idx(h->bins[i]));
        }
    }

    return sq_hist_mid(sq_hbin_idx(h->bins[h->n - 1]));
}


double
sq_hist_quantile_excl(const sq_hist_t *h, const sq_hist_t *excl, double q)
{
    uint32_t  i, j;
    uint64_t  total, rank, seen, c, x;

    total = h->total - (excl->total < h->total ? excl->total : h->total);

    if (total == 0) {
        return -1;
    }

    rank = (uint64_t) (q * (double) total);

    if ((double) rank < q * (double) total) {
        rank++;
    }

    if (rank == 0) {
        rank = 1;
    }

    seen = 0;
    j = 0;

    for (i = 0; i < h->n; i++) {
        while (j < excl->n
               && sq_hbin_idx(excl->bins[j]) < sq_hbin_idx(h->bins[i]))
        {
            j++;
        }

        x = (j < excl->n
             && sq_hbin_idx(excl->bins[j]) == sq_hbin_idx(h->bins[i]))
            ? sq_hbin_count(excl->bins[j]) : 0;
        c = sq_hbin_count(h->bins[i]) > x ? sq_hbin_count(h->bins[i]) - x : 0;
        seen += c;

        if (c && seen >= rank) {
            return sq_hist_mid(sq_hbin_idx(h->bins[i]));
        }
    }

    return -1;
}


uint64_t
sq_hist_count_le(const sq_hist_t *h, double us)
{
    uint32_t  i;
    uint64_t  n;

    n = 0;

    for (i = 0; i < h->n; i++) {
        if (sq_hist_mid(sq_hbin_idx(h->bins[i])) > us) {
            break;
        }

        n += sq_hbin_count(h->bins[i]);
    }

    return n;
}


double
sq_hist_sum(const sq_hist_t *h)
{
    uint32_t  i;
    double    sum;

    sum = 0;

    for (i = 0; i < h->n; i++) {
        sum += sq_hist_mid(sq_hbin_idx(h->bins[i]))
               * (double) sq_hbin_count(h->bins[i]);
    }

    return sum;
}


size_t
sq_hist_bytes(const sq_hist_t *h)
{
    return (h->cap & SQ_HIST_BORROWED) ? 0 : h->cap * sizeof(sq_hbin_t);
}
