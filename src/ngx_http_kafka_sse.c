
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
 *    Buffers given to nginx wait in "busy" until sent, then go back to
 *    "free".  While the connection cannot take more, pending output stays
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


#define NGX_HTTP_KAFKA_SSE_VALUE        0
#define NGX_HTTP_KAFKA_SSE_JSON         1

#define NGX_HTTP_KAFKA_SSE_LATEST       0
#define NGX_HTTP_KAFKA_SSE_EARLIEST     1

#define NGX_HTTP_KAFKA_SSE_RESOLVING    0
#define NGX_HTTP_KAFKA_SSE_STREAMING    1
#define NGX_HTTP_KAFKA_SSE_CLOSING      2

/* unused output pieces a client keeps for reuse */
#define NGX_HTTP_KAFKA_SSE_FREE_MAX     4

/* "p:offset," in an id */
#define NGX_HTTP_KAFKA_SSE_ID_PART_LEN  (NGX_INT32_LEN + NGX_INT64_LEN + 2)

/* room for a short comment (": ping\n") in front of an id line */
#define NGX_HTTP_KAFKA_SSE_COMMENT_LEN  64

/* a paused client that takes nothing for this long is closed */
#define NGX_HTTP_KAFKA_SSE_STALL        5000

#define NGX_HTTP_KAFKA_SSE_MAX_PARTITIONS  100000
#define NGX_HTTP_KAFKA_SSE_MAX_OFFSET      0x7fffffffffffffffLL


typedef struct {
    ngx_http_complex_value_t         *topic;
    ngx_uint_t                        start;
    ngx_msec_t                        heartbeat;
    ngx_uint_t                        format;
    ngx_http_complex_value_t         *filter_key;
    size_t                            buffer;
    ngx_str_t                         event;
    ngx_msec_t                        retry;
    ngx_msec_t                        timeout;
    ngx_str_t                         thread_pool_name;
    ngx_thread_pool_t                *thread_pool;
} ngx_http_kafka_sse_loc_conf_t;


typedef struct {
    rd_kafka_conf_t                  *consumer_conf;
    ngx_uint_t                        used;
} ngx_http_kafka_sse_main_conf_t;


/* a record formatted once, shared by reference */
typedef struct {
    ngx_uint_t                        refs;
    ngx_uint_t                        format;
    ngx_str_t                         event;     /* during the fan-out */
    size_t                            len;
    u_char                            data[1];
} ngx_http_kafka_sse_msg_t;


/*
 * One piece of a client's output: a shared record (buf[0], optional)
 * followed by the client's own bytes (buf[1]: its "id:" line, or a
 * comment).
 */

typedef struct ngx_http_kafka_sse_out_s  ngx_http_kafka_sse_out_t;

struct ngx_http_kafka_sse_out_s {
    ngx_http_kafka_sse_out_t         *next;
    ngx_http_kafka_sse_msg_t         *msg;
    size_t                            len;       /* bytes of both buffers */
    size_t                            size;      /* room in data[] */
    ngx_chain_t                       cl[2];
    ngx_buf_t                         buf[2];
    u_char                            data[1];
};


typedef struct {
    int32_t                           partition;
    int64_t                           offset;
} ngx_http_kafka_sse_pos_t;


typedef struct {
    ngx_http_request_t               *request;
    ngx_http_kafka_sse_loc_conf_t    *conf;
    ngx_http_kafka_sub_t              sub;
    ngx_http_kafka_resolve_t         *resolve;

    ngx_str_t                         topic;     /* NUL-terminated */
    ngx_str_t                         event;
    ngx_str_t                         key;

    /* from the resume id: partitions in ascending order */
    ngx_http_kafka_sse_pos_t         *resume;
    ngx_uint_t                        nresume;

    int64_t                           since;
    u_char                           *skipping;  /* [partition]: before */

    ngx_queue_t                       queue;     /* the worker's clients */
    ngx_queue_t                       flush;     /* clients to push */

    ngx_http_kafka_sse_out_t         *pending;
    ngx_http_kafka_sse_out_t        **pending_last;
    ngx_http_kafka_sse_out_t         *busy;
    ngx_http_kafka_sse_out_t        **busy_last;
    ngx_http_kafka_sse_out_t         *free;
    ngx_uint_t                        nfree;
    size_t                            queued;
    size_t                            piece_size;

    ngx_event_t                       heartbeat;
    ngx_msec_t                        last_output;
    ngx_msec_t                        paused_since;
    ngx_uint_t                        pieces;

    ngx_uint_t                        state;
    const char                       *close_reason;

    unsigned                          in_flush:1;
    unsigned                          id_stale:1;
    unsigned                          paused:1;
    unsigned                          overflow:1;
    unsigned                          filter:1;
    unsigned                          subscribed:1;
    unsigned                          listed:1;
} ngx_http_kafka_sse_ctx_t;


typedef struct {
    ngx_queue_t                       clients;
    ngx_queue_t                       flush;
    ngx_event_t                       flush_event;
    ngx_connection_t                 *exit_hook;
    ngx_uint_t                        running;
} ngx_http_kafka_sse_worker_t;


static ngx_int_t ngx_http_kafka_sse_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_kafka_sse_last_event_id(ngx_http_request_t *r,
    ngx_str_t *id);
