
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_STATUS_H_INCLUDED_
#define _SQ_STATUS_H_INCLUDED_


/*
 * The one return convention of the collector's functions that can fail:
 * 0 (SQ_OK) for success, else one of these named statuses, which
 * sq_strerror() turns into words.  Where a handle knows more (the
 * database's own message), its *_strerror(handle) says it.
 * Constructors return the object or NULL.
 */

typedef enum {
    SQ_OK = 0,
    SQ_ERR_NOMEM,             /* out of memory */
    SQ_ERR_INVALID,           /* an argument or an input is not valid */
    SQ_ERR_LIMIT,             /* a configured limit was reached */
    SQ_ERR_DUPLICATE,         /* seen before: nothing was changed */
    SQ_ERR_IO,                /* a system call failed: errno tells */
    SQ_ERR_STORE,             /* the database failed: sq_store_strerror() */
    SQ_ERR_CORRUPT,           /* stored data could not be read back */
    SQ_NSTATUS
} sq_status_t;


const char *sq_strerror(int status);


#endif /* _SQ_STATUS_H_INCLUDED_ */
