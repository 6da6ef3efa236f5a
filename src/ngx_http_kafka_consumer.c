
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
#include "ngx_http_kafka_consumer.h"
#include "ngx_http_kafka_lookup.h"
#include "ngx_http_kafka_status.h"


/*
 * The worker's consumer
 *
 * One librdkafka consumer per worker serves every SSE client of the
 * worker.  It never joins its group (librdkafka only needs a group.id for
 * the assign API): partitions are added and removed with
 * rd_kafka_incremental_assign/unassign at explicit offsets and nothing is
 * committed.  Records, errors and logs all arrive on the consumer queue,
 * which the bridge turns into a read event of the worker.
 *
 * A topic object exists while the topic has subscribers and holds one
 * reader per partition.  Every subscriber reads every partition of its
 * topic from its own positions.  A reader is the only fetcher of its
 * partition and is kept at or below the lowest position any subscriber
 * needs; each subscriber skips the records below its own position, so a
 * record reaches a subscriber at most once and none is skipped.  A
 * subscriber that cannot take more for now declines records and keeps
 * its position; when it can again, it asks for a rewind, and the readers
 * go back to its positions as they do for a new subscriber.
 *
 * Reader states:
 *
 *   IDLE      not assigned.
 *
 *   STARTING  assigned at "pos", no record or end-of-partition event seen
 *             since.  librdkafka may start the fetch after the assign call
 *             returns (it first waits for partitions being removed to
 *             stop), and a seek issued before the fetch starts is undone by
 *             it.  So a subscriber that needs an offset below "pos" only
 *             lowers "rewind".
 *
 *   ACTIVE    a record or end-of-partition event came: the fetch runs.  On
 *             that transition a lowered "rewind" is applied: the reader
 *             seeks there and drops the record it just got (it comes
 *             again).  From then on a subscriber that needs an offset below
 *             "pos" makes the reader seek at once.  rd_kafka_seek_partitions
 *             sets a version barrier before it returns, so nothing fetched
 *             for the old position is served after it.
 *
 * When the last subscriber leaves, the topic's partitions are unassigned
 * and the topic object is freed.
 *
 * Look-ups that block (metadata, offsets) run in an nginx thread pool.
 * A look-up is heap memory owned by the consumer: its requester may leave
 * before it completes and then only sets rs->data to NULL; the completion
 * handler frees it, or exit_process does once the thread pools have
 * stopped.
 *
 * A consumer-group mode would add a kind of topic object that subscribes
 * instead of assigning and takes its positions from rebalance events; the
 * subscribers and the fan-out would stay as they are.
 */


/*
 * Events and record bytes served per wake-up.  Then the consumer yields
 * to the event loop, so that clients' sockets drain and other requests
 * run before the next batch.
 */
#define NGX_HTTP_KAFKA_CONSUMER_BATCH      256
#define NGX_HTTP_KAFKA_CONSUMER_BYTES      65536

/* how long a partition count learned from metadata is trusted */
#define NGX_HTTP_KAFKA_METADATA_TTL        30000

#define NGX_HTTP_KAFKA_READER_IDLE         0
#define NGX_HTTP_KAFKA_READER_STARTING     1
#define NGX_HTTP_KAFKA_READER_ACTIVE       2


typedef struct {
    int64_t                           pos;
    int64_t                           rewind;
    ngx_uint_t                        state;
} ngx_http_kafka_reader_t;


struct ngx_http_kafka_topic_s {
    ngx_str_node_t                    sn;          /* sn.str: the name */
    ngx_queue_t                       subs;
    ngx_uint_t                        nsubs;

    int32_t                           npartitions;
    ngx_http_kafka_reader_t          *readers;

    /* the partition count from the last metadata look-up */
    int32_t                           metadata_partitions;
    ngx_msec_t                        metadata_time;
};


typedef struct {
    rd_kafka_t                       *rk;
    rd_kafka_queue_t                 *queue;
    ngx_http_kafka_bridge_t           bridge;
    ngx_log_t                        *log;
    ngx_http_kafka_health_t           health;

    ngx_rbtree_t                      topics;
    ngx_rbtree_node_t                 sentinel;

    /* the last record's topic, valid until a topic object is freed */
    rd_kafka_topic_t                 *last_rkt;
    ngx_http_kafka_topic_t           *last_topic;

    ngx_queue_t                       resolves;
} ngx_http_kafka_consumer_t;


