
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
 * The worker's producers, at most two (ngx_http_kafka_module.h): one for
 * requests that wait for their acks, with a short linger.ms, and one that
 * batches fire-and-forget records (kafka_produce_ack off, kafka_log).
 * Each lives from init_process to exit_process; every librdkafka callback
 * is replaced by an event on its main queue (delivery reports, errors,
 * and logs via log.queue), and each main queue is served only by its
 * bridge, in the worker's own thread.
 */

typedef struct {
    rd_kafka_t                       *rk;
    rd_kafka_queue_t                 *queue;
    ngx_http_kafka_bridge_t           bridge;
    ngx_log_t                        *log;
    ngx_http_kafka_health_t           health;
    const char                       *name;          /* for logs, status */
    ngx_array_t                       topics;        /* rd_kafka_topic_t * */
    unsigned                          exiting:1;
} ngx_http_kafka_producer_t;


static ngx_http_kafka_producer_t *ngx_http_kafka_producer_start(
    ngx_cycle_t *cycle, rd_kafka_conf_t *conf, const char *name);
static ngx_int_t ngx_http_kafka_producer_warm(ngx_http_kafka_producer_t *kp,
    ngx_cycle_t *cycle, ngx_array_t *topics);
static void ngx_http_kafka_producer_stop(ngx_http_kafka_producer_t *kp);
static ngx_int_t ngx_http_kafka_producer_serve(void *data);
static void ngx_http_kafka_producer_event(void *data, rd_kafka_event_t *ev);
static ngx_uint_t ngx_http_kafka_producer_flushed(void *data);
static ngx_http_kafka_producer_t *ngx_http_kafka_producer_pick(
    ngx_uint_t which);


/* the names are also the client label of kafka_status's metrics */
static const char  *ngx_http_kafka_producer_names[] = {
    "producer", "batch_producer"
};

static ngx_http_kafka_producer_t
    *ngx_http_kafka_producers[NGX_HTTP_KAFKA_PRODUCERS];

/* shared by both producers: the same configuration, the same counters */
static ngx_http_kafka_producer_stats_t   ngx_http_kafka_producer_counts;
static size_t                            ngx_http_kafka_message_max;


