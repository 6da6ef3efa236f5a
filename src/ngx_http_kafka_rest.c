
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


/* the answer to a produce request with acknowledgements */
typedef struct {
    ngx_uint_t                         failed;
    ngx_uint_t                         status;
    ngx_uint_t                         code;
    const char                        *message;
    size_t                             len;
} ngx_http_kafka_rest_answer_t;


static ngx_int_t ngx_http_kafka_rest_parse_envelope(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, json_t *root, ngx_array_t *records);
static ngx_int_t ngx_http_kafka_rest_parse_record(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, json_t *rec, size_t i,
    ngx_array_t *records);
static ngx_int_t ngx_http_kafka_rest_parse_field(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, json_t *field, ngx_uint_t i,
    const char *name, u_char **data, size_t *len);
static ngx_int_t ngx_http_kafka_rest_parse_json(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, json_t *field, ngx_uint_t i,
    const char *name, u_char **data, size_t *len);
static ngx_int_t ngx_http_kafka_rest_invalid(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, ngx_uint_t code, const char *fmt, ...);
static void ngx_http_kafka_rest_verdict(
    ngx_http_kafka_produce_batch_t *batch, ngx_uint_t timed_out,
    ngx_http_kafka_rest_answer_t *a);
static u_char *ngx_http_kafka_rest_offsets(u_char *p,
    ngx_http_kafka_produce_batch_t *batch);
static void ngx_http_kafka_rest_last(ngx_http_kafka_produce_ctx_t *ctx);


static ngx_str_t  ngx_http_kafka_rest_type =
    ngx_string("application/vnd.kafka.v2+json");
static ngx_str_t  ngx_http_kafka_rest_json_type =
    ngx_string("application/json");


static u_char     ngx_http_kafka_rest_accepted[] =
    "{\"offsets\":[{\"partition\":null,\"offset\":null,"
    "\"error_code\":null,\"error\":null}],"
    "\"key_schema_id\":null,\"value_schema_id\":null}";


/*
 * Turns the body into records.  Every record of an envelope is checked
 * and converted before anything is produced; an error names the record
 * and the field: "records[1].value: invalid base64".
 */

