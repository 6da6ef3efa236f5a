
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#ifndef _NGX_HTTP_KAFKA_REST_H_INCLUDED_
#define _NGX_HTTP_KAFKA_REST_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <librdkafka/rdkafka.h>


/*
 * The error codes of the JSON error bodies ({"error_code", "message"}),
 * REST Proxy v2 style: the HTTP status followed by two digits.  This is
 * the one table; README.md's error table documents it.  A code whose
 * meaning depends on the endpoint has a name for each.
 */
#define NGX_HTTP_KAFKA_REST_TOPIC_INVALID          40001
#define NGX_HTTP_KAFKA_REST_PARTITION_INVALID      40002   /* produce */
#define NGX_HTTP_KAFKA_REST_EVENT_ID_INVALID       40002   /* SSE */
#define NGX_HTTP_KAFKA_REST_KEY_REQUIRED           40003   /* produce */
#define NGX_HTTP_KAFKA_REST_SINCE_INVALID          40003   /* SSE */
#define NGX_HTTP_KAFKA_REST_TOKEN_INVALID          40101
#define NGX_HTTP_KAFKA_REST_NOT_AUTHORIZED         40301
#define NGX_HTTP_KAFKA_REST_TOPIC_NOT_FOUND        40401
#define NGX_HTTP_KAFKA_REST_PARTITION_NOT_FOUND    40402
#define NGX_HTTP_KAFKA_REST_METHOD_NOT_ALLOWED     40501
#define NGX_HTTP_KAFKA_REST_RECORD_TOO_LARGE       41301
#define NGX_HTTP_KAFKA_REST_MEDIA_TYPE             41501
#define NGX_HTTP_KAFKA_REST_BODY_INVALID           42201
#define NGX_HTTP_KAFKA_REST_SCHEMA_UNSUPPORTED     42202
#define NGX_HTTP_KAFKA_REST_CONTRACT_VIOLATED      42203
#define NGX_HTTP_KAFKA_REST_KAFKA_ERROR            50002
#define NGX_HTTP_KAFKA_REST_NOT_WRITTEN            50003
#define NGX_HTTP_KAFKA_REST_QUEUE_FULL             50301
#define NGX_HTTP_KAFKA_REST_CLIENT_UNAVAILABLE     50302
#define NGX_HTTP_KAFKA_REST_KAFKA_UNREACHABLE      50303   /* produce */
#define NGX_HTTP_KAFKA_REST_STREAMS_STARTING       50303   /* SSE */
#define NGX_HTTP_KAFKA_REST_METADATA_UNAVAILABLE   50303   /* metadata */
#define NGX_HTTP_KAFKA_REST_MAYBE_WRITTEN          50401


/* the produce request's state, ngx_http_kafka_produce.h */
typedef struct ngx_http_kafka_produce_ctx_s  ngx_http_kafka_produce_ctx_t;


/* what a librdkafka error means over HTTP */
typedef struct {
    ngx_uint_t                         status;
    ngx_uint_t                         code;
    ngx_uint_t                         retriable;
} ngx_http_kafka_rest_outcome_t;


ngx_int_t ngx_http_kafka_rest_parse(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, ngx_str_t *body, ngx_array_t *records);
ngx_int_t ngx_http_kafka_rest_respond(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, ngx_uint_t timed_out);
void ngx_http_kafka_rest_outcome(rd_kafka_resp_err_t err,
    rd_kafka_msg_status_t status, ngx_http_kafka_rest_outcome_t *out);
ngx_int_t ngx_http_kafka_rest_retry_after(ngx_http_request_t *r);


#endif /* _NGX_HTTP_KAFKA_REST_H_INCLUDED_ */
