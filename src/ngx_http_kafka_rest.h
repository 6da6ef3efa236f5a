
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#ifndef _NGX_HTTP_KAFKA_REST_H_INCLUDED_
#define _NGX_HTTP_KAFKA_REST_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kafka_produce.h"


ngx_int_t ngx_http_kafka_produce_parse(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, ngx_str_t *body, ngx_array_t *records);
ngx_int_t ngx_http_kafka_produce_respond(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, ngx_uint_t timed_out);
void ngx_http_kafka_produce_outcome(rd_kafka_resp_err_t err,
    rd_kafka_msg_status_t status, ngx_http_kafka_produce_outcome_t *out);
ngx_int_t ngx_http_kafka_produce_retry_after(ngx_http_request_t *r);


#endif /* _NGX_HTTP_KAFKA_REST_H_INCLUDED_ */