static ngx_int_t ngx_http_kafka_sse_arg(ngx_http_request_t *r,
    const char *name, ngx_str_t *value);
static ngx_int_t ngx_http_kafka_sse_parse_id(ngx_http_request_t *r,
    ngx_http_kafka_sse_ctx_t *ctx, ngx_str_t *id);
static int64_t ngx_http_kafka_sse_parse_time(u_char *p, size_t len);
static void ngx_http_kafka_sse_resolved(ngx_http_kafka_resolve_t *rs);
static ngx_int_t ngx_http_kafka_sse_start(ngx_http_request_t *r,
    ngx_http_kafka_sse_ctx_t *ctx, ngx_http_kafka_resolve_t *rs);
static ngx_int_t ngx_http_kafka_sse_send_header(ngx_http_request_t *r);
static ngx_int_t ngx_http_kafka_sse_unavailable(ngx_http_request_t *r,
    ngx_http_kafka_sse_ctx_t *ctx, const char *fmt, ...);
static ngx_int_t ngx_http_kafka_sse_record(ngx_http_kafka_sub_t *sub,
    ngx_http_kafka_record_t *rec);
static ngx_http_kafka_sse_msg_t *ngx_http_kafka_sse_shared(
    ngx_http_kafka_record_t *rec, ngx_http_kafka_sse_ctx_t *ctx);
static void ngx_http_kafka_sse_record_release(ngx_http_kafka_record_t *rec);
static ngx_http_kafka_sse_msg_t *ngx_http_kafka_sse_format(
    const rd_kafka_message_t *msg, ngx_str_t *topic, ngx_uint_t format,
    ngx_str_t *event, ngx_log_t *log);
static size_t ngx_http_kafka_sse_json_string_len(u_char *p, size_t len,
    ngx_uint_t *base64);
static u_char *ngx_http_kafka_sse_json_string(u_char *dst, u_char *p,
    size_t len, ngx_uint_t base64);
static void ngx_http_kafka_sse_msg_unref(ngx_http_kafka_sse_msg_t *m);
static u_char *ngx_http_kafka_sse_write_id(u_char *p,
    ngx_http_kafka_sse_ctx_t *ctx);
static ngx_http_kafka_sse_out_t *ngx_http_kafka_sse_out(
    ngx_http_kafka_sse_ctx_t *ctx, size_t size);
static void ngx_http_kafka_sse_append(ngx_http_kafka_sse_ctx_t *ctx,
    ngx_http_kafka_sse_out_t *out, u_char *last);
static ngx_int_t ngx_http_kafka_sse_push(ngx_http_kafka_sse_ctx_t *ctx,
    ngx_uint_t progress);
static ngx_int_t ngx_http_kafka_sse_output(ngx_http_kafka_sse_ctx_t *ctx);
static void ngx_http_kafka_sse_check(ngx_http_kafka_sse_ctx_t *ctx);
static void ngx_http_kafka_sse_release(ngx_http_kafka_sse_ctx_t *ctx);
static void ngx_http_kafka_sse_out_free(ngx_http_kafka_sse_ctx_t *ctx,
    ngx_http_kafka_sse_out_t *out);
static void ngx_http_kafka_sse_flush_handler(ngx_event_t *ev);
static void ngx_http_kafka_sse_write_handler(ngx_http_request_t *r);
static void ngx_http_kafka_sse_heartbeat_handler(ngx_event_t *ev);
static void ngx_http_kafka_sse_close(ngx_http_kafka_sse_ctx_t *ctx,
    const char *reason);
static void ngx_http_kafka_sse_detach(ngx_http_kafka_sse_ctx_t *ctx);
static void ngx_http_kafka_sse_cleanup(void *data);
static void ngx_http_kafka_sse_pool_cleanup(void *data);
static ngx_int_t ngx_http_kafka_sse_exit_hook_open(ngx_cycle_t *cycle);
static void ngx_http_kafka_sse_exit_hook(ngx_event_t *ev);
static void ngx_http_kafka_sse_end_all(const char *reason);

static void *ngx_http_kafka_sse_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_kafka_sse_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_kafka_sse_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_kafka_sse(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_kafka_sse_postconfiguration(ngx_conf_t *cf);
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
      NULL },

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
      NULL },

    { ngx_string("kafka_consume_event"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_sse_loc_conf_t, event),
      NULL },

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
      NULL },

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
    ngx_http_kafka_sse_postconfiguration,  /* postconfiguration */

    ngx_http_kafka_sse_create_main_conf,   /* create main configuration */
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


static ngx_http_kafka_sse_worker_t  ngx_http_kafka_sse_worker;

static ngx_str_t  ngx_http_kafka_sse_allow = ngx_string("GET, HEAD");
static ngx_str_t  ngx_http_kafka_sse_last_event_id_name =
    ngx_string("Last-Event-ID");