ngx_int_t
ngx_http_kafka_rest_parse(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, ngx_str_t *body, ngx_array_t *records)
{
    json_t                           *root;
    ngx_int_t                         rc, arena;
    json_error_t                      jerr;
    ngx_http_kafka_produce_record_t  *record;

    if (ctx->format == NGX_HTTP_KAFKA_FORMAT_RAW
        || ctx->format == NGX_HTTP_KAFKA_FORMAT_DELETE)
    {
        record = ngx_array_push(records);
        if (record == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memzero(record, sizeof(ngx_http_kafka_produce_record_t));

        /* a NULL value is a tombstone, an empty one is not */

        record->key = NULL;
        record->key_len = 0;
        record->value = (ctx->format == NGX_HTTP_KAFKA_FORMAT_RAW)
                        ? body->data : NULL;
        record->value_len = body->len;
        record->partition = RD_KAFKA_PARTITION_UA;

        return NGX_OK;
    }

    if (body->len == 0) {
        return ngx_http_kafka_rest_invalid(r, ctx,
            NGX_HTTP_KAFKA_REST_BODY_INVALID,
            "empty body: expected a JSON object with \"records\"");
    }

    /* every record is copied out of the document, which is then dropped */

    arena = ngx_http_kafka_json_arena_begin(r->pool, body->len);

    if (arena == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    root = json_loadb((const char *) body->data, body->len, JSON_ALLOW_NUL,
                      &jerr);

    if (root == NULL) {
        rc = ngx_http_kafka_rest_invalid(r, ctx,
            NGX_HTTP_KAFKA_REST_BODY_INVALID,
            "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
            jerr.text);

    } else {
        rc = ngx_http_kafka_rest_parse_envelope(r, ctx, root, records);
        json_decref(root);
    }

    if (arena == NGX_OK) {
        ngx_http_kafka_json_arena_end();
    }

    return rc;
}


/* {"records": [...]} without schemas; the records are converted in order */

static ngx_int_t
ngx_http_kafka_rest_parse_envelope(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, json_t *root, ngx_array_t *records)
{
    size_t      n, i;
    json_t     *list;
    ngx_int_t   rc;

    if (!json_is_object(root)) {
        return ngx_http_kafka_rest_invalid(r, ctx,
            NGX_HTTP_KAFKA_REST_BODY_INVALID,
            "the request body must be a JSON object");
    }

    list = json_object_get(root, "records");

    if (!json_is_array(list) || json_array_size(list) == 0) {
        return ngx_http_kafka_rest_invalid(r, ctx,
            NGX_HTTP_KAFKA_REST_BODY_INVALID,
            "records: must be a non-empty array");
    }

    if (json_object_get(root, "key_schema") != NULL
        || json_object_get(root, "value_schema") != NULL
        || json_object_get(root, "key_schema_id") != NULL
        || json_object_get(root, "value_schema_id") != NULL)
    {
        return ngx_http_kafka_rest_invalid(r, ctx,
            NGX_HTTP_KAFKA_REST_SCHEMA_UNSUPPORTED,
            "schemas are not supported: there is no schema "
            "registry behind this endpoint");
    }

    n = json_array_size(list);

    for (i = 0; i < n; i++) {
        rc = ngx_http_kafka_rest_parse_record(r, ctx,
                                              json_array_get(list, i), i,
                                              records);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    return NGX_OK;
}


/* records[i]: {"key", "value", "partition"}, each optional */

static ngx_int_t
ngx_http_kafka_rest_parse_record(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, json_t *rec, size_t i,
    ngx_array_t *records)
{
    json_t                           *field;
    ngx_int_t                         rc;
    const char                       *name;
    ngx_http_kafka_produce_record_t  *record;

    if (!json_is_object(rec)) {
        return ngx_http_kafka_rest_invalid(r, ctx,
            NGX_HTTP_KAFKA_REST_BODY_INVALID,
            "records[%uz]: must be an object", i);
    }

    json_object_foreach(rec, name, field) {
        if (ngx_strcmp(name, "key") != 0
            && ngx_strcmp(name, "value") != 0
            && ngx_strcmp(name, "partition") != 0)
        {
            return ngx_http_kafka_rest_invalid(r, ctx,
                NGX_HTTP_KAFKA_REST_BODY_INVALID,
                "records[%uz].%s: unknown field, expected "
                "\"key\", \"value\" or \"partition\"", i, name);
        }
    }

    record = ngx_array_push(records);
    if (record == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(record, sizeof(ngx_http_kafka_produce_record_t));
    record->partition = RD_KAFKA_PARTITION_UA;

    field = json_object_get(rec, "partition");

    if (field != NULL && !json_is_null(field)) {
        if (!json_is_integer(field)
            || json_integer_value(field) < 0
            || json_integer_value(field) > NGX_MAX_INT32_VALUE)
        {
            return ngx_http_kafka_rest_invalid(r, ctx,
                NGX_HTTP_KAFKA_REST_BODY_INVALID,
                "records[%uz].partition: must be a non-negative integer",
                i);
        }

        record->partition = (int32_t) json_integer_value(field);
    }

    rc = ngx_http_kafka_rest_parse_field(r, ctx,
                                         json_object_get(rec, "key"),
                                         i, "key", &record->key,
                                         &record->key_len);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_kafka_rest_parse_field(r, ctx,
                                           json_object_get(rec, "value"),
                                           i, "value", &record->value,
                                           &record->value_len);
}


/*
 * A key or value of an envelope record.  Absent or null stays NULL (no key,
 * or a null value: a tombstone).  The json format stores the compact JSON
 * text of the field, the binary format the bytes of its base64 string.
 */

static ngx_int_t
ngx_http_kafka_rest_parse_field(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, json_t *field, ngx_uint_t i,
    const char *name, u_char **data, size_t *len)
{
    u_char     *pad;
    size_t      npad;
    ngx_str_t   src, dst;

    *data = NULL;
    *len = 0;

    if (field == NULL || json_is_null(field)) {
        return NGX_OK;
    }

    if (ctx->format == NGX_HTTP_KAFKA_FORMAT_JSON) {
        return ngx_http_kafka_rest_parse_json(r, ctx, field, i, name,
                                              data, len);
    }

    if (!json_is_string(field)) {
        return ngx_http_kafka_rest_invalid(r, ctx,
            NGX_HTTP_KAFKA_REST_BODY_INVALID,
            "records[%ui].%s: must be a base64 string or null", i, name);
    }

    src.data = (u_char *) json_string_value(field);
    src.len = json_string_length(field);

    dst.data = ngx_pnalloc(r->pool, ngx_base64_decoded_length(src.len) + 1);
    if (dst.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * ngx_decode_base64() stops at the first '=': only one or two '='
     * may end the string, nothing else may follow them.
     */

    pad = ngx_strlchr(src.data, src.data + src.len, '=');
    npad = pad ? (size_t) (src.data + src.len - pad) : 0;

    if (src.len % 4 != 0
        || npad > 2
        || (npad == 2 && pad[1] != '=')
        || ngx_decode_base64(&dst, &src) != NGX_OK)
    {
        return ngx_http_kafka_rest_invalid(r, ctx,
                                           NGX_HTTP_KAFKA_REST_BODY_INVALID,
                                           "records[%ui].%s: invalid base64",
                                           i, name);
    }

    *data = dst.len ? dst.data : ngx_http_kafka_produce_empty;
    *len = dst.len;

    return NGX_OK;
}


/*
 * The compact JSON text of a json-format key or value, in one pass.  A
 * string without quotes, backslashes or control characters (the usual
 * case) is written as jansson would write it, without asking jansson;
 * anything else is serialized into a buffer of a guessed size, and only
 * if that was too small, again into one of the exact size.
 */

static ngx_int_t
ngx_http_kafka_rest_parse_json(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, json_t *field, ngx_uint_t i,
    const char *name, u_char **data, size_t *len)
{
    u_char  *p, *s, *end;
    size_t   size, guess;

    if (json_is_string(field)) {
        s = (u_char *) json_string_value(field);
        size = json_string_length(field);

        for (p = s, end = s + size; p < end; p++) {
            if (*p < 0x20 || *p == '"' || *p == '\\') {
                break;
            }
        }

        if (p == end) {
            *data = ngx_pnalloc(r->pool, size + 2);
            if (*data == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            p = *data;
            *p++ = '"';
            p = ngx_cpymem(p, s, size);
            *p++ = '"';
            *len = size + 2;

            return NGX_OK;
        }

        guess = 2 * size + 16;

    } else {
        guess = 256;
    }

    *data = ngx_pnalloc(r->pool, guess);
    if (*data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    size = json_dumpb(field, (char *) *data, guess,
                      JSON_COMPACT|JSON_ENCODE_ANY);

    if (size > guess) {
        *data = ngx_pnalloc(r->pool, size);
        if (*data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        size = json_dumpb(field, (char *) *data, size,
                          JSON_COMPACT|JSON_ENCODE_ANY);
    }

    if (size == 0) {
        return ngx_http_kafka_rest_invalid(r, ctx,
            NGX_HTTP_KAFKA_REST_BODY_INVALID,
            "records[%ui].%s: cannot be serialized", i, name);
    }

    *len = size;

    return NGX_OK;
}


/*
 * Notes why the body is refused and returns NGX_DECLINED: the caller
 * answers 422 and nothing of the request is produced.
 */

static ngx_int_t
ngx_http_kafka_rest_invalid(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, ngx_uint_t code, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;
    u_char    msg[NGX_MAX_ERROR_STR];

    va_start(args, fmt);
    p = ngx_vslprintf(msg, msg + sizeof(msg), fmt, args);
    va_end(args);

    ctx->invalid.data = ngx_pnalloc(r->pool, p - msg);
    if (ctx->invalid.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->invalid.len = p - msg;
    ngx_memcpy(ctx->invalid.data, msg, p - msg);
    ctx->invalid_code = code;

    return NGX_DECLINED;
}


/*
 * The answer: 200 when every record is in Kafka, 202 for "ack off",
 * otherwise the status of the first failed record, with offsets[] telling
 * record by record what was written and what was not.
 */

ngx_int_t
ngx_http_kafka_rest_respond(ngx_http_request_t *r,
    ngx_http_kafka_produce_ctx_t *ctx, ngx_uint_t timed_out)
{
    u_char                        *body, *p;
    ngx_str_t                     *type;
    ngx_http_kafka_rest_answer_t   a;

    type = (ctx->format == NGX_HTTP_KAFKA_FORMAT_RAW)
           ? &ngx_http_kafka_rest_json_type
           : &ngx_http_kafka_rest_type;

    if (ctx->batch == NULL) {
        /* kafka_produce_ack off: accepted locally, not yet acknowledged */

        ngx_str_set(&ctx->error, "");

        return ngx_http_kafka_send_json(r, NGX_HTTP_ACCEPTED, type,
                                    ngx_http_kafka_rest_accepted,
                                    sizeof(ngx_http_kafka_rest_accepted)
                                    - 1);
    }

    ngx_http_kafka_rest_verdict(ctx->batch, timed_out, &a);

    body = ngx_pnalloc(r->pool, a.len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = body;

    if (a.failed) {
        p = ngx_sprintf(p, "{\"error_code\":%ui,\"message\":\"", a.code);
        p = ngx_http_kafka_json_escape(p, (u_char *) a.message,
                                       ngx_strlen(a.message));
        p = ngx_cpymem(p, "\",\"offsets\":[", sizeof("\",\"offsets\":[") - 1);

    } else {
        p = ngx_cpymem(p, "{\"offsets\":[", sizeof("{\"offsets\":[") - 1);
    }

    p = ngx_http_kafka_rest_offsets(p, ctx->batch);

    p = ngx_cpymem(p, "],\"key_schema_id\":null,\"value_schema_id\":null}",
                   sizeof("],\"key_schema_id\":null,\"value_schema_id\":null}")
                   - 1);

    ngx_http_kafka_rest_last(ctx);

    if (a.failed) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "kafka_produce: %ui of %ui record(s) to \"%V\" "
                      "failed: %s", a.failed, ctx->batch->ntokens,
                      &ctx->topic, a.message);

        if (a.status == NGX_HTTP_SERVICE_UNAVAILABLE
            && ngx_http_kafka_rest_retry_after(r) != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_kafka_send_json(r, a.status, type, body, p - body);
}


/*
 * The answer's status, code and message, from the first record that
 * failed (or the wait that timed out), and the body's largest length.
 */

static void
ngx_http_kafka_rest_verdict(ngx_http_kafka_produce_batch_t *batch,
    ngx_uint_t timed_out, ngx_http_kafka_rest_answer_t *a)
{
    ngx_uint_t                         i;
    const char                        *errstr;
    rd_kafka_resp_err_t                first_err;
    ngx_http_kafka_produce_token_t    *t;
    ngx_http_kafka_rest_outcome_t   out;

    t = batch->tokens;

    a->failed = 0;
    a->status = NGX_HTTP_OK;
    a->code = 0;
    a->message = NULL;
    first_err = RD_KAFKA_RESP_ERR_NO_ERROR;

    a->len = sizeof("{\"error_code\":,\"message\":\"\",\"offsets\":[],"
                    "\"key_schema_id\":null,\"value_schema_id\":null}")
             + NGX_INT_T_LEN + 256;

    for (i = 0; i < batch->ntokens; i++) {
        a->len += sizeof("{\"partition\":,\"offset\":,\"error_code\":,"
                         "\"error\":\"\"},") + 2 * NGX_INT64_LEN;

        if (t[i].reported && t[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            continue;
        }

        errstr = t[i].reported ? rd_kafka_err2str(t[i].err)
                               : "no acknowledgement within "
                                 "kafka_produce_timeout";
        a->len += ngx_http_kafka_json_escape_len((u_char *) errstr,
                                                 ngx_strlen(errstr));

        if (a->failed++ == 0) {
            if (t[i].reported) {
                first_err = t[i].err;
                ngx_http_kafka_rest_outcome(t[i].err, t[i].status, &out);
                a->status = out.status;
                a->code = out.code;

            } else {
                a->status = NGX_HTTP_GATEWAY_TIME_OUT;
                a->code = NGX_HTTP_KAFKA_REST_MAYBE_WRITTEN;
            }
        }
    }

    if (a->failed == 0) {
        return;
    }

    if (timed_out && ngx_http_kafka_producer_unhealthy()) {
        /*
         * Kafka is known to be unreachable: a retriable outage, even
         * though librdkafka keeps the records until message.timeout.ms
         */
        a->message = "Kafka is unavailable: no acknowledgement within "
                     "kafka_produce_timeout; the records without one are "
                     "still written if it recovers within "
                     "message.timeout.ms";
        a->status = NGX_HTTP_SERVICE_UNAVAILABLE;
        a->code = NGX_HTTP_KAFKA_REST_KAFKA_UNREACHABLE;

    } else if (timed_out) {
        a->message = "no acknowledgement from Kafka within "
                     "kafka_produce_timeout; the records without one may "
                     "still be written";
        a->status = NGX_HTTP_GATEWAY_TIME_OUT;
        a->code = NGX_HTTP_KAFKA_REST_MAYBE_WRITTEN;

    } else {
        a->message = rd_kafka_err2str(first_err);
    }

    a->len += ngx_http_kafka_json_escape_len((u_char *) a->message,
                                             ngx_strlen(a->message));
}


/* the "offsets" array's elements, one per record */

static u_char *
ngx_http_kafka_rest_offsets(u_char *p,
    ngx_http_kafka_produce_batch_t *batch)
{
    ngx_uint_t                         i;
    const char                        *errstr;
    ngx_http_kafka_produce_token_t    *t;
    ngx_http_kafka_rest_outcome_t   out;

    t = batch->tokens;

    for (i = 0; i < batch->ntokens; i++) {
        if (i) {
            *p++ = ',';
        }

        if (t[i].reported && t[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            p = ngx_sprintf(p, "{\"partition\":%D,\"offset\":%L,"
                            "\"error_code\":null,\"error\":null}",
                            t[i].partition, t[i].offset);
            continue;
        }

        if (t[i].reported) {
            ngx_http_kafka_rest_outcome(t[i].err, t[i].status, &out);
            errstr = rd_kafka_err2str(t[i].err);

        } else {
            out.retriable = 1;
            errstr = "no acknowledgement within kafka_produce_timeout";
        }

        p = ngx_sprintf(p, "{\"partition\":null,\"offset\":null,"
                        "\"error_code\":%d,\"error\":\"",
                        out.retriable ? 2 : 1);
        p = ngx_http_kafka_json_escape(p, (u_char *) errstr,
                                       ngx_strlen(errstr));
        p = ngx_cpymem(p, "\"}", 2);
    }

    return p;
}


/* the $kafka_partition, $kafka_offset and $kafka_error of the last record */

static void
ngx_http_kafka_rest_last(ngx_http_kafka_produce_ctx_t *ctx)
{
    ngx_http_kafka_produce_token_t  *t;

    t = &ctx->batch->tokens[ctx->batch->ntokens - 1];

    if (t->reported && t->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ctx->partition = t->partition;
        ctx->offset = t->offset;
        ngx_str_set(&ctx->error, "");

    } else {
        ctx->error.data = (u_char *) (t->reported
                                      ? rd_kafka_err2name(t->err)
                                      : "timeout");
        ctx->error.len = ngx_strlen(ctx->error.data);
    }
}


/*
 * Maps librdkafka's verdict to an HTTP status, a REST Proxy error code and
 * the REST Proxy per-record class (1 = do not retry, 2 = retriable).  A
 * record whose outcome is unknown (it may have been written) is 504, so a
 * client can tell "safe to retry" (503) from "check before retrying".
 */

void
ngx_http_kafka_rest_outcome(rd_kafka_resp_err_t err,
    rd_kafka_msg_status_t status, ngx_http_kafka_rest_outcome_t *out)
{
    switch (err) {

    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
        out->status = NGX_HTTP_NOT_FOUND;
        out->code = NGX_HTTP_KAFKA_REST_TOPIC_NOT_FOUND;
        out->retriable = 0;
        return;

    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
        out->status = NGX_HTTP_NOT_FOUND;
        out->code = NGX_HTTP_KAFKA_REST_PARTITION_NOT_FOUND;
        out->retriable = 0;
        return;

    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        out->status = NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
        out->code = NGX_HTTP_KAFKA_REST_RECORD_TOO_LARGE;
        out->retriable = 0;
        return;

    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
        out->status = NGX_HTTP_SERVICE_UNAVAILABLE;
        out->code = NGX_HTTP_KAFKA_REST_QUEUE_FULL;
        out->retriable = 1;
        return;

    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
        out->retriable = 1;

        if (status == RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED) {
            out->status = NGX_HTTP_GATEWAY_TIME_OUT;
            out->code = NGX_HTTP_KAFKA_REST_MAYBE_WRITTEN;

        } else {
            out->status = NGX_HTTP_SERVICE_UNAVAILABLE;
            out->code = NGX_HTTP_KAFKA_REST_NOT_WRITTEN;
        }

        return;

    default:
        out->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        out->code = NGX_HTTP_KAFKA_REST_KAFKA_ERROR;
        out->retriable = 0;
        return;
    }
}


ngx_int_t
ngx_http_kafka_rest_retry_after(ngx_http_request_t *r)
{
    static ngx_str_t  one = ngx_string("1");

    if (ngx_http_kafka_header_add(r, "Retry-After", &one) == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}
