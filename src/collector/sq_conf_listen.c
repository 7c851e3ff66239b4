
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "sq_conf_listen.h"
#include "sq_config.h"


/*
 * The listen section, checked as a whole once its keys were read: a port
 * outside 1-65535 would otherwise be cut to 16 bits by the socket layer
 * (70000 listens on 4464), and a socket owner that does not exist is
 * better found by -t than at the first start.
 */


static void sq_conf_check_port(sq_conf_reader_t *rd, yaml_node_t *node,
    const char *addr, const char *key);


yaml_node_t *
sq_conf_value(sq_conf_reader_t *rd, yaml_node_t *map, const char *name)
{
    const char        *s;
    yaml_node_t       *k;
    yaml_node_pair_t  *pair;

    if (map == NULL || map->type != YAML_MAPPING_NODE) {
        return NULL;
    }

    for (pair = map->data.mapping.pairs.start;
         pair < map->data.mapping.pairs.top;
         pair++)
    {
        k = yaml_document_get_node(&rd->doc, pair->key);
        s = k ? sq_conf_scalar(k) : NULL;

        if (s != NULL && strcmp(s, name) == 0) {
            return yaml_document_get_node(&rd->doc, pair->value);
        }
    }

    return NULL;
}


/* "HOST:PORT", "udp://HOST:PORT", "[::1]:PORT"; unix: has no port */

static void
sq_conf_check_port(sq_conf_reader_t *rd, yaml_node_t *node, const char *addr,
    const char *key)
{
    long         port;
    char        *end;
    const char  *p;

    if (addr == NULL || strncmp(addr, "unix:", 5) == 0) {
        return;
    }

    p = strrchr(addr, ':');

    if (p == NULL || (strncmp(addr, "udp://", 6) == 0 && p == addr + 3)) {
        sq_conf_error(rd, sq_conf_line(node), key,
                      "address \"%s\" needs a port", addr);
        return;
    }

    p++;
    port = strtol(p, &end, 10);

    if (*p < '0' || *p > '9' || *end != '\0' || port < 1 || port > 65535) {
        sq_conf_error(rd, sq_conf_line(node), key,
                      "invalid port \"%s\" in \"%s\" (1 to 65535)", p, addr);
    }
}


void
sq_conf_check_listen(sq_conf_reader_t *rd, yaml_node_t *node, char *base,
    size_t index, const char *path)
{
    long            mode;
    char           *end;
    size_t          i;
    sq_conf_t      *conf;
    yaml_node_t    *v, *item;
    struct group   *gr;
    struct passwd  *pw;

    conf = sq_conf_field(base, 0, sq_conf_t);

    v = sq_conf_value(rd, node, "http");

    if (v != NULL) {
        sq_conf_check_port(rd, v, conf->http, "listen.http");
    }

    v = sq_conf_value(rd, node, "ingest");

    /* an address that is neither udp:// nor unix: was said already */

    for (i = 0; v != NULL && i < conf->ningest; i++) {
        item = v->type == YAML_SEQUENCE_NODE && i < sq_conf_nitems(v)
               ? sq_conf_item(rd, v, i) : v;

        if (strncmp(conf->ingest[i], "udp://", 6) == 0) {
            sq_conf_check_port(rd, item, conf->ingest[i], "listen.ingest");
        }
    }

    if (conf->socket_owner != NULL) {
        v = sq_conf_value(rd, node, "socket_owner");
        pw = getpwnam(conf->socket_owner);

        if (pw == NULL) {
            sq_conf_error(rd, sq_conf_line(v), "listen.socket_owner",
                          "unknown user \"%s\"", conf->socket_owner);

        } else {
            conf->socket_uid = pw->pw_uid;
        }
    }

    if (conf->socket_group != NULL) {
        v = sq_conf_value(rd, node, "socket_group");
        gr = getgrnam(conf->socket_group);

        if (gr == NULL) {
            sq_conf_error(rd, sq_conf_line(v), "listen.socket_group",
                          "unknown group \"%s\"", conf->socket_group);

        } else {
            conf->socket_gid = gr->gr_gid;
        }
    }

    if (conf->socket_mode != NULL) {
        v = sq_conf_value(rd, node, "socket_mode");
        mode = strtol(conf->socket_mode, &end, 8);

        if (conf->socket_mode[0] < '0' || conf->socket_mode[0] > '7'
            || *end != '\0' || mode < 0 || mode > 0777)
        {
            sq_conf_error(rd, sq_conf_line(v), "listen.socket_mode",
                          "invalid mode \"%s\" (octal, e.g. 0660)",
                          conf->socket_mode);

        } else {
            conf->socket_perm = (uint32_t) mode;
        }
    }
}
