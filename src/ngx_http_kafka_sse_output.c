
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
#include "ngx_http_kafka_sse.h"


static void ngx_http_kafka_sse_check(ngx_http_kafka_sse_ctx_t *ctx);
static ngx_int_t ngx_http_kafka_sse_push(ngx_http_kafka_sse_ctx_t *ctx,
    ngx_uint_t progress);
static void ngx_http_kafka_sse_release(ngx_http_kafka_sse_ctx_t *ctx);


/*
 * A piece of output with room for "size" bytes of the client's own
 * (0: the usual room, an id line and a short comment).  Pieces of the
 * usual size are kept for reuse.
 */

ngx_http_kafka_sse_out_t *
ngx_http_kafka_sse_out(ngx_http_kafka_sse_ctx_t *ctx, size_t size)
{
    ngx_http_kafka_sse_out_t  *out;

    if (size <= ctx->piece_size && ctx->free) {
        out = ctx->free;
        ctx->free = out->next;
        ctx->nfree--;

    } else {
        if (size < ctx->piece_size) {
            size = ctx->piece_size;
        }

        out = ngx_alloc(offsetof(ngx_http_kafka_sse_out_t, data) + size,
                        ctx->request->connection->log);
        if (out == NULL) {
            return NULL;
        }

        out->size = size;
    }

    out->next = NULL;
    out->msg = NULL;

    return out;
}


/* queues a piece whose own bytes end at "last" */

void
ngx_http_kafka_sse_append(ngx_http_kafka_sse_ctx_t *ctx,
    ngx_http_kafka_sse_out_t *out, u_char *last)
{
    ngx_buf_t  *b;

    out->len = 0;

    if (out->msg) {
        b = &out->buf[0];
        ngx_memzero(b, sizeof(ngx_buf_t));

        b->pos = out->msg->data;
        b->last = out->msg->data + out->msg->len;
        b->memory = 1;
        b->tag = (ngx_buf_tag_t) &ngx_http_kafka_sse_module;

        out->cl[0].buf = b;
        out->cl[0].next = &out->cl[1];
        out->len = out->msg->len;
    }

    b = &out->buf[1];
    ngx_memzero(b, sizeof(ngx_buf_t));

    b->start = out->data;
    b->pos = out->data;
    b->last = last;
    b->end = out->data + out->size;
    b->temporary = 1;
    b->tag = (ngx_buf_tag_t) &ngx_http_kafka_sse_module;

    out->cl[1].buf = b;
    out->cl[1].next = NULL;
    out->len += last - out->data;

    *ctx->pending_last = out;
    ctx->pending_last = &out->next;

    ctx->pieces++;
    ctx->queued += out->len;
    ctx->last_output = ngx_current_msec;

    if (ctx->state != NGX_HTTP_KAFKA_SSE_STREAMING) {
        return;
    }

    ngx_http_kafka_sse_check(ctx);

    ngx_http_kafka_sse_schedule(ctx);
}


/* the client's output is pushed from the worker's posted flush event */

void
ngx_http_kafka_sse_schedule(ngx_http_kafka_sse_ctx_t *ctx)
{
    if (!ctx->in_flush) {
        ngx_queue_insert_tail(&ngx_http_kafka_sse_worker.flush, &ctx->flush);
        ctx->in_flush = 1;
    }

    if (!ngx_http_kafka_sse_worker.flush_event.posted) {
        ngx_post_event(&ngx_http_kafka_sse_worker.flush_event,
                       &ngx_posted_events);
    }
}


/*
 * The output cap.  Above kafka_consume_buffer (a single event is always
 * let through, however large) the client is paused: it declines records
 * and keeps its positions, so nothing is lost and its memory stays
 * bounded while other clients go on.  Below half the cap again it asks
 * the consumer to rewind to its positions and catches up from Kafka.  A
 * client that stays paused for NGX_HTTP_KAFKA_SSE_STALL takes nothing at
 * all and is closed by the heartbeat handler.
 */

static void
ngx_http_kafka_sse_check(ngx_http_kafka_sse_ctx_t *ctx)
{
    size_t  cap;

    cap = ctx->conf->buffer;

    if (!ctx->paused) {
        if (ctx->queued > cap && ctx->pieces > 1) {
            ctx->paused = 1;
            ctx->paused_since = ngx_current_msec;

            ngx_log_debug1(NGX_LOG_DEBUG_HTTP,
                           ctx->request->connection->log, 0,
                           "kafka sse client paused, %uz bytes queued",
                           ctx->queued);

            if (ctx->heartbeat.timer_set) {
                ngx_add_timer(&ctx->heartbeat, NGX_HTTP_KAFKA_SSE_STALL);
            }
        }

        return;
    }

    if (ctx->queued <= cap / 2 && ctx->state == NGX_HTTP_KAFKA_SSE_STREAMING) {
        ctx->paused = 0;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                       "kafka sse client resumes, %uz bytes queued",
                       ctx->queued);

        ngx_http_kafka_consumer_rewind(&ctx->sub,
                                       ctx->request->connection->log);
    }
}


