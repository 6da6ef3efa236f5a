
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_producer.h"
#include "ngx_http_kafka_produce.h"
#include "ngx_http_kafka_rest.h"
#include "ngx_http_kafka_acl.h"
#include "ngx_http_kafka_status.h"
#include "ngx_http_kafka_contract.h"


/*
 * The life of a produce request
 *
 * 1. The content handler checks the method, evaluates and validates the
 *    topic, picks the format from Content-Type and starts reading the body
 *    (ngx_http_read_client_request_body takes a reference on the request;
 *    returning NGX_DONE hands it over to the body handler).
 *
 * 2. The body handler collects the body (memory buffers and/or a temporary
 *    file), turns it into records and validates all of them before the
 *    first one is handed to librdkafka: bad input produces nothing.
 *
 * 3. Every record gets a token inside one heap "batch".  librdkafka holds
 *    a pointer to its token (msg_opaque) until the delivery report, which
 *    may come after the request is gone, so the batch is never request
 *    pool memory.  Ownership: the batch is freed by whichever comes last,
 *    the request pool cleanup or the last delivery report.  While both are
 *    alive batch->request points to the request; the cleanup clears it.
 *
 * 4. With "kafka_produce_ack on" the request now waits: the reference
 *    taken in step 1 keeps it alive, ngx_http_test_reading notices a client
 *    that leaves, and a timer bounds the wait by kafka_produce_timeout.
 *    The last delivery report builds the answer from the tokens, finalizes
 *    the request and runs posted requests, as the upstream module does.
 *    If the timer fires first the request is answered 504 and the batch is
 *    left to the delivery reports to free.
 *
 *    With "kafka_produce_ack off" the request is answered 202 as soon as
 *    librdkafka has accepted every record; those records carry no token.
 */


/*
 * What librdkafka counts against message.max.bytes when a record is
 * produced (rd_kafka_msg_max_wire_size(), librdkafka 1.0 to 2.x): key,
 * value, headers as serialized, and the largest per-record overhead of
 * the v2 record format: varints of length (5), attributes (1), timestamp
 * (10), offset (5), key and value lengths and header count (5 each).
 */
#define NGX_HTTP_KAFKA_RECORD_OVERHEAD  (5 + 1 + 10 + 5 + 5 + 5 + 5)


/* what the directives give every record of a request */
typedef struct {
    u_char                            *key;
    size_t                             key_len;
    int32_t                            partition;
    rd_kafka_headers_t                *headers;
    size_t                             headers_size;
} ngx_http_kafka_produce_common_t;


static ngx_int_t ngx_http_kafka_produce_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_kafka_produce_format(ngx_http_request_t *r,
    ngx_uint_t *format);
static void ngx_http_kafka_produce_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_kafka_produce_collect_body(ngx_http_request_t *r,
    ngx_str_t *body);
static ngx_int_t ngx_http_kafka_produce_send(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, ngx_array_t *records);
static ngx_int_t ngx_http_kafka_produce_common(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, ngx_http_kafka_produce_loc_conf_t *plcf,
    ngx_http_kafka_produce_common_t *common);
static ngx_http_kafka_produce_batch_t *ngx_http_kafka_produce_batch(
    ngx_http_request_t *r, ngx_http_kafka_produce_ctx_t *ctx, ngx_uint_t n);
static rd_kafka_resp_err_t ngx_http_kafka_produce_queue(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, rd_kafka_t *rk, ngx_array_t *records,
    ngx_http_kafka_produce_common_t *common,
    ngx_http_kafka_produce_batch_t *batch, ngx_uint_t *queued);
static ngx_int_t ngx_http_kafka_produce_refused(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, rd_kafka_resp_err_t err,
    ngx_uint_t queued, ngx_uint_t n);
static ngx_int_t ngx_http_kafka_produce_check_sizes(ngx_array_t *records,
    size_t key_len, size_t headers_size, ngx_uint_t *index, size_t *size);
static ngx_int_t ngx_http_kafka_produce_headers(ngx_http_request_t *r,
    ngx_http_kafka_produce_loc_conf_t *plcf, rd_kafka_headers_t **headers,
    size_t *size);
static size_t ngx_http_kafka_produce_varint_len(size_t n);
static void ngx_http_kafka_produce_delivered(ngx_http_kafka_dr_t *dr,
    const rd_kafka_message_t *msg);
