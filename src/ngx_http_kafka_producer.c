
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_http.h>

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_bridge.h"
#include "ngx_http_kafka_producer.h"
#include "ngx_http_kafka_status.h"


/* events served per wake-up before the bridge yields to other work */
#define NGX_HTTP_KAFKA_SERVE_BATCH  64


/*
 * The worker's producer.  It lives from init_process to exit_process;
 * every librdkafka callback is replaced by an event on the main queue
 * (delivery reports, errors, and logs via log.queue), and the main queue
 * is served only by the bridge, in the worker's own thread.
 */

typedef struct {
    rd_kafka_t                       *rk;
    rd_kafka_queue_t                 *queue;
    ngx_http_kafka_bridge_t           bridge;
    ngx_log_t                        *log;
    ngx_http_kafka_health_t           health;
    ngx_http_kafka_producer_stats_t   stats;
    size_t                            message_max;   /* message.max.bytes */
    unsigned                          exiting:1;
} ngx_http_kafka_producer_t;


static ngx_int_t ngx_http_kafka_producer_serve(void *data);
static void ngx_http_kafka_producer_event(void *data, rd_kafka_event_t *ev);
static ngx_uint_t ngx_http_kafka_producer_flushed(void *data);


static ngx_http_kafka_producer_t  *ngx_http_kafka_the_producer;


ngx_int_t
ngx_http_kafka_producer_init(ngx_cycle_t *cycle,
    ngx_http_kafka_main_conf_t *kmcf)
{
    char                        buf[NGX_SIZE_T_LEN + 1];
    size_t                      size;
    ngx_http_kafka_producer_t  *kp;

    kp = ngx_pcalloc(cycle->pool, sizeof(ngx_http_kafka_producer_t));
    if (kp == NULL) {
        return NGX_ERROR;
    }

    kp->log = cycle->log;

    size = sizeof(buf);

    if (rd_kafka_conf_get(kmcf->producer_conf, "message.max.bytes", buf,
                          &size)
        == RD_KAFKA_CONF_OK)
    {
        kp->message_max = (size_t) ngx_atosz((u_char *) buf,
                                             ngx_strlen(buf));
    }

    kp->rk = ngx_http_kafka_client_new(RD_KAFKA_PRODUCER, kmcf->producer_conf,
                                       RD_KAFKA_EVENT_DR|RD_KAFKA_EVENT_ERROR
                                       |RD_KAFKA_EVENT_LOG, cycle->log);
    if (kp->rk == NULL) {
        return NGX_ERROR;
    }

    kp->queue = rd_kafka_queue_get_main(kp->rk);

    if (ngx_http_kafka_bridge_open(&kp->bridge, kp->queue,
                                   ngx_http_kafka_producer_serve, kp,
                                   cycle->log)
        != NGX_OK)
    {
        rd_kafka_queue_destroy(kp->queue);
        rd_kafka_destroy(kp->rk);
        return NGX_ERROR;
    }

    ngx_http_kafka_the_producer = kp;

    ngx_log_error(NGX_LOG_INFO, cycle->log, 0,
                  "kafka producer %s started (librdkafka %s)",
                  rd_kafka_name(kp->rk), rd_kafka_version_str());

    return NGX_OK;
}


/*
 * Worker exit: wait for outstanding deliveries, bounded by
 * kafka_shutdown_timeout, then purge what is left so the handle can be
 * destroyed without waiting on a broker that may be down.  Delivery
 * reports served here belong to requests that are already gone, except on
 * a fast shutdown, where requests are abandoned without cleanup; then the
 * report handlers are not called at all.
 */

