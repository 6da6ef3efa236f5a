
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#ifndef _NGX_HTTP_KAFKA_LOOKUP_H_INCLUDED_
#define _NGX_HTTP_KAFKA_LOOKUP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kafka_consumer.h"


/*
 * The blocking half of a look-up (ngx_http_kafka_resolve_t), run in a
 * thread of the pool; the consumer posts it, completes it in the worker
 * and frees it.
 */
void ngx_http_kafka_resolve_thread(void *data, ngx_log_t *log);
void ngx_http_kafka_resolve_free(ngx_http_kafka_resolve_t *rs);


#endif /* _NGX_HTTP_KAFKA_LOOKUP_H_INCLUDED_ */
