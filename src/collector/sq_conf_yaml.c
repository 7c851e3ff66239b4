
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <event2/http.h>

#include "sq_conf_zone.h"
#include "sq_conf_yaml.h"


static void sq_conf_path(char *buf, const char *prefix, const char *key);
static void sq_conf_ptr_set(char *base, size_t off, void *p);
static int sq_conf_strv_store(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path, int address);
static void sq_conf_strv_free(char **v, size_t n);
static int sq_conf_init_key(const sq_conf_key_t *k, char *base);
static int sq_conf_level(sq_conf_reader_t *rd, yaml_node_t *node,
    const char *path, double *out, int *kind);


static const char  *sq_conf_node_kind[] = {
    "nothing", "a scalar", "a list", "a mapping"
};


int
sq_conf_open(sq_conf_reader_t *rd, const char *file, FILE *err)
{
    FILE           *f;
    yaml_parser_t   parser;

    memset(rd, 0, sizeof(sq_conf_reader_t));
    rd->file = file;
    rd->err = err;

    f = fopen(file, "r");
    if (f == NULL) {
        fprintf(err, "%s: cannot open: %s\n", file, strerror(errno));
        return SQ_ERR_IO;
    }

    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);

    if (!yaml_parser_load(&parser, &rd->doc)) {
        fprintf(err, "%s:%lu: %s: %s\n", file,
                (unsigned long) parser.problem_mark.line + 1,
                "yaml", parser.problem ? parser.problem : "syntax error");
        yaml_parser_delete(&parser);
        fclose(f);
        return SQ_ERR_INVALID;
    }

    yaml_parser_delete(&parser);
    fclose(f);
    rd->loaded = 1;

    return SQ_OK;
}


void
sq_conf_close(sq_conf_reader_t *rd)
{
    if (rd->loaded) {
        yaml_document_delete(&rd->doc);
        rd->loaded = 0;
    }
}


yaml_node_t *
sq_conf_root(sq_conf_reader_t *rd)
{
    yaml_node_t  *root;

    root = yaml_document_get_root_node(&rd->doc);

    if (root == NULL
        || (root->type == YAML_SCALAR_NODE && sq_conf_scalar(root)[0] == '\0'))
    {
        return NULL;
    }

    return root;
}


void
sq_conf_error(sq_conf_reader_t *rd, int line, const char *key,
    const char *fmt, ...)
{
    va_list  ap;

    fprintf(rd->err, "%s:%d: %s: ", rd->file, line, key);

    va_start(ap, fmt);
    vfprintf(rd->err, fmt, ap);
    va_end(ap);

    fputc('\n', rd->err);
    rd->errors++;
}


int
sq_conf_line(const yaml_node_t *node)
{
    return node ? (int) node->start_mark.line + 1 : 0;
}


const char *
sq_conf_scalar(const yaml_node_t *node)
{
    if (node == NULL || node->type != YAML_SCALAR_NODE) {
        return NULL;
    }

    return (const char *) node->data.scalar.value;
}


int
sq_conf_expect(sq_conf_reader_t *rd, yaml_node_t *node,
    yaml_node_type_t type, const char *key)
{
    if (node != NULL && node->type == type) {
        return SQ_OK;
    }

    sq_conf_error(rd, sq_conf_line(node), key, "must be %s",
                  sq_conf_node_kind[type < 4 ? type : 0]);

    return SQ_ERR_INVALID;
}


size_t
sq_conf_nitems(const yaml_node_t *seq)
{
    return seq->data.sequence.items.top - seq->data.sequence.items.start;
}


yaml_node_t *
sq_conf_item(sq_conf_reader_t *rd, const yaml_node_t *seq, size_t i)
{
    return yaml_document_get_node(&rd->doc,
                                  seq->data.sequence.items.start[i]);
}


char *
sq_conf_strdup(sq_conf_reader_t *rd, yaml_node_t *node, const char *path)
{
    char  *s;

    if (sq_conf_expect(rd, node, YAML_SCALAR_NODE, path) != SQ_OK) {
        return NULL;
    }

    s = strdup(sq_conf_scalar(node));
    if (s == NULL) {
        sq_conf_error(rd, sq_conf_line(node), path, "out of memory");
    }

    return s;
}