static ngx_int_t
ngx_http_kafka_sse_handler(ngx_http_request_t *r)
{
    int64_t                         since;
    ngx_int_t                       rc;
    ngx_str_t                       topic, id, value, key;
    ngx_pool_cleanup_t             *pcln;
    ngx_http_cleanup_t             *cln;
    ngx_http_kafka_sse_ctx_t       *ctx;
    ngx_http_kafka_sse_loc_conf_t  *slcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        if (ngx_http_kafka_header_add(r, "Allow", &ngx_http_kafka_sse_allow) == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_kafka_send_error(r, NGX_HTTP_NOT_ALLOWED, 40501,
                                         "method %V is not allowed, "
                                         "use GET", &r->method_name);
    }

    if (r != r->main) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "kafka_consume_sse cannot serve a subrequest");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_kafka_sse_module);

    if (ngx_http_complex_value(r, slcf->topic, &topic) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_kafka_topic_allowed(r, slcf->topic, &topic) != NGX_OK) {
        return ngx_http_kafka_topic_refuse(r, &topic);
    }

    rc = ngx_http_kafka_jwt_authorize(r, &topic,
                                      NGX_HTTP_KAFKA_ACTION_CONSUME);
    if (rc != NGX_OK) {
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

    /* copied: the value may point into a buffer of someone else's */

    ctx->topic.data = ngx_pnalloc(r->pool, topic.len + 1);
    if (ctx->topic.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *ngx_cpymem(ctx->topic.data, topic.data, topic.len) = '\0';
    ctx->topic.len = topic.len;

    ctx->event = slcf->event.len ? slcf->event : ctx->topic;

    /* the header is what a reconnecting browser sends: it wins */

    rc = ngx_http_kafka_sse_last_event_id(r, &id);
    if (rc != NGX_OK) {
        return rc;
    }

    if (id.len) {
        if (ngx_http_kafka_sse_parse_id(r, ctx, &id) != NGX_OK) {
            return ngx_http_kafka_send_error(r, NGX_HTTP_BAD_REQUEST, 40002,
                       "invalid event id \"%V\": expected "
                       "\"partition:offset[,partition:offset...]\" with "
                       "partitions in ascending order", &id);
        }

    } else {
        rc = ngx_http_kafka_sse_arg(r, "since", &value);
        if (rc != NGX_OK) {
            return rc;
        }

        if (value.len) {
            since = ngx_http_kafka_sse_parse_time(value.data, value.len);

            if (since < 0) {
                return ngx_http_kafka_send_error(r, NGX_HTTP_BAD_REQUEST,
                           40003, "invalid \"since\" value \"%V\": "
                           "expected milliseconds since the epoch or an "
                           "RFC 3339 time such as 2024-05-01T12:00:00Z",
                           &value);
            }

            ctx->since = since;
        }
    }

    if (slcf->filter_key) {
        if (ngx_http_complex_value(r, slcf->filter_key, &key) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->key.data = ngx_pnalloc(r->pool, key.len + 1);
        if (ctx->key.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(ctx->key.data, key.data, key.len);
        ctx->key.len = key.len;
        ctx->filter = 1;
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
                                         50302, "the Kafka consumer is not "
                                         "available");
    }

    ngx_http_set_ctx(r, ctx, ngx_http_kafka_sse_module);

    if (ngx_exiting) {
        return ngx_http_kafka_sse_unavailable(r, ctx,
                                              "the server is restarting");
    }

    pcln = ngx_pool_cleanup_add(r->pool, 0);
    if (pcln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    pcln->handler = ngx_http_kafka_sse_pool_cleanup;
    pcln->data = ctx;

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_kafka_sse_cleanup;
    cln->data = ctx;

    ctx->resolve = ngx_http_kafka_consumer_resolve(&ctx->topic, ctx->since,
                                                   slcf->timeout,
                                                   slcf->thread_pool,
                                                   ngx_http_kafka_sse_resolved,
                                                   ctx, r->connection->log);
    if (ctx->resolve == NULL) {
        return ngx_http_kafka_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         50303, "too many streams are "
                                         "starting, retry later");
    }

    ngx_queue_insert_tail(&ngx_http_kafka_sse_worker.clients, &ctx->queue);
    ctx->listed = 1;

    r->main->count++;

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    return NGX_DONE;
}


/*
 * The resume id: the Last-Event-ID header, else the last_event_id
 * argument (percent-decoded, for a first connection of a client that
 * stored an id).
 */

static ngx_int_t
ngx_http_kafka_sse_last_event_id(ngx_http_request_t *r, ngx_str_t *id)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    id->len = 0;
    id->data = NULL;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == ngx_http_kafka_sse_last_event_id_name.len
            && ngx_strncasecmp(h[i].key.data,
                               ngx_http_kafka_sse_last_event_id_name.data,
                               h[i].key.len)
               == 0)
        {
            *id = h[i].value;
            return NGX_OK;
        }
    }

    return ngx_http_kafka_sse_arg(r, "last_event_id", id);
}


/* a percent-decoded argument, empty if absent */

static ngx_int_t
ngx_http_kafka_sse_arg(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    u_char     *dst, *src;
    ngx_str_t   arg;

    value->len = 0;
    value->data = NULL;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &arg) != NGX_OK) {
        return NGX_OK;
    }

    dst = ngx_pnalloc(r->pool, arg.len);
    if (dst == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    value->data = dst;
    src = arg.data;

    ngx_unescape_uri(&dst, &src, arg.len, 0);

    value->len = dst - value->data;

    return NGX_OK;
}


/*
 * "0:42,1:17,2:9": partition:next-offset pairs, partitions in ascending
 * order (duplicates are thus impossible).
 */

