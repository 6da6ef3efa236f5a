
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#ifndef _NGX_HTTP_KAFKA_BRIDGE_H_INCLUDED_
#define _NGX_HTTP_KAFKA_BRIDGE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <librdkafka/rdkafka.h>


/*
 * The bridge turns a librdkafka queue into an nginx read event: librdkafka
 * writes a byte to a non-blocking pipe when the queue becomes non-empty
 * (rd_kafka_queue_io_event_enable), the read end is an nginx connection,
 * and its handler drains the pipe and calls "serve".  "serve" handles at
 * most a batch of events and returns NGX_AGAIN if the queue may hold more;
 * the bridge then posts itself again, so one busy queue cannot starve the
 * rest of the worker.
 */
typedef ngx_int_t (*ngx_http_kafka_bridge_serve_pt)(void *data);

typedef struct {
    ngx_connection_t               *connection;
    ngx_fd_t                        write_fd;
    rd_kafka_queue_t               *queue;
    ngx_http_kafka_bridge_serve_pt  serve;
    void                           *data;
} ngx_http_kafka_bridge_t;


/*
 * librdkafka reports the same trouble (a broker down, a failed connect)
 * again on every retry.  Each distinct error is logged once until the
 * client is seen working again, then the recovery is logged.
 */
#define NGX_HTTP_KAFKA_HEALTH_SEEN  8

typedef struct {
    rd_kafka_resp_err_t         seen[NGX_HTTP_KAFKA_HEALTH_SEEN];
    ngx_uint_t                  nseen;
} ngx_http_kafka_health_t;


/*
 * Exit-time draining: "handler" takes every event (and destroys it),
 * "done" tells when there is nothing more to wait for.
 */
typedef void (*ngx_http_kafka_event_pt)(void *data, rd_kafka_event_t *ev);
typedef ngx_uint_t (*ngx_http_kafka_drain_done_pt)(void *data);


ngx_int_t ngx_http_kafka_bridge_open(ngx_http_kafka_bridge_t *bridge,
    rd_kafka_queue_t *queue, ngx_http_kafka_bridge_serve_pt serve,
    void *data, ngx_log_t *log);
void ngx_http_kafka_bridge_close(ngx_http_kafka_bridge_t *bridge);
void ngx_http_kafka_log_event(ngx_log_t *log, rd_kafka_event_t *ev,
    ngx_http_kafka_health_t *health, const char *client);
void ngx_http_kafka_health_error(ngx_log_t *log,
    ngx_http_kafka_health_t *health, const char *client,
    rd_kafka_resp_err_t err, const char *reason);
void ngx_http_kafka_health_ok(ngx_log_t *log, ngx_http_kafka_health_t *health,
    const char *client);

rd_kafka_t *ngx_http_kafka_client_new(rd_kafka_type_t type,
    rd_kafka_conf_t *template, int events, ngx_log_t *log);
void ngx_http_kafka_drain(rd_kafka_queue_t *queue, ngx_msec_t timeout,
    int poll, ngx_http_kafka_drain_done_pt done,
    ngx_http_kafka_event_pt handler, void *data);


#endif /* _NGX_HTTP_KAFKA_BRIDGE_H_INCLUDED_ */