static void
sq_conf_path(char *buf, const char *prefix, const char *key)
{
    int  n;

    n = snprintf(buf, SQ_CONF_PATH_MAX, "%s%s%s", prefix,
                 prefix[0] ? "." : "", key);

    if (n < 0 || n >= SQ_CONF_PATH_MAX) {
        buf[SQ_CONF_PATH_MAX - 1] = '\0';
    }
}


/* a list's array: the field is of the element type, not char * */

static void
sq_conf_ptr_set(char *base, size_t off, void *p)
{
    memcpy(base + off, &p, sizeof(void *));
}


/*
 * The one loop over a mapping's keys.  A key found in the table goes
 * to its setter; a key met twice is an error naming both lines.
 */

int
sq_conf_walk(sq_conf_reader_t *rd, yaml_node_t *node,
    const sq_conf_table_t *t, char *base, const char *path)
{
    int                   i, seen[SQ_CONF_KEYS_MAX];
    char                  sub[SQ_CONF_PATH_MAX];
    yaml_node_t          *k, *v;
    const char           *name, *where;
    yaml_node_pair_t     *p;
    const sq_conf_key_t  *key;

    where = path[0] ? path : "top level";

    if (sq_conf_expect(rd, node, YAML_MAPPING_NODE, where) != SQ_OK) {
        return SQ_ERR_INVALID;
    }

    memset(seen, 0, sizeof(seen));

    for (p = node->data.mapping.pairs.start;
         p < node->data.mapping.pairs.top;
         p++)
    {
        k = yaml_document_get_node(&rd->doc, p->key);
        v = yaml_document_get_node(&rd->doc, p->value);
        name = sq_conf_scalar(k) ? sq_conf_scalar(k) : "";

        key = NULL;

        for (i = 0; t->keys && t->keys[i].name; i++) {
            if (strcmp(name, t->keys[i].name) == 0) {
                key = &t->keys[i];
                break;
            }
        }

        if (key == NULL) {
            if (t->other) {
                (void) t->other(rd, k, v, base, where);

            } else {
                sq_conf_error(rd, sq_conf_line(k), where, "%s \"%s\"",
                              t->unknown ? t->unknown : "unknown key", name);
            }

            continue;
        }

        sq_conf_path(sub, path, name);

        if (i < SQ_CONF_KEYS_MAX) {
            if (seen[i]) {
                sq_conf_error(rd, sq_conf_line(k), sub, "repeated key, "
                              "first set at line %d", seen[i]);
                continue;
            }

            seen[i] = sq_conf_line(k);
        }

        if (key->set(rd, key, v, base, sub) == SQ_OK && t->mark) {
            t->mark(key, v, base);
        }
    }

    return SQ_OK;
}


/*
 * A default is written as in the file ("30d", "[series, region]") and
 * read by the key's own setter, so that the defaults and an empty file
 * are the same by construction.
 */

static int
sq_conf_init_key(const sq_conf_key_t *k, char *base)
{
    int               rc;
    yaml_parser_t     parser;
    sq_conf_reader_t  rd;

    memset(&rd, 0, sizeof(sq_conf_reader_t));
    rd.file = "(default)";
    rd.err = stderr;

    if (!yaml_parser_initialize(&parser)) {
        return SQ_ERR_NOMEM;
    }

    yaml_parser_set_input_string(&parser, (const unsigned char *) k->dflt,
                                 strlen(k->dflt));

    if (!yaml_parser_load(&parser, &rd.doc)) {
        rc = parser.error == YAML_MEMORY_ERROR ? SQ_ERR_NOMEM
                                               : SQ_ERR_INVALID;
        yaml_parser_delete(&parser);
        return rc;
    }

    yaml_parser_delete(&parser);
    rd.loaded = 1;

    rc = k->set(&rd, k, yaml_document_get_root_node(&rd.doc), base,
                k->name);

    sq_conf_close(&rd);

    return rc;
}