static void ngx_http_kafka_consumer_closing(void *data, rd_kafka_event_t *ev);
static ngx_uint_t ngx_http_kafka_consumer_closed(void *data);
static ngx_int_t ngx_http_kafka_consumer_serve(void *data);
static void ngx_http_kafka_consumer_lag(ngx_http_kafka_consumer_t *kc);
static void ngx_http_kafka_consumer_record(ngx_http_kafka_consumer_t *kc,
    const rd_kafka_message_t *msg);
static void ngx_http_kafka_consumer_eof(ngx_http_kafka_consumer_t *kc,
    rd_kafka_event_t *ev);
static ngx_int_t ngx_http_kafka_consumer_confirm(
    ngx_http_kafka_consumer_t *kc, ngx_http_kafka_topic_t *topic,
    int32_t partition);
static void ngx_http_kafka_consumer_seek(ngx_http_kafka_consumer_t *kc,
    rd_kafka_topic_partition_list_t *list);
static ngx_int_t ngx_http_kafka_consumer_position(
    ngx_http_kafka_consumer_t *kc, ngx_http_kafka_topic_t *topic,
    ngx_http_kafka_sub_t *sub, ngx_log_t *log);
static ngx_http_kafka_topic_t *ngx_http_kafka_consumer_topic(
    ngx_http_kafka_consumer_t *kc, ngx_str_t *name);
static void ngx_http_kafka_consumer_topic_free(ngx_http_kafka_consumer_t *kc,
    ngx_http_kafka_topic_t *topic);
static void ngx_http_kafka_resolve_done(ngx_event_t *ev);


static ngx_http_kafka_consumer_t  *ngx_http_kafka_the_consumer;


/*
 * Built in the master from the shared consumer configuration.  Three
 * settings are not the user's to change, because exact resume depends on
 * them: a position below the log start restarts at the log start, never at
 * the end; end-of-partition events tell that a fetch has started; and a
 * group.id, which the assign API requires (the group is never joined).
 */

rd_kafka_conf_t *
ngx_http_kafka_consumer_conf(ngx_conf_t *cf, ngx_http_kafka_main_conf_t *kmcf)
{
    char              group[256];
    size_t            size;
    rd_kafka_conf_t  *conf;

    conf = ngx_http_kafka_conf_new(cf, kmcf, NGX_HTTP_KAFKA_ROLE_CONSUMER, 0);
    if (conf == NULL) {
        return NULL;
    }

    size = sizeof(group);

    if (rd_kafka_conf_get(conf, "group.id", group, &size) != RD_KAFKA_CONF_OK
        || group[0] == '\0')
    {
        if (ngx_http_kafka_conf_set(conf, "group.id", "nginx-kafka-gateway",
                                    cf->log)
            != NGX_OK)
        {
            return NULL;
        }
    }

    if (ngx_http_kafka_conf_set(conf, "enable.partition.eof", "true", cf->log)
        != NGX_OK
        || ngx_http_kafka_conf_set(conf, "auto.offset.reset", "earliest",
                                   cf->log)
           != NGX_OK)
    {
        return NULL;
    }

    if (ngx_http_kafka_conf_check(cf, conf, RD_KAFKA_CONSUMER) != NGX_OK) {
        return NULL;
    }

    return conf;
}