static ngx_int_t
ngx_http_kafka_sse_parse_id(ngx_http_request_t *r,
    ngx_http_kafka_sse_ctx_t *ctx, ngx_str_t *id)
{
    u_char                    *p, *last;
    int64_t                    offset;
    int32_t                    partition, prev;
    ngx_uint_t                 n, digits;
    ngx_http_kafka_sse_pos_t  *pos;

    p = id->data;
    last = p + id->len;

    for (n = 1; p < last; p++) {
        if (*p == ',') {
            n++;
        }
    }

    if (n > NGX_HTTP_KAFKA_SSE_MAX_PARTITIONS) {
        return NGX_ERROR;
    }

    pos = ngx_palloc(r->pool, n * sizeof(ngx_http_kafka_sse_pos_t));
    if (pos == NULL) {
        return NGX_ERROR;
    }

    p = id->data;
    prev = -1;

    for (n = 0; /* void */; n++) {

        partition = 0;

        for (digits = 0; p < last && *p >= '0' && *p <= '9'; p++, digits++) {
            if (partition > ((int32_t) NGX_MAX_INT32_VALUE - (*p - '0')) / 10) {
                return NGX_ERROR;
            }

            partition = partition * 10 + (*p - '0');
        }

        if (digits == 0 || p == last || *p++ != ':' || partition <= prev) {
            return NGX_ERROR;
        }

        offset = 0;

        for (digits = 0; p < last && *p >= '0' && *p <= '9'; p++, digits++) {
            if (offset > (NGX_HTTP_KAFKA_SSE_MAX_OFFSET - (*p - '0')) / 10) {
                return NGX_ERROR;
            }

            offset = offset * 10 + (*p - '0');
        }

        if (digits == 0) {
            return NGX_ERROR;
        }

        pos[n].partition = partition;
        pos[n].offset = offset;
        prev = partition;

        if (p == last) {
            break;
        }

        if (*p++ != ',') {
            return NGX_ERROR;
        }
    }

    ctx->resume = pos;
    ctx->nresume = n + 1;

    return NGX_OK;
}


/*
 * Milliseconds since the epoch, or an RFC 3339 time with a zone
 * ("2024-05-01T12:00:00Z", "2024-05-01T14:00:00.250+02:00").  Returns -1
 * if the value is neither.
 */