int
sq_conf_init(const sq_conf_table_t *t, char *base)
{
    int                   rc;
    const sq_conf_key_t  *k;

    for (k = t->keys; k && k->name; k++) {
        if (k->set == sq_conf_set_map) {
            rc = sq_conf_init(k->sub, base + k->offset);

        } else if (k->dflt) {
            rc = sq_conf_init_key(k, base);

        } else {
            continue;
        }

        if (rc != SQ_OK) {
            return rc;
        }
    }

    return SQ_OK;
}


double
sq_parse_duration(const char *s)
{
    char    *end;
    double   v, mult;

    if (s == NULL || *s == '\0') {
        return -1;
    }

    errno = 0;
    v = strtod(s, &end);

    if (errno || end == s || !isfinite(v) || v < 0) {
        return -1;
    }

    if (strcmp(end, "ms") == 0) {
        mult = 0.001;

    } else if (strcmp(end, "s") == 0 || *end == '\0') {
        mult = 1;

    } else if (strcmp(end, "m") == 0) {
        mult = 60;

    } else if (strcmp(end, "h") == 0) {
        mult = 3600;

    } else if (strcmp(end, "d") == 0) {
        mult = 86400;

    } else {
        return -1;
    }

    return v * mult;
}


/* a level: 0.995, 99.5%, 800ms, 2x, and how it was written */

static int
sq_conf_level(sq_conf_reader_t *rd, yaml_node_t *node, const char *path,
    double *out, int *kind)
{
    char        *end;
    double       v;
    const char  *s;

    if (sq_conf_expect(rd, node, YAML_SCALAR_NODE, path) != SQ_OK) {
        return SQ_ERR_INVALID;
    }

    s = sq_conf_scalar(node);
    errno = 0;
    v = strtod(s, &end);

    if (errno || end == s || !isfinite(v)) {
        goto invalid;
    }

    if (*end == '\0') {
        *kind = SQ_LIT_NUMBER;

    } else if (strcmp(end, "%") == 0) {
        *kind = SQ_LIT_PERCENT;
        v /= 100;

    } else if (strcmp(end, "x") == 0) {
        *kind = SQ_LIT_RATIO;

    } else {
        v = sq_parse_duration(s);

        if (v < 0) {
            goto invalid;
        }

        *kind = SQ_LIT_DURATION;
    }

    *out = v;

    return SQ_OK;

invalid:

    sq_conf_error(rd, sq_conf_line(node), path, "invalid level \"%s\"", s);

    return SQ_ERR_INVALID;
}


int
sq_conf_set_str(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path)
{
    char  **field, *s;

    field = sq_conf_field(base, k->offset, char *);

    s = sq_conf_strdup(rd, node, path);
    if (s == NULL) {
        return SQ_ERR_INVALID;
    }

    free(*field);
    *field = s;

    return SQ_OK;
}


/* an http:// URL (the sinks), "none" or "" for none */

int
sq_conf_set_url(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path)
{
    int                 port;
    char              **field;
    const char         *s, *scheme, *host;
    struct evhttp_uri  *u;

    field = sq_conf_field(base, k->offset, char *);

    free(*field);
    *field = NULL;

    if (sq_conf_expect(rd, node, YAML_SCALAR_NODE, path) != SQ_OK) {
        return SQ_ERR_INVALID;
    }

    s = sq_conf_scalar(node);

    if (*s == '\0' || strcmp(s, "none") == 0) {
        return SQ_OK;
    }

    u = evhttp_uri_parse(s);

    if (u == NULL) {
        sq_conf_error(rd, sq_conf_line(node), path, "invalid URL \"%s\"", s);
        return SQ_ERR_INVALID;
    }

    scheme = evhttp_uri_get_scheme(u);
    host = evhttp_uri_get_host(u);
    port = evhttp_uri_get_port(u);

    if (scheme == NULL || strcmp(scheme, "http") != 0 || host == NULL
        || *host == '\0' || port == 0 || port > 65535)
    {
        sq_conf_error(rd, sq_conf_line(node), path, "invalid URL \"%s\" "
                      "(http://HOST[:PORT][/PATH])", s);
        evhttp_uri_free(u);
        return SQ_ERR_INVALID;
    }

    evhttp_uri_free(u);

    *field = sq_conf_strdup(rd, node, path);

    return *field ? SQ_OK : SQ_ERR_NOMEM;
}