static void ngx_http_kafka_produce_timeout_handler(ngx_event_t *ev);
static void ngx_http_kafka_produce_cleanup(void *data);
static ngx_int_t ngx_http_kafka_produce_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_kafka_produce_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static void *ngx_http_kafka_produce_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_kafka_produce_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_kafka_produce(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kafka_produce_header(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);


static ngx_command_t  ngx_http_kafka_produce_commands[] = {

    { ngx_string("kafka_produce"),
      NGX_HTTP_LOC_CONF|NGX_HTTP_LIF_CONF|NGX_CONF_TAKE1,
      ngx_http_kafka_produce,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kafka_produce_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_produce_loc_conf_t, key),
      NULL },

    { ngx_string("kafka_produce_partition"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_produce_loc_conf_t, partition),
      NULL },

    { ngx_string("kafka_produce_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_kafka_produce_header,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kafka_produce_ack"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_produce_loc_conf_t, ack),
      NULL },

    { ngx_string("kafka_produce_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_produce_loc_conf_t, timeout),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_kafka_produce_module_ctx = {
    ngx_http_kafka_produce_add_variables,  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_kafka_produce_create_loc_conf, /* create location configuration */
    ngx_http_kafka_produce_merge_loc_conf  /* merge location configuration */
};


ngx_module_t  ngx_http_kafka_produce_module = {
    NGX_MODULE_V1,
    &ngx_http_kafka_produce_module_ctx,    /* module context */
    ngx_http_kafka_produce_commands,       /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_kafka_produce_vars[] = {

    { ngx_string("kafka_topic"), NULL, ngx_http_kafka_produce_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("kafka_partition"), NULL, ngx_http_kafka_produce_variable,
      1, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("kafka_offset"), NULL, ngx_http_kafka_produce_variable,
      2, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("kafka_error"), NULL, ngx_http_kafka_produce_variable,
      3, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("kafka_ack_time"), NULL, ngx_http_kafka_produce_variable,
      4, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_http_kafka_entry_t  ngx_http_kafka_produce_entry = {
    NGX_HTTP_POST|NGX_HTTP_PUT|NGX_HTTP_DELETE,
    ngx_string("POST, PUT, DELETE"),
    "use POST, PUT or DELETE",
    "kafka_produce",
    NGX_HTTP_KAFKA_ACTION_PRODUCE,
    0,
    0
};

u_char     ngx_http_kafka_produce_empty[] = "";


static ngx_int_t
ngx_http_kafka_produce_handler(ngx_http_request_t *r)
{
    ngx_int_t                           rc;
    ngx_str_t                           topic;
    ngx_uint_t                          format;
    ngx_http_kafka_produce_ctx_t       *ctx;
    ngx_http_kafka_produce_loc_conf_t  *plcf;

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_kafka_produce_module);

    rc = ngx_http_kafka_entry(r, &ngx_http_kafka_produce_entry, plcf->topic,
                              &topic);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (r->method == NGX_HTTP_DELETE) {
        format = NGX_HTTP_KAFKA_FORMAT_DELETE;
        rc = NGX_OK;

    } else {
        rc = ngx_http_kafka_produce_format(r, &format);
    }

    if (rc != NGX_OK) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_kafka_send_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
            NGX_HTTP_KAFKA_REST_MEDIA_TYPE,
            "unsupported content type \"%V\": only the "
            "json and binary embedded formats of REST Proxy v2 "
            "are supported", &r->headers_in.content_type->value);
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_kafka_produce_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->topic = topic;
    ctx->format = format;
    ctx->partition = -1;
    ctx->offset = -1;

    ngx_http_set_ctx(r, ctx, ngx_http_kafka_produce_module);

    if (format == NGX_HTTP_KAFKA_FORMAT_DELETE) {
        /* no body to read: the reference the body reader would take */

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        r->main->count++;
        ngx_http_kafka_produce_body_handler(r);

        return NGX_DONE;
    }

    rc = ngx_http_read_client_request_body(r,
                                         ngx_http_kafka_produce_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/*
 * Content-Type decides the format: the two REST Proxy v2 embedded formats
 * that need no schema registry are parsed; other vnd.kafka types are
 * refused; anything else is a raw record value.
 */

static ngx_int_t
ngx_http_kafka_produce_format(ngx_http_request_t *r, ngx_uint_t *format)
{
    u_char     *p, *last;
    ngx_str_t   type;

    *format = NGX_HTTP_KAFKA_FORMAT_RAW;

    if (r->headers_in.content_type == NULL) {
        return NGX_OK;
    }

    p = r->headers_in.content_type->value.data;
    last = p + r->headers_in.content_type->value.len;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    type.data = p;

    while (p < last && *p != ';' && *p != ' ' && *p != '\t') {
        p++;
    }

    type.len = p - type.data;

    if (type.len == sizeof("application/vnd.kafka.json.v2+json") - 1
        && ngx_strncasecmp(type.data,
                           (u_char *) "application/vnd.kafka.json.v2+json",
                           type.len)
           == 0)
    {
        *format = NGX_HTTP_KAFKA_FORMAT_JSON;
        return NGX_OK;
    }

    if (type.len == sizeof("application/vnd.kafka.binary.v2+json") - 1
        && ngx_strncasecmp(type.data,
                           (u_char *) "application/vnd.kafka.binary.v2+json",
                           type.len)
           == 0)
    {
        *format = NGX_HTTP_KAFKA_FORMAT_BINARY;
        return NGX_OK;
    }

    if (type.len >= sizeof("application/vnd.kafka.") - 1
        && ngx_strncasecmp(type.data, (u_char *) "application/vnd.kafka.",
                           sizeof("application/vnd.kafka.") - 1)
           == 0)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static void
ngx_http_kafka_produce_body_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_str_t                      body;
    ngx_array_t                    records;
    ngx_http_kafka_produce_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_kafka_produce_module);

    if (ngx_http_kafka_produce_collect_body(r, &body) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_array_init(&records, r->pool, 1,
                       sizeof(ngx_http_kafka_produce_record_t))
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_http_kafka_rest_parse(r, ctx, &body, &records);

    if (rc == NGX_DECLINED) {
        ngx_http_finalize_request(r,
            ngx_http_kafka_send_error(r, NGX_HTTP_KAFKA_UNPROCESSABLE,
                                      ctx->invalid_code, "%V",
                                      &ctx->invalid));
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    /* the contracts: 422 or 404 produce nothing, or records are annotated */

    rc = ngx_http_kafka_contract_check(r, ctx, &records);

    if (rc != NGX_DECLINED) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    rc = ngx_http_kafka_produce_send(r, ctx, &records);

    if (rc == NGX_DONE) {
        /* waiting for delivery reports */
        return;
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * The body arrives as one buffer, as several buffers, or partly in a
 * temporary file; the result is one contiguous piece of request memory.
 */

static ngx_int_t
ngx_http_kafka_produce_collect_body(ngx_http_request_t *r, ngx_str_t *body)
{
    u_char       *p;
    off_t         len;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    body->len = 0;
    body->data = ngx_http_kafka_produce_empty;

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    cl = r->request_body->bufs;
    b = cl->buf;

    /* an empty buffer (e.g. the last chunk) may have no memory at all */

    if (cl->next == NULL && !b->in_file) {
        if (b->last != b->pos) {
            body->data = b->pos;
            body->len = b->last - b->pos;
        }

        return NGX_OK;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    if (len == 0) {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    body->data = p;
    body->len = len;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                              b->file_pos);

            if (n != b->file_last - b->file_pos) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "kafka_produce: could not read the request "
                              "body from \"%V\"", &b->file->name);
                return NGX_ERROR;
            }

            p += n;
            continue;
        }

        if (b->last != b->pos) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }

    return NGX_OK;
}


/*
 * Hands the records to librdkafka.  Returns NGX_DONE when the request now
 * waits for delivery reports, otherwise the status to finalize with.
 */

static ngx_int_t
ngx_http_kafka_produce_send(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, ngx_array_t *records)
{
    ngx_int_t                            rc;
    ngx_uint_t                           i, queued;
    rd_kafka_t                          *rk;
    rd_kafka_resp_err_t                  err;
    ngx_http_kafka_produce_batch_t      *batch;
    ngx_http_kafka_produce_common_t      common;
    ngx_http_kafka_produce_loc_conf_t   *plcf;

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_kafka_produce_module);

    rk = ngx_http_kafka_producer(plcf->ack ? NGX_HTTP_KAFKA_PRODUCER_ACK
                                           : NGX_HTTP_KAFKA_PRODUCER_BATCH);

    if (rk == NULL) {
        return ngx_http_kafka_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         NGX_HTTP_KAFKA_REST_CLIENT_UNAVAILABLE,
                                         "the Kafka producer is not available");
    }

    rc = ngx_http_kafka_produce_common(r, ctx, plcf, &common);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (ngx_http_kafka_produce_check_sizes(records, common.key_len,
                                           common.headers_size, &i,
                                           &common.headers_size)
        != NGX_OK)
    {
        if (common.headers) {
            rd_kafka_headers_destroy(common.headers);
        }

        return ngx_http_kafka_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
            NGX_HTTP_KAFKA_REST_RECORD_TOO_LARGE,
            "records[%ui]: %uz bytes with key, headers and "
            "record overhead, over the producer's message.max.bytes "
            "(%uz); nothing was produced", i, common.headers_size,
            ngx_http_kafka_producer_message_max());
    }

    batch = NULL;

    if (plcf->ack) {
        batch = ngx_http_kafka_produce_batch(r, ctx, records->nelts);
        if (batch == NULL) {
            if (common.headers) {
                rd_kafka_headers_destroy(common.headers);
            }

            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    err = ngx_http_kafka_produce_queue(r, ctx, rk, records, &common, batch,
                                       &queued);

    ngx_http_kafka_status_produce_failed(&ctx->topic, records->nelts - queued);

    if (common.headers) {
        rd_kafka_headers_destroy(common.headers);
    }

    if (!plcf->ack) {
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            return ngx_http_kafka_produce_refused(r, ctx, err, queued,
                                                  records->nelts);
        }

        return ngx_http_kafka_rest_respond(r, ctx, 0);
    }

    if (batch->pending == 0) {
        return ngx_http_kafka_rest_respond(r, ctx, 0);
    }

    ctx->timer.handler = ngx_http_kafka_produce_timeout_handler;
    ctx->timer.data = r;
    ctx->timer.log = r->connection->log;

    ngx_add_timer(&ctx->timer, plcf->timeout);

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    return NGX_DONE;
}


/*
 * The directives' values, evaluated once for all records: the partition,
 * the key and the headers.  NGX_DECLINED: go on; anything else (an answer
 * sent, NGX_OK included, or a status) is the request's result, and there
 * is nothing to free.
 */

static ngx_int_t
ngx_http_kafka_produce_common(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, ngx_http_kafka_produce_loc_conf_t *plcf,
    ngx_http_kafka_produce_common_t *common)
{
    ngx_int_t  n;
    ngx_str_t  value;

    common->partition = RD_KAFKA_PARTITION_UA;
    common->key = NULL;
    common->key_len = 0;
    common->headers = NULL;
    common->headers_size = 0;

    if (plcf->partition) {
        if (ngx_http_complex_value(r, plcf->partition, &value) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (value.len) {
            n = ngx_atoi(value.data, value.len);

            if (n == NGX_ERROR || n > NGX_MAX_INT32_VALUE) {
                return ngx_http_kafka_send_error(r, NGX_HTTP_BAD_REQUEST,
                    NGX_HTTP_KAFKA_REST_PARTITION_INVALID,
                    "invalid partition \"%V\"", &value);
            }

            common->partition = (int32_t) n;
        }
    }

    if (plcf->key) {
        if (ngx_http_complex_value(r, plcf->key, &value) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (value.len) {
            common->key = value.data;
            common->key_len = value.len;
        }
    }

    if (ctx->format == NGX_HTTP_KAFKA_FORMAT_DELETE && common->key == NULL) {
        return ngx_http_kafka_send_error(r, NGX_HTTP_BAD_REQUEST,
            NGX_HTTP_KAFKA_REST_KEY_REQUIRED,
            "DELETE produces a tombstone for a key, and "
            "kafka_produce_key is empty");
    }

    if (plcf->headers
        && ngx_http_kafka_produce_headers(r, plcf, &common->headers,
                                          &common->headers_size)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DECLINED;
}


/*
 * The heap batch of tokens for "kafka_produce_ack on", and the request
 * pool cleanup that shares its ownership (see "The life of a produce
 * request" above).
 */

static ngx_http_kafka_produce_batch_t *
ngx_http_kafka_produce_batch(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, ngx_uint_t n)
{
    ngx_pool_cleanup_t              *cln;
    ngx_http_kafka_produce_batch_t  *batch;

    batch = ngx_calloc(sizeof(ngx_http_kafka_produce_batch_t)
                       + (n - 1) * sizeof(ngx_http_kafka_produce_token_t),
                       r->connection->log);
    if (batch == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        ngx_free(batch);
        return NULL;
    }

    batch->request = r;
    batch->ntokens = n;

    cln->handler = ngx_http_kafka_produce_cleanup;
    cln->data = ctx;
    ctx->batch = batch;

    return batch;
}


/*
 * Hands every record to librdkafka, in order, until one is refused; that
 * one and the rest are marked not persisted.  Returns the refusal, if
 * any; "queued" counts the records taken.
 */

static rd_kafka_resp_err_t
ngx_http_kafka_produce_queue(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, rd_kafka_t *rk, ngx_array_t *records,
    ngx_http_kafka_produce_common_t *common,
    ngx_http_kafka_produce_batch_t *batch, ngx_uint_t *queued)
{
    ngx_uint_t                        i;
    rd_kafka_topic_t                 *rkt;
    rd_kafka_headers_t               *copy;
    rd_kafka_resp_err_t               err;
    ngx_http_kafka_produce_token_t   *token;
    ngx_http_kafka_produce_record_t  *rec;
    ngx_http_kafka_producer_stats_t  *stats;

    stats = ngx_http_kafka_producer_stats();
    rec = records->elts;
    err = RD_KAFKA_RESP_ERR_NO_ERROR;

    /*
     * One topic look-up for all the records.  A topic that librdkafka
     * does not know yet (one from a variable, seen for the first time) has
     * its metadata asked for now rather than at librdkafka's next scan of
     * topics, up to a second later.
     */

    rkt = rd_kafka_topic_new(rk, (char *) ctx->topic.data, NULL);

    if (rkt == NULL) {
        err = rd_kafka_last_error();

        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            err = RD_KAFKA_RESP_ERR__INVALID_ARG;
        }

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "kafka_produce: topic \"%V\": %s",
                      &ctx->topic, rd_kafka_err2str(err));
    }

    for (i = 0, *queued = 0; i < records->nelts; i++) {
        token = batch ? &batch->tokens[i] : NULL;

        if (token) {
            token->dr.handler = ngx_http_kafka_produce_delivered;
            token->batch = batch;
            token->partition = -1;
            token->offset = -1;
        }

        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            /* an earlier record was refused: the rest are not sent */
            if (token) {
                token->err = err;
                token->status = RD_KAFKA_MSG_STATUS_NOT_PERSISTED;
                token->reported = 1;
            }

            continue;
        }

        copy = common->headers ? rd_kafka_headers_copy(common->headers)
                               : NULL;

        if (rec[i].annotation) {
            if (copy == NULL) {
                copy = rd_kafka_headers_new(1);
            }

            rd_kafka_header_add(copy,
                                (char *) ctx->annotation_header->data,
                                ctx->annotation_header->len,
                                rec[i].annotation, rec[i].annotation_len);
        }

        err = rd_kafka_producev(rk,
                  RD_KAFKA_V_RKT(rkt),
                  RD_KAFKA_V_PARTITION(rec[i].partition
                                       == RD_KAFKA_PARTITION_UA
                                       ? common->partition
                                       : rec[i].partition),
                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                  RD_KAFKA_V_VALUE(rec[i].value, rec[i].value_len),
                  RD_KAFKA_V_KEY(rec[i].key ? rec[i].key : common->key,
                                 rec[i].key ? rec[i].key_len
                                            : common->key_len),
                  RD_KAFKA_V_HEADERS(copy),
                  RD_KAFKA_V_OPAQUE(token),
                  RD_KAFKA_V_END);

        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            (*queued)++;
            stats->produced++;

            if (batch) {
                batch->pending++;
            }

            continue;
        }

        /* librdkafka keeps the headers only when it takes the message */

        if (copy) {
            rd_kafka_headers_destroy(copy);
        }

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "kafka_produce: record %ui to \"%V\" refused: %s",
                      i, &ctx->topic, rd_kafka_err2str(err));

        if (token) {
            token->err = err;
            token->status = RD_KAFKA_MSG_STATUS_NOT_PERSISTED;
            token->reported = 1;
        }
    }

    if (rkt) {
        rd_kafka_topic_destroy(rkt);
    }

    return err;
}


/* "kafka_produce_ack off": the answer when librdkafka refused a record */

static ngx_int_t
ngx_http_kafka_produce_refused(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, rd_kafka_resp_err_t err,
    ngx_uint_t queued, ngx_uint_t n)
{
    ngx_http_kafka_rest_outcome_t  out;

    ngx_http_kafka_rest_outcome(err, RD_KAFKA_MSG_STATUS_NOT_PERSISTED,
                                &out);

    if (out.status == NGX_HTTP_SERVICE_UNAVAILABLE
        && ngx_http_kafka_rest_retry_after(r) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->error.data = (u_char *) rd_kafka_err2str(err);
    ctx->error.len = ngx_strlen(ctx->error.data);

    return ngx_http_kafka_send_error(r, out.status, out.code,
               "%ui of %ui record(s) accepted, then: %s",
               queued, n, rd_kafka_err2str(err));
}


/*
 * librdkafka refuses a record over message.max.bytes only when it is
 * produced, after the records before it: an envelope is checked first,
 * counting what librdkafka counts, so that it is taken whole or not at all.
 * A single record is left to librdkafka.
 */

static ngx_int_t
ngx_http_kafka_produce_check_sizes(ngx_array_t *records, size_t key_len,
    size_t headers_size, ngx_uint_t *index, size_t *size)
{
    size_t                            max;
    ngx_uint_t                        i;
    ngx_http_kafka_produce_record_t  *rec;

    max = ngx_http_kafka_producer_message_max();

    if (records->nelts < 2 || max == 0) {
        return NGX_OK;
    }

    rec = records->elts;

    for (i = 0; i < records->nelts; i++) {
        *size = NGX_HTTP_KAFKA_RECORD_OVERHEAD + headers_size
                + rec[i].value_len + (rec[i].key ? rec[i].key_len : key_len);

        /* a contract annotation: a header of at most 255 name bytes */
        if (rec[i].annotation) {
            *size += 2 * 5 + 255 + rec[i].annotation_len;
        }

        if (*size > max) {
            *index = i;
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/*
 * The kafka_produce_header values of this request; a header whose value
 * is empty is left out, as proxy_set_header does.  *size is what the
 * headers add to each record's size as librdkafka counts it.
 */

static ngx_int_t
ngx_http_kafka_produce_headers(ngx_http_request_t *r,
    ngx_http_kafka_produce_loc_conf_t *plcf, rd_kafka_headers_t **headers,
    size_t *size)
{
    ngx_str_t                         value;
    ngx_uint_t                        i, n;
    rd_kafka_headers_t               *hs;
    ngx_http_kafka_produce_header_t  *h;

    hs = rd_kafka_headers_new(plcf->headers->nelts);
    if (hs == NULL) {
        return NGX_ERROR;
    }

    h = plcf->headers->elts;
    n = 0;

    for (i = 0; i < plcf->headers->nelts; i++) {
        if (ngx_http_complex_value(r, &h[i].value, &value) != NGX_OK) {
            rd_kafka_headers_destroy(hs);
            return NGX_ERROR;
        }

        if (value.len == 0) {
            continue;
        }

        if (rd_kafka_header_add(hs, (const char *) h[i].name.data,
                                h[i].name.len, value.data, value.len)
            != RD_KAFKA_RESP_ERR_NO_ERROR)
        {
            rd_kafka_headers_destroy(hs);
            return NGX_ERROR;
        }

        *size += h[i].name.len + value.len
                 + ngx_http_kafka_produce_varint_len(h[i].name.len)
                 + ngx_http_kafka_produce_varint_len(value.len);
        n++;
    }

    if (n == 0) {
        rd_kafka_headers_destroy(hs);
        hs = NULL;
    }

    *headers = hs;

    return NGX_OK;
}


/* the size of a length in a record: a zig-zag varint, 7 bits a byte */

static size_t
ngx_http_kafka_produce_varint_len(size_t n)
{
    size_t    len;
    uint64_t  v;

    v = (uint64_t) n << 1;

    for (len = 1; v >= 0x80; len++) {
        v >>= 7;
    }

    return len;
}


/* called by the client core for each delivery report of a token */

static void
ngx_http_kafka_produce_delivered(ngx_http_kafka_dr_t *dr,
    const rd_kafka_message_t *msg)
{
    ngx_uint_t                        i;
    ngx_time_t                       *tp;
    ngx_msec_int_t                    ms;
    ngx_connection_t                 *c;
    ngx_http_request_t               *r;
    ngx_http_kafka_produce_ctx_t     *ctx;
    ngx_http_kafka_produce_batch_t   *batch;
    ngx_http_kafka_produce_token_t   *token;
    ngx_http_kafka_producer_stats_t  *stats;

    token = (ngx_http_kafka_produce_token_t *) dr;
    batch = token->batch;

    token->partition = msg->partition;
    token->offset = msg->offset;
    token->err = msg->err;
    token->status = rd_kafka_message_status(msg);
    token->reported = 1;

    if (--batch->pending) {
        return;
    }

    r = batch->request;

    if (r == NULL) {
        /* the request timed out or the client went away */

        stats = ngx_http_kafka_producer_stats();
        if (stats) {
            stats->orphaned += batch->ntokens;
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "kafka_produce: %ui report(s) for a gone request",
                       batch->ntokens);

        ngx_free(batch);
        return;
    }

    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_http_kafka_produce_module);

    ngx_http_set_log_request(c->log, r);

    /* $kafka_ack_time: from the request's start, as $request_time */

    tp = ngx_timeofday();
    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));
    ctx->ack_time = ngx_max(ms, 0);
    ctx->acked = 1;

    for (i = 0; i < batch->ntokens; i++) {
        if (batch->tokens[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            break;
        }
    }

    if (i == batch->ntokens) {
        /* the histogram holds requests whose every record was acked */
        ngx_http_kafka_status_produce_ack(&ctx->topic, ctx->ack_time);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "kafka_produce: all %ui record(s) reported",
                   batch->ntokens);

    if (ctx->timer.timer_set) {
        ngx_del_timer(&ctx->timer);
    }

    ngx_http_finalize_request(r, ngx_http_kafka_rest_respond(r, ctx, 0));

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_kafka_produce_timeout_handler(ngx_event_t *ev)
{
    ngx_int_t                      rc;
    ngx_connection_t              *c;
    ngx_http_request_t            *r;
    ngx_http_kafka_produce_ctx_t  *ctx;

    r = ev->data;
    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_http_kafka_produce_module);

    ngx_http_set_log_request(c->log, r);

    ngx_log_error(NGX_LOG_WARN, c->log, 0,
                  "kafka_produce: no acknowledgement for %ui record(s) "
                  "to \"%V\" within kafka_produce_timeout",
                  ctx->batch->pending, &ctx->topic);

    rc = ngx_http_kafka_rest_respond(r, ctx, 1);

    /*
     * The batch is left to librdkafka now: a late report must not touch
     * a request that may still be sending this answer.
     */

    ctx->batch->request = NULL;
    ctx->batch = NULL;

    ngx_http_finalize_request(r, rc);

    ngx_http_run_posted_requests(c);
}


/*
 * Request pool cleanup: the request is going away, whatever the reason.
 * Either the last delivery report already came (free the batch here) or
 * librdkafka still holds tokens (detach; the last report frees it).
 */

static void
ngx_http_kafka_produce_cleanup(void *data)
{
    ngx_http_kafka_produce_ctx_t  *ctx = data;

    if (ctx->timer.timer_set) {
        ngx_del_timer(&ctx->timer);
    }

    if (ctx->batch == NULL) {
        return;
    }

    if (ctx->batch->pending == 0) {
        ngx_free(ctx->batch);

    } else {
        ctx->batch->request = NULL;
    }

    ctx->batch = NULL;
}


static ngx_int_t
ngx_http_kafka_produce_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_kafka_produce_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kafka_produce_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                        *p;
    ngx_http_kafka_produce_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_kafka_produce_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case 0:
        v->data = ctx->topic.data;
        v->len = ctx->topic.len;
        break;

    case 1:
    case 2:
        if ((data == 1 && ctx->partition < 0)
            || (data == 2 && ctx->offset < 0))
        {
            v->not_found = 1;
            return NGX_OK;
        }

        p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->data = p;
        v->len = (data == 1) ? ngx_sprintf(p, "%D", ctx->partition) - p
                             : ngx_sprintf(p, "%L", ctx->offset) - p;
        break;

    case 4:
        if (!ctx->acked) {
            v->not_found = 1;
            return NGX_OK;
        }

        p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN + 4);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->data = p;
        v->len = ngx_sprintf(p, "%T.%03M", (time_t) ctx->ack_time / 1000,
                             ctx->ack_time % 1000)
                 - p;
        break;

    default:
        v->data = ctx->error.data;
        v->len = ctx->error.len;
        break;
    }

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static void *
ngx_http_kafka_produce_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_kafka_produce_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kafka_produce_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->topic = NULL;
     */

    conf->key = NGX_CONF_UNSET_PTR;
    conf->partition = NGX_CONF_UNSET_PTR;
    conf->headers = NGX_CONF_UNSET_PTR;
    conf->ack = NGX_CONF_UNSET;
    conf->timeout = NGX_CONF_UNSET_MSEC;

    return conf;
}


