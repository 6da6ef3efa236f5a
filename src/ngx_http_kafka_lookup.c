
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_http.h>

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_consumer.h"
#include "ngx_http_kafka_lookup.h"


static void ngx_http_kafka_resolve_metadata(ngx_http_kafka_resolve_t *rs);
static void ngx_http_kafka_resolve_time_index(ngx_http_kafka_resolve_t *rs,
    ngx_msec_t deadline);
static rd_kafka_resp_err_t ngx_http_kafka_resolve_offsets(
    ngx_http_kafka_resolve_t *rs, rd_kafka_topic_partition_list_t *list,
    int64_t query, int64_t *out, ngx_msec_t deadline);
static ngx_msec_t ngx_http_kafka_resolve_clock(void);


/*
 * Runs in a thread of the pool: only librdkafka calls and plain memory,
 * nothing of nginx's.  A look-up whose requester left while it waited in
 * the pool's queue does nothing, so a worker that exits with many queued
 * look-ups does not wait for each of them.
 */

void
ngx_http_kafka_resolve_thread(void *data, ngx_log_t *log)
{
    ngx_http_kafka_resolve_t  *rs = data;

    int32_t                           p, n;
    ngx_msec_t                        deadline;
    rd_kafka_topic_partition_list_t  *list;

    if (rs->canceled) {
        rs->err = RD_KAFKA_RESP_ERR__DESTROY;
        return;
    }

    deadline = ngx_http_kafka_resolve_clock() + rs->timeout;

    if (rs->npartitions == 0) {
        ngx_http_kafka_resolve_metadata(rs);

        if (rs->err) {
            return;
        }
    }

    n = rs->npartitions;

    rs->low = ngx_alloc(3 * n * sizeof(int64_t), log);
    if (rs->low == NULL) {
        rs->err = RD_KAFKA_RESP_ERR__NOENT;
        return;
    }

    rs->high = rs->low + n;
    rs->at = rs->high + n;

    list = rd_kafka_topic_partition_list_new(n);
    if (list == NULL) {
        rs->err = RD_KAFKA_RESP_ERR__NOENT;
        return;
    }

    for (p = 0; p < n; p++) {
        rd_kafka_topic_partition_list_add(list, rs->topic, p);
    }

    rs->step = "log start offsets";

    rs->err = ngx_http_kafka_resolve_offsets(rs, list,
                                             RD_KAFKA_OFFSET_BEGINNING,
                                             rs->low, deadline);
    if (rs->err) {
        goto done;
    }

    rs->step = "log end offsets";

    rs->err = ngx_http_kafka_resolve_offsets(rs, list, RD_KAFKA_OFFSET_END,
                                             rs->high, deadline);
    if (rs->err || rs->since < 0) {
        goto done;
    }

    rs->step = "offsets by time";

    rs->err = ngx_http_kafka_resolve_offsets(rs, list, rs->since, rs->at,
                                             deadline);
    if (rs->err) {
        goto done;
    }

    ngx_http_kafka_resolve_time_index(rs, deadline);

done:

    rd_kafka_topic_partition_list_destroy(list);
}


/* the partition count, from the topic's metadata */

static void
ngx_http_kafka_resolve_metadata(ngx_http_kafka_resolve_t *rs)
{
    rd_kafka_topic_t           *rkt;
    rd_kafka_resp_err_t         err;
    const rd_kafka_metadata_t  *md;

    rs->step = "metadata";

    rkt = rd_kafka_topic_new(rs->rk, rs->topic, NULL);
    if (rkt == NULL) {
        rs->err = rd_kafka_last_error();
        return;
    }

    err = rd_kafka_metadata(rs->rk, 0, rkt, &md, (int) rs->timeout);

    rd_kafka_topic_destroy(rkt);

    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rs->err = err;
        return;
    }

    if (md->topic_cnt < 1) {
        rs->err = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;

    } else if (md->topics[0].err) {
        rs->err = md->topics[0].err;

    } else if (md->topics[0].partition_cnt <= 0) {
        rs->err = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;

    } else {
        rs->npartitions = md->topics[0].partition_cnt;
        rs->metadata = 1;
    }

    rd_kafka_metadata_destroy(md);
}


/*
 * "No record at or after that time" is also the answer of a broker that
 * cannot look offsets up by time.  Asking for time 0 in a partition that
 * is not empty tells them apart: a broker with a time index answers with
 * an offset.
 */

static void
ngx_http_kafka_resolve_time_index(ngx_http_kafka_resolve_t *rs,
    ngx_msec_t deadline)
{
    int32_t                           p, n;
    rd_kafka_topic_partition_list_t  *probe;

    n = rs->npartitions;
    probe = NULL;

    for (p = 0; p < n; p++) {
        if (rs->at[p] < 0 && rs->low[p] < rs->high[p]) {
            if (probe == NULL) {
                probe = rd_kafka_topic_partition_list_new(n);
                if (probe == NULL) {
                    rs->err = RD_KAFKA_RESP_ERR__NOENT;
                    return;
                }
            }

            rd_kafka_topic_partition_list_add(probe, rs->topic, p);
        }
    }

    if (probe == NULL) {
        return;
    }

    rs->step = "the time index";

    rs->err = ngx_http_kafka_resolve_offsets(rs, probe, 0, rs->at, deadline);

    for (p = 0; rs->err == RD_KAFKA_RESP_ERR_NO_ERROR && p < probe->cnt; p++) {
        rs->at[probe->elems[p].partition] = (probe->elems[p].offset < 0)
                                            ? NGX_HTTP_KAFKA_OFFSET_SCAN
                                            : NGX_HTTP_KAFKA_OFFSET_NONE;
    }

    rd_kafka_topic_partition_list_destroy(probe);
}


/*
 * One ListOffsets round: "query" is a time in milliseconds, or
 * RD_KAFKA_OFFSET_BEGINNING/END for the watermarks.  The answers are
 * stored by partition into "out".
 */

static rd_kafka_resp_err_t
ngx_http_kafka_resolve_offsets(ngx_http_kafka_resolve_t *rs,
    rd_kafka_topic_partition_list_t *list, int64_t query, int64_t *out,
    ngx_msec_t deadline)
{
    int                  i;
    ngx_msec_int_t       left;
    rd_kafka_resp_err_t  err;

    left = (ngx_msec_int_t) (deadline - ngx_http_kafka_resolve_clock());

    if (left <= 0 || rs->canceled) {
        return RD_KAFKA_RESP_ERR__TIMED_OUT;
    }

    for (i = 0; i < list->cnt; i++) {
        list->elems[i].offset = query;
        list->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
    }

    err = rd_kafka_offsets_for_times(rs->rk, list, (int) left);
    if (err) {
        return err;
    }

    for (i = 0; i < list->cnt; i++) {
        if (list->elems[i].err) {
            return list->elems[i].err;
        }

        out[list->elems[i].partition] = list->elems[i].offset;
    }

    return RD_KAFKA_RESP_ERR_NO_ERROR;
}


/* the worker's cached time is not updated for other threads */

static ngx_msec_t
ngx_http_kafka_resolve_clock(void)
{
    struct timeval  tv;

    ngx_gettimeofday(&tv);

    return (ngx_msec_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}


void
ngx_http_kafka_resolve_free(ngx_http_kafka_resolve_t *rs)
{
    if (rs->low) {
        ngx_free(rs->low);
    }

    ngx_free(rs);
}