static void
sq_conf_strv_free(char **v, size_t n)
{
    size_t  i;

    for (i = 0; v && i < n; i++) {
        free(v[i]);
    }

    free(v);
}


/*
 * A list of strings: char ** at offset, its length (size_t) at aux.  An
 * address may also be written alone, and must be udp:// or unix:.
 */

static int
sq_conf_strv_store(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path, int address)
{
    int           rc;
    char        **list, ***field, *s;
    size_t        i, cnt, n, *count;
    yaml_node_t  *item;

    field = sq_conf_field(base, k->offset, char **);
    count = sq_conf_field(base, k->aux, size_t);

    rc = SQ_OK;

    if (address && node->type == YAML_SCALAR_NODE) {
        cnt = 1;

    } else if (node->type == YAML_SEQUENCE_NODE) {
        cnt = sq_conf_nitems(node);

    } else {
        /* stored empty all the same: a check can tell it was given */

        if (address) {
            sq_conf_error(rd, sq_conf_line(node), path,
                          "must be an address or a list of addresses");

        } else {
            (void) sq_conf_expect(rd, node, YAML_SEQUENCE_NODE, path);
        }

        cnt = 0;
        rc = SQ_ERR_INVALID;
    }

    list = calloc(cnt ? cnt : 1, sizeof(char *));
    if (list == NULL) {
        sq_conf_error(rd, sq_conf_line(node), path, "out of memory");
        return SQ_ERR_NOMEM;
    }

    for (n = 0, i = 0; i < cnt; i++) {
        item = node->type == YAML_SCALAR_NODE
               ? node : sq_conf_item(rd, node, i);
        s = sq_conf_strdup(rd, item, path);

        if (s == NULL) {
            rc = SQ_ERR_INVALID;
            continue;
        }

        list[n++] = s;

        if (address
            && strncmp(s, "udp://", 6) != 0 && strncmp(s, "unix:", 5) != 0)
        {
            sq_conf_error(rd, sq_conf_line(item), path, "invalid address "
                          "\"%s\" (udp://HOST:PORT or unix:/PATH)", s);
            rc = SQ_ERR_INVALID;
        }
    }

    cnt = n;

    sq_conf_strv_free(*field, *count);
    *field = list;
    *count = cnt;

    if (k->msg && node->type == YAML_SEQUENCE_NODE
        && sq_conf_nitems(node) == 0)
    {
        sq_conf_error(rd, sq_conf_line(node), path, "%s", k->msg);
        return SQ_ERR_INVALID;
    }

    return rc;
}


int
sq_conf_set_addrs(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path)
{
    return sq_conf_strv_store(rd, k, node, base, path, 1);
}


int
sq_conf_set_strv(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path)
{
    return sq_conf_strv_store(rd, k, node, base, path, 0);
}


/* whole seconds, int64_t */

int
sq_conf_set_sec(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path)
{
    double    v;
    int64_t  *field;

    field = sq_conf_field(base, k->offset, int64_t);

    if (sq_conf_expect(rd, node, YAML_SCALAR_NODE, path) != SQ_OK) {
        return SQ_ERR_INVALID;
    }

    v = sq_parse_duration(sq_conf_scalar(node));

    if (v < k->min || v > k->max || v != floor(v)) {
        sq_conf_error(rd, sq_conf_line(node), path, "invalid duration "
                      "\"%s\" (whole seconds, e.g. 30s, 5m, 1h, 30d)",
                      sq_conf_scalar(node));
        return SQ_ERR_INVALID;
    }

    *field = (int64_t) v;

    return SQ_OK;
}


/* seconds with a fraction, above min, double */