static int64_t
ngx_http_kafka_sse_parse_time(u_char *p, size_t len)
{
    u_char     *last;
    int64_t     ms, days, year, month, day, hour, min, sec, frac, zone;
    ngx_int_t   n;
    ngx_uint_t  i, leap;

    static ngx_uint_t  mdays[] = { 31, 28, 31, 30, 31, 30,
                                   31, 31, 30, 31, 30, 31 };

    last = p + len;

    if (len == 0) {
        return -1;
    }

    for (i = 0; i < len && p[i] >= '0' && p[i] <= '9'; i++) {
        /* void */
    }

    if (i == len) {
        if (len > 15) {
            return -1;
        }

        ms = 0;

        while (p < last) {
            ms = ms * 10 + (*p++ - '0');
        }

        return ms;
    }

    /* YYYY-MM-DDTHH:MM:SS */

    if (len < sizeof("YYYY-MM-DDTHH:MM:SSZ") - 1
        || p[4] != '-' || p[7] != '-'
        || (p[10] != 'T' && p[10] != 't' && p[10] != ' ')
        || p[13] != ':' || p[16] != ':')
    {
        return -1;
    }

    n = ngx_atoi(p, 4);
    year = n;
    month = ngx_atoi(p + 5, 2);
    day = ngx_atoi(p + 8, 2);
    hour = ngx_atoi(p + 11, 2);
    min = ngx_atoi(p + 14, 2);
    sec = ngx_atoi(p + 17, 2);

    if (n == NGX_ERROR || year < 1970 || month < 1 || month > 12
        || day < 1 || hour < 0 || hour > 23 || min < 0 || min > 59
        || sec < 0 || sec > 60)
    {
        return -1;
    }

    leap = (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0));

    if (day > (int64_t) (mdays[month - 1] + (month == 2 && leap))) {
        return -1;
    }

    if (sec == 60) {
        /* a leap second: the last moment of its minute */
        sec = 59;
    }

    p += 19;
    frac = 0;

    if (p < last && *p == '.') {
        p++;

        for (i = 0; p < last && *p >= '0' && *p <= '9'; p++, i++) {
            if (i < 3) {
                frac = frac * 10 + (*p - '0');
            }
        }

        if (i == 0) {
            return -1;
        }

        for ( /* void */ ; i < 3; i++) {
            frac *= 10;
        }
    }

    if (p == last) {
        return -1;
    }

    if (*p == 'Z' || *p == 'z') {
        zone = 0;
        p++;

    } else if ((*p == '+' || *p == '-') && last - p == 6 && p[3] == ':') {
        n = ngx_atoi(p + 1, 2);
        zone = ngx_atoi(p + 4, 2);

        if (n < 0 || n > 23 || zone < 0 || zone > 59) {
            return -1;
        }

        zone = (n * 60 + zone) * 60;

        if (*p == '-') {
            zone = -zone;
        }

        p += 6;

    } else {
        return -1;
    }

    if (p != last) {
        return -1;
    }

    /* days from 1970-01-01 to the date, in the proleptic Gregorian calendar */

    days = (year - 1970) * 365 + (year - 1969) / 4 - (year - 1901) / 100
           + (year - 1601) / 400;

    for (i = 0; i < (ngx_uint_t) month - 1; i++) {
        days += mdays[i];
    }

    if (month > 2 && leap) {
        days++;
    }

    days += day - 1;

    ms = (((days * 24 + hour) * 60 + min) * 60 + sec - zone) * 1000 + frac;

    return (ms < 0) ? -1 : ms;
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
        rc = ngx_http_kafka_send_error(r, NGX_HTTP_NOT_FOUND, 40401,
                                       "topic \"%V\" not found",
                                       &ctx->topic);

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
    int64_t                    want, *next;
    int32_t                    n, part;
    ngx_int_t                  rc;
    ngx_uint_t                 i;
    ngx_http_kafka_sse_out_t  *out;

    n = rs->npartitions;

    next = ngx_palloc(r->pool, n * sizeof(int64_t));
    if (next == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

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

    p = out->data;
    last = out->data + out->size;

    if (ctx->since >= 0 && rs->at) {
        for (i = 0; i < (ngx_uint_t) n; i++) {
            want = rs->at[i];

            if (want == NGX_HTTP_KAFKA_OFFSET_SCAN) {
                if (ctx->skipping == NULL) {
                    ctx->skipping = ngx_pcalloc(r->pool, n);
                    if (ctx->skipping == NULL) {
                        goto failed;
                    }
                }

                ctx->skipping[i] = 1;
                want = rs->low[i];

            } else if (want < 0 || want > rs->high[i]) {
                want = rs->high[i];

            } else if (want < rs->low[i]) {
                want = rs->low[i];
            }

            next[i] = want;
        }

    } else if (ctx->resume) {

        for (i = 0; i < ctx->nresume; i++) {
            part = ctx->resume[i].partition;
            want = ctx->resume[i].offset;

            if (part >= n) {
                p = ngx_slprintf(p, last, ": partition %D of the id does not "
                                 "exist, ignored\n", part);
                continue;
            }

            if (want < rs->low[part]) {
                p = ngx_slprintf(p, last, ": partition %D: offset %L is "
                                 "before the log start, resuming at %L "
                                 "(records %L to %L were deleted)\n",
                                 part, want, rs->low[part], want,
                                 rs->low[part] - 1);
                want = rs->low[part];

            } else if (want > rs->high[part]) {
                p = ngx_slprintf(p, last, ": partition %D: offset %L is "
                                 "past the log end, resuming at %L\n",
                                 part, want, rs->high[part]);
                want = rs->high[part];
            }

            next[part] = want;
        }

        /* partitions missing from the id are new: read from their start */

        for (part = 0, i = 0; part < n; part++) {
            while (i < ctx->nresume && ctx->resume[i].partition < part) {
                i++;
            }

            if (i < ctx->nresume && ctx->resume[i].partition == part) {
                continue;
            }

            next[part] = rs->low[part];

            p = ngx_slprintf(p, last, ": partition %D is not in the id, "
                             "reading it from its log start %L\n",
                             part, rs->low[part]);
        }

    } else {
        for (i = 0; i < (ngx_uint_t) n; i++) {
            next[i] = (ctx->conf->start == NGX_HTTP_KAFKA_SSE_EARLIEST)
                      ? rs->low[i] : rs->high[i];
        }
    }

    ctx->sub.next = next;
    ctx->sub.npartitions = rs->npartitions;
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

failed:

    ngx_http_kafka_sse_out_free(ctx, out);

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
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


/* the consumer hands over a record at or after the client's position */

static ngx_int_t
ngx_http_kafka_sse_record(ngx_http_kafka_sub_t *sub,
    ngx_http_kafka_record_t *rec)
{
    ngx_http_kafka_sse_ctx_t *ctx = sub->data;

    u_char                    *p;
    int32_t                    partition;
    ngx_http_kafka_sse_msg_t  *m;
    ngx_http_kafka_sse_out_t  *out;
    const rd_kafka_message_t  *msg;

    msg = rec->msg;
    partition = msg->partition;

    if (ctx->state != NGX_HTTP_KAFKA_SSE_STREAMING || ctx->overflow
        || ctx->paused)
    {
        return NGX_DECLINED;
    }

    if (ctx->skipping && ctx->skipping[partition]) {
        if (rd_kafka_message_timestamp(msg, NULL) < ctx->since) {
            ctx->id_stale = 1;
            return NGX_OK;
        }

        ctx->skipping[partition] = 0;
    }

    if (ctx->filter
        && (msg->key == NULL
            ? ctx->key.len != 0
            : (msg->key_len != ctx->key.len
               || ngx_memcmp(msg->key, ctx->key.data, ctx->key.len) != 0)))
    {
        ctx->id_stale = 1;
        return NGX_OK;
    }

    m = ngx_http_kafka_sse_shared(rec, ctx);
    if (m == NULL) {
        ctx->overflow = 1;
        ctx->close_reason = "out of memory";
        goto post;
    }

    out = ngx_http_kafka_sse_out(ctx, 0);
    if (out == NULL) {
        if (m->refs == 0) {
            ngx_free(m);
        }

        ctx->overflow = 1;
        ctx->close_reason = "out of memory";
        goto post;
    }

    out->msg = m;
    m->refs++;

    p = ngx_http_kafka_sse_write_id(out->data, ctx);

    ngx_http_kafka_sse_append(ctx, out, p);

    return NGX_OK;

post:

    if (!ctx->in_flush) {
        ngx_queue_insert_tail(&ngx_http_kafka_sse_worker.flush, &ctx->flush);
        ctx->in_flush = 1;
    }

    if (!ngx_http_kafka_sse_worker.flush_event.posted) {
        ngx_post_event(&ngx_http_kafka_sse_worker.flush_event,
                       &ngx_posted_events);
    }

    return NGX_DECLINED;
}


/*
 * The record as this client wants it, formatted by the first client of
 * the fan-out that asked for this format and event name.  The record's
 * reference is dropped when the fan-out ends; a copy that does not fit in
 * the record's list belongs to the client's piece alone (refs 0 here).
 */

static ngx_http_kafka_sse_msg_t *
ngx_http_kafka_sse_shared(ngx_http_kafka_record_t *rec,
    ngx_http_kafka_sse_ctx_t *ctx)
{
    ngx_uint_t                 i;
    ngx_http_kafka_sse_msg_t  *m;

    for (i = 0; i < rec->nshared; i++) {
        m = rec->shared[i];

        if (m->format == ctx->conf->format
            && m->event.len == ctx->event.len
            && ngx_memcmp(m->event.data, ctx->event.data, ctx->event.len)
               == 0)
        {
            return m;
        }
    }

    m = ngx_http_kafka_sse_format(rec->msg, rec->topic, ctx->conf->format,
                                  &ctx->event, ctx->request->connection->log);
    if (m == NULL) {
        return NULL;
    }

    if (rec->nshared < NGX_HTTP_KAFKA_RECORD_SHARED) {
        m->refs = 1;
        rec->shared[rec->nshared++] = m;
        rec->release = ngx_http_kafka_sse_record_release;
    }

    return m;
}


static void
ngx_http_kafka_sse_record_release(ngx_http_kafka_record_t *rec)
{
    ngx_uint_t  i;

    for (i = 0; i < rec->nshared; i++) {
        ngx_http_kafka_sse_msg_unref(rec->shared[i]);
    }

    rec->nshared = 0;
}


static void
ngx_http_kafka_sse_msg_unref(ngx_http_kafka_sse_msg_t *m)
{
    if (--m->refs == 0) {
        ngx_free(m);
    }
}


/*
 * An event without its id line.
 *
 * "value": the record value as "data:" lines.  Line breaks (CRLF, CR, LF)
 * split it into several "data:" lines, which a client joins with LF.  A
 * value that is not UTF-8 is sent as one line of base64, after a
 * ": base64" comment line.
 *
 * "json": one "data:" line with {"topic","partition","offset",
 * "timestamp","key","value","headers"}; a key or value that is not UTF-8
 * is base64 and flagged by "key_encoding"/"value_encoding": "base64";
 * headers are [name, value] pairs, with a third element "base64" if the
 * value is not UTF-8.
 */

static ngx_http_kafka_sse_msg_t *
ngx_http_kafka_sse_format(const rd_kafka_message_t *msg, ngx_str_t *topic,
    ngx_uint_t format, ngx_str_t *event, ngx_log_t *log)
{
    u_char                    *p, *value, *key, *v;
    size_t                     len, vlen, hlen, size, i;
    int64_t                    ts;
    ngx_str_t                  src, dst;
    ngx_uint_t                 breaks, value_b64, key_b64, b64, idx;
    const char                *name;
    const void                *hvalue;
    rd_kafka_headers_t        *headers;
    ngx_http_kafka_sse_msg_t  *m;

    value = msg->payload;
    vlen = value ? msg->len : 0;

    len = sizeof("event: \n") - 1 + event->len;

    headers = NULL;
    value_b64 = 0;
    key_b64 = 0;
    breaks = 0;

    if (format == NGX_HTTP_KAFKA_SSE_VALUE) {

        if (ngx_http_kafka_utf8_valid(value, vlen)) {
            for (i = 0; i < vlen; i++) {
                if (value[i] == '\n' || value[i] == '\r') {
                    breaks++;
                }
            }

            len += sizeof("data: \n") - 1 + vlen
                   + breaks * (sizeof("data: ") - 1);

        } else {
            value_b64 = 1;
            len += sizeof(": base64\ndata: \n") - 1
                   + ngx_base64_encoded_length(vlen);
        }

    } else {
        key = msg->key;

        len += sizeof("data: {\"topic\":\"\",\"partition\":,\"offset\":,"
                      "\"timestamp\":,\"key\":,\"value\":,\"headers\":[],"
                      "\"key_encoding\":\"base64\","
                      "\"value_encoding\":\"base64\"}\n") - 1
               + topic->len + NGX_INT32_LEN + 2 * NGX_INT64_LEN;

        len += key ? ngx_http_kafka_sse_json_string_len(key, msg->key_len,
                                                         &key_b64)
                   : sizeof("null") - 1;

        len += value ? ngx_http_kafka_sse_json_string_len(value, vlen,
                                                           &value_b64)
                     : sizeof("null") - 1;

        if (rd_kafka_message_headers(msg, &headers)
            != RD_KAFKA_RESP_ERR_NO_ERROR)
        {
            headers = NULL;
        }

        for (idx = 0;
             headers
             && rd_kafka_header_get_all(headers, idx, &name, &hvalue, &size)
                == RD_KAFKA_RESP_ERR_NO_ERROR;
             idx++)
        {
            hlen = ngx_strlen(name);

            len += sizeof("[\"\",,\"base64\"],") - 1
                   + ngx_http_kafka_json_escape_len((u_char *) name, hlen);

            len += hvalue ? ngx_http_kafka_sse_json_string_len(
                                          (u_char *) hvalue, size, &b64)
                          : sizeof("null") - 1;
        }
    }

    m = ngx_alloc(offsetof(ngx_http_kafka_sse_msg_t, data) + len, log);
    if (m == NULL) {
        return NULL;
    }

    m->refs = 0;
    m->format = format;
    m->event = *event;

    p = ngx_cpymem(m->data, "event: ", sizeof("event: ") - 1);
    p = ngx_cpymem(p, event->data, event->len);
    *p++ = '\n';

    if (format == NGX_HTTP_KAFKA_SSE_VALUE) {

        if (value_b64) {
            p = ngx_cpymem(p, ": base64\ndata: ",
                           sizeof(": base64\ndata: ") - 1);

            src.data = value;
            src.len = vlen;
            dst.data = p;

            ngx_encode_base64(&dst, &src);

            p += dst.len;
            *p++ = '\n';

        } else {
            p = ngx_cpymem(p, "data: ", sizeof("data: ") - 1);

            for (i = 0; i < vlen; i++) {
                if (value[i] == '\r' || value[i] == '\n') {
                    if (value[i] == '\r' && i + 1 < vlen
                        && value[i + 1] == '\n')
                    {
                        i++;
                    }

                    p = ngx_cpymem(p, "\ndata: ", sizeof("\ndata: ") - 1);
                    continue;
                }

                *p++ = value[i];
            }

            *p++ = '\n';
        }

        m->len = p - m->data;

        return m;
    }

    p = ngx_cpymem(p, "data: {\"topic\":\"",
                   sizeof("data: {\"topic\":\"") - 1);
    p = ngx_cpymem(p, topic->data, topic->len);

    ts = rd_kafka_message_timestamp(msg, NULL);

    p = ngx_sprintf(p, "\",\"partition\":%D,\"offset\":%L,\"timestamp\":",
                    msg->partition, (int64_t) msg->offset);

    p = (ts >= 0) ? ngx_sprintf(p, "%L", ts)
                  : ngx_cpymem(p, "null", sizeof("null") - 1);

    p = ngx_cpymem(p, ",\"key\":", sizeof(",\"key\":") - 1);

    p = msg->key ? ngx_http_kafka_sse_json_string(p, msg->key, msg->key_len,
                                                  key_b64)
                 : ngx_cpymem(p, "null", sizeof("null") - 1);

    p = ngx_cpymem(p, ",\"value\":", sizeof(",\"value\":") - 1);

    p = value ? ngx_http_kafka_sse_json_string(p, value, vlen, value_b64)
              : ngx_cpymem(p, "null", sizeof("null") - 1);

    p = ngx_cpymem(p, ",\"headers\":[", sizeof(",\"headers\":[") - 1);

    for (idx = 0;
         headers
         && rd_kafka_header_get_all(headers, idx, &name, &hvalue, &size)
            == RD_KAFKA_RESP_ERR_NO_ERROR;
         idx++)
    {
        if (idx) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, "[\"", 2);
        p = ngx_http_kafka_json_escape(p, (u_char *) name, ngx_strlen(name));
        p = ngx_cpymem(p, "\",", 2);

        if (hvalue == NULL) {
            p = ngx_cpymem(p, "null]", sizeof("null]") - 1);
            continue;
        }

        v = (u_char *) hvalue;
        b64 = !ngx_http_kafka_utf8_valid(v, size);

        p = ngx_http_kafka_sse_json_string(p, v, size, b64);

        p = b64 ? ngx_cpymem(p, ",\"base64\"]", sizeof(",\"base64\"]") - 1)
                : ngx_cpymem(p, "]", 1);
    }

    *p++ = ']';

    if (key_b64) {
        p = ngx_cpymem(p, ",\"key_encoding\":\"base64\"",
                       sizeof(",\"key_encoding\":\"base64\"") - 1);
    }

    if (value_b64) {
        p = ngx_cpymem(p, ",\"value_encoding\":\"base64\"",
                       sizeof(",\"value_encoding\":\"base64\"") - 1);
    }

    *p++ = '}';
    *p++ = '\n';

    m->len = p - m->data;

    return m;
}


