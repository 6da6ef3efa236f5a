
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_http.h>

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_rest.h"
#include "ngx_http_kafka_consumer.h"
#include "ngx_http_kafka_sse.h"
#include "ngx_http_kafka_acl.h"


/*
 * The life of an SSE client
 *
 *   content handler --> RESOLVING --> STREAMING --> CLOSING --> freed
 *                           |                          ^
 *                           +--------------------------+ (HEAD, errors)
 *
 * 1. The content handler checks the method, the topic, the resume id
 *    (Last-Event-ID, else ?last_event_id=) and ?since=; anything malformed
 *    is answered 400 at once.  It then posts a look-up to the thread pool
 *    (partition count, watermarks, offsets by time), takes a reference on
 *    the request and returns NGX_DONE.  ngx_http_test_reading notices a
 *    client that leaves; the request cleanup then cancels the look-up,
 *    which the consumer frees when it completes.
 *
 * 2. RESOLVING ends in the look-up's completion handler.  An unknown topic
 *    is a 404; any other failure is answered with a stream that says why
 *    in a comment and ends at once, so an EventSource retries (it gives up
 *    on an error status).  Otherwise every partition gets a concrete
 *    start position, the headers and a preamble go out (comments about
 *    adjusted positions, "retry:", and an "id:" with the start positions,
 *    so that a reconnect before the first event misses nothing), and the
 *    client subscribes to the worker's consumer: STREAMING.
 *
 * 3. STREAMING: the consumer hands over every record at or after the
 *    client's positions.  The record is formatted once per format and
 *    event name and shared by reference; each client adds its own "id:"
 *    line.  Output collects in "pending" and is pushed once per batch of
 *    records from a posted event, with flush set on the last buffer.
 *    Buffers given to nginx wait in "busy" until sent, then in "sent"
 *    until nginx's filters have let go of them, then go back to "free".  While the connection cannot take more, pending output stays
 *    with the client, send_timeout runs, and the write handler pushes when
 *    it can.  Bytes pending plus busy are capped by kafka_consume_buffer.
 *    A heartbeat timer sends ": ping" after kafka_consume_heartbeat of
 *    silence, with an "id:" if filtered records moved the positions on.
 *
 * 4. CLOSING: the client is unsubscribed (the consumer releases its
 *    partitions with its last subscriber), and a final comment and the
 *    last buffer are sent; nginx finishes sending within send_timeout.
 *    This happens when the output exceeds kafka_consume_buffer and when
 *    the worker shuts down; a client that leaves skips it (the request is
 *    terminated, the cleanup unsubscribes).
 *
 * Memory: the context, the positions and the request are request pool
 * memory; output pieces and shared records are heap memory owned by the
 * client and freed by the request pool cleanup, which runs only after
 * nginx has stopped using the buffers (for HTTP/2 only after the stream's
 * queued frames are gone).
 *
 * Graceful shutdown: nginx closes "idle" connections when a worker starts
 * to exit.  One such connection, never used for I/O, tells this module to
 * end every stream; clients reconnect to a new worker with their id.
 */


static ngx_int_t ngx_http_kafka_sse_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_kafka_sse_filter_key(ngx_http_request_t *r,
    ngx_http_kafka_sse_ctx_t *ctx);
static ngx_int_t ngx_http_kafka_sse_cleanups(ngx_http_request_t *r,
    ngx_http_kafka_sse_ctx_t *ctx);
static void ngx_http_kafka_sse_resolved(ngx_http_kafka_resolve_t *rs);
static ngx_int_t ngx_http_kafka_sse_start(ngx_http_request_t *r,
    ngx_http_kafka_sse_ctx_t *ctx, ngx_http_kafka_resolve_t *rs);
static ngx_int_t ngx_http_kafka_sse_send_header(ngx_http_request_t *r);
static ngx_int_t ngx_http_kafka_sse_unavailable(ngx_http_request_t *r,
    ngx_http_kafka_sse_ctx_t *ctx, const char *fmt, ...);