int
sq_conf_set_time(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path)
{
    double       v, *field;
    const char  *s;

    field = sq_conf_field(base, k->offset, double);

    s = sq_conf_scalar(node);
    v = s ? sq_parse_duration(s) : -1;

    if (!(v > k->min) || v > k->max) {
        sq_conf_error(rd, sq_conf_line(node), path, "invalid duration "
                      "\"%s\" (e.g. 500ms)", s ? s : "");
        return SQ_ERR_INVALID;
    }

    *field = v;

    return SQ_OK;
}


/* a whole number, uint64_t, within min and max (0: none) */

int
sq_conf_set_count(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path)
{
    char                *end;
    uint64_t            *field;
    const char          *s;
    unsigned long long   v;

    field = sq_conf_field(base, k->offset, uint64_t);

    if (sq_conf_expect(rd, node, YAML_SCALAR_NODE, path) != SQ_OK) {
        return SQ_ERR_INVALID;
    }

    s = sq_conf_scalar(node);
    errno = 0;
    v = strtoull(s, &end, 10);

    if (errno || end == s || *end != '\0' || *s == '-') {
        sq_conf_error(rd, sq_conf_line(node), path, "invalid number \"%s\"",
                      s);
        return SQ_ERR_INVALID;
    }

    if ((double) v < k->min || (k->max && (double) v > k->max)) {
        sq_conf_error(rd, sq_conf_line(node), path, "%s", k->msg);
        return SQ_ERR_INVALID;
    }

    *field = v;

    return SQ_OK;
}


/* a plain decimal number above min and below max (0: none), double */

int
sq_conf_set_number(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path)
{
    char        *end;
    double       v, *field;
    const char  *s;

    field = sq_conf_field(base, k->offset, double);

    s = sq_conf_scalar(node);

    if (s == NULL || strspn(s, "0123456789.") != strlen(s)) {
        goto invalid;
    }

    errno = 0;
    v = strtod(s, &end);

    if (errno || *end != '\0' || !isfinite(v)
        || !(v > k->min) || (k->max && !(v < k->max)))
    {
        goto invalid;
    }

    *field = v;

    return SQ_OK;

invalid:

    sq_conf_error(rd, sq_conf_line(node), path, "%s", k->msg);

    return SQ_ERR_INVALID;
}


/* a share, 0.89 or 89%, strictly between min and max */

int
sq_conf_set_share(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path)
{
    int      kind;
    double   v, *field;

    field = sq_conf_field(base, k->offset, double);

    if (sq_conf_level(rd, node, path, &v, &kind) != SQ_OK) {
        return SQ_ERR_INVALID;
    }

    if ((kind != SQ_LIT_NUMBER && kind != SQ_LIT_PERCENT)
        || !(v > k->min && v < k->max))
    {
        sq_conf_error(rd, sq_conf_line(node), path, "%s", k->msg);
        return SQ_ERR_INVALID;
    }

    *field = v;

    return SQ_OK;
}


/* a level as written (double at offset) and how (int at aux) */

int
sq_conf_set_level(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path)
{
    int      kind;
    double   v;

    if (sq_conf_level(rd, node, path, &v, &kind) != SQ_OK) {
        return SQ_ERR_INVALID;
    }

    *sq_conf_field(base, k->offset, double) = v;
    *sq_conf_field(base, k->aux, int) = kind;

    return SQ_OK;
}


int
sq_conf_set_flag(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path)
{
    int         *field;
    const char  *s;

    field = sq_conf_field(base, k->offset, int);

    s = sq_conf_scalar(node);

    if (s && (strcmp(s, "true") == 0 || strcmp(s, "on") == 0)) {
        *field = 1;

    } else if (s && (strcmp(s, "false") == 0 || strcmp(s, "off") == 0)) {
        *field = 0;

    } else {
        sq_conf_error(rd, sq_conf_line(node), path, "must be true or false");
        return SQ_ERR_INVALID;
    }

    return SQ_OK;
}