/*
 * The length of a JSON string (quotes included) for these bytes: the
 * UTF-8 text escaped, or base64 (*base64 is set) if they are not UTF-8.
 */

static size_t
ngx_http_kafka_sse_json_string_len(u_char *p, size_t len, ngx_uint_t *base64)
{
    *base64 = !ngx_http_kafka_utf8_valid(p, len);

    if (*base64) {
        return 2 + ngx_base64_encoded_length(len);
    }

    return 2 + ngx_http_kafka_json_escape_len(p, len);
}


static u_char *
ngx_http_kafka_sse_json_string(u_char *dst, u_char *p, size_t len,
    ngx_uint_t base64)
{
    ngx_str_t  src, enc;

    *dst++ = '"';

    if (base64) {
        src.data = p;
        src.len = len;
        enc.data = dst;

        ngx_encode_base64(&enc, &src);

        dst += enc.len;

    } else {
        dst = ngx_http_kafka_json_escape(dst, p, len);
    }

    *dst++ = '"';

    return dst;
}


/* "id: 0:42,1:17\n\n": the next offset of every partition */

static u_char *
ngx_http_kafka_sse_write_id(u_char *p, ngx_http_kafka_sse_ctx_t *ctx)
{
    int32_t   i;
    int64_t  *next;

    next = ctx->sub.next;

    p = ngx_cpymem(p, "id: ", sizeof("id: ") - 1);

    for (i = 0; i < ctx->sub.npartitions; i++) {
        if (i) {
            *p++ = ',';
        }

        p = ngx_sprintf(p, "%D:%L", i, next[i]);
    }

    *p++ = '\n';
    *p++ = '\n';

    ctx->id_stale = 0;

    return p;
}


