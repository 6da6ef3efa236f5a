
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#ifndef _NGX_HTTP_KAFKA_STATUS_H_INCLUDED_
#define _NGX_HTTP_KAFKA_STATUS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <librdkafka/rdkafka.h>


/*
 * What the rest of the module tells kafka_status, one call per event
 * (ngx_http_kafka_status.c).  Every call is a no-op when no kafka_status
 * is configured; on the request path a call is a topic look-up (a cached
 * string compare, else a lock-free hash probe) and atomic adds.
 */

/* why an SSE stream ended: nginx_kafka_sse_streams_closed_total{reason} */
#define NGX_HTTP_KAFKA_STATUS_CLOSED_CLIENT   0    /* the client left */
#define NGX_HTTP_KAFKA_STATUS_CLOSED_SLOW     1    /* stalled, timed out */
#define NGX_HTTP_KAFKA_STATUS_CLOSED_RELOAD   2    /* the worker exits */
#define NGX_HTTP_KAFKA_STATUS_CLOSED_ERROR    3    /* the gateway failed */
#define NGX_HTTP_KAFKA_STATUS_CLOSED_N        4

/* the contract's mode: nginx_kafka_validation_failures_total{mode} */
#define NGX_HTTP_KAFKA_STATUS_INVALID_REJECT    0  /* the request got 422 */
#define NGX_HTTP_KAFKA_STATUS_INVALID_ANNOTATE  1  /* produced, annotated */
#define NGX_HTTP_KAFKA_STATUS_INVALID_N         2


/* produce: the records librdkafka refused or that were never offered */
void ngx_http_kafka_status_produce_failed(ngx_str_t *topic, ngx_uint_t n);
/* produce: a delivery report (acked or failed, and the bytes acked) */
void ngx_http_kafka_status_delivered(const rd_kafka_message_t *msg);
/* produce: request start to the last acknowledgement of a request */
void ngx_http_kafka_status_produce_ack(ngx_str_t *topic, ngx_msec_t ms);

/* SSE: a stream subscribed, an event queued, a stream ended, the lag */
void ngx_http_kafka_status_sse_open(ngx_str_t *topic, ngx_uint_t resumed);
void ngx_http_kafka_status_sse_event(ngx_str_t *topic);
void ngx_http_kafka_status_sse_closed(ngx_str_t *topic, ngx_uint_t reason);
void ngx_http_kafka_status_sse_lag(ngx_str_t *topic, int64_t lag);

/* contracts: n records of a request did not match their contract */
void ngx_http_kafka_status_validation_failed(ngx_str_t *topic,
    ngx_uint_t mode, ngx_uint_t n);

/* kafka_log: a configured topic (its series start at 0), a drop */
void ngx_http_kafka_status_log_topic(ngx_str_t *topic);
void ngx_http_kafka_status_log_dropped(ngx_str_t *topic);

/* JWT and ACL: a refused request; reason NULL: no token at all */
void ngx_http_kafka_status_jwt_rejected(const char *reason);
void ngx_http_kafka_status_acl_rejected(void);

/* a client's statistics event (JSON) and fatal errors */
void ngx_http_kafka_status_stats(const char *client, const char *json);
void ngx_http_kafka_status_fatal(const char *client, const char *reason);


#endif /* _NGX_HTTP_KAFKA_STATUS_H_INCLUDED_ */