static char *
ngx_http_kafka_produce_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_kafka_produce_loc_conf_t *prev = parent;
    ngx_http_kafka_produce_loc_conf_t *conf = child;

    ngx_http_kafka_main_conf_t  *kmcf;

    ngx_conf_merge_ptr_value(conf->key, prev->key, NULL);
    ngx_conf_merge_ptr_value(conf->partition, prev->partition, NULL);
    ngx_conf_merge_ptr_value(conf->headers, prev->headers, NULL);
    ngx_conf_merge_value(conf->ack, prev->ack, 1);
    ngx_conf_merge_msec_value(conf->timeout, prev->timeout, 10000);

    /*
     * "ack off" requests never wait, so their timeout is not counted;
     * their records go to the batching producer
     */

    if (conf->topic) {
        kmcf = ngx_http_conf_get_module_main_conf(cf,
                                                ngx_http_kafka_gateway_module);

        if (!conf->ack) {
            kmcf->batch_used = 1;

        } else if (conf->timeout > kmcf->produce_timeout_max) {
            kmcf->produce_timeout_max = conf->timeout;
        }

        if (conf->topic->lengths == NULL
            && ngx_http_kafka_warm_topic(cf, conf->ack
                                             ? NGX_HTTP_KAFKA_PRODUCER_ACK
                                             : NGX_HTTP_KAFKA_PRODUCER_BATCH,
                                         &conf->topic->value)
               != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_kafka_produce(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kafka_produce_loc_conf_t *plcf = conf;

    ngx_str_t                         *value;
    ngx_http_core_loc_conf_t          *clcf;
    ngx_http_kafka_main_conf_t        *kmcf;
    ngx_http_compile_complex_value_t   ccv;

    if (plcf->topic) {
        return "is duplicate";
    }

    value = cf->args->elts;

    plcf->topic = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (plcf->topic == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = plcf->topic;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* a constant topic is checked now rather than on every request */

    if (plcf->topic->lengths == NULL
        && ngx_http_kafka_topic_valid(&plcf->topic->value) != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid topic name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_kafka_produce_handler;

    kmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_kafka_gateway_module);
    kmcf->producer_used = 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_kafka_produce_header(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kafka_produce_loc_conf_t *plcf = conf;

    ngx_str_t                         *value;
    ngx_http_kafka_produce_header_t   *h;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;

    if (plcf->headers == NGX_CONF_UNSET_PTR) {
        plcf->headers = ngx_array_create(cf->pool, 4,
                                     sizeof(ngx_http_kafka_produce_header_t));
        if (plcf->headers == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (value[1].len == 0) {
        return "requires a header name";
    }

    h = ngx_array_push(plcf->headers);
    if (h == NULL) {
        return NGX_CONF_ERROR;
    }

    h->name = value[1];

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[2];
    ccv.complex_value = &h->value;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}