/*
 * Hands the pending output to nginx, unless the connection is still busy
 * with earlier output (then the write handler comes back).  "progress":
 * called because the connection became writable, so send_timeout starts
 * over; new records alone do not extend it.
 */

static ngx_int_t
ngx_http_kafka_sse_push(ngx_http_kafka_sse_ctx_t *ctx, ngx_uint_t progress)
{
    ngx_int_t                  rc;
    ngx_event_t               *wev;
    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_http_core_loc_conf_t  *clcf;

    r = ctx->request;
    c = r->connection;
    wev = c->write;

    rc = NGX_OK;

    if (ctx->pending && !wev->delayed && (wev->ready || !c->buffered)) {
        rc = ngx_http_kafka_sse_output(ctx);

    } else if (c->buffered && wev->ready && !wev->delayed) {
        rc = ngx_http_output_filter(r, NULL);
    }

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    ngx_http_kafka_sse_release(ctx);

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (ngx_handle_write_event(wev, clcf->send_lowat) != NGX_OK) {
        return NGX_ERROR;
    }

    if (wev->delayed) {
        return NGX_OK;
    }

    if (wev->active && !wev->ready) {
        if (progress || !wev->timer_set) {
            ngx_add_timer(wev, clcf->send_timeout);
        }

    } else if (wev->timer_set) {
        ngx_del_timer(wev);
    }

    return NGX_OK;
}


/* all pending pieces to nginx in one chain, flush set on its last buffer */

ngx_int_t
ngx_http_kafka_sse_output(ngx_http_kafka_sse_ctx_t *ctx)
{
    ngx_int_t                  rc;
    ngx_chain_t               *first, **last;
    ngx_http_kafka_sse_out_t  *out, *next;

    first = NULL;
    last = &first;

    for (out = ctx->pending; out; out = out->next) {
        *last = out->msg ? &out->cl[0] : &out->cl[1];
        last = &out->cl[1].next;
        out->cl[1].next = NULL;

        if (out->next == NULL) {
            out->buf[1].flush = 1;
        }
    }

    *ctx->busy_last = ctx->pending;
    ctx->busy_last = ctx->pending_last;

    ctx->pending = NULL;
    ctx->pending_last = &ctx->pending;

    rc = ngx_http_output_filter(ctx->request, first);

    if (rc == NGX_ERROR) {
        return rc;    /* the pool cleanup frees them */
    }

    /* the filters have now dropped what was sent before: see sse_release */

    for (out = ctx->sent; out; out = next) {
        next = out->next;
        ngx_http_kafka_sse_out_free(ctx, out);
    }

    ctx->sent = NULL;

    return rc;
}


/*
 * Pieces whose bytes are all sent no longer count against the buffer, but
 * their buffers may still be linked from a body filter's "busy" chain:
 * the chunked and copy filters drop sent buffers only when they are next
 * given data (ngx_chain_update_chains), and ngx_http_output_filter(r,
 * NULL) does not.  So they wait in "sent" and are freed or reused only
 * after the next call with data (ngx_http_kafka_sse_output), or when the
 * request's pool is destroyed.
 */

static void
ngx_http_kafka_sse_release(ngx_http_kafka_sse_ctx_t *ctx)
{
    ngx_uint_t                 freed;
    ngx_http_kafka_sse_out_t  *out;

    for (freed = 0; ctx->busy; freed++) {
        out = ctx->busy;

        if (out->buf[1].pos != out->buf[1].last
            || (out->msg && out->buf[0].pos != out->buf[0].last))
        {
            break;
        }

        ctx->busy = out->next;
        ctx->queued -= out->len;
        ctx->pieces--;

        out->next = ctx->sent;
        ctx->sent = out;
    }

    if (ctx->busy == NULL) {
        ctx->busy_last = &ctx->busy;
    }

    if (ctx->paused && freed) {
        /* progress: a stall is measured from the last one */
        ctx->paused_since = ngx_current_msec;
        ngx_http_kafka_sse_check(ctx);
    }
}