int
sq_conf_word(const sq_conf_enum_t *w, const char *s)
{
    int  i;

    for (i = 0; s && i < w->n; i++) {
        if (strcmp(s, w->names[i]) == 0) {
            return i;
        }
    }

    return -1;
}


void
sq_conf_bad_word(sq_conf_reader_t *rd, yaml_node_t *node, const char *path,
    const sq_conf_enum_t *w)
{
    const char  *s;

    s = sq_conf_scalar(node);

    sq_conf_error(rd, sq_conf_line(node), path, "%s \"%s\"%s%s%s", w->error,
                  s ? s : "", w->hint ? " (" : "", w->hint ? w->hint : "",
                  w->hint ? ")" : "");
}


/* one word of k->words, its index as an int */

int
sq_conf_set_enum(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path)
{
    int  i, *field;

    field = sq_conf_field(base, k->offset, int);

    if (sq_conf_expect(rd, node, YAML_SCALAR_NODE, path) != SQ_OK) {
        return SQ_ERR_INVALID;
    }

    i = sq_conf_word(k->words, sq_conf_scalar(node));

    if (i < 0) {
        sq_conf_bad_word(rd, node, path, k->words);
        return SQ_ERR_INVALID;
    }

    *field = i;

    return SQ_OK;
}


/* a list of words of k->words, a bit each, as an unsigned */

int
sq_conf_set_mask(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path)
{
    int           j, rc;
    size_t        i;
    unsigned     *field;
    yaml_node_t  *item;

    field = sq_conf_field(base, k->offset, unsigned);

    if (sq_conf_expect(rd, node, YAML_SEQUENCE_NODE, path) != SQ_OK) {
        return SQ_ERR_INVALID;
    }

    *field = 0;
    rc = SQ_OK;

    for (i = 0; i < sq_conf_nitems(node); i++) {
        item = sq_conf_item(rd, node, i);
        j = sq_conf_word(k->words, sq_conf_scalar(item));

        if (j < 0) {
            sq_conf_bad_word(rd, item, path, k->words);
            rc = SQ_ERR_INVALID;
            continue;
        }

        *field |= 1u << j;
    }

    return rc;
}


/* a mapping read with k->sub, into the same structure at offset */

int
sq_conf_set_map(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path)
{
    if (sq_conf_walk(rd, node, k->sub, base + k->offset, path) != SQ_OK) {
        return SQ_ERR_INVALID;
    }

    if (k->sub->check) {
        k->sub->check(rd, node, base + k->offset, 0, path);
    }

    return SQ_OK;
}


/*
 * A list of mappings read with k->sub: an array of elements of k->size
 * at offset, its length (size_t) at aux.
 */

int
sq_conf_set_list(sq_conf_reader_t *rd, const sq_conf_key_t *k,
    yaml_node_t *node, char *base, const char *path)
{
    char         *elts, sub[SQ_CONF_PATH_MAX];
    size_t        i, cnt, *count;
    yaml_node_t  *item;

    if (sq_conf_expect(rd, node, YAML_SEQUENCE_NODE, path) != SQ_OK) {
        return SQ_ERR_INVALID;
    }

    cnt = sq_conf_nitems(node);

    elts = calloc(cnt ? cnt : 1, k->size);
    if (elts == NULL) {
        sq_conf_error(rd, sq_conf_line(node), path, "out of memory");
        return SQ_ERR_NOMEM;
    }

    sq_conf_ptr_set(base, k->offset, elts);
    count = sq_conf_field(base, k->aux, size_t);
    *count = 0;

    for (i = 0; i < cnt; i++) {
        item = sq_conf_item(rd, node, i);
        (*count)++;

        if (snprintf(sub, sizeof(sub), "%s[%zu]", path, i)
            >= (int) sizeof(sub))
        {
            sub[sizeof(sub) - 1] = '\0';
        }

        if (sq_conf_walk(rd, item, k->sub, elts + i * k->size, sub) == SQ_OK
            && k->sub->check)
        {
            k->sub->check(rd, item, elts + i * k->size, i, sub);
        }
    }

    return SQ_OK;
}