ngx_int_t
ngx_http_kafka_consumer_init(ngx_cycle_t *cycle, rd_kafka_conf_t *template)
{
    rd_kafka_resp_err_t         err;
    ngx_http_kafka_consumer_t  *kc;

    kc = ngx_pcalloc(cycle->pool, sizeof(ngx_http_kafka_consumer_t));
    if (kc == NULL) {
        return NGX_ERROR;
    }

    kc->log = cycle->log;

    ngx_rbtree_init(&kc->topics, &kc->sentinel, ngx_str_rbtree_insert_value);
    ngx_queue_init(&kc->resolves);

    /* logs and errors go to the main queue, and that to the consumer's */

    kc->rk = ngx_http_kafka_client_new(RD_KAFKA_CONSUMER, template,
                                       RD_KAFKA_EVENT_ERROR|RD_KAFKA_EVENT_LOG,
                                       cycle->log);
    if (kc->rk == NULL) {
        return NGX_ERROR;
    }

    err = rd_kafka_poll_set_consumer(kc->rk);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "rd_kafka_poll_set_consumer() failed: %s",
                      rd_kafka_err2str(err));
        goto failed;
    }

    kc->queue = rd_kafka_queue_get_consumer(kc->rk);
    if (kc->queue == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "kafka consumer has no consumer queue");
        goto failed;
    }

    if (ngx_http_kafka_bridge_open(&kc->bridge, kc->queue,
                                   ngx_http_kafka_consumer_serve, kc,
                                   cycle->log)
        != NGX_OK)
    {
        rd_kafka_queue_destroy(kc->queue);
        goto failed;
    }

    ngx_http_kafka_the_consumer = kc;

    ngx_log_error(NGX_LOG_INFO, cycle->log, 0,
                  "kafka consumer %s started", rd_kafka_name(kc->rk));

    return NGX_OK;

failed:

    rd_kafka_destroy_flags(kc->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    return NGX_ERROR;
}


/*
 * Worker exit.  The thread pools have stopped before this module's
 * exit_process runs (core modules come first), so no look-up is running
 * and every one left can be freed.  Subscribers are gone: on a graceful
 * exit the SSE side ended them, on a fast one their requests are
 * abandoned with the process.  The consumer is closed asynchronously
 * within kafka_shutdown_timeout; with no group joined that is quick, but a
 * handle that is not closed by then is destroyed without closing.
 */

void
ngx_http_kafka_consumer_exit(ngx_cycle_t *cycle, ngx_msec_t shutdown_timeout)
{
    ngx_queue_t                *q;
    rd_kafka_error_t           *error;
    ngx_rbtree_node_t          *node;
    ngx_http_kafka_topic_t     *topic;
    ngx_http_kafka_resolve_t   *rs;
    ngx_http_kafka_consumer_t  *kc;

    kc = ngx_http_kafka_the_consumer;
    if (kc == NULL) {
        return;
    }

    ngx_http_kafka_the_consumer = NULL;

    while (!ngx_queue_empty(&kc->resolves)) {
        q = ngx_queue_head(&kc->resolves);
        ngx_queue_remove(q);

        rs = ngx_queue_data(q, ngx_http_kafka_resolve_t, queue);

        if (rs->task.event.posted) {
            ngx_delete_posted_event(&rs->task.event);
        }

        ngx_http_kafka_resolve_free(rs);
    }

    while (kc->topics.root != kc->topics.sentinel) {
        node = ngx_rbtree_min(kc->topics.root, kc->topics.sentinel);
        topic = (ngx_http_kafka_topic_t *) node;

        ngx_rbtree_delete(&kc->topics, node);
        ngx_free(topic->readers);
        ngx_free(topic);
    }

    ngx_http_kafka_bridge_close(&kc->bridge);

    error = rd_kafka_consumer_close_queue(kc->rk, kc->queue);

    if (error) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "kafka consumer close: %s",
                      rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);

    } else {
        ngx_http_kafka_drain(kc->queue, shutdown_timeout, 100,
                             ngx_http_kafka_consumer_closed,
                             ngx_http_kafka_consumer_closing, kc);
    }

    rd_kafka_queue_destroy(kc->queue);

    if (rd_kafka_consumer_closed(kc->rk)) {
        rd_kafka_destroy(kc->rk);

    } else {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "kafka consumer not closed within "
                      "kafka_shutdown_timeout");
        rd_kafka_destroy_flags(kc->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    }

    ngx_log_error(NGX_LOG_INFO, cycle->log, 0, "kafka consumer stopped");
}


/* while closing: records are dropped, logs and errors still logged */

static void
ngx_http_kafka_consumer_closing(void *data, rd_kafka_event_t *ev)
{
    ngx_http_kafka_consumer_t  *kc = data;

    if (rd_kafka_event_type(ev) != RD_KAFKA_EVENT_FETCH) {
        ngx_http_kafka_log_event(kc->log, ev, &kc->health, "consumer");
    }

    rd_kafka_event_destroy(ev);
}


