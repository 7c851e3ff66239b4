
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_CONF_LISTEN_H_INCLUDED_
#define _SQ_CONF_LISTEN_H_INCLUDED_


#include "sq_conf_yaml.h"


/*
 * Checks of the listen section across its keys: every port from 1 to
 * 65535, the unix sockets' owner and group known users and groups (the
 * ids stored), their mode an octal mode such as 0660.
 */
void sq_conf_check_listen(sq_conf_reader_t *rd, yaml_node_t *node,
    char *base, size_t index, const char *path);

/* the value of key name in a mapping, NULL if it is not there */
yaml_node_t *sq_conf_value(sq_conf_reader_t *rd, yaml_node_t *map,
    const char *name);


#endif /* _SQ_CONF_LISTEN_H_INCLUDED_ */