/*
 * A piece of output with room for "size" bytes of the client's own
 * (0: the usual room, an id line and a short comment).  Pieces of the
 * usual size are kept for reuse.
 */

static ngx_http_kafka_sse_out_t *
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

static void
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

static ngx_int_t
ngx_http_kafka_sse_output(ngx_http_kafka_sse_ctx_t *ctx)
{
    ngx_chain_t               *first, **last;
    ngx_http_kafka_sse_out_t  *out;

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

    return ngx_http_output_filter(ctx->request, first);
}


/* pieces whose bytes are all sent go back to the free list */

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

        ngx_http_kafka_sse_out_free(ctx, out);
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


static void
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

static void
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


static void
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

static void
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


/*
 * Ends a stream that is sending: the client is unsubscribed, output not
 * yet handed to nginx is dropped, and a final comment and the end of the
 * response follow what nginx already holds.  Finalizing leaves the rest to
 * nginx (within send_timeout); but a worker that exits does not wait for
 * a client that cannot take the last bytes now.
 */

static void
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

    ctx->pending = NULL;
    ctx->busy = NULL;

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
            ngx_http_kafka_sse_close(ctx, reason);
        }

        ngx_http_run_posted_requests(c);
    }
}


static void *
ngx_http_kafka_sse_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_kafka_sse_main_conf_t  *smcf;

    smcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kafka_sse_main_conf_t));
    if (smcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     smcf->consumer_conf = NULL;
     *     smcf->used = 0;
     */

    return smcf;
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


static char *
ngx_http_kafka_sse_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_kafka_sse_loc_conf_t *prev = parent;
    ngx_http_kafka_sse_loc_conf_t *conf = child;

    size_t  i;

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

    for (i = 0; i < conf->event.len; i++) {
        if (conf->event.data[i] < 0x20 || conf->event.data[i] == 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"kafka_consume_event\" must not contain "
                               "control characters");
            return NGX_CONF_ERROR;
        }
    }

    if (conf->heartbeat == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"kafka_consume_heartbeat\" must not be 0");
        return NGX_CONF_ERROR;
    }

    if (conf->buffer == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"kafka_consume_buffer\" must not be 0");
        return NGX_CONF_ERROR;
    }

    if (conf->timeout == 0 || conf->timeout > NGX_MAX_INT32_VALUE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"kafka_consume_timeout\"");
        return NGX_CONF_ERROR;
    }

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
    ngx_http_kafka_sse_main_conf_t    *smcf;
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

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kafka_sse_module);
    smcf->used = 1;

    return NGX_CONF_OK;
}