static ngx_uint_t
ngx_http_kafka_consumer_closed(void *data)
{
    ngx_http_kafka_consumer_t  *kc = data;

    return rd_kafka_consumer_closed(kc->rk);
}


ngx_uint_t
ngx_http_kafka_consumer_running(void)
{
    return ngx_http_kafka_the_consumer != NULL;
}


static ngx_int_t
ngx_http_kafka_consumer_serve(void *data)
{
    ngx_http_kafka_consumer_t  *kc = data;

    size_t                     bytes;
    ngx_uint_t                 n;
    rd_kafka_event_t          *ev;
    rd_kafka_resp_err_t        err;
    const rd_kafka_message_t  *msg;

    bytes = 0;

    for (n = 0;
         n < NGX_HTTP_KAFKA_CONSUMER_BATCH
         && bytes < NGX_HTTP_KAFKA_CONSUMER_BYTES;
         n++)
    {
        ev = rd_kafka_queue_poll(kc->queue, 0);
        if (ev == NULL) {
            return NGX_OK;
        }

        switch (rd_kafka_event_type(ev)) {

        case RD_KAFKA_EVENT_FETCH:
            while ((msg = rd_kafka_event_message_next(ev)) != NULL) {
                bytes += msg->len + msg->key_len;
                ngx_http_kafka_consumer_record(kc, msg);
            }

            break;

        case RD_KAFKA_EVENT_STATS:
            ngx_http_kafka_consumer_lag(kc);
            ngx_http_kafka_log_event(kc->log, ev, &kc->health, "consumer");
            break;

        case RD_KAFKA_EVENT_ERROR:
            err = rd_kafka_event_error(ev);

            if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                ngx_http_kafka_consumer_eof(kc, ev);
                break;
            }

            if (err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
                /* expected: a position below the log start */
                ngx_log_error(NGX_LOG_INFO, kc->log, 0, "kafka consumer: %s",
                              rd_kafka_event_error_string(ev));
                break;
            }

            /* fall through */

        default:
            ngx_http_kafka_log_event(kc->log, ev, &kc->health, "consumer");
        }

        rd_kafka_event_destroy(ev);
    }

    return NGX_AGAIN;
}


/*
 * On each statistics event: for every topic with subscribers, how far the
 * subscriber furthest behind is from the high watermark, max over the
 * partitions.  The watermarks are librdkafka's cached ones (from fetch
 * responses): no request to a broker.
 */

static void
ngx_http_kafka_consumer_lag(ngx_http_kafka_consumer_t *kc)
{
    int32_t                  p;
    int64_t                  low, high, next, lag;
    ngx_queue_t             *q;
    ngx_rbtree_node_t       *node, *root, *sentinel;
    ngx_http_kafka_sub_t    *sub;
    ngx_http_kafka_topic_t  *topic;

    sentinel = kc->topics.sentinel;
    root = kc->topics.root;

    if (root == sentinel) {
        return;
    }

    for (node = ngx_rbtree_min(root, sentinel);
         node;
         node = ngx_rbtree_next(&kc->topics, node))
    {
        topic = (ngx_http_kafka_topic_t *) node;
        lag = 0;

        for (p = 0; p < topic->npartitions; p++) {
            if (rd_kafka_get_watermark_offsets(kc->rk,
                                               (char *) topic->sn.str.data,
                                               p, &low, &high)
                != RD_KAFKA_RESP_ERR_NO_ERROR
                || high < 0)
            {
                continue;
            }

            for (q = ngx_queue_head(&topic->subs);
                 q != ngx_queue_sentinel(&topic->subs);
                 q = ngx_queue_next(q))
            {
                sub = ngx_queue_data(q, ngx_http_kafka_sub_t, queue);

                if (p >= sub->npartitions) {
                    continue;
                }

                next = ngx_max(sub->next[p], low);

                if (high - next > lag) {
                    lag = high - next;
                }
            }
        }

        ngx_http_kafka_status_sse_lag(&topic->sn.str, lag);
    }
}


