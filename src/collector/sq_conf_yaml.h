
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_CONF_YAML_H_INCLUDED_
#define _SQ_CONF_YAML_H_INCLUDED_


#include <stddef.h>
#include <stdio.h>
#include <yaml.h>

#include "sq_status.h"


/*
 * A YAML file read against tables of keys, as nginx reads its config
 * against ngx_command_t: each key names a stock setter, the offset of
 * its field, its bounds and its default.  One loop walks every mapping;
 * every error is written as "FILE:LINE: KEY: message" and the walk goes
 * on, so one run shows them all.
 */

#define SQ_CONF_PATH_MAX  256
#define SQ_CONF_KEYS_MAX  32      /* keys in one table */

#define sq_conf_days(n)   ((n) * 86400.0)

/* a key's field, at base + offset as nginx finds a directive's */
#define sq_conf_field(base, off, type)  ((type *) (void *) ((base) + (off)))


typedef struct sq_conf_key_s    sq_conf_key_t;
typedef struct sq_conf_table_s  sq_conf_table_t;


typedef struct {
    const char         *file;
    FILE               *err;
    yaml_document_t     doc;
    int                 loaded;
    int                 errors;
} sq_conf_reader_t;


/*
 * Stores node's value in base + key->offset and returns SQ_OK, or says
 * what is wrong and returns SQ_ERR_INVALID (SQ_ERR_NOMEM).
 */
typedef int (*sq_conf_set_pt)(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path);

/* after a mapping or a list element was read: checks across its keys */
typedef void (*sq_conf_check_pt)(sq_conf_reader_t *rd, yaml_node_t *node,
    char *base, size_t index, const char *path);

/* after key k was set: bookkeeping of the structure (what was set) */
typedef void (*sq_conf_mark_pt)(const sq_conf_key_t *k, yaml_node_t *node,
    char *base);

/* a key that is not in the table (free-form mappings: labels) */
typedef int (*sq_conf_other_pt)(sq_conf_reader_t *rd, yaml_node_t *key,
    yaml_node_t *value, char *base, const char *path);


/* the words of an enum or of a set of flags */

typedef struct {
    const char  *const  *names;
    int                  n;
    const char          *error;   /* "invalid level" */
    const char          *hint;    /* "error, warn, info or debug", or NULL */
} sq_conf_enum_t;


struct sq_conf_key_s {
    const char              *name;
    sq_conf_set_pt           set;
    size_t                   offset;
    size_t                   aux;     /* a second field: count, kind */
    double                   min;
    double                   max;     /* 0: no upper bound */
    const char              *dflt;    /* as in the file: "30d" */
    const char              *msg;     /* what a value out of bounds is */
    const sq_conf_enum_t    *words;
    const sq_conf_table_t   *sub;     /* a mapping, or a list's elements */
    size_t                   size;    /* of a list's element */
    unsigned                 flag;    /* for the table's mark hook */
    int                      arg;     /* for a custom setter */
};


struct sq_conf_table_s {
    const sq_conf_key_t     *keys;    /* ends with a NULL name */
    const char              *unknown; /* "unknown key" */
    sq_conf_check_pt         check;
    sq_conf_mark_pt          mark;
    sq_conf_other_pt         other;
};


/*
 * Reads file into rd->doc.  SQ_OK; or, said on err, SQ_ERR_IO (cannot
 * open) or SQ_ERR_INVALID (not YAML).
 */
int sq_conf_open(sq_conf_reader_t *rd, const char *file, FILE *err);
void sq_conf_close(sq_conf_reader_t *rd);

/* the root mapping, or NULL for an empty file */
yaml_node_t *sq_conf_root(sq_conf_reader_t *rd);

/*
 * Walks a mapping: each key through its setter, the unknown and the
 * repeated ones reported, then the table's check.  SQ_OK when node was a
 * mapping (whatever its keys held), else SQ_ERR_INVALID.
 */
int sq_conf_walk(sq_conf_reader_t *rd, yaml_node_t *node,
    const sq_conf_table_t *t, char *base, const char *path);

/*
 * Stores the default of every key of t that has one, sub-tables
 * included, read from its text by its own setter.
 */
int sq_conf_init(const sq_conf_table_t *t, char *base);

void sq_conf_error(sq_conf_reader_t *rd, int line, const char *key,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int sq_conf_expect(sq_conf_reader_t *rd, yaml_node_t *node,
    yaml_node_type_t type, const char *key);
int sq_conf_line(const yaml_node_t *node);
const char *sq_conf_scalar(const yaml_node_t *node);
size_t sq_conf_nitems(const yaml_node_t *seq);
yaml_node_t *sq_conf_item(sq_conf_reader_t *rd, const yaml_node_t *seq,
    size_t i);
char *sq_conf_strdup(sq_conf_reader_t *rd, yaml_node_t *node,
    const char *path);

/* parses "90s", "5m", "1h", "2d", "250ms"; seconds, -1 on error */
double sq_parse_duration(const char *s);

/* the index of word s in w, -1 if it is not there */
int sq_conf_word(const sq_conf_enum_t *w, const char *s);
void sq_conf_bad_word(sq_conf_reader_t *rd, yaml_node_t *node,
    const char *path, const sq_conf_enum_t *w);


/* the stock setters */

int sq_conf_set_str(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path);
int sq_conf_set_url(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path);
int sq_conf_set_addrs(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path);
int sq_conf_set_strv(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path);
int sq_conf_set_sec(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path);
int sq_conf_set_time(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path);
int sq_conf_set_count(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path);
int sq_conf_set_number(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path);
int sq_conf_set_share(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path);
int sq_conf_set_level(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path);
int sq_conf_set_flag(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path);
int sq_conf_set_enum(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path);
int sq_conf_set_mask(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path);
int sq_conf_set_map(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path);
int sq_conf_set_list(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path);


#endif /* _SQ_CONF_YAML_H_INCLUDED_ */
