
/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 */


#ifndef _SQ_RULES_H_INCLUDED_
#define _SQ_RULES_H_INCLUDED_


#include <stdio.h>

#include "sq_config.h"
#include "sq_conf_yaml.h"


/*
 * Prints Prometheus recording and alerting rules that compute the zones
 * of the config in PromQL over the metrics of any number of collectors.
 * Returns SQ_OK; SQ_ERR_INVALID when an indicator cannot be expressed
 * with the exported buckets (said on err), SQ_ERR_NOMEM.
 */
int sq_rules_print(const sq_conf_t *conf, FILE *out, FILE *err);

/*
 * The check of the prometheus section: site_labels are label names,
 * neither the row's nor the alerts' own, each once, at most 8.
 */
void sq_rules_conf_check(sq_conf_reader_t *rd, yaml_node_t *node,
    char *base, size_t index, const char *path);


#endif /* _SQ_RULES_H_INCLUDED_ */
