
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#ifndef _NGX_HTTP_KAFKA_PRODUCER_H_INCLUDED_
#define _NGX_HTTP_KAFKA_PRODUCER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kafka_module.h"


/*
 * The "msg_opaque" of every produced message is a heap object that starts
 * with this header.  The client core calls the handler once for each
 * delivery report, from the worker's event loop; the handler owns the
 * object from then on.  NULL opaques (fire-and-forget) are only counted.
 */
typedef struct ngx_http_kafka_dr_s  ngx_http_kafka_dr_t;

typedef void (*ngx_http_kafka_dr_handler_pt)(ngx_http_kafka_dr_t *dr,
    const rd_kafka_message_t *msg);

struct ngx_http_kafka_dr_s {
    ngx_http_kafka_dr_handler_pt  handler;
};


/* per-worker statistics of the producer clients, both together */
typedef struct {
    ngx_atomic_uint_t           produced;
    ngx_atomic_uint_t           delivered;
    ngx_atomic_uint_t           failed;
    ngx_atomic_uint_t           orphaned;      /* reports for gone requests */
} ngx_http_kafka_producer_stats_t;


ngx_int_t ngx_http_kafka_producer_init(ngx_cycle_t *cycle,
    ngx_http_kafka_main_conf_t *kmcf);
void ngx_http_kafka_producer_exit(ngx_cycle_t *cycle,
    ngx_http_kafka_main_conf_t *kmcf);
rd_kafka_t *ngx_http_kafka_producer(ngx_uint_t which);
rd_kafka_topic_t *ngx_http_kafka_producer_topic(ngx_uint_t which,
    ngx_str_t *name);
ngx_uint_t ngx_http_kafka_producer_running(ngx_uint_t which);
ngx_http_kafka_producer_stats_t *ngx_http_kafka_producer_stats(void);
ngx_uint_t ngx_http_kafka_producer_unhealthy(void);
size_t ngx_http_kafka_producer_message_max(void);


#endif /* _NGX_HTTP_KAFKA_PRODUCER_H_INCLUDED_ */