static void
ngx_http_kafka_consumer_record(ngx_http_kafka_consumer_t *kc,
    const rd_kafka_message_t *msg)
{
    int64_t                   prev;
    int32_t                   p;
    ngx_str_t                 name;
    ngx_queue_t              *q;
    ngx_http_kafka_sub_t     *sub;
    ngx_http_kafka_topic_t   *topic;
    ngx_http_kafka_record_t   rec;

    if (msg->err) {
        ngx_http_kafka_health_error(kc->log, &kc->health, "consumer",
                                    msg->err, rd_kafka_message_errstr(msg));
        return;
    }

    ngx_http_kafka_health_ok(kc->log, &kc->health, "consumer");

    if (msg->rkt == kc->last_rkt) {
        topic = kc->last_topic;

    } else {
        name.data = (u_char *) rd_kafka_topic_name(msg->rkt);
        name.len = ngx_strlen(name.data);

        topic = ngx_http_kafka_consumer_topic(kc, &name);
        if (topic == NULL) {
            /* a record fetched before its topic was unassigned */
            return;
        }

        kc->last_rkt = msg->rkt;
        kc->last_topic = topic;
    }

    p = msg->partition;

    if (p < 0 || p >= topic->npartitions) {
        return;
    }

    if (topic->readers[p].state == NGX_HTTP_KAFKA_READER_STARTING
        && ngx_http_kafka_consumer_confirm(kc, topic, p) != NGX_OK)
    {
        /* the reader went back: this record comes again */
        return;
    }

    topic->readers[p].pos = msg->offset + 1;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, kc->log, 0,
                   "kafka consumer record %V[%D] offset %O",
                   &topic->sn.str, p, (off_t) msg->offset);

    ngx_memzero(&rec, sizeof(ngx_http_kafka_record_t));
    rec.msg = msg;
    rec.topic = &topic->sn.str;

    /* handlers never unsubscribe: a subscriber that must end is ended later */

    for (q = ngx_queue_head(&topic->subs);
         q != ngx_queue_sentinel(&topic->subs);
         q = ngx_queue_next(q))
    {
        sub = ngx_queue_data(q, ngx_http_kafka_sub_t, queue);

        if (p >= sub->npartitions || msg->offset < sub->next[p]) {
            continue;
        }

        /* the handler sees the position after this record (its id) */

        prev = sub->next[p];
        sub->next[p] = msg->offset + 1;

        if (sub->handler(sub, &rec) != NGX_OK) {
            sub->next[p] = prev;
        }
    }

    if (rec.release) {
        rec.release(&rec);
    }
}


static void
ngx_http_kafka_consumer_eof(ngx_http_kafka_consumer_t *kc,
    rd_kafka_event_t *ev)
{
    ngx_str_t                    name;
    ngx_http_kafka_topic_t      *topic;
    rd_kafka_topic_partition_t  *tp;

    tp = rd_kafka_event_topic_partition(ev);
    if (tp == NULL) {
        return;
    }

    ngx_http_kafka_health_ok(kc->log, &kc->health, "consumer");

    name.data = (u_char *) tp->topic;
    name.len = ngx_strlen(tp->topic);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, kc->log, 0,
                   "kafka consumer end of %V[%D] at %O",
                   &name, tp->partition, (off_t) tp->offset);

    topic = ngx_http_kafka_consumer_topic(kc, &name);

    if (topic
        && tp->partition >= 0 && tp->partition < topic->npartitions
        && topic->readers[tp->partition].state
           == NGX_HTTP_KAFKA_READER_STARTING)
    {
        (void) ngx_http_kafka_consumer_confirm(kc, topic, tp->partition);
    }

    rd_kafka_topic_partition_destroy(tp);
}


/*
 * The first sign of a started fetch.  Returns NGX_DECLINED if the reader
 * went back to a lower offset asked for meanwhile.
 */

static ngx_int_t
ngx_http_kafka_consumer_confirm(ngx_http_kafka_consumer_t *kc,
    ngx_http_kafka_topic_t *topic, int32_t partition)
{
    ngx_http_kafka_reader_t          *rd;
    rd_kafka_topic_partition_list_t  *list;

    rd = &topic->readers[partition];
    rd->state = NGX_HTTP_KAFKA_READER_ACTIVE;

    if (rd->rewind < 0 || rd->rewind >= rd->pos) {
        return NGX_OK;
    }

    list = rd_kafka_topic_partition_list_new(1);
    if (list == NULL) {
        return NGX_OK;
    }

    rd_kafka_topic_partition_list_add(list, (char *) topic->sn.str.data,
                                      partition)->offset = rd->rewind;

    rd->pos = rd->rewind;
    rd->rewind = -1;

    ngx_http_kafka_consumer_seek(kc, list);

    rd_kafka_topic_partition_list_destroy(list);

    return NGX_DECLINED;
}