static void ngx_http_kafka_sse_detach(ngx_http_kafka_sse_ctx_t *ctx);
static void ngx_http_kafka_sse_cleanup(void *data);
static void ngx_http_kafka_sse_pool_cleanup(void *data);
static ngx_int_t ngx_http_kafka_sse_exit_hook_open(ngx_cycle_t *cycle);
static void ngx_http_kafka_sse_exit_hook(ngx_event_t *ev);
static void ngx_http_kafka_sse_end_all(const char *reason);
static void *ngx_http_kafka_sse_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_kafka_sse_check_event(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_kafka_sse_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_kafka_sse(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_kafka_sse_init_process(ngx_cycle_t *cycle);
static void ngx_http_kafka_sse_exit_process(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_http_kafka_sse_starts[] = {
    { ngx_string("latest"), NGX_HTTP_KAFKA_SSE_LATEST },
    { ngx_string("earliest"), NGX_HTTP_KAFKA_SSE_EARLIEST },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_kafka_sse_formats[] = {
    { ngx_string("value"), NGX_HTTP_KAFKA_SSE_VALUE },
    { ngx_string("json"), NGX_HTTP_KAFKA_SSE_JSON },
    { ngx_null_string, 0 }
};


static ngx_http_kafka_bounds_t  ngx_http_kafka_sse_heartbeat_bounds = {
    ngx_http_kafka_check_bounds, 1, NGX_MAX_INT_T_VALUE,
    "\"kafka_consume_heartbeat\" must not be 0"
};

static ngx_http_kafka_bounds_t  ngx_http_kafka_sse_buffer_bounds = {
    ngx_http_kafka_check_bounds, 1, NGX_MAX_SIZE_T_VALUE,
    "\"kafka_consume_buffer\" must not be 0"
};

static ngx_http_kafka_bounds_t  ngx_http_kafka_sse_timeout_bounds = {
    ngx_http_kafka_check_bounds, 1, NGX_MAX_INT32_VALUE,
    "invalid \"kafka_consume_timeout\""
};

static ngx_conf_post_t  ngx_http_kafka_sse_event_post = {
    ngx_http_kafka_sse_check_event
};


static ngx_command_t  ngx_http_kafka_sse_commands[] = {

    { ngx_string("kafka_consume_sse"),
      NGX_HTTP_LOC_CONF|NGX_HTTP_LIF_CONF|NGX_CONF_TAKE1,
      ngx_http_kafka_sse,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kafka_consume_start"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_sse_loc_conf_t, start),
      &ngx_http_kafka_sse_starts },

    { ngx_string("kafka_consume_heartbeat"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_sse_loc_conf_t, heartbeat),
      &ngx_http_kafka_sse_heartbeat_bounds },

    { ngx_string("kafka_consume_format"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_sse_loc_conf_t, format),
      &ngx_http_kafka_sse_formats },

    { ngx_string("kafka_consume_filter_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_sse_loc_conf_t, filter_key),
      NULL },

    { ngx_string("kafka_consume_buffer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_sse_loc_conf_t, buffer),
      &ngx_http_kafka_sse_buffer_bounds },

    { ngx_string("kafka_consume_event"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_sse_loc_conf_t, event),
      &ngx_http_kafka_sse_event_post },

    { ngx_string("kafka_consume_retry"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_sse_loc_conf_t, retry),
      NULL },

    { ngx_string("kafka_consume_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_sse_loc_conf_t, timeout),
      &ngx_http_kafka_sse_timeout_bounds },

    { ngx_string("kafka_consume_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_sse_loc_conf_t, thread_pool_name),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_kafka_sse_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_kafka_sse_create_loc_conf,    /* create location configuration */
    ngx_http_kafka_sse_merge_loc_conf      /* merge location configuration */
};


ngx_module_t  ngx_http_kafka_sse_module = {
    NGX_MODULE_V1,
    &ngx_http_kafka_sse_module_ctx,        /* module context */
    ngx_http_kafka_sse_commands,           /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_kafka_sse_init_process,       /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_kafka_sse_exit_process,       /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


ngx_http_kafka_sse_worker_t  ngx_http_kafka_sse_worker;
static ngx_http_kafka_entry_t  ngx_http_kafka_sse_entry = {
    NGX_HTTP_GET|NGX_HTTP_HEAD,
    ngx_string("GET, HEAD"),
    "use GET",
    "kafka_consume_sse",
    NGX_HTTP_KAFKA_ACTION_CONSUME,
    1,
    1
};


static ngx_int_t
ngx_http_kafka_sse_handler(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    ngx_str_t                       topic;
    ngx_http_kafka_sse_ctx_t       *ctx;
    ngx_http_kafka_sse_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_kafka_sse_module);

    rc = ngx_http_kafka_entry(r, &ngx_http_kafka_sse_entry, slcf->topic,
                              &topic);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_kafka_sse_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->conf = slcf;
    ctx->since = -1;
    ctx->pending_last = &ctx->pending;
    ctx->busy_last = &ctx->busy;

    ctx->topic = topic;

    ctx->event = slcf->event.len ? slcf->event : ctx->topic;

    rc = ngx_http_kafka_sse_position(r, ctx);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (slcf->filter_key && ngx_http_kafka_sse_filter_key(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->method == NGX_HTTP_HEAD) {
        rc = ngx_http_kafka_sse_send_header(r);

        if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
            return rc;
        }

        return ngx_http_send_special(r, NGX_HTTP_LAST);
    }

    if (!ngx_http_kafka_sse_worker.running
        || !ngx_http_kafka_consumer_running())
    {
        return ngx_http_kafka_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         NGX_HTTP_KAFKA_REST_CLIENT_UNAVAILABLE,
                                         "the Kafka consumer is not "
                                         "available");
    }

    ngx_http_set_ctx(r, ctx, ngx_http_kafka_sse_module);

    if (ngx_exiting) {
        return ngx_http_kafka_sse_unavailable(r, ctx,
                                              "the server is restarting");
    }

    if (ngx_http_kafka_sse_cleanups(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->resolve = ngx_http_kafka_consumer_resolve(&ctx->topic, ctx->since,
                                                   slcf->timeout,
                                                   slcf->thread_pool,
                                                   ngx_http_kafka_sse_resolved,
                                                   ctx, r->connection->log);
    if (ctx->resolve == NULL) {
        return ngx_http_kafka_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         NGX_HTTP_KAFKA_REST_STREAMS_STARTING,
                                         "too many streams are "
                                         "starting, retry later");
    }

    ngx_queue_insert_tail(&ngx_http_kafka_sse_worker.clients, &ctx->queue);
    ctx->listed = 1;

    r->main->count++;

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    return NGX_DONE;
}


/* kafka_consume_filter_key: only records with this key are sent */

static ngx_int_t
ngx_http_kafka_sse_filter_key(ngx_http_request_t *r,
    ngx_http_kafka_sse_ctx_t *ctx)
{
    ngx_str_t  key;

    if (ngx_http_complex_value(r, ctx->conf->filter_key, &key) != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->key.data = ngx_pnalloc(r->pool, key.len + 1);
    if (ctx->key.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ctx->key.data, key.data, key.len);
    ctx->key.len = key.len;
    ctx->filter = 1;

    return NGX_OK;
}


/*
 * The client's two cleanups: the request's (the client leaves or the
 * request ends: unsubscribe, cancel the look-up) and the pool's (free the
 * heap output once nginx no longer uses it).
 */

static ngx_int_t
ngx_http_kafka_sse_cleanups(ngx_http_request_t *r,
    ngx_http_kafka_sse_ctx_t *ctx)
{
    ngx_pool_cleanup_t  *pcln;
    ngx_http_cleanup_t  *cln;

    pcln = ngx_pool_cleanup_add(r->pool, 0);
    if (pcln == NULL) {
        return NGX_ERROR;
    }

    pcln->handler = ngx_http_kafka_sse_pool_cleanup;
    pcln->data = ctx;

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_kafka_sse_cleanup;
    cln->data = ctx;

    return NGX_OK;
}


static void
ngx_http_kafka_sse_resolved(ngx_http_kafka_resolve_t *rs)
{
    ngx_http_kafka_sse_ctx_t *ctx = rs->data;

    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->request;
    c = r->connection;

    ctx->resolve = NULL;

    ngx_http_set_log_request(c->log, r);

    if (rs->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
        || rs->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC)
    {
        rc = ngx_http_kafka_send_error(r, NGX_HTTP_NOT_FOUND,
                                       NGX_HTTP_KAFKA_REST_TOPIC_NOT_FOUND,
                                       "topic \"%V\" not found", &ctx->topic);

    } else if (rs->err) {
        ngx_log_error(NGX_LOG_WARN, c->log, 0,
                      "kafka_consume_sse: looking up %s of \"%V\" failed: "
                      "%s", rs->step, &ctx->topic, rd_kafka_err2str(rs->err));

        rc = ngx_http_kafka_sse_unavailable(r, ctx,
                                            "Kafka is not available (%s)",
                                            rd_kafka_err2str(rs->err));

    } else {
        rc = ngx_http_kafka_sse_start(r, ctx, rs);

        if (rc == NGX_OK) {
            goto done;
        }
    }

    ngx_http_finalize_request(r, rc);

done:

    ngx_http_run_posted_requests(c);
}


/*
 * Every partition gets a concrete start position, so that the first id
 * already names them all: after a reconnect nothing is read "from the
 * end" again and nothing produced meanwhile is missed.
 */

static ngx_int_t
ngx_http_kafka_sse_start(ngx_http_request_t *r, ngx_http_kafka_sse_ctx_t *ctx,
    ngx_http_kafka_resolve_t *rs)
{
    u_char                    *p, *last;
    size_t                     size;
    int32_t                    n;
    ngx_int_t                  rc;
    ngx_http_kafka_sse_out_t  *out;

    n = rs->npartitions;

    ctx->piece_size = sizeof("id: \n\n") - 1
                      + n * NGX_HTTP_KAFKA_SSE_ID_PART_LEN
                      + NGX_HTTP_KAFKA_SSE_COMMENT_LEN;

    /* the preamble: a comment line per adjusted partition, retry, id */

    size = ctx->piece_size + sizeof("retry: \n") - 1 + NGX_INT_T_LEN
           + (ctx->nresume + n) * 160;

    out = ngx_http_kafka_sse_out(ctx, size);
    if (out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = out->data + out->size;

    p = ngx_http_kafka_sse_start_positions(r, ctx, rs, out->data, last);
    if (p == NULL) {
        ngx_http_kafka_sse_out_free(ctx, out);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->sub.handler = ngx_http_kafka_sse_record;
    ctx->sub.data = ctx;

    p = ngx_slprintf(p, last, "retry: %M\n", ctx->conf->retry);
    p = ngx_http_kafka_sse_write_id(p, ctx);

    rc = ngx_http_kafka_sse_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK) {
        ngx_http_kafka_sse_out_free(ctx, out);
        return rc;
    }

    if (ngx_http_kafka_consumer_subscribe(&ctx->sub, &ctx->topic,
                                          r->connection->log)
        != NGX_OK)
    {
        ngx_http_kafka_sse_out_free(ctx, out);

        /* the headers are out: end the stream, the client retries */

        ctx->state = NGX_HTTP_KAFKA_SSE_STREAMING;
        r->write_event_handler = ngx_http_kafka_sse_write_handler;
        ngx_http_kafka_sse_close(ctx, "the Kafka consumer could not read "
                                 "the topic, retry later");
        return NGX_OK;
    }

    ctx->subscribed = 1;
    ctx->state = NGX_HTTP_KAFKA_SSE_STREAMING;

    ngx_http_kafka_status_sse_open(&ctx->topic, ctx->nresume > 0);

    r->write_event_handler = ngx_http_kafka_sse_write_handler;

    ctx->heartbeat.handler = ngx_http_kafka_sse_heartbeat_handler;
    ctx->heartbeat.data = ctx;
    ctx->heartbeat.log = r->connection->log;

    ngx_add_timer(&ctx->heartbeat, ctx->conf->heartbeat);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "kafka sse stream of \"%V\" starts, %D partition(s)",
                   &ctx->topic, rs->npartitions);

    ngx_http_kafka_sse_append(ctx, out, p);

    return NGX_OK;
}


static ngx_int_t
ngx_http_kafka_sse_send_header(ngx_http_request_t *r)
{
    static ngx_str_t  no_cache = ngx_string("no-cache");
    static ngx_str_t  no = ngx_string("no");

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = -1;

    ngx_str_set(&r->headers_out.content_type, "text/event-stream");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);

    if (ngx_http_kafka_header_add(r, "Cache-Control", &no_cache) == NULL
        || ngx_http_kafka_header_add(r, "X-Accel-Buffering", &no) == NULL)
    {
        return NGX_ERROR;
    }

    return ngx_http_send_header(r);
}


/*
 * A stream that only says why it ends: an EventSource gives up for good
 * on an error status, but reconnects (with its last id) when a stream
 * ends.  Returns what ngx_http_finalize_request() expects.
 */

static ngx_int_t
ngx_http_kafka_sse_unavailable(ngx_http_request_t *r,
    ngx_http_kafka_sse_ctx_t *ctx, const char *fmt, ...)
{
    u_char       *p, *last;
    va_list       args;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    rc = ngx_http_kafka_sse_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_create_temp_buf(r->pool, NGX_MAX_ERROR_STR);
    if (b == NULL) {
        return NGX_ERROR;
    }

    p = b->last;
    last = b->end - sizeof("\nretry: \n\n") - NGX_INT_T_LEN;

    p = ngx_cpymem(p, ": ", 2);

    va_start(args, fmt);
    p = ngx_vslprintf(p, last, fmt, args);
    va_end(args);

    b->last = ngx_sprintf(p, "\nretry: %M\n\n", ctx->conf->retry);
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * Ends a stream that is sending: the client is unsubscribed, output not
 * yet handed to nginx is dropped, and a final comment and the end of the
 * response follow what nginx already holds.  Finalizing leaves the rest to
 * nginx (within send_timeout); but a worker that exits does not wait for
 * a client that cannot take the last bytes now.
 */

void
ngx_http_kafka_sse_close(ngx_http_kafka_sse_ctx_t *ctx, const char *reason)
{
    u_char                    *p;
    ngx_int_t                  rc;
    ngx_http_request_t        *r;
    ngx_http_kafka_sse_out_t  *out, *next;

    r = ctx->request;

    if (ctx->state != NGX_HTTP_KAFKA_SSE_STREAMING) {
        return;
    }

    ngx_http_kafka_sse_detach(ctx);

    ctx->state = NGX_HTTP_KAFKA_SSE_CLOSING;

    for (out = ctx->pending; out; out = next) {
        next = out->next;
        ctx->queued -= out->len;
        ctx->pieces--;
        ngx_http_kafka_sse_out_free(ctx, out);
    }

    ctx->pending = NULL;
    ctx->pending_last = &ctx->pending;

    out = ngx_http_kafka_sse_out(ctx, sizeof(": closing: \n\n") - 1
                                      + ngx_strlen(reason));
    if (out == NULL) {
        ngx_http_finalize_request(r, NGX_ERROR);
        return;
    }

    p = ngx_sprintf(out->data, ": closing: %s\n\n", reason);

    ngx_http_kafka_sse_append(ctx, out, p);

    out->buf[1].last_buf = 1;
    out->buf[1].last_in_chain = 1;

    rc = ngx_http_kafka_sse_output(ctx);

    if (rc != NGX_ERROR && ngx_exiting && r->connection->buffered) {
        rc = NGX_ERROR;
    }

    ngx_http_finalize_request(r, rc);
}


/* the client no longer takes records, whatever happens to the request */

static void
ngx_http_kafka_sse_detach(ngx_http_kafka_sse_ctx_t *ctx)
{
    if (ctx->resolve) {
        ngx_http_kafka_consumer_resolve_cancel(ctx->resolve);
        ctx->resolve = NULL;
    }

    if (ctx->subscribed) {
        ngx_http_kafka_consumer_unsubscribe(&ctx->sub);
        ctx->subscribed = 0;
        ngx_http_kafka_status_sse_closed(&ctx->topic, ctx->closed);
    }

    if (ctx->heartbeat.timer_set) {
        ngx_del_timer(&ctx->heartbeat);
    }

    if (ctx->in_flush) {
        ngx_queue_remove(&ctx->flush);
        ctx->in_flush = 0;
    }

    if (ctx->listed) {
        ngx_queue_remove(&ctx->queue);
        ctx->listed = 0;
    }
}


/*
 * The request cleanup runs first, when the request ends or is terminated
 * (a client that left): from then on no record reaches it.
 */

static void
ngx_http_kafka_sse_cleanup(void *data)
{
    ngx_http_kafka_sse_ctx_t *ctx = data;

    ngx_http_kafka_sse_detach(ctx);

    ctx->state = NGX_HTTP_KAFKA_SSE_CLOSING;
}


/*
 * The pool cleanup runs when nginx is done with the request's buffers:
 * the output pieces and their references to shared records are freed.
 */

static void
ngx_http_kafka_sse_pool_cleanup(void *data)
{
    ngx_http_kafka_sse_ctx_t *ctx = data;

    ngx_http_kafka_sse_out_t  *out, *next;

    ngx_http_kafka_sse_detach(ctx);

    for (out = ctx->pending; out; out = next) {
        next = out->next;
        ngx_http_kafka_sse_out_free(ctx, out);
    }

    for (out = ctx->busy; out; out = next) {
        next = out->next;
        ngx_http_kafka_sse_out_free(ctx, out);
    }

    for (out = ctx->sent; out; out = next) {
        next = out->next;
        ngx_http_kafka_sse_out_free(ctx, out);
    }

    ctx->pending = NULL;
    ctx->busy = NULL;
    ctx->sent = NULL;

    for (out = ctx->free; out; out = next) {
        next = out->next;
        ngx_free(out);
    }

    ctx->free = NULL;
    ctx->nfree = 0;
}


/*
 * nginx calls the read handler of every "idle" connection, with c->close
 * set, when the worker starts a graceful shutdown (reload or quit).  The
 * hook is such a connection on a pipe that nothing is ever written to.
 */

static ngx_int_t
ngx_http_kafka_sse_exit_hook_open(ngx_cycle_t *cycle)
{
    int                fds[2];
    ngx_connection_t  *c;

    if (pipe(fds) == -1) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno, "pipe() failed");
        return NGX_ERROR;
    }

    (void) close(fds[1]);

    if (fcntl(fds[0], F_SETFD, FD_CLOEXEC) == -1) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      "fcntl(FD_CLOEXEC) failed");
        (void) close(fds[0]);
        return NGX_ERROR;
    }

    c = ngx_get_connection(fds[0], cycle->log);
    if (c == NULL) {
        (void) close(fds[0]);
        return NGX_ERROR;
    }

    c->idle = 1;
    c->read->handler = ngx_http_kafka_sse_exit_hook;
    c->read->log = cycle->log;
    c->write->log = cycle->log;

    ngx_http_kafka_sse_worker.exit_hook = c;

    return NGX_OK;
}


static void
ngx_http_kafka_sse_exit_hook(ngx_event_t *ev)
{
    ngx_connection_t  *c = ev->data;

    if (!c->close) {
        return;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "kafka sse: worker is exiting, ending streams");

    ngx_http_kafka_sse_worker.exit_hook = NULL;
    ngx_close_connection(c);

    ngx_http_kafka_sse_end_all("the server is restarting, reconnect to "
                               "resume");
}


static void
ngx_http_kafka_sse_end_all(const char *reason)
{
    ngx_int_t                  rc;
    ngx_queue_t               *q;
    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_http_kafka_sse_ctx_t  *ctx;

    while (!ngx_queue_empty(&ngx_http_kafka_sse_worker.clients)) {
        q = ngx_queue_head(&ngx_http_kafka_sse_worker.clients);
        ngx_queue_remove(q);

        ctx = ngx_queue_data(q, ngx_http_kafka_sse_ctx_t, queue);
        ctx->listed = 0;

        r = ctx->request;
        c = r->connection;

        ngx_http_set_log_request(c->log, r);

        if (ctx->state == NGX_HTTP_KAFKA_SSE_RESOLVING) {
            ngx_http_kafka_sse_detach(ctx);
            ctx->state = NGX_HTTP_KAFKA_SSE_CLOSING;

            rc = ngx_http_kafka_sse_unavailable(r, ctx, "%s", reason);

            if (rc != NGX_ERROR && c->buffered) {
                rc = NGX_ERROR;
            }

            ngx_http_finalize_request(r, rc);

        } else {
            ctx->closed = NGX_HTTP_KAFKA_STATUS_CLOSED_RELOAD;
            ngx_http_kafka_sse_close(ctx, reason);
        }

        ngx_http_run_posted_requests(c);
    }
}


static void *
ngx_http_kafka_sse_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_kafka_sse_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kafka_sse_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->topic = NULL;
     *     conf->event = { 0, NULL };
     *     conf->thread_pool_name = { 0, NULL };
     *     conf->thread_pool = NULL;
     */

    conf->start = NGX_CONF_UNSET_UINT;
    conf->heartbeat = NGX_CONF_UNSET_MSEC;
    conf->format = NGX_CONF_UNSET_UINT;
    conf->filter_key = NGX_CONF_UNSET_PTR;
    conf->buffer = NGX_CONF_UNSET_SIZE;
    conf->retry = NGX_CONF_UNSET_MSEC;
    conf->timeout = NGX_CONF_UNSET_MSEC;

    return conf;
}


/* an event name goes into an "event:" line: no line breaks, no controls */

static char *
ngx_http_kafka_sse_check_event(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *event = data;

    size_t  i;

    for (i = 0; i < event->len; i++) {
        if (event->data[i] < 0x20 || event->data[i] == 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"kafka_consume_event\" must not contain "
                               "control characters");
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_kafka_sse_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_kafka_sse_loc_conf_t *prev = parent;
    ngx_http_kafka_sse_loc_conf_t *conf = child;

    ngx_conf_merge_uint_value(conf->start, prev->start,
                              NGX_HTTP_KAFKA_SSE_LATEST);
    ngx_conf_merge_msec_value(conf->heartbeat, prev->heartbeat, 15000);
    ngx_conf_merge_uint_value(conf->format, prev->format,
                              NGX_HTTP_KAFKA_SSE_VALUE);
    ngx_conf_merge_ptr_value(conf->filter_key, prev->filter_key, NULL);
    ngx_conf_merge_size_value(conf->buffer, prev->buffer, 256 * 1024);
    ngx_conf_merge_str_value(conf->event, prev->event, "");
    ngx_conf_merge_msec_value(conf->retry, prev->retry, 3000);
    ngx_conf_merge_msec_value(conf->timeout, prev->timeout, 5000);
    ngx_conf_merge_str_value(conf->thread_pool_name, prev->thread_pool_name,
                             "default");

    if (conf->topic) {
        conf->thread_pool = ngx_thread_pool_add(cf, &conf->thread_pool_name);
        if (conf->thread_pool == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_kafka_sse(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kafka_sse_loc_conf_t *slcf = conf;

    ngx_str_t                         *value;
    ngx_http_core_loc_conf_t          *clcf;
    ngx_http_kafka_main_conf_t        *kmcf;
    ngx_http_compile_complex_value_t   ccv;

    if (slcf->topic) {
        return "is duplicate";
    }

    value = cf->args->elts;

    slcf->topic = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (slcf->topic == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = slcf->topic;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (slcf->topic->lengths == NULL
        && ngx_http_kafka_topic_valid(&slcf->topic->value) != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid topic name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_kafka_sse_handler;

    kmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_kafka_gateway_module);
    kmcf->consumer_used = 1;

    return NGX_CONF_OK;
}

static ngx_int_t
ngx_http_kafka_sse_init_process(ngx_cycle_t *cycle)
{
    ngx_http_kafka_main_conf_t  *kmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    kmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_kafka_gateway_module);
    if (kmcf == NULL || kmcf->consumer_conf == NULL) {
        return NGX_OK;
    }

    ngx_queue_init(&ngx_http_kafka_sse_worker.clients);
    ngx_queue_init(&ngx_http_kafka_sse_worker.flush);

    ngx_http_kafka_sse_worker.flush_event.handler =
                                            ngx_http_kafka_sse_flush_handler;
    ngx_http_kafka_sse_worker.flush_event.log = cycle->log;

    if (ngx_http_kafka_sse_exit_hook_open(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_kafka_sse_worker.running = 1;

    return NGX_OK;
}


/*
 * On a graceful exit the streams were ended by the exit hook; on a fast
 * one their requests are abandoned with the process.  Either way no
 * client is touched here.
 */

static void
ngx_http_kafka_sse_exit_process(ngx_cycle_t *cycle)
{
    if (!ngx_http_kafka_sse_worker.running) {
        return;
    }

    ngx_http_kafka_sse_worker.running = 0;

    if (ngx_http_kafka_sse_worker.flush_event.posted) {
        ngx_delete_posted_event(&ngx_http_kafka_sse_worker.flush_event);
    }

    if (ngx_http_kafka_sse_worker.exit_hook) {
        ngx_close_connection(ngx_http_kafka_sse_worker.exit_hook);
        ngx_http_kafka_sse_worker.exit_hook = NULL;
    }
}
