
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#ifndef _NGX_HTTP_KAFKA_CONTRACT_H_INCLUDED_
#define _NGX_HTTP_KAFKA_CONTRACT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kafka_produce.h"
#include "ngx_http_kafka_schema.h"
#include "ngx_http_kafka_asyncapi.h"


ngx_int_t ngx_http_kafka_contract_check(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, ngx_array_t *records);

/* the catalog: a location's value schema and AsyncAPI document, or NULL */
ngx_http_kafka_schema_t *ngx_http_kafka_contract_schemas(void *conf,
    ngx_http_kafka_asyncapi_t **asyncapi);


#endif /* _NGX_HTTP_KAFKA_CONTRACT_H_INCLUDED_ */