static void
ngx_http_kafka_consumer_seek(ngx_http_kafka_consumer_t *kc,
    rd_kafka_topic_partition_list_t *list)
{
    int                          i;
    rd_kafka_error_t            *error;
    rd_kafka_topic_partition_t  *tp;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, kc->log, 0,
                   "kafka consumer seek %s[%D]",
                   list->elems[0].topic, list->elems[0].partition);

    error = rd_kafka_seek_partitions(kc->rk, list, 0);

    if (error) {
        ngx_log_error(NGX_LOG_ALERT, kc->log, 0,
                      "kafka consumer seek failed: %s",
                      rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        return;
    }

    for (i = 0; i < list->cnt; i++) {
        tp = &list->elems[i];

        /* an asynchronous seek reports "in progress" for every partition */

        if (tp->err && tp->err != RD_KAFKA_RESP_ERR__IN_PROGRESS) {
            ngx_log_error(NGX_LOG_ALERT, kc->log, 0,
                          "kafka consumer seek of %s[%D] to %O failed: %s",
                          tp->topic, tp->partition, (off_t) tp->offset,
                          rd_kafka_err2str(tp->err));
        }
    }
}


/*
 * Adds a subscriber whose positions (sub->next) are set: every reader of
 * the topic is assigned or moved so that it is at or below them.
 */

ngx_int_t
ngx_http_kafka_consumer_subscribe(ngx_http_kafka_sub_t *sub, ngx_str_t *name,
    ngx_log_t *log)
{
    int32_t                           p;
    uint32_t                          hash;
    ngx_http_kafka_topic_t           *topic;
    ngx_http_kafka_reader_t          *readers;
    ngx_http_kafka_consumer_t        *kc;

    kc = ngx_http_kafka_the_consumer;
    if (kc == NULL) {
        return NGX_ERROR;
    }

    topic = ngx_http_kafka_consumer_topic(kc, name);

    if (topic == NULL) {
        topic = ngx_calloc(sizeof(ngx_http_kafka_topic_t) + name->len + 1,
                           log);
        if (topic == NULL) {
            return NGX_ERROR;
        }

        topic->sn.str.data = (u_char *) (topic + 1);
        topic->sn.str.len = name->len;
        ngx_memcpy(topic->sn.str.data, name->data, name->len);

        hash = ngx_crc32_short(name->data, name->len);
        topic->sn.node.key = hash;

        ngx_queue_init(&topic->subs);
        ngx_rbtree_insert(&kc->topics, &topic->sn.node);
    }

    if (sub->npartitions > topic->npartitions) {
        readers = ngx_alloc(sub->npartitions
                            * sizeof(ngx_http_kafka_reader_t), log);
        if (readers == NULL) {
            goto failed;
        }

        if (topic->readers) {
            ngx_memcpy(readers, topic->readers,
                       topic->npartitions * sizeof(ngx_http_kafka_reader_t));
            ngx_free(topic->readers);
        }

        for (p = topic->npartitions; p < sub->npartitions; p++) {
            readers[p].state = NGX_HTTP_KAFKA_READER_IDLE;
            readers[p].pos = -1;
            readers[p].rewind = -1;
        }

        topic->readers = readers;
        topic->npartitions = sub->npartitions;
    }

    if (ngx_http_kafka_consumer_position(kc, topic, sub, log) != NGX_OK) {
        goto failed;
    }

    sub->topic = topic;
    ngx_queue_insert_tail(&topic->subs, &sub->queue);
    topic->nsubs++;

    return NGX_OK;

failed:

    if (topic->nsubs == 0) {
        ngx_http_kafka_consumer_topic_free(kc, topic);
    }

    return NGX_ERROR;
}


/*
 * Moves the readers of the topic so that none is past the subscriber's
 * positions: idle ones are assigned there, starting ones remember a
 * rewind, active ones seek.
 */

