
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#ifndef _NGX_HTTP_KAFKA_SSE_H_INCLUDED_
#define _NGX_HTTP_KAFKA_SSE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_consumer.h"
#include "ngx_http_kafka_status.h"


/*
 * What the SSE files share: the configuration and the client's context
 * (ngx_http_kafka_sse_module.c: directives, content handler, lifecycle),
 * resume ids and "since" (ngx_http_kafka_position.c), record formatting
 * (ngx_http_kafka_sse_format.c) and output with back-pressure
 * (ngx_http_kafka_sse_output.c).
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
    ngx_http_kafka_sse_out_t         *sent;      /* see sse_release() */
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
    ngx_uint_t                        closed;    /* _STATUS_CLOSED_* */

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


extern ngx_http_kafka_sse_worker_t  ngx_http_kafka_sse_worker;


/* ngx_http_kafka_sse_module.c */
void ngx_http_kafka_sse_close(ngx_http_kafka_sse_ctx_t *ctx,
    const char *reason);

/* ngx_http_kafka_position.c */
ngx_int_t ngx_http_kafka_sse_position(ngx_http_request_t *r,
    ngx_http_kafka_sse_ctx_t *ctx);
u_char *ngx_http_kafka_sse_write_id(u_char *p,
    ngx_http_kafka_sse_ctx_t *ctx);
u_char *ngx_http_kafka_sse_start_positions(ngx_http_request_t *r,
    ngx_http_kafka_sse_ctx_t *ctx, ngx_http_kafka_resolve_t *rs, u_char *p,
    u_char *last);

/* ngx_http_kafka_sse_format.c */
ngx_int_t ngx_http_kafka_sse_record(ngx_http_kafka_sub_t *sub,
    ngx_http_kafka_record_t *rec);
void ngx_http_kafka_sse_msg_unref(ngx_http_kafka_sse_msg_t *m);

/* ngx_http_kafka_sse_output.c */
ngx_http_kafka_sse_out_t *ngx_http_kafka_sse_out(
    ngx_http_kafka_sse_ctx_t *ctx, size_t size);
void ngx_http_kafka_sse_append(ngx_http_kafka_sse_ctx_t *ctx,
    ngx_http_kafka_sse_out_t *out, u_char *last);
void ngx_http_kafka_sse_schedule(ngx_http_kafka_sse_ctx_t *ctx);
ngx_int_t ngx_http_kafka_sse_output(ngx_http_kafka_sse_ctx_t *ctx);
void ngx_http_kafka_sse_out_free(ngx_http_kafka_sse_ctx_t *ctx,
    ngx_http_kafka_sse_out_t *out);
void ngx_http_kafka_sse_flush_handler(ngx_event_t *ev);
void ngx_http_kafka_sse_write_handler(ngx_http_request_t *r);
void ngx_http_kafka_sse_heartbeat_handler(ngx_event_t *ev);


#endif /* _NGX_HTTP_KAFKA_SSE_H_INCLUDED_ */
