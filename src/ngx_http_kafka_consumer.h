
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#ifndef _NGX_HTTP_KAFKA_CONSUMER_H_INCLUDED_
#define _NGX_HTTP_KAFKA_CONSUMER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kafka_module.h"


/*
 * The consumer side (ngx_http_kafka_consumer.c) and the SSE side
 * (ngx_http_kafka_sse.c) meet here: a subscriber reads every partition of
 * one topic from its own positions, and the consumer calls its handler
 * once for each record at or after the subscriber's position.
 */

typedef struct ngx_http_kafka_topic_s    ngx_http_kafka_topic_t;
typedef struct ngx_http_kafka_sub_s      ngx_http_kafka_sub_t;
typedef struct ngx_http_kafka_record_s   ngx_http_kafka_record_t;
typedef struct ngx_http_kafka_resolve_s  ngx_http_kafka_resolve_t;

/* NGX_OK: taken (or filtered out); NGX_DECLINED: not now, keep the position */
typedef ngx_int_t (*ngx_http_kafka_record_pt)(ngx_http_kafka_sub_t *sub,
    ngx_http_kafka_record_t *rec);
typedef void (*ngx_http_kafka_resolve_pt)(ngx_http_kafka_resolve_t *rs);


/* how many differently formatted copies of one record are shared */
#define NGX_HTTP_KAFKA_RECORD_SHARED   4


/*
 * One record during its fan-out.  "shared" holds the record formatted for
 * the subscribers that asked so far; whoever fills it sets "release",
 * which the consumer calls when the fan-out is over.
 */

struct ngx_http_kafka_record_s {
    const rd_kafka_message_t         *msg;
    ngx_str_t                        *topic;

    void                             *shared[NGX_HTTP_KAFKA_RECORD_SHARED];
    ngx_uint_t                        nshared;
    void                            (*release)(ngx_http_kafka_record_t *rec);
};


struct ngx_http_kafka_sub_s {
    ngx_queue_t                       queue;       /* in the topic's list */
    ngx_http_kafka_topic_t           *topic;

    /*
     * next[p]: the offset of the next record of partition p that the
     * subscriber wants; the consumer advances it past every record the
     * handler takes, including those the handler filters out.
     */
    int64_t                          *next;
    int32_t                           npartitions;

    ngx_http_kafka_record_pt          handler;
    void                             *data;
};


/*
 * A look-up for a new subscriber, run in a thread pool because every
 * step is a blocking librdkafka call: the partition count (metadata), the
 * first and the next offset of every partition (low and high watermarks)
 * and, if "since" is not -1, the first offset at or after that time.
 */

#define NGX_HTTP_KAFKA_OFFSET_NONE     -1    /* at[p]: no such record */
#define NGX_HTTP_KAFKA_OFFSET_SCAN     -2    /* at[p]: no time index */

struct ngx_http_kafka_resolve_s {
    ngx_queue_t                       queue;       /* posted look-ups */
    ngx_thread_task_t                 task;

    /* the requester; "data" is NULL once it has gone */
    ngx_http_kafka_resolve_pt         handler;
    void                             *data;

    /* read by the thread */
    rd_kafka_t                       *rk;
    char                             *topic;
    int64_t                           since;
    ngx_msec_t                        timeout;
    volatile ngx_uint_t               canceled;

    /* written by the thread, read after completion */
    int32_t                           npartitions;
    int64_t                          *low;
    int64_t                          *high;
    int64_t                          *at;
    rd_kafka_resp_err_t               err;
    const char                       *step;
    unsigned                          metadata:1;
};


extern ngx_module_t  ngx_http_kafka_sse_module;


/* ngx_http_kafka_consumer.c */
rd_kafka_conf_t *ngx_http_kafka_consumer_conf(ngx_conf_t *cf,
    ngx_http_kafka_main_conf_t *kmcf);
ngx_int_t ngx_http_kafka_consumer_init(ngx_cycle_t *cycle,
    rd_kafka_conf_t *conf);
void ngx_http_kafka_consumer_exit(ngx_cycle_t *cycle,
    ngx_msec_t shutdown_timeout);
ngx_uint_t ngx_http_kafka_consumer_running(void);

ngx_http_kafka_resolve_t *ngx_http_kafka_consumer_resolve(ngx_str_t *topic,
    int64_t since, ngx_msec_t timeout, ngx_thread_pool_t *tp,
    ngx_http_kafka_resolve_pt handler, void *data, ngx_log_t *log);
void ngx_http_kafka_consumer_resolve_cancel(ngx_http_kafka_resolve_t *rs);

ngx_int_t ngx_http_kafka_consumer_subscribe(ngx_http_kafka_sub_t *sub,
    ngx_str_t *topic, ngx_log_t *log);
void ngx_http_kafka_consumer_unsubscribe(ngx_http_kafka_sub_t *sub);
void ngx_http_kafka_consumer_rewind(ngx_http_kafka_sub_t *sub,
    ngx_log_t *log);


#endif /* _NGX_HTTP_KAFKA_CONSUMER_H_INCLUDED_ */