static ngx_int_t
ngx_http_kafka_consumer_position(ngx_http_kafka_consumer_t *kc,
    ngx_http_kafka_topic_t *topic, ngx_http_kafka_sub_t *sub, ngx_log_t *log)
{
    int                               i;
    int64_t                           want;
    int32_t                           p;
    ngx_int_t                         rc;
    rd_kafka_error_t                 *error;
    ngx_http_kafka_reader_t          *rd;
    rd_kafka_topic_partition_list_t  *assign, *seek;

    assign = rd_kafka_topic_partition_list_new(sub->npartitions);
    seek = rd_kafka_topic_partition_list_new(sub->npartitions);

    if (assign == NULL || seek == NULL) {
        rc = NGX_ERROR;
        goto done;
    }

    for (p = 0; p < sub->npartitions; p++) {
        rd = &topic->readers[p];
        want = sub->next[p];

        switch (rd->state) {

        case NGX_HTTP_KAFKA_READER_IDLE:
            rd_kafka_topic_partition_list_add(assign,
                                              (char *) topic->sn.str.data,
                                              p)->offset = want;
            break;

        case NGX_HTTP_KAFKA_READER_STARTING:
            if (want < rd->pos && (rd->rewind < 0 || want < rd->rewind)) {
                rd->rewind = want;
            }

            break;

        default: /* NGX_HTTP_KAFKA_READER_ACTIVE */
            if (want < rd->pos) {
                rd_kafka_topic_partition_list_add(seek,
                                              (char *) topic->sn.str.data,
                                              p)->offset = want;
                rd->pos = want;
            }

            break;
        }
    }

    rc = NGX_OK;

    if (assign->cnt) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                       "kafka consumer assign %V: %d partition(s)",
                       &topic->sn.str, assign->cnt);

        error = rd_kafka_incremental_assign(kc->rk, assign);

        if (error) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "kafka consumer could not assign \"%V\": %s",
                          &topic->sn.str, rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
            rc = NGX_ERROR;
            goto done;
        }

        for (i = 0; i < assign->cnt; i++) {
            rd = &topic->readers[assign->elems[i].partition];
            rd->state = NGX_HTTP_KAFKA_READER_STARTING;
            rd->pos = assign->elems[i].offset;
            rd->rewind = -1;
        }
    }

    if (seek->cnt) {
        ngx_http_kafka_consumer_seek(kc, seek);
    }

done:

    if (assign) {
        rd_kafka_topic_partition_list_destroy(assign);
    }

    if (seek) {
        rd_kafka_topic_partition_list_destroy(seek);
    }

    return rc;
}


/* a subscriber that declined records can take them again */

void
ngx_http_kafka_consumer_rewind(ngx_http_kafka_sub_t *sub, ngx_log_t *log)
{
    ngx_http_kafka_consumer_t  *kc;

    kc = ngx_http_kafka_the_consumer;

    if (kc == NULL || sub->topic == NULL) {
        return;
    }

    (void) ngx_http_kafka_consumer_position(kc, sub->topic, sub, log);
}


void
ngx_http_kafka_consumer_unsubscribe(ngx_http_kafka_sub_t *sub)
{
    ngx_http_kafka_topic_t     *topic;
    ngx_http_kafka_consumer_t  *kc;

    topic = sub->topic;
    if (topic == NULL) {
        return;
    }

    sub->topic = NULL;
    ngx_queue_remove(&sub->queue);
    topic->nsubs--;

    kc = ngx_http_kafka_the_consumer;

    if (topic->nsubs == 0 && kc) {
        ngx_http_kafka_consumer_topic_free(kc, topic);
    }
}


static ngx_http_kafka_topic_t *
ngx_http_kafka_consumer_topic(ngx_http_kafka_consumer_t *kc, ngx_str_t *name)
{
    uint32_t  hash;

    hash = ngx_crc32_short(name->data, name->len);

    return (ngx_http_kafka_topic_t *) ngx_str_rbtree_lookup(&kc->topics, name,
                                                            hash);
}