void
ngx_http_kafka_producer_exit(ngx_cycle_t *cycle,
    ngx_http_kafka_main_conf_t *kmcf)
{
    int                         left;
    ngx_http_kafka_producer_t  *kp;

    kp = ngx_http_kafka_the_producer;
    if (kp == NULL) {
        return;
    }

    ngx_http_kafka_the_producer = NULL;
    kp->exiting = ngx_terminate;

    ngx_http_kafka_drain(kp->queue, kmcf->shutdown_timeout, 100,
                         ngx_http_kafka_producer_flushed,
                         ngx_http_kafka_producer_event, kp);

    left = rd_kafka_outq_len(kp->rk);

    if (left > 0) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "kafka producer: %d message(s) not acknowledged "
                      "within kafka_shutdown_timeout, purging", left);

        rd_kafka_purge(kp->rk, RD_KAFKA_PURGE_F_QUEUE
                               | RD_KAFKA_PURGE_F_INFLIGHT);

        /* purged messages are reported asynchronously; a short grace */

        ngx_http_kafka_drain(kp->queue, 1000, 50,
                             ngx_http_kafka_producer_flushed,
                             ngx_http_kafka_producer_event, kp);
    }

    ngx_http_kafka_bridge_close(&kp->bridge);

    rd_kafka_queue_destroy(kp->queue);
    rd_kafka_destroy(kp->rk);

    ngx_log_error(NGX_LOG_INFO, cycle->log, 0,
                  "kafka producer stopped: %uA produced, %uA delivered, "
                  "%uA failed", kp->stats.produced, kp->stats.delivered,
                  kp->stats.failed);
}


rd_kafka_t *
ngx_http_kafka_producer(void)
{
    return ngx_http_kafka_the_producer ? ngx_http_kafka_the_producer->rk
                                       : NULL;
}


/* librdkafka's limit on one record's key and value, 0 if unknown */

size_t
ngx_http_kafka_producer_message_max(void)
{
    return ngx_http_kafka_the_producer
           ? ngx_http_kafka_the_producer->message_max : 0;
}


/* errors seen (a broker down, a failed connect) and no success since */

ngx_uint_t
ngx_http_kafka_producer_unhealthy(void)
{
    return ngx_http_kafka_the_producer
           && ngx_http_kafka_the_producer->health.nseen > 0;
}


ngx_http_kafka_producer_stats_t *
ngx_http_kafka_producer_stats(void)
{
    return ngx_http_kafka_the_producer ? &ngx_http_kafka_the_producer->stats
                                       : NULL;
}


static ngx_int_t
ngx_http_kafka_producer_serve(void *data)
{
    ngx_http_kafka_producer_t  *kp = data;

    ngx_uint_t         n;
    rd_kafka_event_t  *ev;

    for (n = 0; n < NGX_HTTP_KAFKA_SERVE_BATCH; n++) {
        ev = rd_kafka_queue_poll(kp->queue, 0);
        if (ev == NULL) {
            return NGX_OK;
        }

        ngx_http_kafka_producer_event(kp, ev);
    }

    return NGX_AGAIN;
}


static void
ngx_http_kafka_producer_event(void *data, rd_kafka_event_t *ev)
{
    ngx_http_kafka_producer_t  *kp = data;

    ngx_http_kafka_dr_t        *dr;
    const rd_kafka_message_t   *msg;

    if (rd_kafka_event_type(ev) != RD_KAFKA_EVENT_DR) {
        ngx_http_kafka_log_event(kp->log, ev, &kp->health, "producer");
        rd_kafka_event_destroy(ev);
        return;
    }

    while ((msg = rd_kafka_event_message_next(ev)) != NULL) {

        ngx_log_debug4(NGX_LOG_DEBUG_HTTP, kp->log, 0,
                       "kafka delivery report: partition %D offset %O "
                       "err %d opaque %p",
                       msg->partition, (off_t) msg->offset,
                       (int) msg->err, msg->_private);

        ngx_http_kafka_status_delivered(msg);

        if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            kp->stats.delivered++;
            ngx_http_kafka_health_ok(kp->log, &kp->health, "producer");

        } else {
            kp->stats.failed++;

            if (msg->_private == NULL) {
                ngx_http_kafka_health_error(kp->log, &kp->health, "producer",
                                            msg->err,
                                            "unacknowledged message lost");
            }
        }

        dr = msg->_private;

        if (dr && !kp->exiting) {
            dr->handler(dr, msg);
        }
    }

    rd_kafka_event_destroy(ev);
}


static ngx_uint_t
ngx_http_kafka_producer_flushed(void *data)
{
    ngx_http_kafka_producer_t  *kp = data;

    return rd_kafka_outq_len(kp->rk) == 0;
}