/* after the gateway module's, which requires kafka_brokers */

static ngx_int_t
ngx_http_kafka_sse_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_kafka_main_conf_t      *kmcf;
    ngx_http_kafka_sse_main_conf_t  *smcf;

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kafka_sse_module);

    if (!smcf->used) {
        return NGX_OK;
    }

    kmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_kafka_gateway_module);

    if (kmcf->brokers.len == 0) {
        return NGX_ERROR;
    }

    smcf->consumer_conf = ngx_http_kafka_consumer_conf(cf, kmcf);
    if (smcf->consumer_conf == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kafka_sse_init_process(ngx_cycle_t *cycle)
{
    ngx_http_kafka_sse_main_conf_t  *smcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    smcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_kafka_sse_module);
    if (smcf == NULL || smcf->consumer_conf == NULL) {
        return NGX_OK;
    }

    ngx_queue_init(&ngx_http_kafka_sse_worker.clients);
    ngx_queue_init(&ngx_http_kafka_sse_worker.flush);

    ngx_http_kafka_sse_worker.flush_event.handler =
                                            ngx_http_kafka_sse_flush_handler;
    ngx_http_kafka_sse_worker.flush_event.log = cycle->log;

    if (ngx_http_kafka_consumer_init(cycle, smcf->consumer_conf) != NGX_OK) {
        return NGX_ERROR;
    }

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
    ngx_http_kafka_main_conf_t  *kmcf;

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

    kmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_kafka_gateway_module);

    ngx_http_kafka_consumer_exit(cycle, kmcf->shutdown_timeout);
}
