
/*
 * Copyright (C) the nginx-kafka-gateway developers
 * Distributed under the BSD 2-Clause License (see LICENSE).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kafka_module.h"
#include "ngx_http_kafka_producer.h"
#include "ngx_http_kafka_status.h"
#include "ngx_http_kafka_log.h"

#include <openssl/rand.h>


/*
 * kafka_log: traffic capture.
 *
 * In the log phase of a main request, each kafka_log whose if= allows it
 * gets one record describing the exchange, built once
 * (ngx_http_kafka_log_format.c) and handed to the worker's batching
 * producer (NGX_HTTP_KAFKA_PRODUCER_BATCH, linger.ms 5) with
 * RD_KAFKA_MSG_F_COPY: librdkafka owns copies of the key and value, and
 * the headers (heap memory: the last kafka_log that takes the record gets
 * them, the others copies), nothing of the request.  The response was
 * sent before the log phase, so nothing here can delay, change or fail
 * it.
 *
 * Records are fire-and-forget, but their delivery reports are counted:
 * every record's msg_opaque is the one static ngx_http_kafka_log_dr,
 * which outlives any record, and its handler decrements the worker's
 * count of queued capture records.  Beyond kafka_log_queue records a new
 * one is dropped; drops (the bound, a refusal by librdkafka, a failed
 * delivery, a record that could not be built) are counted per topic, in
 * the worker and in nginx_kafka_log_dropped_total (kafka_status, summed
 * over workers), and reported by a rate-limited warning.
 * On reload and quit the producer's exit gives queued records
 * kafka_shutdown_timeout (ngx_http_kafka_producer_exit).
 */


/* a warning about drops at most this often, in seconds */
#define NGX_HTTP_KAFKA_LOG_WARN_INTERVAL  10

/* random bytes fetched at a time for $request_id: 256 ids */
#define NGX_HTTP_KAFKA_LOG_RANDOM         4096


typedef struct {
    ngx_array_t                  topics;     /* ngx_str_t, distinct */
    ngx_uint_t                   queue_max;
    ngx_int_t                    request_id_index;
    ngx_int_t                    request_time_index;
    ngx_int_t                    upstream_time_index;
    ngx_int_t                    subject_index;
    ngx_int_t                    scheme_index;
    ngx_int_t                    host_index;
} ngx_http_kafka_log_main_conf_t;


/* the worker's capture state; see ngx_http_kafka_log_stats() */
typedef struct {
    ngx_http_kafka_log_stats_t   stats;
    ngx_log_t                   *log;
    time_t                       warned;
    ngx_uint_t                   unwarned;   /* drops since the warning */

    /* per kafka_log topic: the batching producer's handle, or NULL */
    rd_kafka_topic_t           **rkt;

    /* ce_time: the second of the last record, formatted */
    time_t                       sec;
    u_char                       second[sizeof("1970-01-01T00:00:00") - 1];

    /* random bytes for $request_id, used from the end */
    size_t                       random_left;
    u_char                       random[NGX_HTTP_KAFKA_LOG_RANDOM];
} ngx_http_kafka_log_worker_t;


static ngx_int_t ngx_http_kafka_log_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_kafka_log_gather(ngx_http_request_t *r,
    ngx_http_kafka_log_main_conf_t *lmcf,
    ngx_http_kafka_log_loc_conf_t *llcf, ngx_http_kafka_log_event_t *ev);
static void ngx_http_kafka_log_variable(ngx_http_request_t *r,
    ngx_int_t index, ngx_str_t *value);
static void ngx_http_kafka_log_request_id(ngx_http_request_t *r,
    ngx_int_t index, ngx_str_t *id);
static void ngx_http_kafka_log_time(ngx_http_request_t *r, ngx_str_t *time);
static ngx_int_t ngx_http_kafka_log_source(ngx_http_request_t *r,
    ngx_http_kafka_log_main_conf_t *lmcf, ngx_str_t *source);
static ngx_int_t ngx_http_kafka_log_headers(ngx_http_request_t *r,
    ngx_http_kafka_log_loc_conf_t *llcf, ngx_http_kafka_log_event_t *ev);
static void ngx_http_kafka_log_produce(ngx_http_request_t *r,
    ngx_http_kafka_log_t *log, ngx_str_t *key, ngx_str_t *value,
    rd_kafka_headers_t *headers, ngx_uint_t copy);
