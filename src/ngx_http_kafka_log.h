
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#ifndef _NGX_HTTP_KAFKA_LOG_H_INCLUDED_
#define _NGX_HTTP_KAFKA_LOG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kafka_module.h"


/*
 * Traffic capture (kafka_log): what its files share.  The directives and
 * the log phase handler are in ngx_http_kafka_log_module.c, the captured
 * bodies in ngx_http_kafka_log_body.c, the record's headers and value in
 * ngx_http_kafka_log_format.c.
 */


#define NGX_HTTP_KAFKA_LOG_CLOUDEVENTS     0
#define NGX_HTTP_KAFKA_LOG_JSON            1

#define NGX_HTTP_KAFKA_LOG_BODY_REQUEST    0x01
#define NGX_HTTP_KAFKA_LOG_BODY_RESPONSE   0x02


typedef struct {
    ngx_str_t                    topic;      /* NUL-terminated */
    ngx_uint_t                   index;      /* in the worker's counters */
    ngx_http_complex_value_t    *filter;     /* if=, or NULL */
} ngx_http_kafka_log_t;


typedef struct {
    ngx_array_t                 *logs;       /* ngx_http_kafka_log_t */
    ngx_http_complex_value_t    *key;
    ngx_http_complex_value_t    *source;
    ngx_http_complex_value_t    *type;
    ngx_uint_t                   format;
    ngx_uint_t                   body;       /* NGX_HTTP_KAFKA_LOG_BODY_* */
    size_t                       body_max;
    ngx_array_t                 *headers;    /* ngx_str_t, lowercase */
    ngx_flag_t                   tombstone;
} ngx_http_kafka_log_loc_conf_t;


/* a body as captured: at most body_max bytes of "total" */
typedef struct {
    u_char                      *data;
    size_t                       len;
    size_t                       size;       /* allocated */
    off_t                        total;
    unsigned                     captured:1;
    unsigned                     truncated:1;
} ngx_http_kafka_log_body_t;


/* the request's bodies, captured as they pass (the module's ctx) */
typedef struct {
    ngx_http_kafka_log_body_t    request;
    ngx_http_kafka_log_body_t    response;
} ngx_http_kafka_log_ctx_t;


/* a selected request header: the configured name, the joined values */
typedef struct {
    ngx_str_t                    name;
    ngx_str_t                    value;
} ngx_http_kafka_log_header_t;


/* what one exchange's records say, gathered once in the log phase */
typedef struct {
    ngx_str_t                    id;
    ngx_str_t                    source;
    ngx_str_t                    type;
    ngx_str_t                    time;       /* RFC 3339, UTC */
    ngx_str_t                    method;
    ngx_str_t                    path;
    ngx_str_t                    query;
    ngx_uint_t                   status;
    ngx_str_t                    subject;    /* a verified JWT's "sub" */
    ngx_str_t                    request_type;
    ngx_str_t                    response_type;
    ngx_str_t                    request_time;
    ngx_str_t                    upstream_time;
    ngx_array_t                  headers;    /* ngx_http_kafka_log_header_t */
    ngx_http_kafka_log_body_t   *request;    /* NULL: not captured */
    ngx_http_kafka_log_body_t   *response;   /* NULL: not captured */
    unsigned                     tombstone:1;
} ngx_http_kafka_log_event_t;


/* a worker's capture counters (ngx_http_kafka_log_stats()) */
typedef struct {
    ngx_str_t                   *topics;     /* the kafka_log topics */
    ngx_atomic_uint_t           *dropped;    /* per topic */
    ngx_uint_t                   ntopics;
    ngx_uint_t                   queued;     /* not yet reported */
    ngx_atomic_uint_t            dropped_total;
} ngx_http_kafka_log_stats_t;


/* n < 1000 as three digits, zero-padded (a status, milliseconds) */
static ngx_inline u_char *
ngx_http_kafka_log_digits3(u_char *p, ngx_uint_t n)
{
    *p++ = (u_char) ('0' + n / 100);
    *p++ = (u_char) ('0' + n / 10 % 10);
    *p++ = (u_char) ('0' + n % 10);

    return p;
}


/* ngx_http_kafka_log_module.c */
ngx_http_kafka_log_stats_t *ngx_http_kafka_log_stats(void);

/* ngx_http_kafka_log_body.c */
ngx_int_t ngx_http_kafka_log_body_init(ngx_conf_t *cf);
ngx_http_kafka_log_body_t *ngx_http_kafka_log_response_body(
    ngx_http_request_t *r);
ngx_http_kafka_log_body_t *ngx_http_kafka_log_request_body(
    ngx_http_request_t *r);

/* ngx_http_kafka_log_format.c */
ngx_int_t ngx_http_kafka_log_format(ngx_http_request_t *r,
    ngx_http_kafka_log_loc_conf_t *llcf, ngx_http_kafka_log_event_t *ev,
    rd_kafka_headers_t **headers, ngx_str_t *value);


extern ngx_module_t  ngx_http_kafka_log_module;


#endif /* _NGX_HTTP_KAFKA_LOG_H_INCLUDED_ */