ngx_int_t
ngx_http_kafka_producer_init(ngx_cycle_t *cycle,
    ngx_http_kafka_main_conf_t *kmcf)
{
    char                        buf[NGX_SIZE_T_LEN + 1];
    size_t                      size;
    ngx_uint_t                  i;
    rd_kafka_conf_t            *conf;
    ngx_http_kafka_producer_t  *kp;

    for (i = 0; i < NGX_HTTP_KAFKA_PRODUCERS; i++) {
        conf = kmcf->producer_conf[i];
        if (conf == NULL) {
            continue;
        }

        size = sizeof(buf);

        if (rd_kafka_conf_get(conf, "message.max.bytes", buf, &size)
            == RD_KAFKA_CONF_OK)
        {
            ngx_http_kafka_message_max = (size_t) ngx_atosz((u_char *) buf,
                                                         ngx_strlen(buf));
        }

        kp = ngx_http_kafka_producer_start(cycle, conf,
                                           ngx_http_kafka_producer_names[i]);
        if (kp == NULL) {
            return NGX_ERROR;
        }

        ngx_http_kafka_producers[i] = kp;

        if (ngx_http_kafka_producer_warm(kp, cycle, kmcf->warm[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_http_kafka_producer_t *
ngx_http_kafka_producer_start(ngx_cycle_t *cycle, rd_kafka_conf_t *conf,
    const char *name)
{
    ngx_http_kafka_producer_t  *kp;

    kp = ngx_pcalloc(cycle->pool, sizeof(ngx_http_kafka_producer_t));
    if (kp == NULL) {
        return NULL;
    }

    kp->log = cycle->log;
    kp->name = name;

    kp->rk = ngx_http_kafka_client_new(RD_KAFKA_PRODUCER, conf,
                                       RD_KAFKA_EVENT_DR|RD_KAFKA_EVENT_ERROR
                                       |RD_KAFKA_EVENT_LOG, cycle->log);
    if (kp->rk == NULL) {
        return NULL;
    }

    kp->queue = rd_kafka_queue_get_main(kp->rk);

    if (ngx_http_kafka_bridge_open(&kp->bridge, kp->queue,
                                   ngx_http_kafka_producer_serve, kp,
                                   cycle->log)
        != NGX_OK)
    {
        rd_kafka_queue_destroy(kp->queue);
        rd_kafka_destroy(kp->rk);
        return NULL;
    }

    ngx_log_error(NGX_LOG_INFO, cycle->log, 0,
                  "kafka %s %s started (librdkafka %s)",
                  name, rd_kafka_name(kp->rk), rd_kafka_version_str());

    return kp;
}


/*
 * Worker exit: wait for outstanding deliveries of both producers, bounded
 * together by kafka_shutdown_timeout, then purge what is left so the
 * handles can be destroyed without waiting on a broker that may be down.
 * Delivery reports served here belong to requests that are already gone,
 * except on a fast shutdown, where requests are abandoned without
 * cleanup; then the report handlers are not called at all.
 */

void
ngx_http_kafka_producer_exit(ngx_cycle_t *cycle,
    ngx_http_kafka_main_conf_t *kmcf)
{
    int                         left;
    ngx_uint_t                  i, stopped;
    ngx_msec_t                  deadline;
    ngx_http_kafka_producer_t  *kp, *kps[NGX_HTTP_KAFKA_PRODUCERS];

    ngx_time_update();
    deadline = ngx_current_msec + kmcf->shutdown_timeout;

    for (i = 0; i < NGX_HTTP_KAFKA_PRODUCERS; i++) {
        kps[i] = ngx_http_kafka_producers[i];
        ngx_http_kafka_producers[i] = NULL;

        if (kps[i]) {
            kps[i]->exiting = ngx_terminate;
        }
    }

    /* the other producer delivers meanwhile: only its reports wait */

    for (i = 0; i < NGX_HTTP_KAFKA_PRODUCERS; i++) {
        kp = kps[i];
        if (kp == NULL) {
            continue;
        }

        ngx_time_update();

        if ((ngx_msec_int_t) (deadline - ngx_current_msec) > 0) {
            ngx_http_kafka_drain(kp->queue, deadline - ngx_current_msec, 100,
                                 ngx_http_kafka_producer_flushed,
                                 ngx_http_kafka_producer_event, kp);
        }

        left = rd_kafka_outq_len(kp->rk);

        if (left > 0) {
            ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                          "kafka %s: %d message(s) not acknowledged "
                          "within kafka_shutdown_timeout, purging",
                          kp->name, left);

            rd_kafka_purge(kp->rk, RD_KAFKA_PURGE_F_QUEUE
                                   | RD_KAFKA_PURGE_F_INFLIGHT);
        }
    }

    stopped = 0;

    for (i = 0; i < NGX_HTTP_KAFKA_PRODUCERS; i++) {
        if (kps[i]) {
            ngx_http_kafka_producer_stop(kps[i]);
            stopped++;
        }
    }

    if (stopped) {
        ngx_log_error(NGX_LOG_INFO, cycle->log, 0,
                      "kafka producer stopped: %uA produced, %uA delivered, "
                      "%uA failed", ngx_http_kafka_producer_counts.produced,
                      ngx_http_kafka_producer_counts.delivered,
                      ngx_http_kafka_producer_counts.failed);
    }
}


/*
 * Cold start: a topic handle for each topic the configuration names.
 * Creating one asks Kafka for the topic's metadata in the background, so
 * the first request for it does not wait for that round trip (topics
 * from variables get theirs with their first record).  The handles are
 * kept until the producer stops.
 */

static ngx_int_t
ngx_http_kafka_producer_warm(ngx_http_kafka_producer_t *kp,
    ngx_cycle_t *cycle, ngx_array_t *topics)
{
    ngx_str_t          *t;
    ngx_uint_t          i, n;
    rd_kafka_topic_t  **rkt;

    n = topics ? topics->nelts : 0;

    if (ngx_array_init(&kp->topics, cycle->pool, ngx_max(n, 1),
                       sizeof(rd_kafka_topic_t *))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    t = n ? topics->elts : NULL;

    for (i = 0; i < n; i++) {
        rkt = ngx_array_push(&kp->topics);
        if (rkt == NULL) {
            return NGX_ERROR;
        }

        *rkt = rd_kafka_topic_new(kp->rk, (char *) t[i].data, NULL);

        if (*rkt == NULL) {
            kp->topics.nelts--;
            ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                          "kafka %s: topic \"%V\": %s", kp->name, &t[i],
                          rd_kafka_err2str(rd_kafka_last_error()));
        }
    }

    return NGX_OK;
}


/* purged messages are reported asynchronously: a short grace for them */

static void
ngx_http_kafka_producer_stop(ngx_http_kafka_producer_t *kp)
{
    ngx_uint_t          i;
    rd_kafka_topic_t  **rkt;

    ngx_http_kafka_drain(kp->queue, 1000, 50,
                         ngx_http_kafka_producer_flushed,
                         ngx_http_kafka_producer_event, kp);

    rkt = kp->topics.elts;

    for (i = 0; i < kp->topics.nelts; i++) {
        rd_kafka_topic_destroy(rkt[i]);
    }

    ngx_http_kafka_bridge_close(&kp->bridge);

    rd_kafka_queue_destroy(kp->queue);
    rd_kafka_destroy(kp->rk);
}


/*
 * The producer for "which" (NGX_HTTP_KAFKA_PRODUCER_*), or the other one
 * when the configuration needs only that one: metadata look-ups take
 * whichever runs.  NULL when the worker has no producer.
 */

static ngx_http_kafka_producer_t *
ngx_http_kafka_producer_pick(ngx_uint_t which)
{
    ngx_http_kafka_producer_t  *kp;

    kp = ngx_http_kafka_producers[which];

    return kp ? kp : ngx_http_kafka_producers[!which];
}


/* the librdkafka handle of that producer */

rd_kafka_t *
ngx_http_kafka_producer(ngx_uint_t which)
{
    ngx_http_kafka_producer_t  *kp;

    kp = ngx_http_kafka_producer_pick(which);

    return kp ? kp->rk : NULL;
}


/*
 * The handle of "name" among the topics warmed at worker start by the
 * producer ngx_http_kafka_producer(which) returns, or NULL.  It is valid
 * while that producer runs: producing with it skips librdkafka's look-up
 * of the name.
 */

rd_kafka_topic_t *
ngx_http_kafka_producer_topic(ngx_uint_t which, ngx_str_t *name)
{
    const char                  *n;
    ngx_uint_t                   i;
    rd_kafka_topic_t           **rkt;
    ngx_http_kafka_producer_t   *kp;

    kp = ngx_http_kafka_producer_pick(which);

    if (kp == NULL) {
        return NULL;
    }

    rkt = kp->topics.elts;

    for (i = 0; i < kp->topics.nelts; i++) {
        n = rd_kafka_topic_name(rkt[i]);

        if (ngx_strlen(n) == name->len
            && ngx_strncmp(n, name->data, name->len) == 0)
        {
            return rkt[i];
        }
    }

    return NULL;
}


ngx_uint_t
ngx_http_kafka_producer_running(ngx_uint_t which)
{
    return ngx_http_kafka_producers[which] != NULL;
}


/* librdkafka's limit on one record's key and value, 0 if unknown */

size_t
ngx_http_kafka_producer_message_max(void)
{
    return ngx_http_kafka_message_max;
}


/*
 * Errors seen (a broker down, a failed connect) and no success since, by
 * the producer that requests waiting for acks use.
 */

ngx_uint_t
ngx_http_kafka_producer_unhealthy(void)
{
    ngx_http_kafka_producer_t  *kp;

    kp = ngx_http_kafka_producers[NGX_HTTP_KAFKA_PRODUCER_ACK];

    return kp && kp->health.nseen > 0;
}


ngx_http_kafka_producer_stats_t *
ngx_http_kafka_producer_stats(void)
{
    return &ngx_http_kafka_producer_counts;
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
        ngx_http_kafka_log_event(kp->log, ev, &kp->health, kp->name);
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
            ngx_http_kafka_producer_counts.delivered++;
            ngx_http_kafka_health_ok(kp->log, &kp->health, kp->name);

        } else {
            ngx_http_kafka_producer_counts.failed++;

            if (msg->_private == NULL) {
                ngx_http_kafka_health_error(kp->log, &kp->health, kp->name,
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