static void ngx_http_kafka_log_drop(ngx_log_t *log, ngx_uint_t index,
    ngx_str_t *topic, const char *reason);
static void ngx_http_kafka_log_delivered(ngx_http_kafka_dr_t *dr,
    const rd_kafka_message_t *msg);
static ngx_int_t ngx_http_kafka_log_init_process(ngx_cycle_t *cycle);
static void *ngx_http_kafka_log_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_kafka_log_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_kafka_log_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_kafka_log_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_kafka_log_init(ngx_conf_t *cf);
static char *ngx_http_kafka_log(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kafka_log_header(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_conf_enum_t  ngx_http_kafka_log_formats[] = {
    { ngx_string("cloudevents"), NGX_HTTP_KAFKA_LOG_CLOUDEVENTS },
    { ngx_string("json"), NGX_HTTP_KAFKA_LOG_JSON },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_kafka_log_bodies[] = {
    { ngx_string("off"), 0 },
    { ngx_string("request"), NGX_HTTP_KAFKA_LOG_BODY_REQUEST },
    { ngx_string("response"), NGX_HTTP_KAFKA_LOG_BODY_RESPONSE },
    { ngx_string("both"), NGX_HTTP_KAFKA_LOG_BODY_REQUEST
                          |NGX_HTTP_KAFKA_LOG_BODY_RESPONSE },
    { ngx_null_string, 0 }
};


static ngx_http_kafka_bounds_t  ngx_http_kafka_log_queue_bounds = {
    ngx_http_kafka_check_bounds, 1, 1000000,
    "must be between 1 and 1000000"
};


static ngx_command_t  ngx_http_kafka_log_commands[] = {

    { ngx_string("kafka_log"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_HTTP_LIF_CONF
                        |NGX_CONF_TAKE12,
      ngx_http_kafka_log,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kafka_log_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_log_loc_conf_t, key),
      NULL },

    { ngx_string("kafka_log_format"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_log_loc_conf_t, format),
      &ngx_http_kafka_log_formats },

    { ngx_string("kafka_log_source"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_log_loc_conf_t, source),
      NULL },

    { ngx_string("kafka_log_type"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_log_loc_conf_t, type),
      NULL },

    { ngx_string("kafka_log_body"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_log_loc_conf_t, body),
      &ngx_http_kafka_log_bodies },

    { ngx_string("kafka_log_body_max"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_log_loc_conf_t, body_max),
      NULL },

    { ngx_string("kafka_log_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_kafka_log_header,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kafka_log_tombstone"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kafka_log_loc_conf_t, tombstone),
      NULL },

    { ngx_string("kafka_log_queue"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kafka_log_main_conf_t, queue_max),
      &ngx_http_kafka_log_queue_bounds },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_kafka_log_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_kafka_log_init,               /* postconfiguration */

    ngx_http_kafka_log_create_main_conf,   /* create main configuration */
    ngx_http_kafka_log_init_main_conf,     /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_kafka_log_create_loc_conf,    /* create location configuration */
    ngx_http_kafka_log_merge_loc_conf      /* merge location configuration */
};


ngx_module_t  ngx_http_kafka_log_module = {
    NGX_MODULE_V1,
    &ngx_http_kafka_log_module_ctx,        /* module context */
    ngx_http_kafka_log_commands,           /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_kafka_log_init_process,       /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_kafka_dr_t  ngx_http_kafka_log_dr = {
    ngx_http_kafka_log_delivered
};

static ngx_http_kafka_log_worker_t  ngx_http_kafka_log_worker;


static ngx_int_t
ngx_http_kafka_log_handler(ngx_http_request_t *r)
{
    ngx_str_t                        key, value, filter;
    ngx_uint_t                       i;
    rd_kafka_headers_t              *headers;
    ngx_http_kafka_log_t            *log, *pending;
    ngx_http_kafka_log_event_t       ev;
    ngx_http_kafka_log_main_conf_t  *lmcf;
    ngx_http_kafka_log_loc_conf_t   *llcf;

    if (r != r->main) {
        return NGX_OK;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_kafka_log_module);

    if (llcf->logs == NULL
        || ngx_http_kafka_producer(NGX_HTTP_KAFKA_PRODUCER_BATCH) == NULL)
    {
        return NGX_OK;
    }

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_kafka_log_module);
    log = llcf->logs->elts;
    headers = NULL;
    pending = NULL;
    ngx_str_null(&key);
    ngx_str_null(&value);

    for (i = 0; i < llcf->logs->nelts; i++) {

        if (log[i].filter) {
            if (ngx_http_complex_value(r, log[i].filter, &filter) != NGX_OK) {
                continue;
            }

            if (filter.len == 0
                || (filter.len == 1 && filter.data[0] == '0'))
            {
                continue;
            }
        }

        if (ngx_http_kafka_log_worker.stats.queued + (pending != NULL)
            >= lmcf->queue_max)
        {
            ngx_http_kafka_log_drop(r->connection->log, log[i].index,
                                    &log[i].topic, "kafka_log_queue is full");
            continue;
        }

        /* the record is built for the first kafka_log that takes it */

        if (headers == NULL) {
            ngx_memzero(&ev, sizeof(ngx_http_kafka_log_event_t));

            if (ngx_http_kafka_log_gather(r, lmcf, llcf, &ev) != NGX_OK) {
                ngx_http_kafka_log_drop(r->connection->log, log[i].index,
                                        &log[i].topic,
                                        "the record could not be built");
                return NGX_OK;
            }

            key.len = 0;

            if (llcf->key
                && ngx_http_complex_value(r, llcf->key, &key) != NGX_OK)
            {
                key.len = 0;
            }

            ev.tombstone = llcf->tombstone && key.len
                           && r->method == NGX_HTTP_DELETE
                           && ev.status >= 200 && ev.status < 300;

            if (ngx_http_kafka_log_format(r, llcf, &ev, &headers, &value)
                != NGX_OK)
            {
                ngx_http_kafka_log_drop(r->connection->log, log[i].index,
                                        &log[i].topic,
                                        "the record could not be built");
                return NGX_OK;
            }
        }

        /*
         * A record waits until the next kafka_log takes one too, so
         * that the last one can hand over the headers without a copy.
         */

        if (pending) {
            ngx_http_kafka_log_produce(r, pending, &key, &value, headers, 1);
        }

        pending = &log[i];
    }

    if (pending) {
        ngx_http_kafka_log_produce(r, pending, &key, &value, headers, 0);
    }

    return NGX_OK;
}


/* what the exchange's record says; the bodies are request pool copies */

static ngx_int_t
ngx_http_kafka_log_gather(ngx_http_request_t *r,
    ngx_http_kafka_log_main_conf_t *lmcf,
    ngx_http_kafka_log_loc_conf_t *llcf, ngx_http_kafka_log_event_t *ev)
{
    u_char     *p, *q;
    ngx_str_t  *ct;

    ngx_http_kafka_log_request_id(r, lmcf->request_id_index, &ev->id);
    ngx_http_kafka_log_variable(r, lmcf->subject_index, &ev->subject);

    /* the times are in the JSON format only */

    if (llcf->format == NGX_HTTP_KAFKA_LOG_JSON) {
        ngx_http_kafka_log_variable(r, lmcf->request_time_index,
                                    &ev->request_time);
        ngx_http_kafka_log_variable(r, lmcf->upstream_time_index,
                                    &ev->upstream_time);

        if (ev->request_time.len == 0) {
            ngx_str_set(&ev->request_time, "0");
        }
    }

    if (llcf->source) {
        if (ngx_http_complex_value(r, llcf->source, &ev->source) != NGX_OK) {
            return NGX_ERROR;
        }

    } else if (ngx_http_kafka_log_source(r, lmcf, &ev->source) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_complex_value(r, llcf->type, &ev->type) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_kafka_log_time(r, &ev->time);

    ev->method = r->method_name;

    /* the path and query as the client sent them, before any rewrite */

    p = r->unparsed_uri.data;
    q = p ? ngx_strlchr(p, p + r->unparsed_uri.len, '?') : NULL;

    ev->path.data = p;
    ev->path.len = q ? (size_t) (q - p) : r->unparsed_uri.len;

    if (q) {
        ev->query.data = q + 1;
        ev->query.len = r->unparsed_uri.len - ev->path.len - 1;
    }

    ev->status = r->err_status ? r->err_status : r->headers_out.status;

    if (r->headers_in.content_type) {
        ev->request_type = r->headers_in.content_type->value;
    }

    ct = &r->headers_out.content_type;

    if (ct->len) {
        ev->response_type = *ct;

        /* as ngx_http_header_filter() writes it */

        if (r->headers_out.content_type_len == ct->len
            && r->headers_out.charset.len)
        {
            ev->response_type.len = ct->len + sizeof("; charset=") - 1
                                    + r->headers_out.charset.len;
            ev->response_type.data = ngx_pnalloc(r->pool,
                                                 ev->response_type.len);
            if (ev->response_type.data == NULL) {
                return NGX_ERROR;
            }

            p = ngx_cpymem(ev->response_type.data, ct->data, ct->len);
            p = ngx_cpymem(p, "; charset=", sizeof("; charset=") - 1);
            ngx_memcpy(p, r->headers_out.charset.data,
                       r->headers_out.charset.len);
        }
    }

    if (llcf->body & NGX_HTTP_KAFKA_LOG_BODY_REQUEST) {
        ev->request = ngx_http_kafka_log_request_body(r);
        if (ev->request == NULL) {
            return NGX_ERROR;
        }
    }

    if (llcf->body & NGX_HTTP_KAFKA_LOG_BODY_RESPONSE) {
        ev->response = ngx_http_kafka_log_response_body(r);
        if (ev->response == NULL) {
            return NGX_ERROR;
        }
    }

    return ngx_http_kafka_log_headers(r, llcf, ev);
}


static void
ngx_http_kafka_log_variable(ngx_http_request_t *r, ngx_int_t index,
    ngx_str_t *value)
{
    ngx_http_variable_value_t  *vv;

    value->len = 0;

    vv = ngx_http_get_indexed_variable(r, index);

    if (vv == NULL || vv->not_found || vv->len == 0) {
        return;
    }

    /* "-" is how $upstream_response_time says "none" */

    if (vv->len == 1 && vv->data[0] == '-') {
        return;
    }

    value->data = vv->data;
    value->len = vv->len;
}


/*
 * $request_id, for ce_id.  When nothing has asked for it yet, it is made
 * here the way nginx makes it (16 random bytes, in hexadecimal), but from
 * random bytes fetched 4 KiB at a time: RAND_bytes() for 16 bytes costs
 * about 2 us here, as much as the rest of the record, half of it a
 * getpid() system call (OpenSSL's fork check).  The id goes into the
 * request's variable cache, as ngx_http_get_indexed_variable() would put
 * it, so a log handler after this one sees the same id.  (The log phase
 * runs its handlers in the order they were added: the access log, a
 * static module, comes first and has asked already if it uses the
 * variable.)  The bytes are fetched in the worker, never inherited.
 */

static void
ngx_http_kafka_log_request_id(ngx_http_request_t *r, ngx_int_t index,
    ngx_str_t *id)
{
    u_char                       *p;
    ngx_http_variable_value_t    *vv;
    ngx_http_kafka_log_worker_t  *w;

    w = &ngx_http_kafka_log_worker;
    vv = &r->variables[index];

    if (vv->valid || vv->not_found) {
        ngx_http_kafka_log_variable(r, index, id);
        return;
    }

    if (w->random_left < 16) {
        if (RAND_bytes(w->random, NGX_HTTP_KAFKA_LOG_RANDOM) != 1) {
            /* nginx's own way, one RAND_bytes() per id */
            ngx_http_kafka_log_variable(r, index, id);
            return;
        }

        w->random_left = NGX_HTTP_KAFKA_LOG_RANDOM;
    }

    p = ngx_pnalloc(r->pool, 32);
    if (p == NULL) {
        id->len = 0;
        return;
    }

    w->random_left -= 16;
    ngx_hex_dump(p, w->random + w->random_left, 16);

    vv->len = 32;
    vv->valid = 1;
    vv->no_cacheable = 0;
    vv->not_found = 0;
    vv->data = p;

    id->data = p;
    id->len = 32;
}


/* the request's start, RFC 3339 in UTC with milliseconds */

static void
ngx_http_kafka_log_time(ngx_http_request_t *r, ngx_str_t *time)
{
    u_char                       *p;
    ngx_uint_t                    ms;
    ngx_tm_t                      tm;
    ngx_http_kafka_log_worker_t  *w;

    w = &ngx_http_kafka_log_worker;

    p = ngx_pnalloc(r->pool, sizeof("1970-01-01T00:00:00.000Z") - 1);
    if (p == NULL) {
        time->len = 0;
        return;
    }

    /* the date and time of day once per second, as records come */

    if (r->start_sec != w->sec || w->second[0] == '\0') {
        ngx_gmtime(r->start_sec, &tm);

        (void) ngx_sprintf(w->second, "%4d-%02d-%02dT%02d:%02d:%02d",
                           tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                           tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);
        w->sec = r->start_sec;
    }

    ms = r->start_msec % 1000;

    time->data = p;

    p = ngx_cpymem(p, w->second, sizeof(w->second));
    *p++ = '.';
    p = ngx_http_kafka_log_digits3(p, ms);
    *p++ = 'Z';

    time->len = p - time->data;
}


/* kafka_log_source's default, "$scheme://$host" */

static ngx_int_t
ngx_http_kafka_log_source(ngx_http_request_t *r,
    ngx_http_kafka_log_main_conf_t *lmcf, ngx_str_t *source)
{
    u_char     *p;
    ngx_str_t   scheme, host;

    ngx_http_kafka_log_variable(r, lmcf->scheme_index, &scheme);
    ngx_http_kafka_log_variable(r, lmcf->host_index, &host);

    p = ngx_pnalloc(r->pool, scheme.len + sizeof("://") - 1 + host.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    source->data = p;

    p = ngx_cpymem(p, scheme.data, scheme.len);
    p = ngx_cpymem(p, "://", sizeof("://") - 1);
    p = ngx_cpymem(p, host.data, host.len);

    source->len = p - source->data;

    return NGX_OK;
}


/*
 * The kafka_log_header request headers that are present, each once: the
 * values of a repeated header are joined with ", ".
 */

static ngx_int_t
ngx_http_kafka_log_headers(ngx_http_request_t *r,
    ngx_http_kafka_log_loc_conf_t *llcf, ngx_http_kafka_log_event_t *ev)
{
    u_char                       *p;
    ngx_str_t                    *name, joined;
    ngx_uint_t                    i, j, n;
    ngx_list_part_t              *part;
    ngx_table_elt_t              *h;
    ngx_http_kafka_log_header_t  *lh;

    n = llcf->headers ? llcf->headers->nelts : 0;

    if (ngx_array_init(&ev->headers, r->pool, n ? n : 1,
                       sizeof(ngx_http_kafka_log_header_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (n == 0) {
        return NGX_OK;
    }

    name = llcf->headers->elts;

    for (i = 0; i < n; i++) {
        lh = NULL;
        part = &r->headers_in.headers.part;
        h = part->elts;

        for (j = 0; /* void */; j++) {

            if (j >= part->nelts) {
                if (part->next == NULL) {
                    break;
                }

                part = part->next;
                h = part->elts;
                j = 0;
            }

            if (h[j].hash == 0
                || h[j].key.len != name[i].len
                || ngx_strncasecmp(h[j].key.data, name[i].data,
                                   name[i].len)
                   != 0)
            {
                continue;
            }

            if (lh == NULL) {
                lh = ngx_array_push(&ev->headers);
                if (lh == NULL) {
                    return NGX_ERROR;
                }

                lh->name = name[i];
                lh->value = h[j].value;
                continue;
            }

            p = ngx_pnalloc(r->pool, lh->value.len + 2 + h[j].value.len);
            if (p == NULL) {
                return NGX_ERROR;
            }

            joined.data = p;
            p = ngx_cpymem(p, lh->value.data, lh->value.len);
            p = ngx_cpymem(p, ", ", 2);
            p = ngx_cpymem(p, h[j].value.data, h[j].value.len);
            joined.len = p - joined.data;

            lh->value = joined;
        }
    }

    return NGX_OK;
}


/*
 * One record to a kafka_log topic, with a copy of the headers or, when
 * "copy" is 0, the headers themselves: then they are librdkafka's, or
 * destroyed here if it refuses the record.
 */

static void
ngx_http_kafka_log_produce(ngx_http_request_t *r, ngx_http_kafka_log_t *log,
    ngx_str_t *key, ngx_str_t *value, rd_kafka_headers_t *headers,
    ngx_uint_t copy)
{
    rd_kafka_t                       *rk;
    rd_kafka_topic_t                 *rkt, *own;
    rd_kafka_headers_t               *hs;
    rd_kafka_resp_err_t               err;
    ngx_http_kafka_producer_stats_t  *stats;

    hs = copy ? rd_kafka_headers_copy(headers) : headers;

    rk = ngx_http_kafka_producer(NGX_HTTP_KAFKA_PRODUCER_BATCH);

    /*
     * The handle warmed at worker start; if there is none, a handle for
     * this record only, as kafka_produce takes one per request.
     */

    rkt = ngx_http_kafka_log_worker.rkt
          ? ngx_http_kafka_log_worker.rkt[log->index] : NULL;
    own = NULL;

    if (rkt == NULL) {
        own = rd_kafka_topic_new(rk, (char *) log->topic.data, NULL);

        if (own == NULL) {
            rd_kafka_headers_destroy(hs);
            ngx_http_kafka_log_drop(r->connection->log, log->index,
                                    &log->topic,
                                    rd_kafka_err2str(rd_kafka_last_error()));
            return;
        }

        rkt = own;
    }

    err = rd_kafka_producev(rk,
              RD_KAFKA_V_RKT(rkt),
              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
              RD_KAFKA_V_VALUE(value->data, value->len),
              RD_KAFKA_V_KEY(key->len ? key->data : NULL, key->len),
              RD_KAFKA_V_HEADERS(hs),
              RD_KAFKA_V_OPAQUE(&ngx_http_kafka_log_dr),
              RD_KAFKA_V_END);

    /* a message holds its own reference to its topic */

    if (own) {
        rd_kafka_topic_destroy(own);
    }

    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* librdkafka keeps the headers only when it takes the message */
        rd_kafka_headers_destroy(hs);
        ngx_http_kafka_log_drop(r->connection->log, log->index, &log->topic,
                                rd_kafka_err2str(err));
        return;
    }

    ngx_http_kafka_log_worker.stats.queued++;

    stats = ngx_http_kafka_producer_stats();
    if (stats) {
        stats->produced++;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "kafka_log: record to \"%V\", %ui queued",
                   &log->topic, ngx_http_kafka_log_worker.stats.queued);
}


static void
ngx_http_kafka_log_drop(ngx_log_t *log, ngx_uint_t index, ngx_str_t *topic,
    const char *reason)
{
    ngx_http_kafka_log_worker_t  *w;

    w = &ngx_http_kafka_log_worker;

    w->stats.dropped_total++;

    if (w->stats.dropped && index < w->stats.ntopics) {
        w->stats.dropped[index]++;
    }

    ngx_http_kafka_status_log_dropped(topic);

    w->unwarned++;

    if (ngx_time() - w->warned < NGX_HTTP_KAFKA_LOG_WARN_INTERVAL) {
        return;
    }

    ngx_log_error(NGX_LOG_WARN, log, 0,
                  "kafka_log: %ui record(s) dropped (%uA in all), the "
                  "last to \"%V\": %s", w->unwarned, w->stats.dropped_total,
                  topic, reason);

    w->warned = ngx_time();
    w->unwarned = 0;
}


/* a delivery report of a capture record, from the producer's bridge */

static void
ngx_http_kafka_log_delivered(ngx_http_kafka_dr_t *dr,
    const rd_kafka_message_t *msg)
{
    ngx_str_t                     name;
    ngx_uint_t                    i;
    ngx_http_kafka_log_worker_t  *w;

    w = &ngx_http_kafka_log_worker;

    if (w->stats.queued) {
        w->stats.queued--;
    }

    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        return;
    }

    name.data = (u_char *) rd_kafka_topic_name(msg->rkt);
    name.len = ngx_strlen(name.data);

    for (i = 0; i < w->stats.ntopics; i++) {
        if (name.len == w->stats.topics[i].len
            && ngx_strncmp(name.data, w->stats.topics[i].data, name.len) == 0)
        {
            break;
        }
    }

    ngx_http_kafka_log_drop(w->log, i, &name, rd_kafka_err2str(msg->err));
}


/*
 * The worker's counters, for the error log and for metrics: queued
 * capture records (given to librdkafka, not yet reported) and dropped
 * ones, in all and per kafka_log topic (the order of "topics").
 */

ngx_http_kafka_log_stats_t *
ngx_http_kafka_log_stats(void)
{
    return &ngx_http_kafka_log_worker.stats;
}


static ngx_int_t
ngx_http_kafka_log_init_process(ngx_cycle_t *cycle)
{
    ngx_str_t                       *topic;
    ngx_uint_t                       i;
    ngx_http_kafka_log_main_conf_t  *lmcf;

    lmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_kafka_log_module);
    if (lmcf == NULL || lmcf->topics.nelts == 0) {
        return NGX_OK;
    }

    ngx_memzero(&ngx_http_kafka_log_worker,
                sizeof(ngx_http_kafka_log_worker_t));

    ngx_http_kafka_log_worker.log = cycle->log;
    ngx_http_kafka_log_worker.stats.topics = lmcf->topics.elts;
    ngx_http_kafka_log_worker.stats.ntopics = lmcf->topics.nelts;
    ngx_http_kafka_log_worker.stats.dropped =
        ngx_pcalloc(cycle->pool, lmcf->topics.nelts * sizeof(ngx_atomic_uint_t));

    if (ngx_http_kafka_log_worker.stats.dropped == NULL) {
        return NGX_ERROR;
    }

    ngx_http_kafka_log_worker.rkt = ngx_pcalloc(cycle->pool,
                                                lmcf->topics.nelts
                                                * sizeof(rd_kafka_topic_t *));

    if (ngx_http_kafka_log_worker.rkt == NULL) {
        return NGX_ERROR;
    }

    topic = lmcf->topics.elts;

    for (i = 0; i < lmcf->topics.nelts; i++) {
        ngx_http_kafka_status_log_topic(&topic[i]);

        ngx_http_kafka_log_worker.rkt[i] =
            ngx_http_kafka_producer_topic(NGX_HTTP_KAFKA_PRODUCER_BATCH,
                                          &topic[i]);
    }

    return NGX_OK;
}


static void *
ngx_http_kafka_log_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_kafka_log_main_conf_t  *lmcf;

    lmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kafka_log_main_conf_t));
    if (lmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&lmcf->topics, cf->pool, 4, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NULL;
    }

    lmcf->queue_max = NGX_CONF_UNSET_UINT;

    return lmcf;
}


static char *
ngx_http_kafka_log_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_kafka_log_main_conf_t  *lmcf = conf;

    ngx_conf_init_uint_value(lmcf->queue_max, 1000);

    return NGX_CONF_OK;
}


static void *
ngx_http_kafka_log_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_kafka_log_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kafka_log_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->key = NULL;
     *     conf->source = NULL;
     *     conf->type = NULL;
     */

    conf->logs = NGX_CONF_UNSET_PTR;
    conf->format = NGX_CONF_UNSET_UINT;
    conf->body = NGX_CONF_UNSET_UINT;
    conf->body_max = NGX_CONF_UNSET_SIZE;
    conf->headers = NGX_CONF_UNSET_PTR;
    conf->tombstone = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_kafka_log_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_kafka_log_loc_conf_t *prev = parent;
    ngx_http_kafka_log_loc_conf_t *conf = child;

    static ngx_str_t  type = ngx_string("http.exchange");

    ngx_conf_merge_ptr_value(conf->logs, prev->logs, NULL);
    ngx_conf_merge_ptr_value(conf->headers, prev->headers, NULL);
    ngx_conf_merge_uint_value(conf->format, prev->format,
                              NGX_HTTP_KAFKA_LOG_CLOUDEVENTS);
    ngx_conf_merge_uint_value(conf->body, prev->body,
                              NGX_HTTP_KAFKA_LOG_BODY_REQUEST
                              |NGX_HTTP_KAFKA_LOG_BODY_RESPONSE);
    ngx_conf_merge_size_value(conf->body_max, prev->body_max, 65536);
    ngx_conf_merge_value(conf->tombstone, prev->tombstone, 0);

    if (conf->key == NULL) {
        conf->key = prev->key;
    }

    if (conf->source == NULL) {
        conf->source = prev->source;
    }

    if (conf->type == NULL) {
        conf->type = prev->type;
    }

    /*
     * The default type, made once at the level where none is inherited;
     * the default source (none set) is made per request from $scheme and
     * $host, without the script engine's two passes.
     */

    if (conf->type == NULL) {
        conf->type = ngx_pcalloc(cf->pool, sizeof(ngx_http_complex_value_t));
        if (conf->type == NULL) {
            return NGX_CONF_ERROR;
        }

        conf->type->value = type;
        prev->type = conf->type;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_kafka_log_init(ngx_conf_t *cf)
{
    ngx_str_t                        name;
    ngx_http_handler_pt             *h;
    ngx_http_core_main_conf_t       *cmcf;
    ngx_http_kafka_log_main_conf_t  *lmcf;

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kafka_log_module);

    if (lmcf->topics.nelts == 0) {
        return NGX_OK;
    }

    ngx_str_set(&name, "request_id");
    lmcf->request_id_index = ngx_http_get_variable_index(cf, &name);

    ngx_str_set(&name, "request_time");
    lmcf->request_time_index = ngx_http_get_variable_index(cf, &name);

    ngx_str_set(&name, "upstream_response_time");
    lmcf->upstream_time_index = ngx_http_get_variable_index(cf, &name);

    ngx_str_set(&name, "jwt_claim_sub");
    lmcf->subject_index = ngx_http_get_variable_index(cf, &name);

    ngx_str_set(&name, "scheme");
    lmcf->scheme_index = ngx_http_get_variable_index(cf, &name);

    ngx_str_set(&name, "host");
    lmcf->host_index = ngx_http_get_variable_index(cf, &name);

    if (lmcf->request_id_index == NGX_ERROR
        || lmcf->request_time_index == NGX_ERROR
        || lmcf->upstream_time_index == NGX_ERROR
        || lmcf->subject_index == NGX_ERROR
        || lmcf->scheme_index == NGX_ERROR
        || lmcf->host_index == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_kafka_log_handler;

    return ngx_http_kafka_log_body_init(cf);
}


/* kafka_log TOPIC [if=CONDITION] | off */

static char *
ngx_http_kafka_log(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kafka_log_loc_conf_t *llcf = conf;

    ngx_str_t                         *value, *topic, s;
    ngx_uint_t                         i;
    ngx_http_kafka_log_t              *log;
    ngx_http_kafka_main_conf_t        *kmcf;
    ngx_http_kafka_log_main_conf_t    *lmcf;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        if (llcf->logs != NGX_CONF_UNSET_PTR) {
            return "is duplicate";
        }

        if (cf->args->nelts != 2) {
            return "takes no if= with \"off\"";
        }

        llcf->logs = NULL;
        return NGX_CONF_OK;
    }

    if (llcf->logs == NULL) {
        return "is duplicate: \"kafka_log off\" is set at this level";
    }

    if (ngx_http_kafka_topic_valid(&value[1]) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid topic name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (llcf->logs == NGX_CONF_UNSET_PTR) {
        llcf->logs = ngx_array_create(cf->pool, 2,
                                      sizeof(ngx_http_kafka_log_t));
        if (llcf->logs == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    log = ngx_array_push(llcf->logs);
    if (log == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(log, sizeof(ngx_http_kafka_log_t));

    /* ngx_conf_file.c keeps every argument NUL-terminated */
    log->topic = value[1];

    if (ngx_http_kafka_warm_topic(cf, NGX_HTTP_KAFKA_PRODUCER_BATCH,
                                  &log->topic)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* the topic's counter in the worker: one per distinct topic */

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kafka_log_module);
    topic = lmcf->topics.elts;

    for (i = 0; i < lmcf->topics.nelts; i++) {
        if (topic[i].len == value[1].len
            && ngx_strcmp(topic[i].data, value[1].data) == 0)
        {
            break;
        }
    }

    if (i == lmcf->topics.nelts) {
        topic = ngx_array_push(&lmcf->topics);
        if (topic == NULL) {
            return NGX_CONF_ERROR;
        }

        *topic = value[1];
    }

    log->index = i;

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "if=", 3) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        s.len = value[2].len - 3;
        s.data = value[2].data + 3;

        log->filter = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
        if (log->filter == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = &s;
        ccv.complex_value = log->filter;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    kmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_kafka_gateway_module);
    kmcf->producer_used = 1;
    kmcf->batch_used = 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_kafka_log_header(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kafka_log_loc_conf_t *llcf = conf;

    ngx_str_t  *value, *name;

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "requires a header name";
    }

    if (llcf->headers == NGX_CONF_UNSET_PTR) {
        llcf->headers = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
        if (llcf->headers == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    name = ngx_array_push(llcf->headers);
    if (name == NULL) {
        return NGX_CONF_ERROR;
    }

    *name = value[1];

    return NGX_CONF_OK;
}