void
ngx_http_kafka_sse_out_free(ngx_http_kafka_sse_ctx_t *ctx,
    ngx_http_kafka_sse_out_t *out)
{
    if (out->msg) {
        ngx_http_kafka_sse_msg_unref(out->msg);
        out->msg = NULL;
    }

    if (out->size == ctx->piece_size
        && ctx->nfree < NGX_HTTP_KAFKA_SSE_FREE_MAX)
    {
        out->next = ctx->free;
        ctx->free = out;
        ctx->nfree++;
        return;
    }

    ngx_free(out);
}


/* posted once per batch of records: every client with new output */

void
ngx_http_kafka_sse_flush_handler(ngx_event_t *ev)
{
    ngx_queue_t               *q;
    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_http_kafka_sse_ctx_t  *ctx;

    while (!ngx_queue_empty(&ngx_http_kafka_sse_worker.flush)) {
        q = ngx_queue_head(&ngx_http_kafka_sse_worker.flush);
        ngx_queue_remove(q);

        ctx = ngx_queue_data(q, ngx_http_kafka_sse_ctx_t, flush);
        ctx->in_flush = 0;

        r = ctx->request;
        c = r->connection;

        ngx_http_set_log_request(c->log, r);

        if (ctx->overflow) {
            ngx_http_kafka_sse_close(ctx, ctx->close_reason);

        } else if (ngx_http_kafka_sse_push(ctx, 0) == NGX_ERROR) {
            ngx_http_finalize_request(r, NGX_ERROR);
        }

        ngx_http_run_posted_requests(c);
    }
}


void
ngx_http_kafka_sse_write_handler(ngx_http_request_t *r)
{
    ngx_event_t               *wev;
    ngx_connection_t          *c;
    ngx_http_kafka_sse_ctx_t  *ctx;

    c = r->connection;
    wev = c->write;

    ctx = ngx_http_get_module_ctx(r, ngx_http_kafka_sse_module);

    if (wev->timedout) {
        ngx_log_error(NGX_LOG_INFO, c->log, NGX_ETIMEDOUT,
                      "client timed out");
        c->timedout = 1;

        if (ctx) {
            ctx->closed = NGX_HTTP_KAFKA_STATUS_CLOSED_SLOW;
        }

        ngx_http_finalize_request(r, NGX_HTTP_REQUEST_TIME_OUT);
        return;
    }

    if (ctx == NULL || ctx->state != NGX_HTTP_KAFKA_SSE_STREAMING) {
        return;
    }

    if (ngx_http_kafka_sse_push(ctx, 1) == NGX_ERROR) {
        ngx_http_finalize_request(r, NGX_ERROR);
    }
}


/*
 * A comment after kafka_consume_heartbeat of silence keeps proxies and
 * browsers from timing the stream out.  It carries an id if filtered
 * records moved the positions on since the last one sent.
 */

void
ngx_http_kafka_sse_heartbeat_handler(ngx_event_t *ev)
{
    ngx_http_kafka_sse_ctx_t *ctx = ev->data;

    u_char                    *p;
    ngx_msec_t                 silent;
    ngx_http_kafka_sse_out_t  *out;

    if (ctx->state != NGX_HTTP_KAFKA_SSE_STREAMING) {
        return;
    }

    if (ctx->paused
        && ngx_current_msec - ctx->paused_since >= NGX_HTTP_KAFKA_SSE_STALL)
    {
        ngx_log_error(NGX_LOG_INFO, ctx->request->connection->log, 0,
                      "kafka_consume_sse: closing a client that took "
                      "nothing for %M ms, %uz bytes queued",
                      ngx_current_msec - ctx->paused_since, ctx->queued);

        ctx->closed = NGX_HTTP_KAFKA_STATUS_CLOSED_SLOW;
        ngx_http_kafka_sse_close(ctx, "the client did not read its events "
                                 "fast enough (kafka_consume_buffer full)");
        ngx_http_run_posted_requests(ctx->request->connection);
        return;
    }

    if (ctx->paused) {
        ngx_add_timer(ev, NGX_HTTP_KAFKA_SSE_STALL
                          - (ngx_current_msec - ctx->paused_since));
        return;
    }

    silent = ngx_current_msec - ctx->last_output;

    if (silent < ctx->conf->heartbeat) {
        ngx_add_timer(ev, ctx->conf->heartbeat - silent);
        return;
    }

    ngx_add_timer(ev, ctx->conf->heartbeat);

    out = ngx_http_kafka_sse_out(ctx, 0);
    if (out == NULL) {
        return;
    }

    p = ngx_cpymem(out->data, ": ping\n", sizeof(": ping\n") - 1);

    if (ctx->id_stale) {
        p = ngx_http_kafka_sse_write_id(p, ctx);

    } else {
        *p++ = '\n';
    }

    ngx_http_kafka_sse_append(ctx, out, p);
}