static void
ngx_http_kafka_consumer_topic_free(ngx_http_kafka_consumer_t *kc,
    ngx_http_kafka_topic_t *topic)
{
    int32_t                           p;
    rd_kafka_error_t                 *error;
    rd_kafka_topic_partition_list_t  *list;

    list = NULL;

    for (p = 0; p < topic->npartitions; p++) {
        if (topic->readers[p].state == NGX_HTTP_KAFKA_READER_IDLE) {
            continue;
        }

        if (list == NULL) {
            list = rd_kafka_topic_partition_list_new(topic->npartitions);
            if (list == NULL) {
                break;
            }
        }

        rd_kafka_topic_partition_list_add(list, (char *) topic->sn.str.data,
                                          p);
    }

    if (list) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, kc->log, 0,
                       "kafka consumer unassign %V: %d partition(s)",
                       &topic->sn.str, list->cnt);

        error = rd_kafka_incremental_unassign(kc->rk, list);

        if (error) {
            ngx_log_error(NGX_LOG_ALERT, kc->log, 0,
                          "kafka consumer could not unassign \"%V\": %s",
                          &topic->sn.str, rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
        }

        rd_kafka_topic_partition_list_destroy(list);
    }

    kc->last_rkt = NULL;
    kc->last_topic = NULL;

    ngx_rbtree_delete(&kc->topics, &topic->sn.node);

    if (topic->readers) {
        ngx_free(topic->readers);
    }

    ngx_free(topic);
}


/*
 * Posts a look-up for a new subscriber of "name".  The partition count is
 * taken from a recent look-up of the same topic if there is one.
 */

ngx_http_kafka_resolve_t *
ngx_http_kafka_consumer_resolve(ngx_str_t *name, int64_t since,
    ngx_msec_t timeout, ngx_thread_pool_t *tp,
    ngx_http_kafka_resolve_pt handler, void *data, ngx_log_t *log)
{
    ngx_http_kafka_topic_t     *topic;
    ngx_http_kafka_resolve_t   *rs;
    ngx_http_kafka_consumer_t  *kc;

    kc = ngx_http_kafka_the_consumer;
    if (kc == NULL) {
        return NULL;
    }

    rs = ngx_calloc(sizeof(ngx_http_kafka_resolve_t) + name->len + 1, log);
    if (rs == NULL) {
        return NULL;
    }

    rs->topic = (char *) (rs + 1);
    ngx_memcpy(rs->topic, name->data, name->len);

    rs->rk = kc->rk;
    rs->since = since;
    rs->timeout = timeout;
    rs->handler = handler;
    rs->data = data;

    topic = ngx_http_kafka_consumer_topic(kc, name);

    if (topic
        && topic->metadata_partitions > 0
        && ngx_current_msec - topic->metadata_time
           < NGX_HTTP_KAFKA_METADATA_TTL)
    {
        rs->npartitions = topic->metadata_partitions;
    }

    rs->task.ctx = rs;
    rs->task.handler = ngx_http_kafka_resolve_thread;
    rs->task.event.handler = ngx_http_kafka_resolve_done;
    rs->task.event.data = rs;
    rs->task.event.log = kc->log;

    if (ngx_thread_task_post(tp, &rs->task) != NGX_OK) {
        ngx_free(rs);
        return NULL;
    }

    ngx_queue_insert_tail(&kc->resolves, &rs->queue);

    return rs;
}


void
ngx_http_kafka_consumer_resolve_cancel(ngx_http_kafka_resolve_t *rs)
{
    rs->data = NULL;
    rs->canceled = 1;
}


static void
ngx_http_kafka_resolve_done(ngx_event_t *ev)
{
    ngx_http_kafka_resolve_t  *rs = ev->data;

    ngx_str_t                   name;
    ngx_http_kafka_topic_t     *topic;
    ngx_http_kafka_consumer_t  *kc;

    ngx_queue_remove(&rs->queue);

    kc = ngx_http_kafka_the_consumer;

    if (kc && rs->metadata) {
        name.data = (u_char *) rs->topic;
        name.len = ngx_strlen(rs->topic);

        topic = ngx_http_kafka_consumer_topic(kc, &name);

        if (topic) {
            topic->metadata_partitions = rs->npartitions;
            topic->metadata_time = ngx_current_msec;
        }
    }

    if (rs->data) {
        rs->handler(rs);
    }

    ngx_http_kafka_resolve_free(rs);
}
